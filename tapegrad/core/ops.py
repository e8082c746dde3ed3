"""The op table: every operation tapegrad knows, defined once.

Each :class:`Op` entry holds, side by side, an op's forward rule for Python
floats (``scalar``), its forward rule for numpy arrays (``array``) and its
vector-Jacobian rule (``vjp``).  Adding an op means adding one entry here.

Backward rules are written once, generically, so that the same rule runs over
floats, numpy arrays, recording Values or (later) sympy expressions.  A rule
receives ``m``, a namespace holding this table's forward functions for the
value domain at hand (``m.cos``, ``m.where``, ``m.div``...), then ``g`` (the
incoming adjoint), ``out`` (the op's result) and the operands ``x``, ``y``
(``c`` for a constant attribute).  It returns one cotangent per operand, or
``None`` for "contributes nothing".  Rules use only ``+ - *``, unary ``-`` and
functions from ``m``: never ``/`` or ``**``, which raise on Python floats
where IEEE arithmetic gives ``inf`` or ``nan``.

Strong zeros: an adjoint that is exactly zero propagates nothing, even
through a local derivative that is inf or nan.  Rules therefore multiply and
divide the adjoint with ``smul`` and ``sdiv`` ("strong" multiply and divide:
``g`` itself when ``g == 0``, else ``g * y`` or ``g / y``), never with ``*``
and ``/``.  ``smul`` is strong on both sides: a local derivative that is
exactly zero also stops an inf or nan adjoint (``smul(inf, 0.0)`` is
``0.0``), so forward mode, which multiplies tangents by the same partials,
and second derivatives, which differentiate ``smul`` itself, keep the
strong zeros of reverse mode.  Because these are ops of the table too, the rule holds wherever a
rule runs: over floats, elementwise over arrays, and in recorded gradient
tapes and the code generated from them.

Conventions (as PyTorch): ``relu'(0) = 0``, ``abs'(0) = 0``, ties of
``maximum``/``minimum`` split the adjoint evenly, ``sqrt'(0) = inf``,
``x**0`` has gradient 0, and outside an op's domain its formula is applied
as written (``log'(-1) = -1``).  Flat ops send nothing (``sign``, ``floor``,
``ceil``, ``round``, ``trunc``, ``floor_divide``); ``mod(x, y)`` sends 1 and
``-(x // y)``, ``fmod`` 1 and ``-trunc(x / y)``; ``clip`` passes the adjoint
to ``x`` inside its bounds and at them, and to the bound that clipped it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from . import linalg_kernels, linalg_rules, linalg_sympy
from .einsum import cotangent_subscripts, diagonal_subscripts, parse_normal
from .kernels import (  # the forward rules: IEEE-safe functions that generated code copies
    _acos,
    _acosh,
    _argsort,
    _asin,
    _atanh,
    _cbrt,
    _ceil,
    _clip,
    _clip_array,
    _compare_array,
    _concat,
    _cos,
    _cosh,
    _cumsum,
    _div,
    _erf_array,
    _erfc_array,
    _exp,
    _exp2,
    _expm1,
    _floor,
    _floor_divide,
    _fmod,
    _gate,
    _log,
    _log1p,
    _log2,
    _log10,
    _log_softmax,
    _logaddexp,
    _logsumexp,
    _maximum,
    _maximum_array,
    _minimum,
    _minimum_array,
    _mod,
    _pow,
    _pow_array,
    _pow_const,
    _pow_const_array,
    _prod,
    _reciprocal,
    _relu,
    _relu_array,
    _round,
    _scatter,
    _sdiv,
    _sdiv_array,
    _seinsum,
    _sigmoid,
    _sigmoid_array,
    _sign,
    _sin,
    _sinh,
    _smatmul,
    _smul,
    _smul_array,
    _softplus,
    _softplus_array,
    _sqrt,
    _square,
    _sum_to,
    _take,
    _take_grad,
    _tan,
    _trunc,
    _where,
)
from .shapes import Index, dtype_of, inverse_permutation, kept_shape, transpose_last

__all__ = ["OpKind", "AttrKind", "Op", "OPS", "OPS_BY_NAME", "op_named", "attribute_text"]


class OpKind(IntEnum):
    """The kind of a tape record.  Its integer value indexes :data:`OPS`."""

    INPUT = 0
    CONST = 1
    GUARD = 2
    ADD = 3
    SUB = 4
    MUL = 5
    DIV = 6
    NEG = 7
    POW_CONST = 8
    POW = 9
    EXP = 10
    LOG = 11
    TANH = 12
    SIGMOID = 13
    RELU = 14
    SIN = 15
    COS = 16
    SQRT = 17
    ABS = 18
    MAXIMUM = 19
    MINIMUM = 20
    WHERE = 21
    GT = 22
    GE = 23
    LT = 24
    LE = 25
    EQ = 26
    NE = 27
    SMUL = 28
    SDIV = 29
    # Array ops: they change shapes, so they have no float rule.
    MATMUL = 30
    SUM = 31
    MAX = 32
    LOGSUMEXP = 33
    RESHAPE = 34
    TRANSPOSE = 35
    BROADCAST_TO = 36
    SUM_TO = 37
    GETITEM = 38
    SCATTER = 39
    CONCAT = 40
    ASTYPE = 41
    GATE = 42
    LOG_SOFTMAX = 43
    TAKE = 44
    TAKE_GRAD = 45
    SMATMUL = 46
    # More elementwise ops (appended, so that the numbers above stay as they were).
    TAN = 47
    ASIN = 48
    ACOS = 49
    ATAN = 50
    ATAN2 = 51
    SINH = 52
    COSH = 53
    ASINH = 54
    ACOSH = 55
    ATANH = 56
    LOG1P = 57
    EXPM1 = 58
    LOG2 = 59
    LOG10 = 60
    EXP2 = 61
    CBRT = 62
    SQUARE = 63
    RECIPROCAL = 64
    HYPOT = 65
    ERF = 66
    ERFC = 67
    LOGADDEXP = 68
    SOFTPLUS = 69
    SIGN = 70
    FLOOR = 71
    CEIL = 72
    ROUND = 73
    TRUNC = 74
    MOD = 75
    FMOD = 76
    FLOOR_DIVIDE = 77
    CLIP = 78
    # Reductions of issue 16 (appended after the elementwise ops).
    PROD = 79
    CUMSUM = 80
    # Issue 17's products: einsum, and einsum with strong products (its backward rule's).
    EINSUM = 81
    SEINSUM = 82
    # Sorting (issue 17): the order is computed on the tape, so a replay sorts its own inputs.
    ARGSORT = 83
    # numpy.linalg (issue 17): rules in linalg_rules.py, kernels in linalg_kernels.py, formulas in linalg_sympy.py.
    DET = 84
    ADJUGATE = 85
    LOGABSDET = 86
    SLOGDET_SIGN = 87
    INV = 88
    SOLVE = 89
    CHOLESKY = 90
    EIGVALSH = 91
    EIGH_VECTORS = 92
    SVDVALS = 93
    SVD_U = 94
    SVD_VH = 95
    QR_Q = 96
    QR_R = 97

    def __str__(self) -> str:
        return self.name.lower()


class AttrKind(Enum):
    """What a record's attribute is: how listings word it and tape files store and check it."""

    NONE = "none"
    NAME = "name"  # an input's name
    NUMBER = "number"  # a constant (a float, or an array) or pow_const's exponent
    TRUTH = "truth"  # a guard's recorded truth
    AXES = "axes"  # a reduction's (axes or None for all, keepdims)
    AXIS = "axis"  # one axis (concat, log_softmax)
    SHAPE = "shape"  # a target shape (reshape may hold one -1)
    PERMUTATION = "permutation"  # transpose's order of axes
    INDEX = "index"  # an Index (getitem)
    SCATTER = "scatter"  # (Index, shape): where scatter adds, into what
    ROWS = "rows"  # how many index values take accepts
    DTYPE = "dtype"  # astype's dtype name
    SUBSCRIPTS = "subscripts"  # einsum's subscripts in normal form ("ij,jk->ik"), see core/einsum.py


@dataclass(frozen=True, slots=True)
class Op:
    """One row of the op table: everything tapegrad knows about an op, in one place.

    Rules: ``scalar`` (Python floats), ``array`` (numpy) and ``vjp`` (the
    vector-Jacobian rule, over any value domain); ``symbolic`` builds the
    exact sympy expression (it takes the sympy module first, so sympy is
    imported only when used).  ``arity`` counts operand slots (-1: any
    number, for ``concat`` and ``einsum``); ``attr`` says what constant attribute the record
    carries, passed to the rules after the operands.  Records with
    ``vjp=None`` have no operands to send an adjoint to, or a derivative that
    is zero wherever it exists (comparisons).

    Names: ``infix`` is the Python operator that writes the op; ``parse_name``
    the function the expression parser (and the CLI) accepts for it;
    ``sympy_name`` the sympy function :func:`tapegrad.from_sympy` reads as it.

    Properties the transformations read: ``linear`` (forward mode applies
    the op itself to tangents), ``commutative`` (the optimiser orders the
    operands), ``reduction`` (an ``AXES`` attribute), ``view`` (numpy makes
    it without copying, so folding it into a constant saves nothing) and
    ``rearranges`` (it moves numbers and computes none, so it raises no
    floating-point warnings), ``tests`` (the operands the op only compares:
    ``where``'s condition, ``gate``'s ``x``; they pick which value flows,
    so the result's dtype is the other operands'), ``matrix`` (a numpy.linalg row: it factorises each
    matrix of a stack, so tape files charge it per matrix).  Code backends say how to write each op:
    :mod:`tapegrad.formats.printers`.

    Ops with a ``scalar`` rule are elementwise: over arrays they broadcast,
    and the backward interpreter sums their cotangents back to each
    operand's shape.  Array ops (``scalar=None``) handle shapes in their
    own rules.
    """

    kind: OpKind
    arity: int
    scalar: Callable[..., Any] | None
    array: Callable[..., Any] | None
    vjp: Callable[..., tuple[Any, ...]] | None
    attr: AttrKind = AttrKind.NONE
    infix: str = ""
    symbolic: Callable[..., Any] | None = None
    parse_name: str = ""
    sympy_name: str = ""
    linear: bool = False
    commutative: bool = False
    view: bool = False
    rearranges: bool = False
    matrix: bool = False
    tests: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return str(self.kind)

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    @property
    def has_attr(self) -> bool:
        return self.attr is not AttrKind.NONE

    @property
    def elementwise(self) -> bool:
        return self.scalar is not None

    @property
    def reduction(self) -> bool:
        return self.attr is AttrKind.AXES

    @property
    def comparison(self) -> bool:
        """An elementwise test written with its infix operator (``>``, ``==``...), giving 1.0 or 0.0."""
        return bool(self.infix) and self.vjp is None and self.elementwise


# ---------------------------------------------------------------- backward rules


def _pow_const_vjp(m: Any, g: Any, out: Any, x: Any, c: float) -> tuple[Any, ...]:
    if c == 0:
        return (None,)
    return (m.smul(g, c * m.pow_const(x, c - 1)),)


def _pow_vjp(m: Any, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, ...]:
    # As PyTorch: the x-rule is 0 where y == 0, the y-rule is 0 where x == 0 and y >= 0.
    dx = m.where(m.eq(y, 0.0), 0.0, m.smul(g, y * m.pow(x, y - 1.0)))
    dy = m.smul(g, out * m.log(x))
    dy = m.where(m.eq(x, 0.0), m.where(m.ge(y, 0.0), 0.0, dy), dy)
    return (dx, dy)


def _abs_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (m.where(m.gt(x, 0.0), g, m.where(m.lt(x, 0.0), -g, 0.0)),)


def _tie_split(m: Any, g: Any, win: Any, tie: Any) -> Any:
    """The adjoint share of an operand that wins outright, ties or loses."""
    return m.where(win, g, m.where(tie, 0.5 * g, 0.0))


def _maximum_vjp(m: Any, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, ...]:
    tie = m.eq(x, y)
    return (_tie_split(m, g, m.gt(x, y), tie), _tie_split(m, g, m.gt(y, x), tie))


def _minimum_vjp(m: Any, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, ...]:
    tie = m.eq(x, y)
    return (_tie_split(m, g, m.lt(x, y), tie), _tie_split(m, g, m.lt(y, x), tie))


def _sympy_where(sp: Any, c: Any, x: Any, y: Any) -> Any:
    conditions = (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom)
    condition = c if isinstance(c, conditions) else sp.Ne(c, 0)
    return sp.Piecewise((x, condition), (y, True))


def _compare(kind: OpKind, scalar: Callable[..., bool], ufunc: Callable[..., Any], infix: str, relation: str,
             sympy_name: str, commutative: bool = False) -> Op:
    return Op(
        kind,
        2,
        lambda x, y: 1.0 if scalar(x, y) else 0.0,
        _compare_array(ufunc),
        None,
        infix=infix,
        symbolic=lambda sp, x, y: getattr(sp, relation)(x, y),
        sympy_name=sympy_name,
        commutative=commutative,
    )


def _object_log_softmax(sp: Any, x: Any, axis: int) -> Any:
    total = np.sum(np.vectorize(sp.exp, otypes=[object])(x), axis=axis, keepdims=True)
    return x - np.vectorize(sp.log, otypes=[object])(total)


def _no_formula(sp: Any, *args: Any) -> Any:
    from ..errors import UnsupportedOpError

    raise UnsupportedOpError(
        "take picks rows by indices that are inputs of the tape; a formula cannot index by a symbol. "
        "Export a tape recorded with constant indices (index with a numpy array), or generate numpy code"
    )


def _no_order(sp: Any, *args: Any) -> Any:
    from ..errors import UnsupportedOpError

    raise UnsupportedOpError(
        "argsort (np.sort, np.argsort) orders numbers; a formula cannot order symbols. "
        "Generate numpy code (tape.compile('numpy')) or replay the tape instead"
    )


def _object_max(sp: Any, x: Any, attr: tuple[Any, bool]) -> Any:
    """``max`` over an object array of sympy expressions."""
    axes, keepdims = attr
    x = np.asarray(x, dtype=object)
    axes = tuple(range(x.ndim)) if axes is None else axes
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, rest + list(axes)).reshape([x.shape[i] for i in rest] + [-1])
    out = np.empty(moved.shape[:-1], dtype=object)
    for position in np.ndindex(out.shape):
        out[position] = sp.Max(*moved[position])
    return out.reshape(kept_shape(x.shape, axes)) if keepdims else out


def _object_logsumexp(sp: Any, x: Any, attr: tuple[Any, bool]) -> Any:
    axes, keepdims = attr
    total = np.sum(np.vectorize(sp.exp, otypes=[object])(x), axis=axes, keepdims=keepdims)
    return np.vectorize(sp.log, otypes=[object])(total)


def _kept(m: Any, g: Any, x: Any, attr: tuple[Any, bool]) -> Any:
    """``g`` of a reduction, reshaped to keep the reduced axes (so it broadcasts against ``x``)."""
    axes, keepdims = attr
    return g if keepdims else m.reshape(g, kept_shape(np.shape(x), axes))


def _matmul_vjp(m: Any, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, ...]:
    # Operands have two or more axes (Value.__matmul__ reshapes vectors); batch axes may broadcast.
    # The products are strong (smatmul), as smul's are on scalars.
    dx = m.smatmul(g, m.transpose(y, transpose_last(np.ndim(y))))
    dy = m.smatmul(m.transpose(x, transpose_last(np.ndim(x))), g)
    shapes = np.shape(x), np.shape(y)
    return tuple(d if np.shape(d) == s else m.sum_to(d, s) for d, s in zip((dx, dy), shapes))


def _sum_vjp(m: Any, g: Any, out: Any, x: Any, attr: tuple[Any, bool]) -> tuple[Any, ...]:
    return (m.broadcast_to(_kept(m, g, x, attr), np.shape(x)),)


def _max_vjp(m: Any, g: Any, out: Any, x: Any, attr: tuple[Any, bool]) -> tuple[Any, ...]:
    # Ties share the adjoint evenly, as maximum's do.
    hit = m.eq(x, _kept(m, out, x, attr))
    share = m.sdiv(_kept(m, g, x, attr), m.sum(hit, (attr[0], True)))
    return (m.where(hit, share, 0.0),)


def _logsumexp_vjp(m: Any, g: Any, out: Any, x: Any, attr: tuple[Any, bool]) -> tuple[Any, ...]:
    return (m.smul(_kept(m, g, x, attr), m.exp(x - _kept(m, out, x, attr))),)


def _log_softmax_vjp(m: Any, g: Any, out: Any, x: Any, axis: int) -> tuple[Any, ...]:
    return (g - m.smul(m.sum(g, ((axis,), True)), m.exp(out)),)


def _concat_vjp(m: Any, g: Any, out: Any, *operands: Any) -> tuple[Any, ...]:
    *parts, axis = operands
    cotangents, start = [], 0
    for x in parts:
        stop = start + np.shape(x)[axis]
        cotangents.append(m.getitem(g, Index((slice(None),) * axis + (slice(start, stop),))))
        start = stop
    return tuple(cotangents)


def _prod_vjp(m: Any, g: Any, out: Any, x: Any, attr: tuple[Any, bool]) -> tuple[Any, ...]:
    # As PyTorch: with no zero in a slice, out / x; with one, the product of the others at the zero and
    # 0 elsewhere; with two or more, 0 everywhere.  Where one zero makes the rest 0, they are written
    # others / x * (the zero), so that differentiating the rule again gives the product of the rest.
    zero = m.eq(x, 0.0)
    zeros = m.sum(zero, (attr[0], True))
    others = m.prod(m.where(zero, 1.0, x), (attr[0], True))
    scale = m.where(m.eq(zeros, 0.0), 1.0, m.sum(m.where(zero, x, 0.0), (attr[0], True)))
    partial = m.where(zero, others, m.div(others, x) * scale)
    return (m.where(m.gt(zeros, 1.0), 0.0, m.smul(_kept(m, g, x, attr), partial)),)


def _cumsum_vjp(m: Any, g: Any, out: Any, x: Any, axis: int) -> tuple[Any, ...]:
    # Each x[i] adds to every out[j >= i]: the adjoint is g summed from the end.
    reverse = Index((slice(None),) * axis + (slice(None, None, -1),))
    return (m.getitem(m.cumsum(m.getitem(g, reverse), axis), reverse),)


def _einsum(*args: Any) -> Any:
    """``np.einsum`` with the subscripts last, where the table passes a record's attribute."""
    return np.einsum(args[-1], *args[:-1])


def _identity(n: int, order: int) -> np.ndarray:
    """The ``order``-index identity tensor of size ``n``: 1 where all indices agree."""
    delta = np.zeros((n,) * order)
    delta[(np.arange(n),) * order] = 1.0
    return delta


def _einsum_vjp(m: Any, g: Any, out: Any, *operands: Any) -> tuple[Any, ...]:
    # Multilinear: operand k's cotangent contracts g with the other operands to k's letters (strong
    # products, as smatmul's).  A letter only k has broadcasts; a repeated one puts it on a diagonal.
    *xs, subscripts = operands
    inputs, output = parse_normal(subscripts)
    cotangents = []
    for k, x in enumerate(xs):
        text, letters = cotangent_subscripts(inputs, output, k)
        d = m.seinsum(g, *xs[:k], *xs[k + 1 :], text)
        term, shape = inputs[k], np.shape(x)
        unique = "".join(dict.fromkeys(term))
        if letters != unique:
            sizes = [shape[term.index(ch)] for ch in unique]
            d = m.reshape(d, tuple(n if ch in letters else 1 for ch, n in zip(unique, sizes)))
            d = m.broadcast_to(d, tuple(sizes))
        if unique != term:
            text, orders = diagonal_subscripts(term)
            repeated = [ch for ch in unique if term.count(ch) > 1]
            deltas = [_identity(shape[term.index(ch)], order) for ch, order in zip(repeated, orders)]
            d = m.seinsum(d, *deltas, text)
        cotangents.append(d)
    return tuple(cotangents)


def _array_op(kind: OpKind, arity: int, array: Callable[..., Any], vjp: Callable[..., Any] | None, attr: AttrKind,
              symbolic: Callable[..., Any] | None = None, **properties: Any) -> Op:
    """An op that changes shapes.  Over sympy it runs its numpy rule on object arrays, unless told otherwise."""
    if symbolic is None:
        symbolic = lambda sp, *args: array(*args)  # noqa: E731
    return Op(kind, arity, None, array, vjp, attr=attr, symbolic=symbolic, **properties)


# ---------------------------------------------------------------- rules of the more elementwise ops
# Where a function is flat or undefined, derivatives follow PyTorch: sign, floor, ceil, round, trunc and
# floor_divide send nothing (vjp None); mod and fmod send 1 to x and -(x // y), -trunc(x / y) to y;
# clip as PyTorch's clamp with tensor bounds; atan2 and hypot are nan at the origin (0 / 0).

_LN2, _LN10, _TWO_OVER_SQRT_PI = math.log(2.0), math.log(10.0), 2.0 / math.sqrt(math.pi)


def _atan2_vjp(m: Any, g: Any, out: Any, x: Any, y: Any) -> tuple[Any, ...]:
    r = x * x + y * y
    return (m.smul(g, m.div(y, r)), -m.smul(g, m.div(x, r)))


def _clip_vjp(m: Any, g: Any, out: Any, x: Any, lo: Any, hi: Any) -> tuple[Any, ...]:
    # x takes the adjoint inside [lo, hi], bounds included; lo where x is below it (if lo < hi);
    # hi where x is above it, or everywhere the bounds cross (then out is hi).
    inside = m.where(m.ge(x, lo), m.where(m.le(x, hi), g, 0.0), 0.0)
    below = m.where(m.lt(x, lo), m.where(m.lt(lo, hi), g, 0.0), 0.0)
    above = m.where(m.gt(x, hi), g, m.where(m.lt(hi, lo), g, 0.0))
    return (inside, below, above)


def _sympy_trunc(sp: Any, x: Any) -> Any:
    return sp.Piecewise((sp.floor(x), x >= 0), (sp.ceiling(x), True))


def _sympy_round(sp: Any, x: Any) -> Any:
    """Half to even, as numpy rounds: floor(x + 1/2), one less where that lands on an odd number from a tie."""
    half = x + sp.Rational(1, 2)
    up = sp.floor(half)
    return sp.Piecewise((up - 1, sp.And(sp.Eq(up, half), sp.Eq(sp.Mod(up, 2), 1))), (up, True))


def _sympy_mod(sp: Any, x: Any, y: Any) -> Any:
    return sp.nan if y == 0 else sp.Mod(x, y)  # sympy raises ZeroDivisionError; IEEE (and numpy) give nan


def _sympy_floor_divide(sp: Any, x: Any, y: Any) -> Any:
    if y == 0:  # x / +0, as the kernel divides: sympy would give complex infinity
        return sp.Piecewise((sp.oo, x > 0), (-sp.oo, x < 0), (sp.nan, True))
    return sp.floor(x / y)


def _elementwise(kind: OpKind, arity: int, scalar: Callable[..., Any], array: Callable[..., Any],
                 vjp: Callable[..., Any] | None, symbolic: Callable[..., Any], sympy_name: str = "",
                 **properties: Any) -> Op:
    """A function the parser knows by the op's own name."""
    return Op(kind, arity, scalar, array, vjp, symbolic=symbolic, parse_name=str(kind), sympy_name=sympy_name,
              **properties)


def _linalg(kind: OpKind, arity: int, vjp: Callable[..., Any] | None) -> Op:
    """A numpy.linalg row: its kernel ``_<name>`` and its sympy rule (or a clear refusal) by the op's name."""
    name = str(kind)
    symbolic = linalg_sympy.SYMBOLIC.get(name) or linalg_sympy.no_formula(name)
    return Op(kind, arity, None, getattr(linalg_kernels, f"_{name}"), vjp, symbolic=symbolic, matrix=True)


# ---------------------------------------------------------------- the table
# fmt: off
_TABLE = [
    Op(OpKind.INPUT, 0, None, None, None, attr=AttrKind.NAME),
    Op(OpKind.CONST, 0, None, None, None, attr=AttrKind.NUMBER),
    Op(OpKind.GUARD, 1, None, None, None, attr=AttrKind.TRUTH),
    Op(OpKind.ADD, 2, operator.add, np.add,
       lambda m, g, out, x, y: (g, g), infix="+", symbolic=lambda sp, x, y: x + y, linear=True, commutative=True),
    Op(OpKind.SUB, 2, operator.sub, np.subtract,
       lambda m, g, out, x, y: (g, -g), infix="-", symbolic=lambda sp, x, y: x - y, linear=True),
    Op(OpKind.MUL, 2, operator.mul, np.multiply,
       lambda m, g, out, x, y: (m.smul(g, y), m.smul(g, x)), infix="*", symbolic=lambda sp, x, y: x * y,
       commutative=True),
    Op(OpKind.DIV, 2, _div, np.divide,
       lambda m, g, out, x, y: (m.sdiv(g, y), -m.sdiv(m.smul(g, out), y)), infix="/",
       symbolic=lambda sp, x, y: x / y),
    Op(OpKind.NEG, 1, operator.neg, np.negative,
       lambda m, g, out, x: (-g,), symbolic=lambda sp, x: -x, linear=True),
    Op(OpKind.POW_CONST, 1, _pow_const, _pow_const_array, _pow_const_vjp, attr=AttrKind.NUMBER, infix="**",
       symbolic=lambda sp, x, c: x**c),
    Op(OpKind.POW, 2, _pow, _pow_array, _pow_vjp, infix="**", symbolic=lambda sp, x, y: x**y),
    Op(OpKind.EXP, 1, _exp, np.exp,
       lambda m, g, out, x: (m.smul(g, out),), symbolic=lambda sp, x: sp.exp(x), parse_name="exp", sympy_name="exp"),
    Op(OpKind.LOG, 1, _log, np.log,
       lambda m, g, out, x: (m.sdiv(g, x),), symbolic=lambda sp, x: sp.log(x), parse_name="log", sympy_name="log"),
    Op(OpKind.TANH, 1, math.tanh, np.tanh,
       lambda m, g, out, x: (m.smul(g, 1.0 - out * out),), symbolic=lambda sp, x: sp.tanh(x),
       parse_name="tanh", sympy_name="tanh"),
    Op(OpKind.SIGMOID, 1, _sigmoid, _sigmoid_array,
       lambda m, g, out, x: (m.smul(g, out * (1.0 - out)),), symbolic=lambda sp, x: 1 / (1 + sp.exp(-x)),
       parse_name="sigmoid"),
    Op(OpKind.RELU, 1, _relu, _relu_array,
       lambda m, g, out, x: (m.gate(g, x),),
       symbolic=lambda sp, x: sp.Piecewise((x, x > 0), (0, True)), parse_name="relu"),
    Op(OpKind.SIN, 1, _sin, np.sin,
       lambda m, g, out, x: (m.smul(g, m.cos(x)),), symbolic=lambda sp, x: sp.sin(x), parse_name="sin",
       sympy_name="sin"),
    Op(OpKind.COS, 1, _cos, np.cos,
       lambda m, g, out, x: (-m.smul(g, m.sin(x)),), symbolic=lambda sp, x: sp.cos(x), parse_name="cos",
       sympy_name="cos"),
    Op(OpKind.SQRT, 1, _sqrt, np.sqrt,
       lambda m, g, out, x: (m.sdiv(g, 2.0 * out),), symbolic=lambda sp, x: sp.sqrt(x), parse_name="sqrt"),
    Op(OpKind.ABS, 1, abs, np.abs, _abs_vjp, symbolic=lambda sp, x: sp.Abs(x), parse_name="abs", sympy_name="Abs"),
    Op(OpKind.MAXIMUM, 2, _maximum, _maximum_array, _maximum_vjp, symbolic=lambda sp, x, y: sp.Max(x, y),
       parse_name="maximum", sympy_name="Max"),
    Op(OpKind.MINIMUM, 2, _minimum, _minimum_array, _minimum_vjp, symbolic=lambda sp, x, y: sp.Min(x, y),
       parse_name="minimum", sympy_name="Min"),
    Op(OpKind.WHERE, 3, _where, np.where,
       lambda m, g, out, c, x, y: (None, m.where(c, g, 0.0), m.where(c, 0.0, g)), symbolic=_sympy_where,
       parse_name="where", tests=(0,)),
    _compare(OpKind.GT, lambda x, y: x > y, np.greater, ">", "Gt", "StrictGreaterThan"),
    _compare(OpKind.GE, lambda x, y: x >= y, np.greater_equal, ">=", "Ge", "GreaterThan"),
    _compare(OpKind.LT, lambda x, y: x < y, np.less, "<", "Lt", "StrictLessThan"),
    _compare(OpKind.LE, lambda x, y: x <= y, np.less_equal, "<=", "Le", "LessThan"),
    _compare(OpKind.EQ, lambda x, y: x == y, np.equal, "==", "Eq", "Equality", commutative=True),
    _compare(OpKind.NE, lambda x, y: x != y, np.not_equal, "!=", "Ne", "Unequality", commutative=True),
    # Strong zeros are an IEEE matter; as formulas these are the plain product and quotient.
    Op(OpKind.SMUL, 2, _smul, _smul_array,
       lambda m, g, out, x, y: (m.smul(g, y), m.smul(g, x)), infix="*", symbolic=lambda sp, x, y: x * y),
    Op(OpKind.SDIV, 2, _sdiv, _sdiv_array,
       lambda m, g, out, x, y: (m.sdiv(g, y), -m.sdiv(m.smul(g, out), y)), infix="/",
       symbolic=lambda sp, x, y: x / y),
    _array_op(OpKind.MATMUL, 2, np.matmul, _matmul_vjp, AttrKind.NONE),
    # The ufuncs' own reductions: what np.sum and np.max call, without their Python wrappers.
    _array_op(OpKind.SUM, 1, lambda x, c: np.add.reduce(x, axis=c[0], keepdims=c[1]), _sum_vjp, AttrKind.AXES,
              linear=True),
    _array_op(OpKind.MAX, 1, lambda x, c: np.maximum.reduce(x, axis=c[0], keepdims=c[1]), _max_vjp, AttrKind.AXES,
              symbolic=_object_max),
    _array_op(OpKind.LOGSUMEXP, 1, _logsumexp, _logsumexp_vjp, AttrKind.AXES, symbolic=_object_logsumexp),
    _array_op(OpKind.RESHAPE, 1, np.reshape, lambda m, g, out, x, c: (m.reshape(g, np.shape(x)),), AttrKind.SHAPE,
              linear=True, view=True, rearranges=True),
    _array_op(OpKind.TRANSPOSE, 1, np.transpose,
              lambda m, g, out, x, c: (m.transpose(g, inverse_permutation(c)),), AttrKind.PERMUTATION,
              linear=True, view=True, rearranges=True),
    _array_op(OpKind.BROADCAST_TO, 1, np.broadcast_to, lambda m, g, out, x, c: (m.sum_to(g, np.shape(x)),),
              AttrKind.SHAPE, linear=True, view=True, rearranges=True),
    _array_op(OpKind.SUM_TO, 1, _sum_to, lambda m, g, out, x, c: (m.broadcast_to(g, np.shape(x)),), AttrKind.SHAPE,
              linear=True),
    _array_op(OpKind.GETITEM, 1, lambda x, c: x[c.key], lambda m, g, out, x, c: (m.scatter(g, (c, np.shape(x))),),
              AttrKind.INDEX, linear=True, rearranges=True),
    _array_op(OpKind.SCATTER, 1, lambda g, c: _scatter(g, c[0].key, c[1], c[0].has_arrays),
              lambda m, g, out, x, c: (m.getitem(g, c[0]),), AttrKind.SCATTER,
              symbolic=lambda sp, g, c: _scatter(np.asarray(g, dtype=object), c[0].key, c[1], True), linear=True),
    _array_op(OpKind.CONCAT, -1, _concat, _concat_vjp, AttrKind.AXIS, linear=True, rearranges=True),
    _array_op(OpKind.ASTYPE, 1, lambda x, c: np.asarray(x).astype(c),
              lambda m, g, out, x, c: (m.astype(g, dtype_of(x).name),), AttrKind.DTYPE,
              symbolic=lambda sp, x, c: x, linear=True),
    # relu's backward rule, as one op: g where x > 0, else 0 (one pass over arrays, where where(gt) takes four).
    Op(OpKind.GATE, 2, _gate, lambda g, x: np.where(x > 0.0, g, 0.0),
       lambda m, gg, out, g, x: (m.gate(gg, x), None), symbolic=lambda sp, g, x: sp.Piecewise((g, x > 0), (0, True)),
       tests=(1,)),
    _array_op(OpKind.LOG_SOFTMAX, 1, _log_softmax, _log_softmax_vjp, AttrKind.AXIS, symbolic=_object_log_softmax),
    # x[idx] where idx is a Value (a tape input: the minibatch of a training step), and its backward.
    _array_op(OpKind.TAKE, 2, _take, lambda m, g, out, x, idx, c: (m.take_grad(g, idx, np.shape(x)[0]), None),
              AttrKind.ROWS, symbolic=_no_formula),
    _array_op(OpKind.TAKE_GRAD, 2, _take_grad, lambda m, gg, out, g, idx, rows: (m.take(gg, idx, rows), None),
              AttrKind.ROWS, symbolic=_no_formula),
    # matmul with strong products, for backward rules and forward mode; as a formula, the plain product.
    _array_op(OpKind.SMATMUL, 2, _smatmul, _matmul_vjp, AttrKind.NONE, symbolic=lambda sp, x, y: np.matmul(x, y)),
    # More elementwise ops: inverse trigonometric and hyperbolic functions, logarithms, rounding, remainders.
    _elementwise(OpKind.TAN, 1, _tan, np.tan, lambda m, g, out, x: (m.smul(g, 1.0 + out * out),),
                 lambda sp, x: sp.tan(x), "tan"),
    _elementwise(OpKind.ASIN, 1, _asin, np.arcsin, lambda m, g, out, x: (m.sdiv(g, m.sqrt(1.0 - x * x)),),
                 lambda sp, x: sp.asin(x), "asin"),
    _elementwise(OpKind.ACOS, 1, _acos, np.arccos, lambda m, g, out, x: (-m.sdiv(g, m.sqrt(1.0 - x * x)),),
                 lambda sp, x: sp.acos(x), "acos"),
    _elementwise(OpKind.ATAN, 1, math.atan, np.arctan, lambda m, g, out, x: (m.sdiv(g, 1.0 + x * x),),
                 lambda sp, x: sp.atan(x), "atan"),
    _elementwise(OpKind.ATAN2, 2, math.atan2, np.arctan2, _atan2_vjp, lambda sp, x, y: sp.atan2(x, y), "atan2"),
    _elementwise(OpKind.SINH, 1, _sinh, np.sinh, lambda m, g, out, x: (m.smul(g, m.cosh(x)),),
                 lambda sp, x: sp.sinh(x), "sinh"),
    _elementwise(OpKind.COSH, 1, _cosh, np.cosh, lambda m, g, out, x: (m.smul(g, m.sinh(x)),),
                 lambda sp, x: sp.cosh(x), "cosh"),
    _elementwise(OpKind.ASINH, 1, math.asinh, np.arcsinh, lambda m, g, out, x: (m.sdiv(g, m.hypot(x, 1.0)),),
                 lambda sp, x: sp.asinh(x), "asinh"),
    _elementwise(OpKind.ACOSH, 1, _acosh, np.arccosh,
                 lambda m, g, out, x: (m.sdiv(g, m.sqrt(x - 1.0) * m.sqrt(x + 1.0)),), lambda sp, x: sp.acosh(x),
                 "acosh"),
    _elementwise(OpKind.ATANH, 1, _atanh, np.arctanh, lambda m, g, out, x: (m.sdiv(g, 1.0 - x * x),),
                 lambda sp, x: sp.atanh(x), "atanh"),
    _elementwise(OpKind.LOG1P, 1, _log1p, np.log1p, lambda m, g, out, x: (m.sdiv(g, 1.0 + x),),
                 lambda sp, x: sp.log(1 + x)),
    _elementwise(OpKind.EXPM1, 1, _expm1, np.expm1, lambda m, g, out, x: (m.smul(g, out + 1.0),),
                 lambda sp, x: sp.exp(x) - 1),
    _elementwise(OpKind.LOG2, 1, _log2, np.log2, lambda m, g, out, x: (m.sdiv(g, x * _LN2),),
                 lambda sp, x: sp.log(x, 2)),
    _elementwise(OpKind.LOG10, 1, _log10, np.log10, lambda m, g, out, x: (m.sdiv(g, x * _LN10),),
                 lambda sp, x: sp.log(x, 10)),
    _elementwise(OpKind.EXP2, 1, _exp2, np.exp2, lambda m, g, out, x: (m.smul(g, out * _LN2),),
                 lambda sp, x: sp.Integer(2) ** x),
    _elementwise(OpKind.CBRT, 1, _cbrt, np.cbrt, lambda m, g, out, x: (m.sdiv(g, 3.0 * (out * out)),),
                 lambda sp, x: sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)),
    _elementwise(OpKind.SQUARE, 1, _square, np.square, lambda m, g, out, x: (m.smul(g, 2.0 * x),),
                 lambda sp, x: x**2),
    _elementwise(OpKind.RECIPROCAL, 1, _reciprocal, np.reciprocal, lambda m, g, out, x: (-m.smul(g, out * out),),
                 lambda sp, x: 1 / x),
    _elementwise(OpKind.HYPOT, 2, math.hypot, np.hypot,
                 lambda m, g, out, x, y: (m.smul(g, m.div(x, out)), m.smul(g, m.div(y, out))),
                 lambda sp, x, y: sp.sqrt(x**2 + y**2), commutative=True),
    _elementwise(OpKind.ERF, 1, math.erf, _erf_array,
                 lambda m, g, out, x: (m.smul(g, _TWO_OVER_SQRT_PI * m.exp(-(x * x))),), lambda sp, x: sp.erf(x),
                 "erf"),
    _elementwise(OpKind.ERFC, 1, math.erfc, _erfc_array,
                 lambda m, g, out, x: (-m.smul(g, _TWO_OVER_SQRT_PI * m.exp(-(x * x))),), lambda sp, x: sp.erfc(x),
                 "erfc"),
    _elementwise(OpKind.LOGADDEXP, 2, _logaddexp, np.logaddexp,
                 lambda m, g, out, x, y: (m.smul(g, m.sigmoid(x - y)), m.smul(g, m.sigmoid(y - x))),
                 lambda sp, x, y: sp.log(sp.exp(x) + sp.exp(y)), commutative=True),
    _elementwise(OpKind.SOFTPLUS, 1, _softplus, _softplus_array, lambda m, g, out, x: (m.smul(g, m.sigmoid(x)),),
                 lambda sp, x: sp.log(1 + sp.exp(x))),
    _elementwise(OpKind.SIGN, 1, _sign, np.sign, None, lambda sp, x: sp.sign(x), "sign"),
    _elementwise(OpKind.FLOOR, 1, _floor, np.floor, None, lambda sp, x: sp.floor(x), "floor"),
    _elementwise(OpKind.CEIL, 1, _ceil, np.ceil, None, lambda sp, x: sp.ceiling(x), "ceiling"),
    _elementwise(OpKind.ROUND, 1, _round, np.rint, None, _sympy_round),
    _elementwise(OpKind.TRUNC, 1, _trunc, np.trunc, None, _sympy_trunc),
    _elementwise(OpKind.MOD, 2, _mod, np.mod, lambda m, g, out, x, y: (g, -m.smul(g, m.floor_divide(x, y))),
                 _sympy_mod, "Mod"),
    _elementwise(OpKind.FMOD, 2, _fmod, np.fmod, lambda m, g, out, x, y: (g, -m.smul(g, m.trunc(m.div(x, y)))),
                 lambda sp, x, y: x - y * _sympy_trunc(sp, x / y)),
    _elementwise(OpKind.FLOOR_DIVIDE, 2, _floor_divide, np.floor_divide, None, _sympy_floor_divide),
    _elementwise(OpKind.CLIP, 3, _clip, _clip_array, _clip_vjp, lambda sp, x, lo, hi: sp.Min(sp.Max(x, lo), hi)),
    _array_op(OpKind.PROD, 1, _prod, _prod_vjp, AttrKind.AXES),
    _array_op(OpKind.CUMSUM, 1, _cumsum, _cumsum_vjp, AttrKind.AXIS, linear=True),
    # Any number of operands, the subscripts (normal form) last; forward mode: multilinear (interpret.py).
    _array_op(OpKind.EINSUM, -1, _einsum, _einsum_vjp, AttrKind.SUBSCRIPTS),
    _array_op(OpKind.SEINSUM, -1, _seinsum, _einsum_vjp, AttrKind.SUBSCRIPTS,
              symbolic=lambda sp, *args: _einsum(*args)),
    # Positions, not a function of x's values a gradient could follow (vjp None): sort takes x at them.
    _array_op(OpKind.ARGSORT, 1, _argsort, None, AttrKind.AXIS, symbolic=_no_order),
    # numpy.linalg over stacks of matrices; a factorisation with several outputs is one row per output.
    _linalg(OpKind.DET, 1, linalg_rules.det_vjp),
    _linalg(OpKind.ADJUGATE, 1, linalg_rules.adjugate_vjp),  # det's gradient, finite at singular matrices
    _linalg(OpKind.LOGABSDET, 1, linalg_rules.logabsdet_vjp),
    _linalg(OpKind.SLOGDET_SIGN, 1, None),  # flat: its derivative is zero wherever it exists
    _linalg(OpKind.INV, 1, linalg_rules.inv_vjp),
    _linalg(OpKind.SOLVE, 2, linalg_rules.solve_vjp),
    _linalg(OpKind.CHOLESKY, 1, linalg_rules.cholesky_vjp),
    _linalg(OpKind.EIGVALSH, 1, linalg_rules.eigvalsh_vjp),
    _linalg(OpKind.EIGH_VECTORS, 1, linalg_rules.eigh_vectors_vjp),
    _linalg(OpKind.SVDVALS, 1, linalg_rules.svdvals_vjp),
    _linalg(OpKind.SVD_U, 1, linalg_rules.svd_u_vjp),
    _linalg(OpKind.SVD_VH, 1, linalg_rules.svd_vh_vjp),
    _linalg(OpKind.QR_Q, 1, linalg_rules.qr_q_vjp),
    _linalg(OpKind.QR_R, 1, linalg_rules.qr_r_vjp),
]
# fmt: on

OPS: tuple[Op, ...] = tuple(_TABLE)
"""The op table, indexed by :class:`OpKind` (``OPS[OpKind.ADD]``)."""

assert all(op.kind == i for i, op in enumerate(OPS)), "OPS must be listed in OpKind order"

OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
"""The table by op name, the key of tape files (``OPS_BY_NAME["tanh"]``)."""


def op_named(name: str) -> Op:
    """The table entry called ``name`` (``op_named("tanh")``)."""
    return OPS_BY_NAME[name]


def attribute_text(kind: OpKind, attr: Any) -> str:
    """A record's attribute as listings and pictures word it (``axis=1 keepdims``, ``is true``); "" for none."""
    what = OPS[kind].attr
    if attr is None or what is AttrKind.NONE:
        return ""
    if what is AttrKind.TRUTH:
        return f"is {bool(attr)}".lower()
    if what is AttrKind.AXES:
        axes, keepdims = attr
        return "axis=" + ("all" if axes is None else ",".join(map(str, axes))) + (" keepdims" if keepdims else "")
    if what is AttrKind.AXIS:
        return f"axis={attr}"
    if what is AttrKind.SCATTER:
        return f"{attr[0]!r} into {attr[1]}"
    if what is AttrKind.NUMBER or what is AttrKind.INDEX:
        return repr(attr)
    return str(attr)

"""Tapes as sympy expressions, and sympy expressions as tapes.

Export runs a tape over sympy values: the same forward interpreter, with the
op table's ``symbolic`` rules, so every op maps to its exact sympy function
(``tanh``, ``Max``, ``Piecewise`` for ``where`` and ``relu``, ``Abs``...).
Gradients and Hessians are exports of the recorded gradient tapes: no
symbolic differentiation happens here, so programs far beyond the size
sympy's ``diff`` can handle are fine, and ``cse=True`` keeps every shared
slot of the tape shared, so the result grows linearly with the tape.

Array tapes export too, while they are small (:data:`ELEMENT_LIMIT`): an
input array ``W`` becomes the symbols ``W_0_0, W_0_1, ...`` and an array
output a ``sympy.Matrix``; :mod:`tapegrad.symbolic_arrays` holds how (and
the exact sympy numbers both kinds of tape are made of).

Import (:func:`from_sympy`, re-exported here) lives in
:mod:`tapegrad.symbolic_import`: it walks an expression and emits one record
per distinct subexpression, so a formula from sympy gets tapegrad's gradient
tapes, optimiser and interpreters.

Nothing here turns a user's text into sympy: names become ``sympy.Symbol``
objects directly, never through ``sympify``.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..core.interpret import Domain, forward, make_domain
from ..core.ops import OPS, Op, OpKind
from ..core.passes import optimize
from ..core.tape import Tape
from ..errors import (
    ArgumentCountError,
    GuardWarning,
    InputTypeError,
    NonScalarOutputError,
    SymbolicLimitError,
)
from ..functional.replay import restructure
from ..functional.tracing import as_tape, trace
from ..functional.transforms import gradient_tape, input_positions, select_outputs
from .symbolic_arrays import (
    CONDITIONS,
    ELEMENT_LIMIT,
    MAX_EXACT_BITS,
    array_rule,
    bounded,
    bounded_base,
    check_size,
    constant,
    element_names,
    element_work,
    elementwise,
    flat,
    given,
    number,
    object_array_of,
    output,
    slot_constant,
)
from .symbolic_import import SYMBOLS, from_sympy

__all__ = [
    "to_sympy", "gradient", "hessian", "latex", "from_sympy", "SYMPY",
    "ELEMENT_LIMIT", "MAX_EXACT_BITS", "element_work",
]  # fmt: skip

# A single-use subexpression is written inline up to this depth; deeper, it
# gets a name too, so a long chain neither nests past sympy's recursion
# limits nor hides its structure.
_INLINE_DEPTH = 8


# With strong=True the strong product and quotient keep their zeros in the
# formula: a zero adjoint times an infinite (or nan) partial stays 0, as on the tape.
_STRONG_RULES: dict[OpKind, Callable[..., Any]] = {
    OpKind.SMUL: lambda sp, g, y: sp.Piecewise((0, sp.Eq(g, 0)), (g * y, True)),
    OpKind.SDIV: lambda sp, g, y: sp.Piecewise((0, sp.Eq(g, 0)), (g / y, True)),
}


def _sympy_function(op: Op, strong: bool = False) -> Callable[..., Any] | None:
    rule = _STRONG_RULES.get(op.kind, op.symbolic) if strong else op.symbolic
    if rule is None:
        return None
    if not op.elementwise:
        return lambda *args: bounded(_array_result(op, args, array_rule(rule, op, args)))

    def scalar(*args: Any) -> Any:
        if op.kind is OpKind.WHERE:
            c, x, y = args
            operands = [c if isinstance(c, CONDITIONS) else constant(c), number(x), number(y)]
        else:
            operands = [number(a) for a in args]
            if op.kind is OpKind.POW or op.kind is OpKind.POW_CONST:  # the one rule that can explode a number
                operands[0] = bounded_base(*operands)
        try:
            result = rule(sp, *operands)
        except (TypeError, ValueError) as error:  # Max, Piecewise and relations refuse to compare with nan
            return _as_ieee(op, operands, f"sympy refuses to compare with nan ({type(error).__name__}: {error})")
        if isinstance(result, sp.Basic) and result.has(sp.zoo):
            return _as_ieee(op, operands, _ZOO)
        return bounded(result)

    if op.has_attr:
        return lambda *args: elementwise(scalar, args[:-1], args[-1:])
    return lambda *args: elementwise(scalar, args, ())


def _as_ieee(op: Op, operands: list[Any], failure: str) -> Any:
    """The op where sympy has no real answer, as every numeric engine computes it.

    sympy makes ``log(0)``, ``1/0`` and ``0**-1`` complex infinity (``zoo``),
    which no code printer can emit, and refuses to compare with ``nan``;
    IEEE arithmetic gives ``-inf``, ``inf``, ``nan`` or a truth value.  On
    numbers the float kernel says which (``-oo``, ``oo``, ``nan``, exact like
    ``inf``); ``x / 0`` is ``oo`` or ``-oo`` by the sign of ``x`` (``nan`` at
    0).  Anything else is refused, saying what sympy could not do.
    """
    if all(_is_number(a) for a in operands):
        floats = [1.0 if a is sp.true else 0.0 if a is sp.false else float(a) for a in operands]
        assert op.scalar is not None, f"op {op.name} has a sympy rule but no float kernel"
        value = op.scalar(*floats)
        if op.kind in _COMPARISONS:
            return sp.true if value else sp.false
        return constant(value)
    if op.kind in (OpKind.DIV, OpKind.SDIV) and operands[1] == 0:
        x = operands[0]
        quotient = sp.Piecewise((sp.oo, x > 0), (-sp.oo, x < 0), (sp.nan, True))
        return sp.Piecewise((0, sp.Eq(x, 0)), (quotient, True)) if op.kind is OpKind.SDIV else quotient
    raise _refused(op, operands, failure)


_ZOO = "sympy gives complex infinity (zoo), which no code printer can write"


def _refused(op: Op, operands: Sequence[Any], failure: str) -> SymbolicLimitError:
    shown = ", ".join(str(a) for a in operands)
    return SymbolicLimitError(
        f"cannot export {op.name}({shown}) as a formula: {failure}. The numeric engines compute it by IEEE "
        "rules; use the tape as code instead (tape.compile(), tapegrad.export), or keep the nan or zero "
        "divisor out of the traced program"
    )


def _array_result(op: Op, args: Sequence[Any], result: Any) -> Any:
    """An array op's sympy result, with complex infinity (``log`` of a zero sum) as the kernel computes it."""
    elements = result.ravel() if isinstance(result, np.ndarray) else [result]
    if not any(isinstance(e, sp.Basic) and e.has(sp.zoo) for e in elements):
        return result
    operands, attr = (args[:-1], args[-1:]) if op.has_attr else (args, ())
    arrays = [np.asarray(x, dtype=object) for x in operands]
    if not all(_is_number(e) for x in arrays for e in x.ravel()):
        raise _refused(op, operands, _ZOO)
    assert op.array is not None, f"op {op.name} has a sympy rule but no array kernel"
    with np.errstate(all="ignore"):
        value = op.array(*[x.astype(np.float64) for x in arrays], *attr)
    return slot_constant(value)


_COMPARISONS = frozenset(op.kind for op in OPS if op.comparison)


def _is_number(a: Any) -> bool:
    return a is sp.true or a is sp.false or (isinstance(a, sp.Basic) and not isinstance(a, CONDITIONS) and a.is_number)


def _is_zero(g: Any) -> bool:
    return bool(np.all(g == 0)) if isinstance(g, np.ndarray) else g == 0


SYMPY: Domain = make_domain(
    "sympy",
    _sympy_function,
    const=slot_constant,
    is_zero=_is_zero,
    truth=lambda c, site: None,  # a symbolic condition cannot be decided: export the recorded branch
)
"""The interpreters' domain of sympy expressions (and numpy arrays of them)."""

SYMPY_STRONG: Domain = make_domain(
    "sympy-strong",
    lambda op: _sympy_function(op, strong=True),
    const=slot_constant,
    is_zero=_is_zero,
    truth=lambda c, site: None,
)
"""As :data:`SYMPY`, with ``smul`` and ``sdiv`` as Piecewise formulas that keep the strong zeros."""


# ---------------------------------------------------------------- export


def _symbols(tape: Tape, symbols: Sequence[Any] | None) -> list[Any]:
    """One sympy object per input: the user's, the tape's own, or fresh Symbols.

    Fresh Symbols take the inputs' names; a repeated name gets a suffix, so
    two different inputs never become the same symbol.  An array input is
    an array of Symbols, ``W_i_j`` for element ``(i, j)`` of ``W``.
    """
    names = tape.inputs
    shapes = [np.shape(tape.values[s]) for s in tape.input_slots]
    if symbols is not None:
        chosen = list(symbols)
        if len(chosen) != len(names):
            raise ArgumentCountError(
                f"symbols gives {len(chosen)} symbols for the {len(names)} inputs of tape {tape.name!r} "
                f"({', '.join(names)}); give one per input"
            )
        return [given(tape, s, name, shape) for s, name, shape in zip(chosen, names, shapes)]
    known = list(SYMBOLS.get(tape, []))[: len(names)]
    taken = {str(s) for s in known}
    suffix: dict[str, int] = {}  # where to resume counting a repeated name: 10**5 copies of "x" stay linear
    fresh = []
    for name, shape in zip(names[len(known) :], shapes[len(known) :]):
        unique, k = name, suffix.get(name, 1)
        while unique in taken or not taken.isdisjoint(element_names(unique, shape)):
            unique, k = f"{name}_{k}", k + 1
        suffix[name] = k
        taken.add(unique)
        if shape:
            elements = element_names(unique, shape)
            taken.update(elements)
            fresh.append(object_array_of([sp.Symbol(e) for e in elements], shape))
        else:
            fresh.append(sp.Symbol(unique))
    return known + fresh


def _warn_guards(tape: Tape) -> None:
    guards = [i for i, kind in enumerate(tape.ops) if kind is OpKind.GUARD]
    if guards:
        where = "; ".join(f"{tape.describe_guard(i)} at {tape.sites.get(i, '?')}" for i in guards[:3])
        warnings.warn(
            GuardWarning(
                f"tape {tape.name!r} recorded Python branches ({where}); the formula is the recorded branch "
                "and holds only where those conditions do. Use tapegrad.where for a formula valid everywhere."
            ),
            stacklevel=_user_stacklevel(),
        )


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside tapegrad."""
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("tapegrad"):
        frame, level = frame.f_back, level + 1
    return level


def _cse_form(tape: Tape, symbols: list[Any], domain: Domain = SYMPY) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """``(replacements, outputs)`` read off the tape: each slot used twice gets a name.

    So does each element of an array that an array op or a broadcast may copy
    into many results (the rows of a matrix product).
    """
    uses = [0] * len(tape)
    copied = [False] * len(tape)
    for i, args in enumerate(tape.args):
        spread = not OPS[tape.ops[i]].elementwise or i in tape.broadcasts
        for a in args:
            uses[a] += 1
            copied[a] = copied[a] or spread
    for s in tape.output_slots:
        uses[s] += 1
    # by name: a positive t0 of the user's still prints as t0
    taken = {str(e) for s in symbols for e in (s.ravel() if isinstance(s, np.ndarray) else [s])}
    names = (sp.Symbol(f"t{k}") for k in itertools.count() if f"t{k}" not in taken)
    replacements: list[tuple[Any, Any]] = []
    depth = [0] * len(tape)

    def name_shared(i: int, expr: Any) -> Any:
        """What slot ``i`` holds in the cse form: ``expr``, or names standing for it."""
        d = 1 + max((depth[a] for a in tape.args[i]), default=0)
        if isinstance(expr, np.ndarray):
            if uses[i] > 1 or d > _INLINE_DEPTH or copied[i]:
                named = [_named(e, names, replacements) for e in expr.ravel()]
                expr, d = object_array_of(named, expr.shape), 0
        elif uses[i] > 1 or d > _INLINE_DEPTH:
            expr = _named(expr, names, replacements)
            d = 0 if expr.is_Symbol else d
        depth[i] = d
        return expr

    exprs = forward(tape, symbols, domain, on_record=name_shared)
    return replacements, [output(exprs[s]) for s in tape.output_slots]


def _named(expr: Any, names: Iterator[Any], replacements: list[tuple[Any, Any]]) -> Any:
    """A fresh name standing for ``expr`` (added to ``replacements``), unless it is an atom or a condition."""
    expr = constant(expr)
    if expr.is_Atom or isinstance(expr, CONDITIONS):
        return expr
    name = next(names)
    replacements.append((name, expr))
    return name


def to_sympy(
    tape: Tape, symbols: Sequence[Any] | None = None, cse: bool = False, simplify: bool = False, strong: bool = False
) -> Any:
    """The tape's outputs as sympy expressions, in the structure it returns.

    Inputs become ``sympy.Symbol`` objects named after the tape's inputs, or
    the ``symbols`` you pass (with your assumptions).  With ``cse=True`` the
    result is ``(replacements, exprs)`` in ``sympy.cse``'s format, taken
    straight from the tape's shared slots, so its size is linear in the tape.
    ``simplify=True`` simplifies each output (slow on big expressions).
    ``strong=True`` writes the strong product and quotient of gradient tapes
    as ``Piecewise`` formulas that keep their zeros (see :func:`gradient`).

    >>> tapegrad.trace(lambda x, y: (x * y).tanh(), 1.0, 2.0).to_sympy()
    tanh(x*y)

    An array input ``W`` becomes symbols ``W_0_0, W_0_1...`` (or give a
    ``sympy.Matrix`` for it in ``symbols``), and an array output a
    ``sympy.Matrix``; a tape of more than :data:`ELEMENT_LIMIT` array
    elements is refused with a :class:`~tapegrad.errors.SymbolicLimitError`::

        >>> tapegrad.trace(lambda W, x: (W @ x).tanh(), np.ones((2, 2)), np.ones(2)).to_sympy()
        Matrix([
        [tanh(W_0_0*x_0 + W_0_1*x_1)],
        [tanh(W_1_0*x_0 + W_1_1*x_1)]])
    """
    check_size(tape)
    chosen = _symbols(tape, symbols)
    _warn_guards(tape)
    domain = SYMPY_STRONG if strong else SYMPY
    if cse:
        try:
            replacements, exprs = _cse_form(tape, chosen, domain)
        except RecursionError:
            raise _too_deep(tape, "even in the cse form") from None
        if simplify:
            exprs = [sp.simplify(e) for e in exprs]
        return replacements, exprs
    try:
        values = forward(tape, chosen, domain)
        outputs = [output(values[s]) for s in tape.output_slots]  # an output condition is the number 1 or 0
    except RecursionError:
        try:  # suggest the cse form only if it works
            _cse_form(tape, chosen, domain)
        except RecursionError:
            raise _too_deep(tape, "as one expression or in the cse form") from None
        raise SymbolicLimitError(
            f"tape {tape.name!r} ({len(tape):,} records) nests too deeply for sympy to build one expression "
            "(Python's recursion limit); export it with cse=True, which names the intermediate results"
        ) from None
    if simplify:
        outputs = [sp.simplify(e) for e in outputs]
    return restructure(tape, outputs)


def _too_deep(tape: Tape, how: str) -> SymbolicLimitError:
    """The error for a formula sympy recursed too deeply to build, ``how`` naming the forms tried."""
    return SymbolicLimitError(
        f"sympy recursed past Python's limit building tape {tape.name!r} ({len(tape):,} records) {how}: "
        "conditions (of where, comparisons, relu) cannot be named, so sympy's Piecewise and relations "
        "take them whole. Use the tape numerically instead (tape.compile(), tapegrad.export)"
    )


def _gradient_tape(tape: Tape, wrt: Sequence[str | int] | str | int | None) -> Tape:
    if len(tape.output_slots) != 1:
        raise NonScalarOutputError(
            f"a symbolic gradient needs one scalar output, but tape {tape.name!r} has {len(tape.output_slots)}; "
            "trace each output on its own, or use tapegrad.grad_tape with seeds"
        )
    # No constant folding: log(2) should stay log(2), not become 0.693...
    return optimize(gradient_tape(tape, wrt), passes=["identities", "cse", "dce"])


def gradient(
    f_or_tape: Callable[..., Any] | Tape,
    wrt: Sequence[str | int] | str | int | None = None,
    cse: bool = False,
    symbols: Sequence[Any] | None = None,
    simplify: bool = False,
    strong: bool = False,
) -> Any:
    """The gradient as a list of sympy expressions, one per input in ``wrt``.

    Read off the optimised gradient tape.  With ``cse=True``, returns
    ``(replacements, exprs)`` as ``sympy.cse`` does, linear in the tape size.
    A function is traced at 1.0 for each parameter.  The gradient with
    respect to an array input is a ``sympy.Matrix`` of its shape (a column
    for a vector).

    By default the formulas are the plain calculus ones: where the tape's
    strong zeros stop a zero adjoint meeting an infinite partial, the formula
    multiplies ``0 * oo`` and gives ``nan`` (``where(x > 0, sqrt(x), 0)`` at
    ``x = 0``: the tape says 0).  ``strong=True`` writes each strong product
    and quotient as ``Piecewise((0, Eq(g, 0)), (g*y, True))``, so the formulas
    agree with the tape there, at the cost of longer formulas::

        >>> gradient(lambda x: tapegrad.where(x > 0, x.sqrt(), 0.0), strong=True)
        [Piecewise((0, x <= 0), (Piecewise((1, x > 0), (0, True))/(2*sqrt(x)), True))]
    """
    tape = as_tape(f_or_tape)
    check_size(tape)  # before recording a gradient tape of it
    g = _gradient_tape(tape, wrt)
    result = to_sympy(g, symbols, cse=cse, simplify=simplify, strong=strong)
    return (result[0], list(result[1])) if cse else list(result)


def hessian(
    f_or_tape: Callable[..., Any] | Tape,
    symbols: Sequence[Any] | None = None,
    simplify: bool = False,
    wrt: Sequence[str | int] | str | int | None = None,
    strong: bool = False,
) -> Any:
    """The Hessian of scalar ``f`` as a ``sympy.Matrix``: each row exported from a second gradient tape.

    ``wrt`` (names or positions) keeps only those inputs' rows and columns,
    in the order given: a mass matrix needs only the velocities, and each
    row left out is a gradient tape never recorded.  With array inputs, rows
    and columns run over every element of every input in turn, row-major
    (``W_0_0, W_0_1, ..., x_0, ...``).  ``strong`` as in :func:`gradient`.
    """
    tape = as_tape(f_or_tape)
    if tape.array:
        return _array_hessian(tape, symbols, simplify, wrt, strong)
    g = _gradient_tape(tape, wrt)
    rows = []
    for i in range(len(g.output_slots)):
        second = _gradient_tape(select_outputs(g, [i]), wrt)
        rows.append(list(to_sympy(second, symbols, simplify=simplify, strong=strong)))
    return sp.Matrix(rows)


def _array_hessian(
    tape: Tape, symbols: Sequence[Any] | None, simplify: bool, wrt: Sequence[str | int] | str | int | None, strong: bool
) -> Any:
    """The Hessian of an array tape: one row per element of the gradient, from a tape of that element."""
    check_size(tape)
    g = _gradient_tape(tape, wrt)
    example = [g.values[s] for s in g.input_slots]
    rows = []
    for k, slot in enumerate(g.output_slots):
        for index in np.ndindex(np.shape(g.values[slot])):
            element = trace(lambda *xs, k=k, index=index: g(*xs)[k][index], *example, names=g.inputs)
            element.name = f"{g.name}[{k}][{','.join(map(str, index))}]"
            second = to_sympy(_gradient_tape(element, wrt), symbols, simplify=simplify, strong=strong)
            rows.append([e for part in second for e in flat(part)])
    return sp.Matrix(rows)


def latex(
    f_or_tape: Callable[..., Any] | Tape | sp.MatrixBase,
    wrt: Sequence[str | int] | str | int | None = None,
    symbols: Sequence[Any] | None = None,
    cse: bool | None = None,
) -> str:
    r"""The gradient as LaTeX: one ``\frac{\partial f}{\partial x} = ...`` line per input.

    When the gradient shares many subexpressions (or ``cse=True``), they are
    named ``t_0, t_1, ...`` first, all in one ``aligned`` block.  A sympy
    Matrix (a :func:`hessian`) is written as a ``bmatrix``::

        >>> latex(hessian(lambda x, y: x * x * y))
        '\\begin{bmatrix}2 y & 2 x\\\\2 x & 0\\end{bmatrix}'
    """
    if isinstance(f_or_tape, sp.MatrixBase):
        if wrt is not None or symbols is not None or cse:
            raise InputTypeError(
                "latex of a sympy Matrix writes it as it is; wrt=, symbols= and cse= apply only to a function "
                "or tape, whose gradient is written"
            )
        return sp.latex(f_or_tape, mat_str="bmatrix", mat_delim="")
    tape = as_tape(f_or_tape)
    check_size(tape)
    g = _gradient_tape(tape, wrt)
    chosen = _symbols(g, symbols)
    replacements, exprs = to_sympy(g, chosen, cse=True)
    if cse is None:
        cse = len(replacements) > 4
    if not cse:
        replacements, exprs = [], list(to_sympy(g, chosen))  # a gradient tape returns a tuple
    out = sp.latex(sp.Symbol(tape.output_names[0]))
    lines = [f"{sp.latex(name)} &= {sp.latex(expr)}" for name, expr in replacements]
    names = tape.inputs
    for position, expr in zip(input_positions(tape, wrt), exprs):
        symbol = chosen[position]
        wrt_text = sp.latex(sp.Symbol(names[position]) if isinstance(symbol, np.ndarray) else symbol)
        lines.append(rf"\frac{{\partial {out}}}{{\partial {wrt_text}}} &= {sp.latex(expr)}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

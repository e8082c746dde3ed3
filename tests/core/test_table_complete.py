"""The op table is the one description of an op: every consumer handles every row.

Each test below is parametrized over the whole table (``OpKind``), so an op
a consumer forgets fails here, by name, not in a review.  :data:`EXAMPLES`
holds one small program per op kind; adding an op to the table without a
case here fails :func:`test_every_op_has_an_example` (and every consumer
test for that op).  The consumers checked, each against the interpreter,
bit for bit unless said otherwise:

* eager recording (a ``Value`` method or public function reaches the op) and
  eager ``backward()``;
* replay on floats and on arrays (the recorded values, and point by point);
* ``grad_tape`` (tracing the backward rules), forward mode (``jvp``,
  against the gradient within rounding), ``optimize``;
* sympy out (``to_sympy``, numerically) and in (``from_sympy`` of each
  ``sympy_name``, and of the exported formula), the expression parser
  (each ``parse_name``, and ``to_expression`` of every scalar example);
* both code backends (``PythonPrinter`` for ops with a float rule,
  ``NumpyPrinter`` for every op), tape files (``dumps``/``loads`` with each
  attribute kind), DOT, the closure engine, the listing.

What each op computes (values against numpy/math, gradients against finite
differences and sympy, IEEE edge points, conventions) is specified in
``tests/test_ops.py`` and ``tests/test_arrays.py``; this file checks that
the table reaches every consumer, not the numbers themselves.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import sympy

import tapegrad
from tapegrad import Tape, Value
from tapegrad.core.ops import OPS, AttrKind, Op, OpKind, attribute_text
from tapegrad.errors import UnsupportedOpError
from tapegrad.formats import dot, io
from tapegrad.formats.parse import to_expression
from tapegrad.formats.symbolic import to_sympy
from tapegrad.formats.symbolic_import import from_sympy
from tapegrad.lab import closure

# ---------------------------------------------------------------- one example per op


@dataclass(frozen=True)
class Example:
    """A small program whose tape holds the op, and where to trace it.

    ``f(t, *args)`` takes the library first (``tapegrad``, or
    ``tapegrad.closure`` for the closure engine), so the same program runs
    on both engines.  It returns one number, so every example has a gradient.
    """

    f: Callable[..., Any]
    args: tuple[Any, ...]
    backward_only: bool = False  # only backward rules record the op (smul, gate, sum_to...): no Value method does

    @property
    def scalar(self) -> bool:
        """Whether the program takes only floats (the math backend, the parser and the closure engine apply)."""
        return all(type(a) is float for a in self.args)

    def tape(self) -> Tape:
        return tapegrad.trace(lambda *args: self.f(tapegrad, *args), *self.args, names=_NAMES[: len(self.args)])


_NAMES = ["x", "y", "z"]


def _gradient_sum(f: Callable[..., Any], *args: Any) -> Example:
    """A program adding up ``f``'s gradient at ``args``, so its tape holds what ``f``'s backward rules record.

    Arguments given as Values (take's indices) are not differentiated.
    """
    wrt = tuple(k for k, a in enumerate(args) if not isinstance(a, Value))

    def total(t: ModuleType, *args: Any) -> Any:
        grads = tapegrad.grad(lambda *a: f(tapegrad, *a), argnums=wrt)(*args)
        result = 0.0
        for g in grads:
            result = result + (g.sum() if g.ndim else g)
        return result

    return Example(total, args, backward_only=True)


_W = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])
_V = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.125]])
_B = np.array([0.25, -0.5, 1.0])
_INDICES = Value(np.array([0.0, 2.0, 2.0]))
_A = np.array([[2.0, 0.5, -0.25], [0.75, 1.5, 0.5], [-0.5, 0.25, 1.75]])
_SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]])  # distinct eigenvalues


def _matmul(t: ModuleType, w: Any, v: Any) -> Any:
    return (w @ v.T).sum()


def _einsum(t: ModuleType, w: Any, v: Any) -> Any:
    return (tapegrad.numpy.einsum("ij,kj->ik", w, v) ** 2).sum()


def _getitem(t: ModuleType, w: Any) -> Any:
    return (w[:, 1] ** 2).sum()


def _take(t: ModuleType, w: Any, indices: Any) -> Any:
    return (w.T[indices] ** 2).sum()


def _unary(method: str, x: float = 0.5) -> Example:
    return Example(lambda t, x: getattr(x, method)(), (x,))


def _test(compare: Callable[..., Any]) -> Example:
    """A comparison as where's condition, so the program has a gradient."""
    return Example(lambda t, x, y: t.where(compare(t, x, y), x * y, y), (0.5, 1.5))


# fmt: off
EXAMPLES: dict[OpKind, Example] = {
    OpKind.INPUT: Example(lambda t, x: x * 3.0, (0.5,)),
    OpKind.CONST: Example(lambda t, x: x + 2.0, (0.5,)),
    OpKind.GUARD: Example(lambda t, x: x * 2.0 if x > 0.0 else -x, (0.5,)),
    OpKind.ADD: Example(lambda t, x, y: x + y, (0.5, -1.25)),
    OpKind.SUB: Example(lambda t, x, y: x - y, (0.5, -1.25)),
    OpKind.MUL: Example(lambda t, x, y: x * y, (0.5, -1.25)),
    OpKind.DIV: Example(lambda t, x, y: x / y, (0.5, -1.25)),
    OpKind.NEG: Example(lambda t, x: -x, (0.5,)),
    OpKind.POW_CONST: Example(lambda t, x: x ** 3, (0.5,)),
    OpKind.POW: Example(lambda t, x, y: x ** y, (1.5, 0.75)),
    OpKind.EXP: _unary("exp"),
    OpKind.LOG: _unary("log", 1.5),
    OpKind.TANH: _unary("tanh"),
    OpKind.SIGMOID: _unary("sigmoid"),
    OpKind.RELU: _unary("relu"),
    OpKind.SIN: _unary("sin"),
    OpKind.COS: _unary("cos"),
    OpKind.SQRT: _unary("sqrt", 1.5),
    OpKind.ABS: _unary("abs", -0.5),
    OpKind.MAXIMUM: Example(lambda t, x, y: t.maximum(x, y), (0.5, -1.25)),
    OpKind.MINIMUM: Example(lambda t, x, y: t.minimum(x, y), (0.5, -1.25)),
    OpKind.WHERE: Example(lambda t, x, y: t.where(x, x, y), (0.5, -1.25)),
    OpKind.GT: _test(lambda t, x, y: x > y),
    OpKind.GE: _test(lambda t, x, y: x >= y),
    OpKind.LT: _test(lambda t, x, y: x < y),
    OpKind.LE: _test(lambda t, x, y: x <= y),
    OpKind.EQ: _test(lambda t, x, y: t.equal(x, y)),
    OpKind.NE: _test(lambda t, x, y: t.not_equal(x, y)),
    OpKind.SMUL: _gradient_sum(lambda t, x, y: x * y, 0.5, -1.25),
    OpKind.SDIV: _gradient_sum(lambda t, x, y: x / y, 0.5, -1.25),
    OpKind.MATMUL: Example(_matmul, (_W, _V)),
    OpKind.SUM: Example(lambda t, w: (w.sum(axis=1, keepdims=True) * w).sum(), (_W,)),
    OpKind.MAX: Example(lambda t, w: w.max(axis=0).sum(), (_W,)),
    OpKind.LOGSUMEXP: Example(lambda t, w: t.logsumexp(w, axis=1).sum(), (_W,)),
    OpKind.RESHAPE: Example(lambda t, w: (w.reshape(3, 2) ** 2).sum(), (_W,)),
    OpKind.TRANSPOSE: Example(lambda t, w: (w.T * _V.T).sum(), (_W,)),
    OpKind.BROADCAST_TO: _gradient_sum(lambda t, w: w.sum() ** 2, _W),
    OpKind.SUM_TO: _gradient_sum(lambda t, w, b: ((w + b) ** 2).sum(), _W, _B),
    OpKind.GETITEM: Example(_getitem, (_W,)),
    OpKind.SCATTER: _gradient_sum(_getitem, _W),
    OpKind.CONCAT: Example(lambda t, w, v: (t.concatenate([w, v], axis=0) ** 2).sum(), (_W, _V)),
    OpKind.ASTYPE: Example(lambda t, w: (w.astype("float32") ** 2).sum(), (_W,)),
    OpKind.GATE: _gradient_sum(lambda t, x: x.relu(), 0.5),
    OpKind.LOG_SOFTMAX: Example(lambda t, w: (t.log_softmax(w, axis=1) * _V).sum(), (_W,)),
    OpKind.TAKE: Example(_take, (_W, _INDICES)),
    OpKind.TAKE_GRAD: _gradient_sum(_take, _W, _INDICES),
    OpKind.SMATMUL: _gradient_sum(_matmul, _W, _V),
    # issue 16: numpy's elementwise vocabulary (values and conventions: tests/core/test_more_ops.py)
    OpKind.TAN: _unary("tan"),
    OpKind.ASIN: _unary("asin"),
    OpKind.ACOS: _unary("acos"),
    OpKind.ATAN: _unary("atan"),
    OpKind.ATAN2: Example(lambda t, x, y: x.atan2(y), (0.5, -1.25)),
    OpKind.SINH: _unary("sinh"),
    OpKind.COSH: _unary("cosh"),
    OpKind.ASINH: _unary("asinh"),
    OpKind.ACOSH: _unary("acosh", 1.5),
    OpKind.ATANH: _unary("atanh"),
    OpKind.LOG1P: _unary("log1p"),
    OpKind.EXPM1: _unary("expm1"),
    OpKind.LOG2: _unary("log2", 1.5),
    OpKind.LOG10: _unary("log10", 1.5),
    OpKind.EXP2: _unary("exp2"),
    OpKind.CBRT: _unary("cbrt", 1.5),
    OpKind.SQUARE: _unary("square"),
    OpKind.RECIPROCAL: _unary("reciprocal", 1.5),
    OpKind.HYPOT: Example(lambda t, x, y: x.hypot(y), (0.5, -1.25)),
    OpKind.ERF: _unary("erf"),
    OpKind.ERFC: _unary("erfc"),
    OpKind.LOGADDEXP: Example(lambda t, x, y: x.logaddexp(y), (0.5, -1.25)),
    OpKind.SOFTPLUS: _unary("softplus"),
    OpKind.SIGN: Example(lambda t, x: x.sign() * x, (-0.5,)),
    OpKind.FLOOR: Example(lambda t, x: x.floor() + x, (1.5,)),
    OpKind.CEIL: Example(lambda t, x: x.ceil() + x, (1.25,)),
    OpKind.ROUND: Example(lambda t, x: x.round() + x, (1.75,)),
    OpKind.TRUNC: Example(lambda t, x: x.trunc() + x, (-1.5,)),
    OpKind.MOD: Example(lambda t, x, y: x.mod(y), (2.5, 0.75)),
    OpKind.FMOD: Example(lambda t, x, y: x.fmod(y), (-2.5, 0.75)),
    OpKind.FLOOR_DIVIDE: Example(lambda t, x, y: x.floor_divide(y) + x * y, (2.5, 0.75)),
    OpKind.CLIP: Example(lambda t, x: x.clip(-0.25, 0.75) * x, (0.5,)),
    OpKind.PROD: Example(lambda t, w: w.prod(axis=1).sum(), (_W,)),
    OpKind.CUMSUM: Example(lambda t, w: (w.cumsum(axis=1) * _V).sum(), (_W,)),
    # issue 17: einsum (values, gradients, conventions: tests/values/test_einsum.py)
    OpKind.EINSUM: Example(_einsum, (_W, _V)),
    OpKind.SEINSUM: _gradient_sum(_einsum, _W, _V),
    OpKind.ARGSORT: Example(lambda t, w: (np.sort(w, axis=1) * _V).sum(), (_W,)),  # tests/values/test_sorting.py
    # issue 17: numpy.linalg (values, gradients and singular inputs: tests/values/test_linalg*.py)
    OpKind.DET: Example(lambda t, a: t.numpy.linalg.det(a) * 2.0, (_A,)),
    OpKind.ADJUGATE: _gradient_sum(lambda t, a: t.numpy.linalg.det(a), _A),
    OpKind.LOGABSDET: Example(lambda t, a: t.numpy.linalg.slogdet(a).logabsdet, (_A,)),
    OpKind.SLOGDET_SIGN: Example(lambda t, a: t.numpy.linalg.slogdet(a).sign * a.sum(), (_A,)),
    OpKind.INV: Example(lambda t, a: (t.numpy.linalg.inv(a) * _A).sum(), (_A,)),
    OpKind.SOLVE: Example(lambda t, a, b: (t.numpy.linalg.solve(a, b) ** 2).sum(), (_A, _B)),
    OpKind.CHOLESKY: Example(lambda t, a: (t.numpy.linalg.cholesky(a) * _A).sum(), (_SPD,)),
    OpKind.EIGVALSH: Example(lambda t, a: (t.numpy.linalg.eigvalsh(a) * _B).sum(), (_SPD,)),
    OpKind.EIGH_VECTORS: Example(lambda t, a: (t.numpy.linalg.eigh(a).eigenvectors ** 4).sum(), (_SPD,)),
    OpKind.SVDVALS: Example(lambda t, w: (t.numpy.linalg.svdvals(w) ** 3).sum(), (_W,)),
    OpKind.SVD_U: Example(lambda t, w: (t.numpy.linalg.svd(w.T, full_matrices=False).U ** 4).sum(), (_W,)),
    OpKind.SVD_VH: Example(lambda t, w: (t.numpy.linalg.svd(w, full_matrices=False).Vh ** 4).sum(), (_W,)),
    OpKind.QR_Q: Example(lambda t, w: (t.numpy.linalg.qr(w.T).Q * _V.T).sum(), (_W,)),
    OpKind.QR_R: Example(lambda t, w: (t.numpy.linalg.qr(w).R * _V).sum(), (_W,)),
}
# fmt: on

KINDS = [pytest.param(kind, id=str(kind)) for kind in OpKind]
SCALAR_KINDS = [pytest.param(kind, id=str(kind)) for kind in OpKind if kind in EXAMPLES and EXAMPLES[kind].scalar]
"""The examples on floats only: the parser, from_sympy and the closure engine are scalar."""
_TAPES: dict[OpKind, Tape] = {}


@pytest.fixture(autouse=True, scope="module")
def _forget_tapes() -> Iterator[None]:
    """The example tapes live while this module runs; later modules count live tapes (tests/test_nn.py)."""
    yield
    _TAPES.clear()


def example(kind: OpKind) -> Example:
    if kind not in EXAMPLES:
        pytest.fail(f"op {kind} has no example in EXAMPLES (tests/core/test_table_complete.py): add a small program")
    return EXAMPLES[kind]


def tape_of(kind: OpKind) -> Tape:
    """The example's tape (traced once per session); a test must not change it."""
    if kind not in _TAPES:
        _TAPES[kind] = example(kind).tape()
    return _TAPES[kind]


def numbers(kind: OpKind) -> list[Any]:
    """The example's inputs as numbers (a Value of indices gives its array)."""
    return [a.data if isinstance(a, Value) else a for a in example(kind).args]


def identical(actual: Any, expected: Any) -> bool:
    """The same float64 bits, elementwise, over nested tuples (nan equals nan, -0.0 differs from 0.0)."""
    if isinstance(expected, tuple):
        return isinstance(actual, tuple) and len(actual) == len(expected) and all(map(identical, actual, expected))
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | (a != a) & (b != b)))


LIBM_DIFFERS = frozenset({
    OpKind.TAN, OpKind.ASIN, OpKind.ACOS, OpKind.ATAN, OpKind.ATAN2, OpKind.SINH, OpKind.COSH, OpKind.ASINH,
    OpKind.ACOSH, OpKind.ATANH, OpKind.LOG1P, OpKind.EXPM1, OpKind.LOG2, OpKind.LOG10, OpKind.EXP2, OpKind.CBRT,
    OpKind.HYPOT, OpKind.ERF, OpKind.ERFC, OpKind.LOGADDEXP, OpKind.SOFTPLUS,
})  # fmt: skip
"""Ops whose float rule (``math``, C's libm) and numpy rule (numpy's own loops) may differ in the last bits."""


def agrees(kind: OpKind, actual: Any, expected: Any) -> bool:
    """Floats against arrays: bit for bit, or within 1e-15 relative where the math libraries differ (stated)."""
    if identical(actual, expected) or kind not in LIBM_DIFFERS:
        return identical(actual, expected)
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isclose(a, b, rtol=1e-15, atol=0.0) | (a != a) & (b != b)))


def gradient(kind: OpKind) -> tuple[Any, ...]:
    """The example's gradient by ``Tape.gradient`` (the backward interpreter): what the consumers must match."""
    return tuple(tape_of(kind).gradient(*numbers(kind)))


def _user_elementwise_kinds() -> Iterator[OpKind]:
    """Elementwise ops a program writes (not smul, sdiv, gate: only backward rules record those)."""
    return (op.kind for op in OPS if op.elementwise and not (op.kind in EXAMPLES and EXAMPLES[op.kind].backward_only))


# ---------------------------------------------------------------- the table and its examples


@pytest.mark.parametrize("kind", KINDS)
def test_every_op_has_an_example(kind: OpKind) -> None:
    if OPS[kind].elementwise:  # so the math backend, the parser, sympy in and the closure engine meet it
        assert example(kind).scalar, f"the example of elementwise {kind} should take floats only"
    assert kind in tape_of(kind).ops, f"the example of {kind} records {sorted(set(map(str, tape_of(kind).ops)))}"


def test_the_examples_hold_every_attribute_kind() -> None:
    """So the tape-file and listing tests below meet every way an attribute is stored and worded."""
    held = {OPS[k].attr for kind in EXAMPLES for k in tape_of(kind).ops}
    assert held == set(AttrKind)


# ---------------------------------------------------------------- eager, replay, grad_tape, jvp, optimize


@pytest.mark.parametrize("kind", KINDS)
def test_eager_recording_and_backward_agree_with_the_tape(kind: OpKind) -> None:
    case = example(kind)
    leaves = [a if isinstance(a, Value) else Value(a) for a in case.args]
    out = case.f(tapegrad, *leaves)
    out.backward()
    assert identical(out.data, tape_of(kind)(*numbers(kind)))
    for leaf, expected, given in zip(leaves, gradient(kind), case.args):
        if not isinstance(given, Value):  # the indices of take are no leaf of the program
            assert identical(leaf.grad, expected), (leaf.grad, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_replay_on_floats_and_arrays(kind: OpKind) -> None:
    tape = tape_of(kind)
    assert identical(tape(*numbers(kind)), tape.values[tape.output_slots[0]])
    if example(kind).scalar:
        points = [np.array([a, 0.75 * a, 1.25 * a]) for a in numbers(kind)]
        batch = tape(*points)
        for k in range(3):
            assert agrees(kind, batch[k], tape(*[float(p[k]) for p in points]))


@pytest.mark.parametrize("kind", KINDS)
def test_grad_tape_computes_the_interpreters_gradient(kind: OpKind) -> None:
    value, *grads = tapegrad.grad_tape(tape_of(kind))(*numbers(kind))
    assert identical(value, tape_of(kind)(*numbers(kind)))
    assert identical(tuple(grads), gradient(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_forward_mode_agrees_with_the_gradient(kind: OpKind) -> None:
    args = numbers(kind)
    tangents = [np.full(np.shape(a), 0.5) if np.ndim(a) else 0.5 for a in args]
    value, tangent = tapegrad.jvp(tape_of(kind), args, tangents)
    assert identical(value, tape_of(kind)(*args))
    moved = [g for g, a in zip(gradient(kind), example(kind).args) if not isinstance(a, Value)]
    expected = sum(float(np.sum(g * t)) for g, t in zip(moved, tangents))
    scale = sum(float(np.sum(np.abs(g * t))) for g, t in zip(moved, tangents))  # cancellation leaves rounding
    assert float(tangent) == pytest.approx(expected, rel=1e-12, abs=1e-12 * scale)


@pytest.mark.parametrize("kind", KINDS)
def test_optimize_keeps_values_and_gradients_bit_for_bit(kind: OpKind) -> None:
    optimized = tapegrad.optimize(tape_of(kind))
    assert identical(optimized(*numbers(kind)), tape_of(kind)(*numbers(kind)))
    assert identical(tuple(optimized.gradient(*numbers(kind))), gradient(kind))


# ---------------------------------------------------------------- sympy, the parser


def _sympy_value(expr: Any, tape: Tape, args: list[Any]) -> float:
    """A formula of the tape's inputs (array elements named ``W_0_1``) evaluated at ``args``."""
    points: dict[str, float] = {}
    for name, a in zip(tape.inputs, args):
        if np.ndim(a):
            points |= {"_".join([name, *map(str, i)]): float(a[i]) for i in np.ndindex(np.shape(a))}
        else:
            points[name] = float(a)
    return float(expr.subs({s: points[s.name] for s in expr.free_symbols}).evalf(30))


def _formula(kind: OpKind) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the guard's warning: the formula holds on the recorded branch
        return to_sympy(tape_of(kind))


_NO_FORMULA = {OpKind.EIGVALSH, OpKind.EIGH_VECTORS, OpKind.SVDVALS, OpKind.SVD_U, OpKind.SVD_VH, OpKind.QR_Q,
               OpKind.QR_R}
"""Factorisations whose values are roots of polynomials: symbolic export refuses them by name."""


@pytest.mark.parametrize("kind", KINDS)
def test_to_sympy_writes_the_op(kind: OpKind) -> None:
    if OpKind.ARGSORT in tape_of(kind).ops:
        with pytest.raises(UnsupportedOpError, match="cannot order symbols"):
            _formula(kind)
        return
    if {OpKind.TAKE, OpKind.TAKE_GRAD} & set(tape_of(kind).ops):
        with pytest.raises(UnsupportedOpError, match="cannot index by a symbol"):
            _formula(kind)
        return
    if _NO_FORMULA & set(tape_of(kind).ops):
        with pytest.raises(UnsupportedOpError, match="has no formula symbolic export can write"):
            _formula(kind)
        return
    value = _sympy_value(_formula(kind), tape_of(kind), numbers(kind))
    assert value == pytest.approx(float(tape_of(kind)(*numbers(kind))), rel=1e-6)


@pytest.mark.parametrize("kind", SCALAR_KINDS)
def test_from_sympy_reads_back_the_exported_formula(kind: OpKind) -> None:
    formula = _formula(kind)
    used = {s.name: s for s in formula.free_symbols}
    imported = from_sympy(formula, [used.get(name, sympy.Symbol(name)) for name in tape_of(kind).inputs])
    assert float(imported(*numbers(kind))) == pytest.approx(float(tape_of(kind)(*numbers(kind))), rel=1e-15)


SYMPY_NAMED = [pytest.param(op, id=op.name) for op in OPS if op.sympy_name]


@pytest.mark.parametrize("op", SYMPY_NAMED)
def test_from_sympy_reads_each_sympy_name_as_its_op(op: Op) -> None:
    symbols = sympy.symbols("x y z", real=True)[: op.arity]
    tape = from_sympy(getattr(sympy, op.sympy_name)(*symbols), list(symbols))
    assert op.kind in tape.ops
    point = [0.5, 1.5, -0.25][: op.arity]
    assert identical(tape(*point), op.scalar(*point))  # type: ignore[misc]


PARSE_NAMED = [pytest.param(op, id=op.name) for op in OPS if op.parse_name]


@pytest.mark.parametrize("op", PARSE_NAMED)
def test_the_parser_reads_each_parse_name_and_writes_it_back(op: Op) -> None:
    text = f"{op.parse_name}({', '.join(['x > y', 'x', 'y'] if op.kind is OpKind.WHERE else _NAMES[: op.arity])})"
    tape = tapegrad.parse(text)
    assert op.kind in tape.ops
    again = tapegrad.parse(to_expression(tape))
    assert str(again).splitlines()[1:] == str(tape).splitlines()[1:]


@pytest.mark.parametrize("kind", [k for k in SCALAR_KINDS if k.values[0] is not OpKind.GUARD])
def test_to_expression_writes_every_scalar_example_so_parse_reads_it_back(kind: OpKind) -> None:
    """(A guard is refused: the text could not say it holds only on one branch; see test_parse.py.)"""
    text = to_expression(tape_of(kind))
    parsed = tapegrad.parse(text, variables=tape_of(kind).inputs)
    assert identical(parsed(*numbers(kind)), tape_of(kind)(*numbers(kind))), text


# ---------------------------------------------------------------- code, tape files, DOT, listing


@pytest.mark.parametrize("kind", KINDS)
def test_generated_code_agrees_with_the_interpreter(kind: OpKind) -> None:
    tape, args = tape_of(kind), numbers(kind)
    backends = ["math", "numpy"] if example(kind).scalar else ["numpy"]
    for backend in backends:
        same = identical if backend == "math" else (lambda a, b: agrees(kind, a, b))  # numpy code: numpy's loops
        assert same(tape.compile(backend)(*args), tape(*args)), backend
    if example(kind).scalar:
        points = [np.array([a, 0.75 * a, 1.25 * a]) for a in args]
        assert identical(tape.compile("numpy")(*points), tape(*points))


@pytest.mark.parametrize("kind", KINDS)
def test_tape_files_keep_every_record_and_its_attribute(kind: OpKind) -> None:
    tape = tape_of(kind)
    loaded = io.loads(io.dumps(tape))

    def rows(t: Tape) -> list[tuple[Any, ...]]:
        return [(r.op, r.args, repr(r.attr)) for r in t.records]

    assert rows(loaded) == rows(tape)
    assert identical(loaded(*numbers(kind)), tape(*numbers(kind)))


@pytest.mark.parametrize("kind", KINDS)
def test_dot_shows_the_op(kind: OpKind) -> None:
    picture = dot.to_dot(tape_of(kind))
    slot = tape_of(kind).ops.index(kind)
    assert f"n{slot} [label=" in picture and (f"{{ %{slot} | {kind}" in picture or f"%{slot} {kind}" in picture)


@pytest.mark.parametrize("kind", KINDS)
def test_the_listing_words_the_op_and_its_attribute(kind: OpKind) -> None:
    tape = tape_of(kind)
    slot = tape.ops.index(kind)
    line = tape.format_record(slot)
    assert f" = {kind}" in line and line.startswith(f"%{slot}")
    attr = tape.attrs.get(slot)
    if OPS[kind].has_attr and attr is not None:
        assert attribute_text(kind, attr) and attribute_text(kind, attr) in line


# ---------------------------------------------------------------- the closure engine


def _closure_graph_ops(root: closure.Value) -> set[Any]:
    seen, stack, ops = {id(root)}, [root], set()
    while stack:
        node = stack.pop()
        ops.add(node._op)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return ops


@pytest.mark.parametrize("kind", [pytest.param(kind, id=str(kind)) for kind in _user_elementwise_kinds()])
def test_the_closure_engine_reaches_every_elementwise_op(kind: OpKind) -> None:
    """Every elementwise op a user writes is usable from the closure engine's Value, with the same numbers."""
    case = example(kind)
    leaves = [closure.Value(a) for a in case.args]
    out = case.f(closure, *leaves)
    assert kind in _closure_graph_ops(out)
    out.backward()
    assert identical(out.data, tape_of(kind)(*numbers(kind)))
    assert identical(tuple(leaf.grad for leaf in leaves), gradient(kind))

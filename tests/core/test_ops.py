"""The op table, as a specification.

Every differentiable op is checked at several points, four ways:

* its value against the same computation in numpy/math;
* its gradient, by eager ``Value.backward()`` and by ``tapegrad.grad``,
  against central finite differences in float64;
* its gradient against sympy's own ``diff`` of a hand-written expression;
* a replay of its traced tape on a numpy array of points, against the float
  results point by point.

Then the IEEE edge points and the derivative conventions documented in
``tapegrad/ops.py`` (exact asserts), strong zeros, ``debug_nans`` and the
consistency of the table itself.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import sympy

import tapegrad
from tapegrad import Value, maximum, minimum, where
from tapegrad.core.ops import OPS, OpKind, op_named
from tapegrad.errors import NonFiniteError
from tapegrad.values.value import apply

NAN, INF = math.nan, math.inf


def same(actual: Any, expected: Any, rtol: float = 1e-15) -> bool:
    """Equal as IEEE results: both nan, the same infinity, or within ``rtol``."""
    actual, expected = float(actual), float(expected)
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return abs(actual - expected) <= rtol * abs(expected)


def identical(actual: Any, expected: Any) -> bool:
    """Bit-for-bit the same float (nan equals nan)."""
    return same(actual, expected, rtol=0.0)


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class OpCase:
    """One op, written three ways, and the points to check it at.

    ``f`` runs on Values (eagerly or while traced), ``reference`` on float64
    numbers with numpy/math, ``symbolic`` on sympy symbols.  Points stay away
    from kinks, where finite differences mean nothing.
    """

    name: str
    f: Callable[..., Any]
    reference: Callable[..., Any]
    symbolic: Callable[..., Any]
    points: tuple[tuple[float, ...], ...]

    @property
    def arity(self) -> int:
        return len(self.points[0])


def _unary_points(*xs: float) -> tuple[tuple[float, ...], ...]:
    return tuple((x,) for x in xs)


_BINARY_POINTS = ((1.5, -2.25), (0.0, 3.0), (-7.0, 0.125), (-1e3, 1e-3))
_DIVISOR_POINTS = ((1.5, -2.25), (0.0, 3.0), (-7.0, 0.125), (1.0, 3.0))
_TRIG_POINTS = _unary_points(-2.0, 0.3, 1.0, 4.0)


def _sympy_sigmoid(x: Any) -> Any:
    return 1 / (1 + sympy.exp(-x))


def _numpy_sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _pow_const_case(c: float) -> OpCase:
    # A fractional exponent needs a positive base; an integer one takes any.
    points = _unary_points(0.25, 2.0, 9.0) if c != int(c) else _unary_points(-1.5, 0.5, 2.0, 3.0)
    return OpCase(
        f"pow_const[{c!r}]",
        lambda x: x**c,
        lambda x: np.power(x, c),
        lambda x: x ** sympy.Rational(c),
        points,
    )


def _where_case(name: str, compare: Callable[[Any, Any], Any], symbolic_compare: Callable[[Any, Any], Any]) -> OpCase:
    return OpCase(
        f"where[{name}]",
        lambda x, y: where(compare(x, y), x * y, x - y),
        lambda x, y: np.where(compare(x, y), x * y, x - y),
        lambda x, y: sympy.Piecewise((x * y, symbolic_compare(x, y)), (x - y, True)),
        ((1.5, -2.25), (-2.25, 1.5), (3.0, 0.5), (0.5, 3.0)),
    )


# fmt: off
CASES: list[OpCase] = [
    OpCase("add", lambda x, y: x + y, np.add, lambda x, y: x + y, _BINARY_POINTS),
    OpCase("add[const]", lambda x: x + 2.5, lambda x: x + 2.5, lambda x: x + sympy.Rational(5, 2),
           _unary_points(-1.5, 0.0, 4.0)),
    OpCase("radd", lambda x: 2.5 + x, lambda x: 2.5 + x, lambda x: sympy.Rational(5, 2) + x,
           _unary_points(-1.5, 0.0, 4.0)),
    OpCase("sub", lambda x, y: x - y, np.subtract, lambda x, y: x - y, _BINARY_POINTS),
    OpCase("rsub", lambda x: 2.5 - x, lambda x: 2.5 - x, lambda x: sympy.Rational(5, 2) - x,
           _unary_points(-1.5, 0.0, 4.0)),
    OpCase("mul", lambda x, y: x * y, np.multiply, lambda x, y: x * y, _BINARY_POINTS),
    OpCase("rmul", lambda x: 2.5 * x, lambda x: 2.5 * x, lambda x: sympy.Rational(5, 2) * x,
           _unary_points(-1.5, 0.0, 4.0)),
    OpCase("div", lambda x, y: x / y, np.divide, lambda x, y: x / y, _DIVISOR_POINTS),
    OpCase("rdiv", lambda x: 2.5 / x, lambda x: np.divide(2.5, x), lambda x: sympy.Rational(5, 2) / x,
           _unary_points(-1.5, 0.5, 4.0)),
    OpCase("neg", lambda x: -x, np.negative, lambda x: -x, _unary_points(-2.0, 0.0, 1.5)),
    *[_pow_const_case(c) for c in (0, 1, 2, 0.5, -1, 3, 2.0, -2.5)],
    OpCase("pow", lambda x, y: x**y, np.power, lambda x, y: x**y,
           ((2.0, 3.0), (0.5, -1.5), (3.0, 0.5), (1.5, 2.25), (4.0, 0.0))),
    OpCase("rpow", lambda y: 2.5**y, lambda y: np.power(2.5, y), lambda y: sympy.Rational(5, 2) ** y,
           _unary_points(-1.0, 0.0, 0.5, 2.0)),
    OpCase("exp", lambda x: x.exp(), np.exp, sympy.exp, _unary_points(-2.0, 0.0, 1.5, 10.0)),
    OpCase("log", lambda x: x.log(), np.log, sympy.log, _unary_points(0.5, 1.0, 2.0, 100.0)),
    OpCase("tanh", lambda x: x.tanh(), np.tanh, sympy.tanh, _unary_points(-2.0, 0.0, 0.5, 3.0)),
    OpCase("sigmoid", lambda x: x.sigmoid(), _numpy_sigmoid, _sympy_sigmoid,
           _unary_points(-5.0, -0.5, 0.0, 0.5, 5.0)),
    OpCase("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0.0), lambda x: sympy.Max(x, 0),
           _unary_points(-2.0, -0.5, 0.5, 3.0)),
    OpCase("sin", lambda x: x.sin(), np.sin, sympy.sin, _TRIG_POINTS),
    OpCase("cos", lambda x: x.cos(), np.cos, sympy.cos, _TRIG_POINTS),
    OpCase("sqrt", lambda x: x.sqrt(), np.sqrt, sympy.sqrt, _unary_points(0.01, 1.0, 2.0, 1e4)),
    OpCase("abs", lambda x: x.abs(), np.abs, sympy.Abs, _unary_points(-2.0, -0.5, 0.5, 3.0)),
    OpCase("abs[builtin]", lambda x: abs(x), np.abs, sympy.Abs, _unary_points(-2.0, 3.0)),
    OpCase("maximum", maximum, np.maximum, sympy.Max, ((1.0, 2.0), (2.0, 1.0), (-3.0, 0.5), (0.5, -3.0))),
    OpCase("minimum", minimum, np.minimum, sympy.Min, ((1.0, 2.0), (2.0, 1.0), (-3.0, 0.5), (0.5, -3.0))),
    _where_case(">", lambda x, y: x > y, lambda x, y: x > y),
    _where_case(">=", lambda x, y: x >= y, lambda x, y: x >= y),
    _where_case("<", lambda x, y: x < y, lambda x, y: x < y),
    _where_case("<=", lambda x, y: x <= y, lambda x, y: x <= y),
    OpCase("where[const]", lambda x: where(x > 1.0, x.sqrt(), 0.0), lambda x: np.where(x > 1.0, np.sqrt(x), 0.0),
           lambda x: sympy.Piecewise((sympy.sqrt(x), x > 1), (0, True)), _unary_points(0.5, 2.0, 9.0)),
    # The strong multiply and divide the backward rules are written with (x * y and x / y where x != 0).
    OpCase("smul", lambda x, y: apply(OPS[OpKind.SMUL], x, y), np.multiply, lambda x, y: x * y,
           ((1.5, -2.25), (-7.0, 0.125), (-1e3, 1e-3))),
    OpCase("sdiv", lambda x, y: apply(OPS[OpKind.SDIV], x, y), np.divide, lambda x, y: x / y,
           ((1.5, -2.25), (-7.0, 0.125), (1.0, 3.0))),
    # relu's backward rule: g where x > 0, else 0.
    OpCase("gate", lambda g, x: apply(OPS[OpKind.GATE], g, x), lambda g, x: np.where(x > 0.0, g, 0.0),
           lambda g, x: sympy.Piecewise((g, x > 0), (0, True)), ((1.5, 2.0), (-7.0, 0.5), (2.0, -3.0))),
]
# fmt: on

POINTS = [pytest.param(case, point, id=f"{case.name}{point}") for case in CASES for point in case.points]
BY_CASE = [pytest.param(case, id=case.name) for case in CASES]


# ---------------------------------------------------------------- ways to differentiate


def eager_value_and_gradient(f: Callable[..., Any], point: Sequence[Any]) -> tuple[float, tuple[float, ...]]:
    """micrograd's way: leaves, an eager result, ``backward()``."""
    leaves = [Value(p) for p in point]
    out = f(*leaves)
    out.backward()
    return out.data, tuple(leaf.grad for leaf in leaves)


def traced_gradient(f: Callable[..., Any], point: Sequence[Any]) -> tuple[float, ...]:
    """JAX's way: ``tapegrad.grad`` with respect to every argument."""
    return tapegrad.grad(f, argnums=tuple(range(len(point))))(*point)


def finite_differences(reference: Callable[..., Any], point: Sequence[float]) -> tuple[float, ...]:
    """Central differences of the numpy reference, one per argument."""
    grads = []
    for i, p in enumerate(point):
        h = 1e-6 * max(1.0, abs(p))
        up, down = list(point), list(point)
        up[i], down[i] = p + h, p - h
        grads.append((float(reference(*up)) - float(reference(*down))) / (2 * h))
    return tuple(grads)


_SYMBOLS = sympy.symbols("x y", real=True)


@functools.cache
def sympy_derivatives(case: OpCase) -> tuple[Any, ...]:
    """sympy's own ``diff`` of the case's expression, one per argument."""
    symbols = _SYMBOLS[: case.arity]
    expression = case.symbolic(*symbols)
    return tuple(sympy.diff(expression, s) for s in symbols)


def sympy_gradient(case: OpCase, point: Sequence[float]) -> tuple[float, ...]:
    at = {s: sympy.Rational(p) for s, p in zip(_SYMBOLS, point)}  # the float, exactly
    return tuple(float(d.subs(at).evalf(40)) for d in sympy_derivatives(case))


def assert_gradients(actual: Sequence[Any], expected: Sequence[Any], rtol: float, atol: float = 0.0) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert math.isclose(a, e, rel_tol=rtol, abs_tol=atol), (actual, expected)


# ---------------------------------------------------------------- every op, at every point


@pytest.mark.parametrize("case, point", POINTS)
def test_value_matches_numpy(case: OpCase, point: tuple[float, ...]) -> None:
    value, _ = eager_value_and_gradient(case.f, point)
    assert type(value) is float
    assert same(value, case.reference(*point)), (value, case.reference(*point))


@pytest.mark.parametrize("case, point", POINTS)
def test_gradient_matches_finite_differences(case: OpCase, point: tuple[float, ...]) -> None:
    expected = finite_differences(case.reference, point)
    _, eager = eager_value_and_gradient(case.f, point)
    assert_gradients(eager, expected, rtol=1e-6, atol=1e-8)
    assert_gradients(traced_gradient(case.f, point), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case, point", POINTS)
def test_gradient_matches_sympy_diff(case: OpCase, point: tuple[float, ...]) -> None:
    expected = sympy_gradient(case, point)
    _, eager = eager_value_and_gradient(case.f, point)
    assert_gradients(eager, expected, rtol=1e-12)
    assert_gradients(traced_gradient(case.f, point), expected, rtol=1e-12)


@pytest.mark.parametrize("case, point", POINTS)
def test_eager_and_traced_gradients_agree_bit_for_bit(case: OpCase, point: tuple[float, ...]) -> None:
    _, eager = eager_value_and_gradient(case.f, point)
    traced = traced_gradient(case.f, point)
    assert all(identical(a, b) for a, b in zip(eager, traced)), (eager, traced)


@pytest.mark.parametrize("case", BY_CASE)
def test_array_replay_matches_float_results_point_by_point(case: OpCase) -> None:
    # Within 1e-15 rather than bit for bit: numpy's vectorised exp, sin... may
    # differ from libm's by an ulp on some CPUs.
    tape = tapegrad.trace(case.f, *case.points[0])
    columns = [np.array(column) for column in zip(*case.points)]
    values, grads = tape.value_and_gradient(*columns)
    assert values.shape == (len(case.points),)
    for k, point in enumerate(case.points):
        value, grad = eager_value_and_gradient(case.f, point)
        assert same(values[k], value), (point, values[k], value)
        assert same(tape(*point), value)
        for g_array, g_float in zip(grads, grad):
            assert same(g_array[k], g_float), (point, g_array[k], g_float)


# ---------------------------------------------------------------- IEEE edge points


@dataclass(frozen=True)
class Edge:
    """``f(*args)`` must be exactly ``expected``, with no exception or warning."""

    name: str
    f: Callable[..., Any]
    args: tuple[Any, ...]
    expected: float


# fmt: off
EDGES = [
    Edge("log(0) = -inf", lambda x: x.log(), (0.0,), -INF),
    Edge("log(-1) = nan", lambda x: x.log(), (-1.0,), NAN),
    Edge("log(inf) = inf", lambda x: x.log(), (INF,), INF),
    Edge("sqrt(-1) = nan", lambda x: x.sqrt(), (-1.0,), NAN),
    Edge("1/0 = inf", lambda x: x / 0.0, (1.0,), INF),
    Edge("-1/0 = -inf", lambda x: x / 0.0, (-1.0,), -INF),
    Edge("0/0 = nan", lambda x: x / 0.0, (0.0,), NAN),
    Edge("1/Value(0) = inf", lambda x: 1.0 / x, (0.0,), INF),
    Edge("Value/Value(0) = -inf", lambda x, y: x / y, (-1.0, 0.0), -INF),
    Edge("exp(1000) = inf", lambda x: x.exp(), (1000.0,), INF),
    Edge("exp(-1000) = 0", lambda x: x.exp(), (-1000.0,), 0.0),
    Edge("Value(10)**400 = inf", lambda x: x**400, (10,), INF),
    Edge("Value(10)**Value(400) = inf", lambda x, y: x**y, (10, 400), INF),
    Edge("10**Value(400) = inf", lambda y: 10**y, (400,), INF),
    Edge("(-8)**(1/3) = nan", lambda x: x ** (1 / 3), (-8,), NAN),
    Edge("(-8)**Value(1/3) = nan", lambda x, y: x**y, (-8.0, 1 / 3), NAN),
    Edge("0.0**-1 = inf", lambda x: x**-1, (0.0,), INF),
    Edge("0.0**-1.5 = inf", lambda x: x**-1.5, (0.0,), INF),
    Edge("0.0**Value(-1) = inf", lambda x, y: x**y, (0.0, -1.0), INF),
    Edge("0**0 = 1", lambda x: x**0, (0.0,), 1.0),
    Edge("sigmoid(-1000) = 0", lambda x: x.sigmoid(), (-1000.0,), 0.0),
    Edge("sigmoid(1000) = 1", lambda x: x.sigmoid(), (1000.0,), 1.0),
    Edge("sigmoid(-inf) = 0", lambda x: x.sigmoid(), (-INF,), 0.0),
    Edge("sigmoid(inf) = 1", lambda x: x.sigmoid(), (INF,), 1.0),
    Edge("tanh(inf) = 1", lambda x: x.tanh(), (INF,), 1.0),
    Edge("sin(inf) = nan", lambda x: x.sin(), (INF,), NAN),
    Edge("cos(-inf) = nan", lambda x: x.cos(), (-INF,), NAN),
    Edge("big*big = inf", lambda x: x * x, (1e200,), INF),
    Edge("maximum(nan, 1) = nan", maximum, (NAN, 1.0), NAN),
    Edge("maximum(1, nan) = nan", maximum, (1.0, NAN), NAN),
    Edge("minimum(nan, 1) = nan", minimum, (NAN, 1.0), NAN),
    Edge("minimum(1, nan) = nan", minimum, (1.0, NAN), NAN),
    Edge("relu(nan) = nan", lambda x: x.relu(), (NAN,), NAN),
]
# fmt: on


def _edge_params() -> list[Any]:
    return [pytest.param(edge, id=edge.name) for edge in EDGES]


@pytest.fixture
def no_warnings() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("edge", _edge_params())
def test_edge_value_eagerly(edge: Edge) -> None:
    out = edge.f(*[Value(a) for a in edge.args])
    assert identical(out.data, edge.expected), out.data


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("edge", _edge_params())
def test_edge_value_replayed_on_floats_and_arrays(edge: Edge) -> None:
    tape = tapegrad.trace(edge.f, *edge.args)
    assert identical(tape(*edge.args), edge.expected)
    (batch,) = tape(*[np.array([a, a]) for a in edge.args]).reshape(1, 2)
    assert all(identical(v, edge.expected) for v in batch), batch


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("edge", _edge_params())
def test_edge_gradient_raises_nothing(edge: Edge) -> None:
    """The gradient at an edge point may be anything, but it is a number."""
    _, eager = eager_value_and_gradient(edge.f, edge.args)
    traced = traced_gradient(edge.f, edge.args)
    assert all(identical(a, b) for a, b in zip(eager, traced)), (eager, traced)


# ---------------------------------------------------------------- derivative conventions and strong zeros


@dataclass(frozen=True)
class Convention:
    """The gradient of ``f`` at ``args`` must be exactly ``expected``."""

    name: str
    f: Callable[..., Any]
    args: tuple[float, ...]
    expected: tuple[float, ...]


def _where_sqrt(x: Any) -> Any:
    return where(x > 0, x.sqrt(), 0.0)


def _tanh_exp(x: Any) -> Any:
    return x.exp().tanh()


# fmt: off
CONVENTIONS = [
    Convention("relu'(0) = 0", lambda x: x.relu(), (0.0,), (0.0,)),
    Convention("abs'(0) = 0", lambda x: x.abs(), (0.0,), (0.0,)),
    Convention("maximum tie splits 0.5/0.5", maximum, (1.0, 1.0), (0.5, 0.5)),
    Convention("minimum tie splits 0.5/0.5", minimum, (1.0, 1.0), (0.5, 0.5)),
    Convention("maximum(x, x)' = 1", lambda x: maximum(x, x), (2.0,), (1.0,)),
    Convention("sqrt'(0) = inf", lambda x: x.sqrt(), (0.0,), (INF,)),
    Convention("(x**0.5)'(0) = inf", lambda x: x**0.5, (0.0,), (INF,)),
    Convention("(x**0)' = 0 at 2", lambda x: x**0, (2.0,), (0.0,)),
    Convention("(x**0)' = 0 at 0", lambda x: x**0, (0.0,), (0.0,)),
    Convention("(x**0.0)' = 0 at 0", lambda x: x**0.0, (0.0,), (0.0,)),
    Convention("(x**y)' = 0, 0 at (0, 0)", lambda x, y: x**y, (0.0, 0.0), (0.0, 0.0)),
    Convention("(x**y)' at (0, 2)", lambda x, y: x**y, (0.0, 2.0), (0.0, 0.0)),
    Convention("(x**2)'(0) = 0", lambda x: x**2, (0.0,), (0.0,)),
    Convention("(x**-1)'(0) = -inf", lambda x: x**-1, (0.0,), (-INF,)),
    Convention("log'(-1) = -1", lambda x: x.log(), (-1.0,), (-1.0,)),
    Convention("log'(0) = inf", lambda x: x.log(), (0.0,), (INF,)),
    Convention("where(x > 0, sqrt(x), 0)' = 0 at -1", _where_sqrt, (-1.0,), (0.0,)),
    Convention("where(x > 0, sqrt(x), 0)' = 0 at 0", _where_sqrt, (0.0,), (0.0,)),
    Convention("tanh(exp(x))' = 0 at 1000", _tanh_exp, (1000.0,), (0.0,)),
    Convention("sigmoid'(1000) = 0", lambda x: x.sigmoid(), (1000.0,), (0.0,)),
    Convention("sigmoid'(-1000) = 0", lambda x: x.sigmoid(), (-1000.0,), (0.0,)),
    Convention("unused input", lambda x, y: x * 2.0, (3.0, 4.0), (2.0, 0.0)),
    Convention("input used only in a condition", lambda x, y: where(y > 0, x, -x), (3.0, 4.0), (1.0, 0.0)),
    Convention("constant output", lambda x: 3.0, (1.0,), (0.0,)),
]
# fmt: on


def _convention_params(eager: bool = False) -> list[Any]:
    # A function returning a plain number has no Value to call backward() on.
    return [pytest.param(c, id=c.name) for c in CONVENTIONS if not (eager and c.name == "constant output")]


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("convention", _convention_params(eager=True))
def test_convention_by_eager_backward(convention: Convention) -> None:
    _, grads = eager_value_and_gradient(convention.f, convention.args)
    assert all(identical(g, e) for g, e in zip(grads, convention.expected)), grads


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("convention", _convention_params())
def test_convention_by_grad(convention: Convention) -> None:
    grads = traced_gradient(convention.f, convention.args)
    assert all(identical(g, e) for g, e in zip(grads, convention.expected)), grads


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("convention", _convention_params())
def test_convention_by_array_replay(convention: Convention) -> None:
    tape = tapegrad.trace(convention.f, *convention.args)
    grads = tape.gradient(*[np.array([a]) for a in convention.args])
    assert all(identical(g[0], e) for g, e in zip(grads, convention.expected)), grads


@pytest.mark.usefixtures("no_warnings")
def test_strong_zero_of_where_holds_pointwise_in_a_batch() -> None:
    tape = tapegrad.trace(_where_sqrt, 4.0)
    xs = np.array([-1.0, 0.0, 4.0, -9.0, 0.25])
    (grads,) = tape.gradient(xs)
    assert grads.tolist() == [0.0, 0.0, 0.25, 0.0, 1.0]


@pytest.mark.usefixtures("no_warnings")
def test_strong_zero_of_saturated_tanh_holds_pointwise_in_a_batch() -> None:
    tape = tapegrad.trace(_tanh_exp, 0.0)
    xs = np.array([0.0, 1000.0, -1.0])
    values, (grads,) = tape.value_and_gradient(xs)
    for k, x in enumerate(xs):
        value, (grad,) = eager_value_and_gradient(_tanh_exp, (x,))
        assert same(values[k], value) and same(grads[k], grad), (x, values[k], grads[k], value, grad)
    assert grads[1] == 0.0
    assert same(grads[2], (1.0 - np.tanh(np.exp(-1.0)) ** 2) * np.exp(-1.0), rtol=1e-14)


def test_eager_gradient_of_an_unused_leaf_stays_zero() -> None:
    x, y = Value(3.0), Value(4.0)
    out = x * x
    out.backward()
    assert (x.grad, y.grad) == (6.0, 0.0)


# ---------------------------------------------------------------- debug_nans


def test_debug_nans_names_the_log_record_of_an_eager_nan() -> None:
    with tapegrad.debug_nans(), pytest.raises(NonFiniteError) as caught:
        Value(-1.0).log()
    assert re.search(r"%\d+ = log %\d+", str(caught.value)), str(caught.value)
    assert "nan" in str(caught.value)


def test_debug_nans_names_the_record_whose_backward_rule_gives_inf() -> None:
    x = Value(0.0)
    y = x.sqrt()  # 0.0 is finite: only the backward pass is not
    with tapegrad.debug_nans(), pytest.raises(NonFiniteError) as caught:
        y.backward()
    assert re.search(r"%\d+ = sqrt %\d+", str(caught.value)), str(caught.value)
    assert "inf" in str(caught.value)


def test_debug_nans_checks_the_backward_pass_of_grad_and_of_array_replay() -> None:
    tape = tapegrad.trace(lambda x: x.sqrt(), 1.0)
    with tapegrad.debug_nans():
        with pytest.raises(NonFiniteError, match=r"%\d+ = sqrt %\d+"):
            tapegrad.grad(lambda x: x.sqrt())(0.0)
        with pytest.raises(NonFiniteError, match=r"%\d+ = sqrt %\d+"):
            tape.gradient(np.array([1.0, 0.0]))
        with pytest.raises(NonFiniteError, match=r"%\d+ = log %\d+"):
            tapegrad.trace(lambda x: x.log(), 1.0)(np.array([1.0, -1.0]))


def test_outside_debug_nans_nothing_raises() -> None:
    with tapegrad.debug_nans(), pytest.raises(NonFiniteError):
        Value(-1.0).log()
    assert math.isnan(Value(-1.0).log().data)  # the error did not leave debug_nans switched on
    x = Value(0.0)
    y = x.sqrt()
    y.backward()
    assert x.grad == INF
    assert tapegrad.grad(lambda x: x.sqrt())(0.0) == INF


def test_debug_nans_does_not_flag_a_rule_a_strong_zero_skips() -> None:
    """At 0 the sqrt branch is finite, and its infinite derivative is never taken."""
    tape = tapegrad.trace(_where_sqrt, 4.0)
    with tapegrad.debug_nans():
        x = Value(0.0)
        _where_sqrt(x).backward()
        assert x.grad == 0.0
        assert tapegrad.grad(_where_sqrt)(0.0) == 0.0
        assert tape.gradient(0.0) == (0.0,)
        (grads,) = tape.gradient(np.array([0.0, 4.0]))
        assert grads.tolist() == [0.0, 0.25]


def test_debug_nans_lets_finite_work_through() -> None:
    with tapegrad.debug_nans():
        x = Value(2.0)
        y = (x.log() * x).sqrt()
        y.backward()
    assert same(x.grad, (math.log(2.0) + 1.0) / (2.0 * math.sqrt(2.0 * math.log(2.0))), rtol=1e-15)


# ---------------------------------------------------------------- the table itself


def test_every_kind_has_exactly_one_entry_at_its_index() -> None:
    assert len(OPS) == len(OpKind)
    for kind in OpKind:
        assert [op for op in OPS if op.kind == kind] == [OPS[kind]]
        assert OPS[kind].kind is kind
        assert op_named(str(kind)) is OPS[kind]


def test_every_scalar_rule_has_an_array_rule() -> None:
    for op in OPS:
        if op.scalar is not None:
            assert op.array is not None, op.name


def test_every_backward_rule_has_a_forward_rule() -> None:
    for op in OPS:
        if op.vjp is not None:
            assert op.array is not None and op.arity != 0, op.name


def test_every_differentiable_op_is_specified_here() -> None:
    """Adding an op with a backward rule means adding a case to this file."""
    covered = set()
    for case in CASES:
        covered |= {record.op for record in tapegrad.trace(case.f, *case.points[0]).records}
    differentiable = {op.kind for op in OPS if op.vjp is not None and op.elementwise}  # array ops: test_arrays.py
    differentiable = {k for k in differentiable if k < OpKind.TAN}  # issue 16's ops: tests/core/test_more_ops.py
    assert differentiable <= covered, differentiable - covered


@pytest.mark.parametrize("g", [0.0, -0.0])
@pytest.mark.parametrize("y", [math.inf, -math.inf, math.nan, 0.0, 2.0])
def test_strong_multiply_and_divide_keep_a_zero_adjoint(g: float, y: float) -> None:
    for kind in (OpKind.SMUL, OpKind.SDIV):
        op = OPS[kind]
        assert identical(op.scalar(g, y), g)  # type: ignore[misc]
        with np.errstate(all="ignore"):
            batch = op.array(np.array([g, 3.0]), np.array([y, 2.0]))  # type: ignore[misc]
        assert identical(float(batch[0]), g)
        assert batch[1] == (6.0 if kind is OpKind.SMUL else 1.5)

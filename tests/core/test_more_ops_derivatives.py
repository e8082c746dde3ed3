"""The elementwise ops of issue 16: gradients against central differences, backward rules against ``sympy.diff``,
second order, forward mode and the derivative conventions where an op is flat or undefined (PyTorch's)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import sympy as sp

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OPS
from tapegrad.formats.symbolic import SYMPY

from .more_op_cases import (
    BY_CASE,
    BY_POINT,
    INF,
    NAN,
    Case,
    bits,
)

# ---------------------------------------------------------------- derivatives

_STEP = 1e-6


def _difference(f: Callable[..., float], point: Sequence[float], k: int) -> float:
    up, down = list(point), list(point)
    up[k] += _STEP
    down[k] -= _STEP
    return (f(*up) - f(*down)) / (2 * _STEP)


def _number(f: Callable[..., Any]) -> Callable[..., float]:
    return lambda *xs: float(f(*[Value(x) for x in xs]).data)


@pytest.mark.parametrize("case, point", BY_POINT)
def test_gradient_matches_central_differences(case: Case, point: tuple[float, ...]) -> None:
    grads = tapegrad.grad(case.call, argnums=tuple(range(case.arity)))(*point)
    for k, g in enumerate(grads):
        expected = _difference(_number(case.call), point, k)
        assert abs(g - expected) <= 1e-6 * max(1.0, abs(expected)), (k, g, expected)


@pytest.mark.parametrize("case, point", [p for p in BY_POINT if p.values[0].smooth])
def test_second_derivative_matches_differences_of_the_first(case: Case, point: tuple[float, ...]) -> None:
    argnums = tuple(range(case.arity))
    first = tapegrad.grad(case.call, argnums=argnums)
    for k in argnums:
        partial = lambda *xs, k=k: first(*xs)[k]  # noqa: E731
        second = tapegrad.grad(partial, argnums=argnums)(*point)
        for j in argnums:
            expected = _difference(lambda *xs: float(partial(*xs)), point, j)  # noqa: B023
            assert abs(second[j] - expected) <= 1e-5 * max(1.0, abs(expected)), (k, j, second[j], expected)


@pytest.mark.parametrize("case, point", BY_POINT)
def test_forward_mode_matches_reverse_mode(case: Case, point: tuple[float, ...]) -> None:
    tape = tapegrad.trace(case.call, *point)
    grads = tape.gradient(*point)
    for k in range(case.arity):
        tangent = [1.0 if i == k else 0.0 for i in range(case.arity)]
        _, derivative = tapegrad.jvp(tape, point, tangent)
        assert bits(derivative) == bits(grads[k]), (k, derivative, grads[k])


def _sympy_derivative(expr: Any, symbol: Any) -> Any:
    """``d expr / d symbol`` with floor, ceiling and Mod's jumps as zero (their derivative wherever it exists)."""
    expr = expr.replace(lambda e: isinstance(e, sp.Mod), lambda e: e.rewrite(sp.floor))
    derivative = sp.diff(expr, symbol)
    flat = lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, (sp.floor, sp.ceiling))  # noqa: E731
    derivative = derivative.replace(flat, lambda e: sp.Integer(0)).replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    return derivative.doit()  # the chain rule leaves Subs(0, ...) behind


@pytest.mark.parametrize("case", BY_CASE)
def test_backward_rule_is_g_times_sympy_diff_of_its_sympy_rule(case: Case) -> None:
    op = OPS[case.kind]
    operands = sp.symbols(f"a0:{op.arity}", real=True)
    g = sp.Symbol("g", real=True)
    m = SYMPY.m
    forward = op.symbolic(sp, *operands)  # type: ignore[misc]
    contributions = op.vjp(m, g, getattr(m, op.name)(*operands), *operands) if op.vjp else (None,) * op.arity
    rng = random.Random(case.name)
    for _ in range(6):
        point = [rng.uniform(*domain) for domain in case.domains] + [rng.uniform(-2.0, 2.0)]
        exact = {s: sp.Float(v, 30) for s, v in zip((*operands, g), point)}
        for k, ours in enumerate(contributions):
            expected = float((g * _sympy_derivative(forward, operands[k])).xreplace(exact).evalf(30))
            got = 0.0 if ours is None else float(sp.sympify(ours).xreplace(exact).evalf(30))
            assert abs(got - expected) <= 1e-12 * max(1.0, abs(expected)), (case.name, k, point, ours)


# fmt: off
CONVENTIONS = [
    ("floor' = 0", lambda x: x.floor(), (2.0,), (0.0,)),
    ("ceil' = 0", lambda x: x.ceil(), (-0.5,), (0.0,)),
    ("round' = 0", lambda x: x.round(), (2.5,), (0.0,)),
    ("trunc' = 0", lambda x: x.trunc(), (-1.0,), (0.0,)),
    ("sign' = 0, at 0 too", lambda x: x.sign(), (0.0,), (0.0,)),
    ("floor_divide sends nothing", lambda x, y: x // y, (7.0, 2.0), (0.0, 0.0)),
    ("mod: 1 and -floor(x / y)", lambda x, y: x % y, (7.5, 2.0), (1.0, -3.0)),
    ("mod of a negative x", lambda x, y: x % y, (-7.5, 2.0), (1.0, 4.0)),
    ("fmod: 1 and -trunc(x / y)", lambda x, y: x.fmod(y), (-7.5, 2.0), (1.0, 3.0)),
    ("clip inside: x", lambda x, lo, hi: x.clip(lo, hi), (0.5, 0.0, 1.0), (1.0, 0.0, 0.0)),
    ("clip at lo: x", lambda x, lo, hi: x.clip(lo, hi), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
    ("clip at hi: x", lambda x, lo, hi: x.clip(lo, hi), (1.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
    ("clip below: lo", lambda x, lo, hi: x.clip(lo, hi), (-3.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    ("clip above: hi", lambda x, lo, hi: x.clip(lo, hi), (3.0, 0.0, 1.0), (0.0, 0.0, 1.0)),
    ("clip with crossed bounds: hi", lambda x, lo, hi: x.clip(lo, hi), (-3.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    ("clip of nan: nothing", lambda x, lo, hi: x.clip(lo, hi), (NAN, 0.0, 1.0), (0.0, 0.0, 0.0)),
    ("asin'(1) = inf", lambda x: x.asin(), (1.0,), (INF,)),
    ("acos'(1) = -inf", lambda x: x.acos(), (1.0,), (-INF,)),
    ("atanh'(1) = inf", lambda x: x.atanh(), (1.0,), (INF,)),
    ("acosh'(1) = inf", lambda x: x.acosh(), (1.0,), (INF,)),
    ("log1p'(-1) = inf", lambda x: x.log1p(), (-1.0,), (INF,)),
    ("cbrt'(0) = inf", lambda x: x.cbrt(), (0.0,), (INF,)),
    ("asinh'(1e200) = 1e-200 (no overflow)", lambda x: x.asinh(), (1e200,), (1e-200,)),
    ("atan2 at the origin: nan", lambda y, x: y.atan2(x), (0.0, 0.0), (NAN, NAN)),
    ("hypot at the origin: nan", lambda x, y: x.hypot(y), (0.0, 0.0), (NAN, NAN)),
    ("logaddexp(inf, 1): 1 and 0", lambda x, y: x.logaddexp(y), (INF, 1.0), (1.0, 0.0)),
    ("softplus'(-1000) = 0", lambda x: x.softplus(), (-1000.0,), (0.0,)),
]
# fmt: on


@pytest.mark.parametrize("f, point, expected", [pytest.param(f, p, e, id=n) for n, f, p, e in CONVENTIONS])
def test_derivative_conventions(f: Callable[..., Any], point: tuple[float, ...], expected: tuple[float, ...]) -> None:
    grads = tapegrad.grad(f, argnums=tuple(range(len(point))))(*point)
    assert [bits(g) for g in grads] == [bits(e) for e in expected]
    leaves = [Value(p) for p in point]
    f(*leaves).backward()
    assert [bits(v.grad) for v in leaves] == [bits(e) for e in expected]


def test_a_zero_adjoint_stops_an_infinite_derivative() -> None:
    """Strong zeros: where(x > 2, asin(x), x) at 1 sends nothing through asin'(1) = inf."""
    assert tapegrad.grad(lambda x: tapegrad.where(x > 2.0, x.asin(), x))(1.0) == 1.0
    assert tapegrad.grad(lambda x: 0.0 * x.atanh())(1.0) == 0.0


@pytest.mark.parametrize("case", BY_CASE)
def test_gradient_of_broadcast_arrays_matches_central_differences(case: Case) -> None:
    """Array Values: the first operand a column, the others rows, so every pairing of the points occurs."""
    columns = [np.array(c) for c in zip(*case.points)]
    arrays = [columns[0].reshape(-1, 1), *columns[1:]]
    grads = tapegrad.grad(lambda *xs: case.call(*xs).sum(), argnums=tuple(range(case.arity)))(*arrays)

    def total(*xs: Any) -> float:
        return float(case.call(*[Value(x) for x in xs]).sum().data)

    for k, (a, g) in enumerate(zip(arrays, grads)):
        assert g.shape == a.shape
        for index in np.ndindex(a.shape):
            up, down = [x.copy() for x in arrays], [x.copy() for x in arrays]
            up[k][index] += _STEP
            down[k][index] -= _STEP
            expected = (total(*up) - total(*down)) / (2 * _STEP)
            assert abs(g[index] - expected) <= 1e-6 * max(1.0, abs(expected)), (k, index, g[index], expected)


@pytest.mark.parametrize("case", BY_CASE)
def test_symbolic_gradient_matches_the_numeric_one(case: Case) -> None:
    tape = tapegrad.trace(case.call, *case.points[0])
    symbols = sp.symbols(f"x0:{case.arity}", real=True)
    formulas = tapegrad.symbolic.gradient(tape, symbols=symbols)
    for point in case.points:
        exact = {s: sp.Float(v, 30) for s, v in zip(symbols, point)}
        for formula, numeric in zip(formulas, tape.gradient(*point)):
            got = float(sp.sympify(formula).xreplace(exact).evalf(30))
            assert abs(got - numeric) <= 1e-12 * max(1.0, abs(numeric)), (point, formula, numeric)

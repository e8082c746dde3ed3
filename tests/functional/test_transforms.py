"""Transformations: gradient tapes, forward mode, Jacobians, Hessians, HVPs.

Each result is checked against sympy's diff of the same function and, for the
random programs, against the eager backward pass.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value
from tapegrad.errors import ArgumentCountError, InputTypeError, NonScalarOutputError, StaleTapeError, UnknownNameError
from tapegrad.lab.testing import random_program

X, Y = sp.symbols("x y")


def f(x, y):  # type: ignore[no-untyped-def]
    return (x * y).sin() + x.exp() * y + (x / (1 + y * y)).tanh()


def f_sympy(x, y):  # type: ignore[no-untyped-def]
    return sp.sin(x * y) + sp.exp(x) * y + sp.tanh(x / (1 + y * y))


POINTS = [(0.5, 2.0), (-1.25, 0.3), (2.0, -1.5)]


def at(expr: sp.Expr, x: float, y: float) -> float:
    return float(expr.subs({X: x, Y: y}))


@pytest.mark.parametrize("x, y", POINTS)
def test_grad_tape_matches_sympy(x: float, y: float) -> None:
    tape = tapegrad.grad_tape(tapegrad.trace(f, 0.1, 0.2))
    value, gx, gy = tape(x, y)
    assert value == pytest.approx(at(f_sympy(X, Y), x, y), rel=1e-14)
    assert gx == pytest.approx(at(sp.diff(f_sympy(X, Y), X), x, y), rel=1e-13)
    assert gy == pytest.approx(at(sp.diff(f_sympy(X, Y), Y), x, y), rel=1e-13)


def test_grad_tape_layout_and_names() -> None:
    tape = tapegrad.trace(f, 0.1, 0.2)
    g = tapegrad.grad_tape(tape, wrt=["y"])
    assert g.inputs == ("x", "y") and g.outputs == ("out", "grad_y")
    assert g.name == "grad_f"
    assert tapegrad.grad_tape(tape, wrt=1).outputs == ("out", "grad_y")
    multi = tapegrad.trace(lambda x: (x * x, x.sin()), 1.0)
    vjp = tapegrad.grad_tape(multi)
    assert vjp.inputs == ("x", "seed_out0", "seed_out1")
    assert vjp.outputs == ("out0", "out1", "vjp_x")
    assert vjp(2.0, 1.0, 3.0) == (4.0, math.sin(2.0), 4.0 + 3.0 * math.cos(2.0))


def test_grad_tape_is_made_of_the_table_rules_only() -> None:
    """A gradient tape is a tape like any other: replayable on arrays, differentiable again."""
    g = tapegrad.grad_tape(tapegrad.trace(lambda x: x.sin(), 1.0))
    xs = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(g(xs)[1], np.cos(xs), rtol=1e-15)
    gg = tapegrad.grad_tape(g, wrt=["x"])  # differentiates both outputs, seeded
    assert gg(0.3, 0.0, 1.0)[-1] == pytest.approx(-math.sin(0.3), rel=1e-15)


def test_guards_carry_over() -> None:
    def branchy(x):  # type: ignore[no-untyped-def]
        if x > 0:  # the recorded branch
            return x * x
        return -x

    g = tapegrad.grad_tape(tapegrad.trace(branchy, 1.0))
    assert str(g).count("guard") == 1 and "test_transforms.py" in str(g)
    assert g(3.0) == (9.0, 6.0)
    with pytest.raises(StaleTapeError, match="x > 0"):
        g(-1.0)


def test_strong_zeros_survive_in_gradient_tapes() -> None:
    g = tapegrad.optimize(tapegrad.grad_tape(tapegrad.trace(lambda x: tapegrad.where(x > 0, x.sqrt(), 0.0), 1.0)))
    assert g(-1.0) == (0.0, 0.0)
    assert g(4.0) == (2.0, 0.25)
    assert list(g(np.array([-1.0, 4.0]))[1]) == [0.0, 0.25]
    h = tapegrad.grad_tape(tapegrad.trace(lambda x: x.exp().tanh(), 1.0))
    assert h(1000.0) == (1.0, 0.0)


def test_fourth_derivative_of_tanh_by_nesting() -> None:
    d = tapegrad.grad
    fourth = d(d(d(d(lambda x: x.tanh()))))
    for x in (-0.7, 0.3, 1.1):
        assert fourth(x) == pytest.approx(float(sp.diff(sp.tanh(X), X, 4).subs(X, x)), rel=1e-12)


def test_jacobian_as_jax() -> None:
    def g(x, y):  # type: ignore[no-untyped-def]
        return x * y, x.sin() + y

    jac = tapegrad.jacobian(g, argnums=(0, 1))(2.0, 3.0)
    assert jac == ((3.0, 2.0), (math.cos(2.0), 1.0))
    assert tapegrad.jacobian(g)(2.0, 3.0) == (3.0, math.cos(2.0))
    assert tapegrad.jacobian(lambda x: x * x)(3.0) == 6.0
    tape = tapegrad.trace(g, 1.0, 1.0)
    assert tapegrad.jacobian(tape, argnums=1)(2.0, 3.0) == (2.0, 1.0)


@pytest.mark.parametrize("x, y", POINTS)
def test_hessian_matches_sympy(x: float, y: float) -> None:
    h = tapegrad.hessian(f, argnums=(0, 1))(x, y)
    expected = sp.hessian(f_sympy(X, Y), (X, Y))
    for i in range(2):
        for j in range(2):
            assert h[i][j] == pytest.approx(at(expected[i, j], x, y), rel=1e-12, abs=1e-13)
    assert tapegrad.hessian(f)(x, y) == pytest.approx(at(expected[0, 0], x, y), rel=1e-12)


@pytest.mark.parametrize("x, y", POINTS)
def test_jvp_and_hvp_match_sympy(x: float, y: float) -> None:
    tx, ty = 0.7, -1.3
    value, tangent = tapegrad.jvp(f, (x, y), (tx, ty))
    expr = f_sympy(X, Y)
    assert value == pytest.approx(at(expr, x, y), rel=1e-14)
    expected = at(sp.diff(expr, X), x, y) * tx + at(sp.diff(expr, Y), x, y) * ty
    assert tangent == pytest.approx(expected, rel=1e-13)
    hv = tapegrad.hvp(f, (x, y), (tx, ty))
    H = sp.hessian(expr, (X, Y))
    for i in range(2):
        want = at(H[i, 0], x, y) * tx + at(H[i, 1], x, y) * ty
        assert hv[i] == pytest.approx(want, rel=1e-12, abs=1e-13)


def test_jvp_is_a_recorded_tape_and_keeps_strong_zeros() -> None:
    jt = tapegrad.jvp_tape(tapegrad.trace(lambda x, y: x * y.exp(), 1.0, 1.0))
    assert jt.inputs == ("x", "y", "tangent_x", "tangent_y") and jt.outputs == ("out", "tangent_out")
    # the zero tangent of y meets exp(1000) = inf and contributes nothing
    assert jt(2.0, 1000.0, 1.0, 0.0) == (math.inf, math.inf)
    assert jt(2.0, 1000.0, 0.0, 0.0)[1] == 0.0
    value, tangent = tapegrad.jvp(lambda x: (x * x, -x), (3.0,), (1.0,))
    assert value == (9.0, -3.0) and tangent == (6.0, -1.0)


def test_nested_derivatives_do_not_confuse_perturbations() -> None:
    g = tapegrad.grad
    assert g(lambda x: x * g(lambda y: x + y)(1.0))(1.0) == 1.0


def test_bad_input() -> None:
    tape = tapegrad.trace(f, 0.1, 0.2)
    with pytest.raises(UnknownNameError, match="wrt='z' names no input of tape 'f'; its inputs are x, y"):
        tapegrad.grad_tape(tape, wrt=["z"])
    with pytest.raises(UnknownNameError):
        tapegrad.grad_tape(tape, wrt=5)
    with pytest.raises(NonScalarOutputError, match="hessian needs a scalar-valued function"):
        tapegrad.hessian(lambda x: (x, x * x))(1.0)
    with pytest.raises(NonScalarOutputError, match="hvp needs a scalar-valued function"):
        tapegrad.hvp(lambda x: (x, x * x), (1.0,), (1.0,))
    with pytest.raises(ArgumentCountError, match="one tangent per primal"):
        tapegrad.jvp(f, (1.0, 2.0), (1.0,))
    with pytest.raises(InputTypeError, match="tapegrad.trace"):
        tapegrad.grad_tape(lambda x: x)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), inputs=st.integers(1, 4))
def test_random_gradient_tapes_agree_with_eager_backward(seed: int, n: int, inputs: int) -> None:
    program = random_program(n, inputs=inputs, seed=seed)
    rng = random.Random(seed)
    point = [rng.uniform(-2, 2) for _ in range(inputs)]
    leaves = [Value(p) for p in point]
    out = program(*leaves)
    out.backward()
    tape = tapegrad.trace(program, *[rng.uniform(-2, 2) for _ in range(inputs)])
    raw = tapegrad.grad_tape(tape)
    small = tapegrad.optimize(raw)
    for g in (raw, small):
        result = g(*point)
        assert result[0] == pytest.approx(out.data, rel=1e-12, abs=1e-300)
        for leaf, got in zip(leaves, result[1:]):
            assert got == pytest.approx(leaf.grad, rel=1e-12, abs=1e-300)


def test_every_transformation_accepts_a_tape() -> None:
    tape = tapegrad.trace(lambda x, y: x * x * y + y.sin(), 1.0, 2.0)
    assert tapegrad.hessian(tape, argnums=(0, 1))(1.0, 2.0) == ((4.0, 2.0), (2.0, -math.sin(2.0)))
    assert tapegrad.jacobian(tape, argnums=(0, 1))(1.0, 2.0) == (4.0, 1.0 + math.cos(2.0))
    assert tapegrad.jvp(tape, (1.0, 2.0), (1.0, 0.0)) == (2.0 + math.sin(2.0), 4.0)
    assert tapegrad.hvp(tape, (1.0, 2.0), (1.0, 0.0)) == (4.0, 2.0)


def test_jacobian_and_hessian_pass_keyword_arguments_through() -> None:
    def f(x: Value, y: Value, *, scale: float) -> Value:
        return scale * x**3 * y

    assert tapegrad.jacobian(f)(2.0, 1.0, scale=0.5) == 6.0
    assert tapegrad.jacobian(f, argnums=(0, 1))(2.0, 1.0, scale=0.5) == (6.0, 4.0)
    assert tapegrad.hessian(f)(2.0, 1.0, scale=0.5) == 6.0
    with pytest.raises(ArgumentCountError, match="takes its inputs by position"):
        tapegrad.jacobian(tapegrad.trace(lambda x: x * x, 1.0))(1.0, scale=2.0)


# ---------------------------------------------------------------- second derivatives of tapes of any arity


def _smooth(*xs):  # type: ignore[no-untyped-def]
    """A function of any number of inputs whose every second partial is nonzero."""
    total = xs[0] * 0.5
    for k, x in enumerate(xs):
        total = total + (x * (k + 1.0)).sin() * xs[k - 1] + x * x * xs[0]
    return total


def _second_partials_by_differences(tape: tapegrad.Tape, point: list[float], h: float = 1e-5) -> np.ndarray:
    """d2f/dxi dxj by central differences of the tape's gradient."""
    n = len(point)
    H = np.zeros((n, n))
    for j in range(n):
        up, down = list(point), list(point)
        up[j] += h
        down[j] -= h
        H[:, j] = (np.array(tape.gradient(*up)) - np.array(tape.gradient(*down))) / (2 * h)
    return H


ARGNUMS = [0, 1, -1, (0, 1), (1, 0), (0, 2), (2,), (0, 1, 2), (3, 1)]


@pytest.mark.parametrize("arity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("argnums", ARGNUMS)
def test_second_derivatives_of_a_tape_of_any_arity(arity: int, argnums: int | tuple[int, ...]) -> None:
    picked = [argnums] if isinstance(argnums, int) else list(argnums)
    if any(not -arity <= a < arity for a in picked):
        pytest.skip("argnums past the arity")
    picked = [a % arity for a in picked]
    names = ["a", "b", "c", "d", "e"][:arity]
    tape = tapegrad.trace(_smooth, *[1.0] * arity, names=names)
    point = [0.3 + 0.4 * k for k in range(arity)]
    H = _second_partials_by_differences(tape, point)
    hess = tapegrad.hessian(tape, argnums=argnums)(*point)
    jac_of_grad = tapegrad.jacobian(tapegrad.grad(tape, argnums), argnums)(*point)
    for got in (hess, jac_of_grad):
        if isinstance(argnums, int):
            assert got == pytest.approx(H[picked[0], picked[0]], rel=1e-7, abs=1e-8)
        else:
            want = [[H[i, j] for j in picked] for i in picked]
            assert np.array(got) == pytest.approx(np.array(want), rel=1e-7, abs=1e-8)
    for i in picked:
        for j in picked:
            assert tapegrad.grad(tapegrad.grad(tape, i), j)(*point) == pytest.approx(H[i, j], rel=1e-7, abs=1e-8)
    # the tape and the function it was traced from agree to the last bit
    assert hess == tapegrad.hessian(_smooth, argnums=argnums)(*point)


def test_hessian_of_a_three_input_tape() -> None:
    """The issue's example: the inner trace read grad's own signature and refused three arguments."""
    tape = tapegrad.trace(lambda a, b, c: a * b * c, 1.0, 2.0, 3.0)
    assert tapegrad.hessian(tape, argnums=(0, 1))(1.0, 2.0, 3.0) == ((0.0, 3.0), (3.0, 0.0))
    assert tapegrad.grad(tapegrad.grad(tape), 1)(1.0, 2.0, 3.0) == 3.0
    assert tapegrad.jacobian(tapegrad.grad(tape, 2), (0, 1))(1.0, 2.0, 3.0) == (2.0, 1.0)
    assert tapegrad.grad(tapegrad.grad(tapegrad.grad(tape), 1), 2)(1.0, 2.0, 3.0) == 1.0
    # grad of a tape reads as the tape: its name and input names carry into the traces of it
    inner = tapegrad.trace(tapegrad.grad(tape), 1.0, 2.0, 3.0)
    assert inner.name == "<lambda>" and inner.inputs == ("a", "b", "c")
    with pytest.raises(ArgumentCountError, match="cannot be traced with 2 example argument"):
        tapegrad.hessian(tape)(1.0, 2.0)


def test_grad_of_a_tape_with_names_that_are_no_identifiers() -> None:
    tape = tapegrad.trace(lambda x, y, z: x * y * z, 1.0, 2.0, 3.0, names=["class", "λ", "a b"])
    assert tapegrad.hessian(tape, argnums=(0, 2))(1.0, 2.0, 3.0) == ((0.0, 2.0), (2.0, 0.0))


# ---------------------------------------------------------------- zeros keep their shape and dtype


def _described(x):  # type: ignore[no-untyped-def]
    """Shape and dtype of every entry of a (nested) result."""
    if isinstance(x, (tuple, list)):
        return type(x)([_described(e) for e in x])
    return (np.shape(x), np.dtype(getattr(x, "dtype", np.float64)), type(x) is float or isinstance(x, np.ndarray))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_zero_tangents_are_arrays_of_the_recorded_shape_and_dtype(dtype: type) -> None:
    ones = np.ones(3, dtype)
    array_of = (((3,), np.dtype(dtype), True),)
    hv = tapegrad.hvp(lambda x: x.sum(), (ones,), (ones,))
    assert _described(hv) == array_of and not np.any(hv[0])
    hv2 = tapegrad.hvp(lambda x, y: (x * x).sum() + y.sum(), (ones, ones), (ones, ones))
    assert _described(hv2) == array_of * 2 and list(hv2[1]) == [0.0, 0.0, 0.0]
    value, tangent = tapegrad.jvp(lambda x: x.sum() * 0.0 + np.ones(2, dtype), (ones,), (ones,))
    assert _described(tangent) == (((2,), np.dtype(dtype), True))
    tape = tapegrad.trace(lambda x, y: (y * 2.0, x.sum() * 0.0 + np.zeros((2, 2), dtype)), ones, ones)
    outs = tapegrad.jvp_tape(tape)(ones, ones, ones, np.zeros(3, dtype))
    assert _described(outs) == (((3,), np.dtype(dtype), True), ((2, 2), np.dtype(dtype), True)) * 2
    assert not np.any(outs[2]) and not np.any(outs[3])
    jac = tapegrad.jacobian(lambda x, y: y * 2.0, argnums=(0, 1))(ones, ones)
    assert _described(jac) == (((3, 3), np.dtype(dtype), True),) * 2
    assert _described(tapegrad.hessian(lambda x: x.sum())(ones)) == ((3, 3), np.dtype(dtype), True)
    assert _described(tapegrad.grad(lambda x, y: x.sum(), argnums=1)(ones, ones)) == array_of[0]


def test_float32_scalars_stay_float32_in_every_transform() -> None:
    x = np.float32(1.5)
    f32 = np.dtype(np.float32)
    assert _described(tapegrad.hvp(lambda x: x * 2.0, (x,), (x,))) == (((), f32, True),)
    assert _described(tapegrad.jvp(lambda x: x * 2.0, (x,), (x,)))[1][:2] == ((), f32)
    assert _described(tapegrad.grad(lambda x: x * x)(x))[:2] == ((), f32)
    assert _described(tapegrad.hessian(lambda x: x * 2.0)(x)) == ((), f32, True)
    # a float64 scalar stays a Python float
    assert tapegrad.hvp(lambda x: x * 2.0, (1.5,), (1.0,)) == (0.0,)
    assert type(tapegrad.hvp(lambda x: x * 2.0, (1.5,), (1.0,))[0]) is float


@pytest.mark.parametrize("primals", [1.0, np.array([1.0]), None, "x", (x for x in [1.0])], ids=repr)
def test_jvp_and_hvp_take_tuples_of_primals_and_tangents(primals: object) -> None:
    f = lambda x: x * x  # noqa: E731
    for transform in (tapegrad.jvp, tapegrad.hvp):
        with pytest.raises(InputTypeError, match=r"take primals as a tuple or list .* jvp\(f, \(x,\), \(v,\)\)"):
            transform(f, primals, (1.0,))
        with pytest.raises(InputTypeError, match=r"take tangents as a tuple or list"):
            transform(f, (1.0,), primals)
    assert tapegrad.jvp(f, [3.0], [1.0]) == (9.0, 6.0)  # a list is a sequence of arguments, as in JAX


@pytest.mark.parametrize("argnums", [1.5, None, "0", {0: 1}], ids=repr)
def test_argnums_must_be_an_int_or_a_tuple(argnums: object) -> None:
    f = lambda x, y: x * y  # noqa: E731
    for transform in (tapegrad.jacobian, tapegrad.grad, tapegrad.value_and_grad, tapegrad.hessian):
        with pytest.raises(InputTypeError, match=r"argnums must be an int or a tuple of ints"):
            transform(f, argnums)(1.0, 2.0)  # type: ignore[arg-type]
    assert tapegrad.jacobian(f, [0, 1])(1.0, 2.0) == (2.0, 1.0)

"""Tapes of array functions: replay, gradient tapes, jacobian, hessian, jvp and hvp, eager tapes linked
across ``backward()`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from support import FD_STEP, FD_TOLERANCE, assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value

from .array_cases import FD2_TOLERANCE, assert_identical

# ---------------------------------------------------------------- tapes of array functions


def _problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(6, 3)), np.array([0, 3, 1, 1, 2, 0])


def _classifier(W: Any, b: Any, X: Any) -> Any:
    targets = _problem()[3]
    return tapegrad.cross_entropy((X @ W + b).tanh() * 3.0, targets) + 1e-3 * (W * W).sum()


def test_a_traced_array_function_replays_and_differentiates_like_eager() -> None:
    W, b, X, _ = _problem()
    tape = tapegrad.trace(_classifier, W, b, X)
    rng = np.random.default_rng(12)
    for _ in range(3):
        W2, b2 = rng.normal(size=W.shape), rng.normal(size=b.shape)
        leaves = Value(W2), Value(b2)
        loss = _classifier(*leaves, X)
        loss.backward()
        assert tape(W2, b2, X) == loss.data
        value, (gW, gb, gX) = tape.value_and_gradient(W2, b2, X)
        assert value == loss.data
        np.testing.assert_array_equal(gW, leaves[0].grad)
        np.testing.assert_array_equal(gb, leaves[1].grad)
        assert gX.shape == X.shape
        assert_identical(tapegrad.grad(_classifier, argnums=(0, 1))(W2, b2, X), [leaves[0].grad, leaves[1].grad])
        full = tapegrad.grad_tape(tape)
        optimized = tapegrad.optimize(full)
        assert len(optimized) <= len(full)
        assert_identical(full(W2, b2, X), [loss.data, leaves[0].grad, leaves[1].grad, gX])
        assert_identical(optimized(W2, b2, X), [loss.data, leaves[0].grad, leaves[1].grad, gX])
    assert_close_to(
        tape.gradient(W, b, X)[:2],
        numerical_gradients(lambda W, b: float(tape(W, b, X)), [W, b]),
        FD_TOLERANCE,
    )


def test_a_gradient_tape_differentiates_again() -> None:
    W, b, X, _ = _problem()
    gradient_of_W = tapegrad.grad_tape(tapegrad.trace(_classifier, W, b, X), wrt="W")
    assert gradient_of_W.outputs == ("out", "grad_W")
    direction = np.random.default_rng(13).normal(size=W.shape)
    second = tapegrad.grad(lambda W: (gradient_of_W(W, b, X)[1] * direction).sum())(W)
    expected = numerical_gradients(lambda W: float(np.sum(gradient_of_W(W, b, X)[1] * direction)), [W])
    assert_close_to([second], expected, FD2_TOLERANCE)


def test_jacobian_of_an_array_valued_function_matches_finite_differences() -> None:
    _, _, X, _ = _problem()

    def f(W: Any) -> Any:
        return (X @ W).tanh()[:, 1:3]

    W = np.random.default_rng(14).normal(size=(3, 4))
    J = tapegrad.jacobian(f)(W)
    assert J.shape == (6, 2, 3, 4)
    expected = np.zeros((6, 2, 3, 4))
    for index in np.ndindex(3, 4):
        up, down = W.copy(), W.copy()
        up[index] += FD_STEP
        down[index] -= FD_STEP
        expected[(..., *index)] = (np.tanh(X @ up)[:, 1:3] - np.tanh(X @ down)[:, 1:3]) / (2 * FD_STEP)
    assert_close_to([J], [expected], FD_TOLERANCE)
    tape = tapegrad.trace(f, W)
    np.testing.assert_array_equal(tapegrad.jacobian(tape)(W), J)


def test_jacobian_with_several_arguments_is_nested_per_argument() -> None:
    A, v = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0])
    dA, dv = tapegrad.jacobian(lambda A, v: A @ v, argnums=(0, 1))(A, v)
    assert dA.shape == (2, 2, 3) and dv.shape == (2, 3)
    np.testing.assert_array_equal(dv, A)
    np.testing.assert_array_equal(dA[0], [v, [0, 0, 0]])
    np.testing.assert_array_equal(dA[1], [[0, 0, 0], v])


def test_hessian_of_a_scalar_function_of_a_vector() -> None:
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])

    def f(x: Any) -> Any:
        return 0.5 * (x * (A @ x)).sum() + x.logsumexp() + (x[np.array([0, 0, 2])] ** 3).sum()

    x = np.array([0.3, -0.2, 0.5])
    H = tapegrad.hessian(f)(x)
    p = np.exp(x) / np.exp(x).sum()
    expected = A + np.diag(p) - np.outer(p, p) + np.diag([2 * 6 * x[0], 0.0, 6 * x[2]])
    np.testing.assert_allclose(H, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(H, H.T, rtol=1e-14, atol=1e-15)
    rows = [numerical_gradients(lambda y, i=i: float(tapegrad.grad(f)(y)[i]), [x])[0] for i in range(3)]
    assert_close_to([H], [np.array(rows)], FD2_TOLERANCE)


def test_eager_tapes_linked_across_backward_calls_give_the_right_gradients() -> None:
    W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = np.array([0.3, -0.7])
    W = Value(W0)
    h = (W @ x).tanh()  # step 1 records h
    h.sum().backward()
    np.testing.assert_allclose(W.grad, np.outer(1 - np.tanh(W0 @ x) ** 2, x), rtol=1e-15)
    W.grad = np.zeros_like(W.data)
    (h * h).sum().backward()  # step 2, on a fresh tape, reuses h from the closed one
    t = np.tanh(W0 @ x)
    np.testing.assert_allclose(W.grad, np.outer(2 * t * (1 - t**2), x), rtol=1e-15)
    np.testing.assert_allclose(h.grad, 1.0 + 2 * t, rtol=1e-15)  # an intermediate's .grad sums both calls too


def test_leaf_gradients_accumulate_over_two_backward_calls() -> None:
    x = Value(np.array([1.0, 2.0]))
    y = (x * x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 24.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [9.0, 27.0])
    x.grad = 0
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_updating_a_leaf_by_assignment_starts_a_new_binding() -> None:
    W = Value(np.array([1.0, -2.0]))
    for _ in range(3):
        W.grad = np.zeros_like(W.data)
        loss = (W * W).sum()
        loss.backward()
        np.testing.assert_array_equal(W.grad, 2 * W.data)
        W.data = W.data - 0.25 * W.grad
    np.testing.assert_array_equal(W.data, [0.125, -0.25])


SCALAR_ARRAY_OPS = [
    pytest.param(lambda v: v.sum(), 2.0, id="sum"),
    pytest.param(lambda v: v.mean(), 2.0, id="mean"),
    pytest.param(lambda v: v.max(), 2.0, id="max"),
    pytest.param(lambda v: v.logsumexp(), 2.0, id="logsumexp"),
    pytest.param(lambda v: v.T, 2.0, id="transpose"),
    pytest.param(lambda v: v.astype(np.float64), 2.0, id="astype"),
]


@pytest.mark.parametrize("op, derivative", SCALAR_ARRAY_OPS)
def test_array_ops_on_a_scalar_value_differentiate(op: Callable[..., Any], derivative: float) -> None:
    v = Value(3.0)
    out = op(v * 2.0)
    assert out.shape == ()
    out.backward()
    assert v.grad == derivative
    assert tapegrad.grad(lambda x: op(x * 2.0))(3.0) == derivative


def test_a_scalar_value_mixed_with_arrays_gets_a_float_gradient() -> None:
    a, b = Value(2.0), Value(np.array([1.0, 2.0, 3.0]))
    (a * b).sum().backward()
    assert a.grad == 6.0 and np.shape(a.grad) == ()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])


def test_jvp_and_hvp_of_array_functions() -> None:
    x, t = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    value, tangent = tapegrad.jvp(lambda a: a * a, (x,), (t,))
    np.testing.assert_array_equal(value, [1.0, 4.0])
    np.testing.assert_array_equal(tangent, [2.0, 2.0])
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    (hv,) = tapegrad.hvp(lambda a: 0.5 * (a * (A @ a)).sum(), (x,), (t,))
    np.testing.assert_allclose(hv, A @ t, rtol=1e-15)

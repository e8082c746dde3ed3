"""Batched results equal the scalar tape run point by point (array Values against Values of numbers)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad
from tapegrad import Value, maximum, minimum, where

from .array_cases import assert_identical

# ---------------------------------------------------------------- batched results equal the scalar tape, point by point


def _arithmetic(x: Any, y: Any) -> Any:
    """Only correctly rounded operations (and exact selections): numpy and Python compute the same bits."""
    a = x * y - x / (y * y + 1.0)
    b = maximum(a, x - 0.5).relu() + minimum(y, 0.25) * abs(x) + (x * x + 1.0).sqrt() + x**2
    return where(a > b, a * b, b - a) + (-y)


def _transcendental(x: Any, y: Any) -> Any:
    return (x * y).tanh() + (x - y).exp() * y.sigmoid() + (x * x + 1.0).log() + x.sin() * y.cos() + 1.3**x


POINTS_X = np.linspace(-1.5, 1.5, 7)
POINTS_Y = np.linspace(1.2, -0.9, 7)


def _scalar_tape_point_by_point(f: Callable[..., Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tape = tapegrad.trace(f, 0.3, 0.7)
    values, dx, dy = [], [], []
    for x, y in zip(POINTS_X, POINTS_Y):
        value, (gx, gy) = tape.value_and_gradient(float(x), float(y))
        assert type(value) is float
        values.append(value)
        dx.append(gx)
        dy.append(gy)
    return np.array(values), np.array(dx), np.array(dy)


def _array_values(f: Callable[..., Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = Value(POINTS_X), Value(POINTS_Y)
    out = f(x, y)
    out.sum().backward()
    return out.data, x.grad, y.grad


def test_arithmetic_on_arrays_equals_the_scalar_tape_point_by_point_bit_for_bit() -> None:
    scalar = _scalar_tape_point_by_point(_arithmetic)
    assert_identical(_array_values(_arithmetic), scalar)
    # ... and eager scalar Values, and the scalar tape replayed on the batch (the old batching)
    for k, (x, y) in enumerate(zip(POINTS_X, POINTS_Y)):
        vx, vy = Value(float(x)), Value(float(y))
        out = _arithmetic(vx, vy)
        out.backward()
        assert (out.data, vx.grad, vy.grad) == (scalar[0][k], scalar[1][k], scalar[2][k])
    tape = tapegrad.trace(_arithmetic, 0.3, 0.7)
    value, grads = tape.value_and_gradient(POINTS_X, POINTS_Y)
    assert_identical([value, *grads], scalar)


def test_transcendental_functions_on_arrays_equal_the_scalar_tape_point_by_point() -> None:
    # numpy's vectorised exp, tanh... may differ from libm's by an ulp, and tanh' = 1 - tanh^2
    # magnifies that near |tanh| = 1; at these points everything agrees to 4e-15.
    scalar = _scalar_tape_point_by_point(_transcendental)
    for array, point_by_point in zip(_array_values(_transcendental), scalar):
        np.testing.assert_allclose(array, point_by_point, rtol=4e-15, atol=0.0)


def test_a_scalar_broadcast_against_a_batch_gets_the_sum_of_the_pointwise_gradients() -> None:
    x, y = Value(POINTS_X), Value(0.25)
    _arithmetic(x, y).sum().backward()
    tape = tapegrad.trace(_arithmetic, 0.3, 0.25)
    pointwise = [tape.gradient(float(p), 0.25) for p in POINTS_X]
    np.testing.assert_array_equal(x.grad, [gx for gx, _ in pointwise])
    # numpy sums the seven contributions in another order than fsum: within an ulp of their magnitude
    contributions = [gy for _, gy in pointwise]
    assert type(y.grad) in (float, np.float64)
    assert abs(y.grad - math.fsum(contributions)) <= 4e-16 * math.fsum(map(abs, contributions))


def test_a_row_wise_mlp_equals_scalar_values_element_by_element() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 3))
    W1, b1 = rng.normal(size=(3, 4)), rng.normal(size=4)
    W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=2)

    # batched: one matmul per layer
    params = [Value(p) for p in (W1, b1, W2, b2)]
    hidden = (X @ params[0] + params[1]).tanh()
    out = hidden @ params[2] + params[3]
    (out * out).sum().backward()

    # micrograd style: one scalar Value per weight, one neuron at a time
    scalars = [np.vectorize(Value, otypes=[object])(p) for p in (W1, b1, W2, b2)]
    sW1, sb1, sW2, sb2 = scalars
    total = Value(0.0)
    outs = np.empty((5, 2))
    for n in range(5):
        h = [(sum((float(X[n, k]) * sW1[k, j] for k in range(3)), sb1[j])).tanh() for j in range(4)]
        for j in range(2):
            o = sum((h[k] * sW2[k, j] for k in range(4)), sb2[j])
            outs[n, j] = o.data
            total = total + o * o
    total.backward()

    # A matmul sums in another order (and may fuse multiply-adds) than the neuron's Python sum.
    np.testing.assert_allclose(out.data, outs, rtol=1e-13, atol=1e-14)
    for p, s in zip(params, scalars):
        grads = np.vectorize(lambda v: v.grad, otypes=[float])(s)
        np.testing.assert_allclose(p.grad, grads, rtol=1e-12, atol=1e-13)

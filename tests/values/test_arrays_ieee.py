"""Strong zeros and IEEE results on arrays: no warnings, no nan where the branch is not taken."""

from __future__ import annotations

import math

import numpy as np

import tapegrad
from tapegrad import Value, maximum, minimum, where

# ---------------------------------------------------------------- strong zeros and IEEE on arrays


def test_where_sqrt_has_gradient_zero_where_the_branch_is_not_taken(no_warnings: None) -> None:
    points = np.array([-4.0, -1.0, 0.0, 4.0, 9.0])
    x = Value(points)
    y = where(x > 0.0, x.sqrt(), 0.0)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.0, 2.0, 3.0])
    y.sum().backward()
    expected = [0.0, 0.0, 0.0, 0.25, 1 / 6]
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(tapegrad.grad(lambda v: where(v > 0.0, v.sqrt(), 0.0).sum())(points), expected)
    tape = tapegrad.trace(lambda v: where(v > 0.0, v.sqrt(), 0.0).sum(), points)
    np.testing.assert_array_equal(tapegrad.optimize(tapegrad.grad_tape(tape))(points)[1], expected)


def test_a_zero_weight_stops_an_infinite_derivative(no_warnings: None) -> None:
    x = Value(np.array([1000.0, 1.0]))
    (x.exp() * np.array([0.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, math.e])


def test_log_of_zero_is_minus_infinity_without_warnings(no_warnings: None) -> None:
    points = np.array([0.0, 1.0, -1.0, np.inf])
    x = Value(points)
    y = x.log()
    np.testing.assert_array_equal(y.data, [-np.inf, 0.0, np.nan, np.inf])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [np.inf, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(tapegrad.grad(lambda v: v.log().sum())(points), [np.inf, 1.0, -1.0, 0.0])
    z = Value(np.array([0.0, 2.0]))
    np.testing.assert_array_equal((1.0 / z).data, [np.inf, 0.5])
    np.testing.assert_array_equal((z / z).data[0], np.nan)
    np.testing.assert_array_equal(z.sqrt().data, [0.0, math.sqrt(2.0)])
    np.testing.assert_array_equal(Value(np.array([-1.0])).sqrt().data, [np.nan])
    np.testing.assert_array_equal(Value(np.array([1e3])).exp().data, [np.inf])


def test_max_ties_share_the_gradient_evenly(no_warnings: None) -> None:
    x = Value(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    m = x.max(axis=1)
    np.testing.assert_array_equal(m.data, [3.0, 2.0])
    (m * np.array([1.0, 6.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [2.0, 2.0, 2.0]])

    y = Value(np.array([[1.0, 3.0], [3.0, 2.0]]))
    y.max().backward()
    np.testing.assert_array_equal(y.grad, [[0.0, 0.5], [0.5, 0.0]])
    np.testing.assert_array_equal(tapegrad.grad(lambda v: v.max())(y.data), [[0.0, 0.5], [0.5, 0.0]])

    a, b = Value(np.array([1.0, 2.0, 3.0])), Value(np.array([2.0, 2.0, 2.0]))
    maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 0.5, 0.0])
    c, d = Value(np.array([1.0, 2.0, 3.0])), Value(2.0)
    minimum(c, d).sum().backward()
    np.testing.assert_array_equal(c.grad, [1.0, 0.5, 0.0])
    assert d.grad == 1.5


def test_relu_and_abs_at_zero_have_gradient_zero(no_warnings: None) -> None:
    x = Value(np.array([-1.0, 0.0, 2.0]))
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])


def test_empty_arrays_compute_empty_results_and_zero_gradients(no_warnings: None) -> None:
    a, b = Value(np.zeros((0, 3))), Value(np.array([1.0, 2.0, 3.0]))
    c = (a * b).tanh()
    assert c.shape == (0, 3)
    s = c.sum()
    assert s.data == 0.0
    s.backward()
    assert a.grad.shape == (0, 3)
    np.testing.assert_array_equal(b.grad, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(a.mean(axis=0).data, [np.nan] * 3)  # as numpy: 0 / 0

"""np.sort, np.argsort and np.take_along_axis on Values (issue 17, tapegrad/values/sorting.py).

The order depends on the data, so the tests replay every tape on inputs in
another order (interpreter, ``grad_tape``, ``optimize``, generated numpy
code, tape files, forward mode): each must sort its own inputs.  Gradients
go back through the permutation: element ``argsort(x)[i]`` gets the adjoint
of sorted position ``i`` (numpy's ``put_along_axis`` of the adjoint).  The
order is stable (ties keep their input order, each tied element gets its
own position's adjoint) and nan sorts last, as numpy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tapegrad.numpy as tnp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OpKind
from tapegrad.errors import InputTypeError, ShapeError, UnsupportedOpError
from tapegrad.formats import dot, io
from tapegrad.formats.symbolic import to_sympy


def identical(actual: Any, expected: Any) -> bool:
    """The same shape, dtype and float bits (signed zeros differ, nan equals nan)."""
    a, b = np.asarray(actual), np.asarray(expected)
    same = (a == b) & (np.signbit(a) == np.signbit(b)) | (a != a) & (b != b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.all(same))


def sorted_pullback(x: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """The gradient of ``sum(w * sort(x, axis))``: each sorted position's weight back where it came from."""
    g = np.zeros_like(x)
    np.put_along_axis(g, np.argsort(x, axis=axis, kind="stable"), w, axis=axis)
    return g


X = np.array([[0.5, -1.25, 3.0, 2.0], [1.5, 0.25, -0.75, -2.0], [0.0, 4.0, -3.5, 1.0]])
NEW = np.array([[9.0, 1.0, -2.0, 0.5], [-1.0, -3.0, 2.5, 7.0], [0.75, -0.25, 6.0, -6.0]])  # another order
W = np.arange(12.0).reshape(3, 4) - 4.5


@pytest.mark.parametrize("axis", [-1, 0, None])
def test_sort_values_and_gradient(axis: Any) -> None:
    out = np.sort(Value(X), axis=axis)
    assert identical(out.data, np.sort(X, axis=axis))
    w = W.ravel() if axis is None else W
    g = tapegrad.grad(lambda x: np.sum(w * np.sort(x, axis=axis)))(X)
    if axis is None:
        assert identical(g, sorted_pullback(X.ravel(), w, 0).reshape(X.shape))
    else:
        assert identical(g, sorted_pullback(X, w, axis))


def test_argsort_gives_stable_positions_as_floats() -> None:
    x = np.array([2.0, 1.0, 2.0, np.nan, 1.0, -np.inf])
    positions = np.argsort(Value(x))
    assert isinstance(positions, Value)
    assert identical(positions.data, np.argsort(x, kind="stable").astype(np.float64))
    assert identical(Value(x).argsort().data, positions.data)
    assert identical(np.argsort(Value(X), axis=None).data, np.argsort(X, axis=None, kind="stable").astype(float))
    assert identical(tnp.argsort(x), np.argsort(x, kind="stable"))  # plain arrays: numpy's integers


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_the_order_is_numpys_stable_one_with_or_without_ties(axis: int) -> None:
    """(The kernel sorts with numpy's fast sort and falls back to the stable one only where values tie.)"""
    rng = np.random.default_rng(axis + 1)
    distinct = rng.normal(size=(30, 40))
    one_nan = distinct.copy()
    one_nan[np.arange(30), rng.integers(0, 40, 30)] = np.nan  # one nan per row: no tie along axis 1
    tied = np.round(distinct, 1)
    for x in (distinct, one_nan, tied, -np.abs(tied) * 0.0):
        expected = np.argsort(x, axis=axis, kind="stable").astype(np.float64)
        assert identical(np.argsort(Value(x), axis=axis).data, expected)


def test_ties_each_get_the_gradient_of_their_own_sorted_position() -> None:
    x = np.array([1.0, 1.0, 0.0, 1.0])
    g = tapegrad.grad(lambda x: np.sum(np.sort(x) * np.array([10.0, 20.0, 30.0, 40.0])))(x)
    assert identical(g, np.array([20.0, 30.0, 10.0, 40.0]))  # stable: the first 1.0 takes the first place of the 1.0s
    # -0.0 and 0.0 compare equal: they too keep their order (numpy's stable sort does the same)
    z = np.array([0.0, -0.0, -1.0])
    assert identical(np.sort(Value(z)).data, np.sort(z, kind="stable"))


def test_nan_sorts_last_and_its_gradient_goes_back_to_it() -> None:
    x = np.array([np.nan, 1.0, -np.inf, 0.0])
    assert identical(np.sort(Value(x)).data, np.sort(x))
    g = tapegrad.grad(lambda x: np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0])))(x)
    assert identical(g, np.array([4.0, 3.0, 1.0, 2.0]))


def test_a_replayed_tape_sorts_its_own_inputs_in_every_engine() -> None:
    f = lambda x: np.sort(x, axis=1) * W  # noqa: E731
    tape = tapegrad.trace(f, X)
    expected = np.sort(NEW, axis=1) * W
    assert identical(tape(NEW), expected)
    assert identical(tape.compile("numpy")(NEW), expected)
    assert identical(tapegrad.optimize(tape)(NEW), expected)
    assert identical(io.loads(io.dumps(tape))(NEW), expected)
    assert "argsort" in dot.to_dot(tape)
    loss = tapegrad.trace(lambda x: np.sum(f(x)), X)
    expected_grad = sorted_pullback(NEW, W, 1)
    assert identical(loss.gradient(NEW)[0], expected_grad)
    gradient = tapegrad.grad_tape(loss)
    for program in (gradient, tapegrad.optimize(gradient), io.loads(io.dumps(gradient))):
        assert identical(program(NEW)[1], expected_grad)
    assert identical(gradient.compile("numpy")(NEW)[1], expected_grad)
    value, tangent = tapegrad.jvp(tape, [NEW], [X])
    assert identical(value, expected)
    assert identical(tangent, np.take_along_axis(X, np.argsort(NEW, axis=1), axis=1) * W)


def test_second_order_through_the_permutation() -> None:
    v = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    (hv,) = tapegrad.hvp(lambda x: np.sum(W * np.sort(x, axis=0) ** 3), [NEW], [v])
    order = np.argsort(NEW, axis=0, kind="stable")
    s, sv = np.take_along_axis(NEW, order, 0), np.take_along_axis(v, order, 0)
    expected = np.zeros_like(NEW)
    np.put_along_axis(expected, order, 6.0 * W * s * sv, axis=0)
    np.testing.assert_allclose(hv, expected, rtol=1e-14)


def test_top_k_by_sorting() -> None:
    k = 2
    top = np.sort(Value(X))[..., -k:]
    assert identical(top.data, np.sort(X)[..., -k:])
    descending = -np.sort(-Value(X))[..., :k]
    assert identical(descending.data, -np.sort(-X)[..., :k])
    g = tapegrad.grad(lambda x: np.sum(np.sort(x)[..., -k:]))(X)
    assert identical(g, (X >= np.sort(X)[..., -k : -k + 1]).astype(float))


def test_indexing_a_vector_by_its_argsort_replays() -> None:
    tape = tapegrad.trace(lambda x: x[np.argsort(x)] * np.arange(4.0), np.array([3.0, 1.0, 2.0, 0.0]))
    new = np.array([-1.0, 5.0, 2.0, 3.0])
    assert identical(tape(new), np.sort(new) * np.arange(4.0))


# ---------------------------------------------------------------- take_along_axis


def test_take_along_axis_with_integer_arrays_adds_repeated_picks() -> None:
    idx = np.array([[0, 0, -1, 2], [2, 1, 1, 0]])
    out = np.take_along_axis(Value(X), idx, axis=0)
    assert identical(out.data, np.take_along_axis(X, idx, axis=0))
    w = np.arange(8.0).reshape(2, 4) + 1.0
    g = tapegrad.grad(lambda x: np.sum(w * np.take_along_axis(x, idx, axis=0)))(X)
    expected = np.zeros_like(X)
    np.add.at(expected, (idx, np.arange(4)), w)
    assert identical(g, expected)
    broadcast = np.take_along_axis(Value(X), np.array([[3], [0], [1]]), axis=1)
    assert identical(broadcast.data, np.take_along_axis(X, np.array([[3], [0], [1]]), axis=1))
    flat = np.take_along_axis(Value(X), np.array([11, 0, 5]), axis=None)
    assert identical(flat.data, np.take_along_axis(X, np.array([11, 0, 5]), axis=None))


def test_take_along_axis_with_a_value_of_indices_takes_new_indices_on_replay() -> None:
    f = lambda x, idx: np.take_along_axis(x, idx, axis=1)  # noqa: E731
    tape = tapegrad.trace(f, X, np.array([[0.0, 1.0], [2.0, 3.0], [3.0, 3.0]]))
    new = np.array([[3.0, -1.0], [0.0, 0.0], [-4.0, 2.0]])
    assert identical(tape(X, new), np.take_along_axis(X, new.astype(int), axis=1))
    assert identical(tape.compile("numpy")(X, new), np.take_along_axis(X, new.astype(int), axis=1))
    g = tape.gradient(X, new, seed=np.ones((3, 2)))[0]
    expected = np.zeros_like(X)
    np.add.at(expected, (np.arange(3)[:, None], new.astype(int) % 4), 1.0)
    assert identical(g, expected)
    # (checked on every replay, in generated code too, by take's kernel: a ValueError, as for x[idx])
    with pytest.raises(ValueError, match=r"whole numbers in \[0, 4\)"):
        tape(X, np.array([[4.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"whole numbers in \[0, 4\)"):
        tape.compile("numpy")(X, np.array([[0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]))


def test_float32_indices_are_widened_before_they_address_the_flattening() -> None:
    """float32 holds whole numbers only up to 2**24: the flat positions are computed in float64."""
    idx = np.array([[2.0], [0.0], [1.0]], dtype=np.float32)
    tape = tapegrad.trace(lambda x, i: np.take_along_axis(x, i, axis=1), X, idx)
    assert "astype" in [str(op) for op in tape.ops]
    take = tape.ops.index(OpKind.TAKE)
    assert all(tape.values[a].dtype == np.float64 for a in tape.args[take])
    assert identical(tape(X, idx), np.take_along_axis(X, idx.astype(int), axis=1))


def test_argsort_feeds_take_along_axis() -> None:
    x = Value(X)
    assert identical(np.take_along_axis(x, np.argsort(x, axis=0), axis=0).data, np.sort(X, axis=0))


def test_float32_and_empty_arrays() -> None:
    x32 = X.astype(np.float32)
    assert identical(np.sort(Value(x32), axis=0).data, np.sort(x32, axis=0))
    for shape in [(0,), (2, 0), (0, 3)]:
        empty = np.zeros(shape)
        assert identical(np.sort(Value(empty), axis=0).data, np.sort(empty, axis=0))
        assert identical(tapegrad.grad(lambda x: np.sum(np.sort(x)))(empty), empty)


def test_sympy_refuses_to_order_symbols_and_the_math_backend_refuses_arrays() -> None:
    tape = tapegrad.trace(lambda x: np.sum(np.sort(x) * np.arange(3.0)), np.array([3.0, 1.0, 2.0]))
    with pytest.raises(UnsupportedOpError, match="cannot order symbols"):
        to_sympy(tape)
    with pytest.raises(UnsupportedOpError, match="math backend"):
        tape.compile("math")


V = Value(X)
BAD = [
    (lambda: np.sort(V, order="a"), UnsupportedOpError, "Values have no fields"),
    (lambda: np.sort(V, kind="bogo"), InputTypeError, "kind must be"),
    (lambda: np.sort(V, axis=2), ShapeError, "axis 2 is out of range"),
    (lambda: np.sort(Value(1.0)), ShapeError, "out of range for a scalar"),
    (lambda: np.argsort(V, axis=1.5), InputTypeError, "axis must be one int or None"),
    (lambda: np.take_along_axis(V, np.array([0, 1]), axis=0), ShapeError, "same number of axes"),
    (lambda: np.take_along_axis(V, np.array([[0.0]]), axis=0), InputTypeError, "integer array"),
    (lambda: np.take_along_axis(V, np.array([[3]]), axis=0), ShapeError, "out of range for axis 0 of size 3"),
    (lambda: np.take_along_axis(V, np.zeros((2, 2), dtype=int), axis=0), ShapeError, "do not broadcast"),
    (lambda: np.take_along_axis(V, np.zeros((1, 1), dtype=int), axis=(0,)), InputTypeError, "axis must be an int"),
    (lambda: np.take_along_axis(V, Value(np.array([[5.0, 0.0, 0.0, 0.0]])), axis=0), ShapeError, "whole numbers"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), BAD, ids=[b[2] for b in BAD])
def test_bad_arguments_raise_tapegrad_errors(call: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert fragment in str(caught.value), str(caught.value)


# ---------------------------------------------------------------- random shapes, ties and nan


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
               elements=st.sampled_from([-1.0, 0.0, -0.0, 0.5, 2.0, np.nan, np.inf, -np.inf])),
    st.data(),
)  # fmt: skip
def test_random_arrays_with_ties_and_nan(x: np.ndarray, data: Any) -> None:
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert identical(np.sort(Value(x), axis=axis).data, np.sort(x, axis=axis, kind="stable"))
    stable = np.argsort(x, axis=axis, kind="stable").astype(np.float64)  # the kernel's fast path must agree
    assert identical(np.argsort(Value(x), axis=axis).data, stable)
    w = np.random.default_rng(0).normal(size=x.shape)
    g = tapegrad.grad(lambda v: np.sum(w * np.sort(v, axis=axis)))(x)
    assert identical(g, sorted_pullback(x, w, axis % x.ndim))
    tape = tapegrad.trace(lambda v: np.sort(v, axis=axis), x)
    shuffled = np.random.default_rng(1).permutation(x.ravel()).reshape(x.shape)
    assert identical(tape(shuffled), np.sort(shuffled, axis=axis, kind="stable"))

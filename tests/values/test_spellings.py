"""numpy's other spellings on Values (values/spellings.py): misuse refused as numpy refuses it, but with
tapegrad's exceptions naming the function; plain arrays through ``tapegrad.numpy``; ``v.mT`` and ``v.copy()``.

Values, gradients, replay and generated code of every spelling are in tests/corpus/cases_spellings.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tapegrad.numpy as tnp

import tapegrad
from tapegrad import Value
from tapegrad.errors import InputTypeError, ShapeError, UnsupportedOpError

M = np.arange(12.0).reshape(3, 4)
V = np.arange(3.0)

MISUSE: list[tuple[Callable[[Any], Any], type[Exception], str]] = [
    (lambda x: np.linalg.outer(x, x), ShapeError, "np.linalg.outer: takes two vectors"),
    (lambda x: np.linalg.cross(x, x), ShapeError, "np.linalg.cross: needs 3-vectors along axis -1"),
    (lambda x: np.linalg.trace(x[0]), ShapeError, "np.linalg.trace: needs an array of at least 2 axes"),
    (lambda x: np.matrix_transpose(x[0]), ShapeError, "matrix_transpose: needs an array of at least 2 axes"),
    (lambda x: np.linalg.vecdot(x, x[:, :3]), ShapeError, "vecdot: the vectors along axis -1 differ in length"),
    (lambda x: np.vsplit(x[0], 2), ShapeError, "vsplit: needs an array of at least 2 axes"),
    (lambda x: np.dsplit(x, 2), ShapeError, "dsplit: needs an array of at least 3 axes"),
    (lambda x: np.hsplit(x, 3), ShapeError, "split: axis 1 of f64[3,4] (size 4) does not divide into 3"),
    (lambda x: np.rot90(x, axes=(1, 1)), ShapeError, "rot90: axes must be different"),
    (lambda x: np.rot90(x[0]), ShapeError, "rot90: needs an array of at least 2 axes"),
    (lambda x: np.rollaxis(x, 0, 5), ShapeError, "rollaxis: start 5 is out of range"),
    (lambda x: np.unstack(x, axis=2), ShapeError, "unstack"),
    (lambda x: np.diff(x, -1), ShapeError, "diff: the order n must not be negative"),
    (lambda x: np.diff(x[0, 0]), ShapeError, "diff: needs an array of at least 1 axes"),
    (lambda x: np.average(x, weights=np.ones(3)), ShapeError, "average: weights f64[3] must have a's shape"),
    (lambda x: np.cov(x[None]), ShapeError, "cov: takes a vector or a matrix of observations"),
    (lambda x: np.cumulative_sum(x), ShapeError, "cumulative_sum: an array of more than one axis needs axis="),
    (lambda x: np.linalg.matrix_power(x, 2), ShapeError, "np.linalg.matrix_power: needs a square matrix"),
    (lambda x: np.linalg.matrix_power(x[:, :3], 1.5), InputTypeError, "the exponent must be an int"),
    (lambda x: np.linalg.multi_dot([x]), ShapeError, "np.linalg.multi_dot: needs at least two arrays"),
    (lambda x: np.linalg.multi_dot([x, x[None]]), ShapeError, "np.linalg.multi_dot: needs matrices"),
]


@pytest.mark.parametrize("f, error, message", MISUSE)
def test_misuse_is_refused_where_numpy_refuses_it(f: Callable[[Any], Any], error: type, message: str) -> None:
    with pytest.raises((ValueError, TypeError)):  # numpy refuses these too (AxisError is a ValueError)
        f(M)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        f(Value(M))


@pytest.mark.parametrize(
    "name, args",
    [("rot90", (M,)), ("diagflat", (M,)), ("hsplit", (M, 2)), ("unstack", (M,)), ("rollaxis", (M, 1)),
     ("matrix_transpose", (M,)), ("vecdot", (M, M)), ("matvec", (M, V[:, None] * np.ones(4))), ("copy", (M,))],
)  # fmt: skip
def test_the_namespace_computes_on_plain_arrays_as_numpy(name: str, args: tuple[Any, ...]) -> None:
    ours, theirs = getattr(tnp, name)(*args), getattr(np, name)(*args)
    several = name in ("hsplit", "unstack")
    for a, b in zip(ours if several else [ours], theirs if several else [theirs], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)


def test_gufunc_keywords_are_refused_by_name() -> None:
    """np.vecdot, np.matvec and np.vecmat are gufuncs: their axes= and axis= keywords are refused, not ignored."""
    with pytest.raises(UnsupportedOpError, match=r"np.vecdot is not supported on tapegrad Values \(with axis=\)"):
        np.vecdot(Value(M), Value(M), axis=0)
    np.testing.assert_allclose(np.linalg.vecdot(Value(M), Value(M), axis=0).data, np.vecdot(M, M, axis=0))


def test_the_linalg_namespace_has_the_array_api_names() -> None:
    assert tnp.linalg.trace(np.eye(3)) == 3.0
    np.testing.assert_array_equal(tnp.linalg.outer(V, V), np.linalg.outer(V, V))
    assert {"np.linalg.outer", "np.linalg.vecdot", "np.rot90", "np.hsplit"} <= set(tnp.SUPPORTED)
    with pytest.raises(AttributeError, match="records det, .*, vecdot"):
        tnp.linalg.lstsq  # noqa: B018


def test_a_copy_is_the_value_itself_and_mT_swaps_the_last_two_axes() -> None:
    v = Value(np.ones((2, 3, 4)))
    assert v.copy() is v and np.copy(v) is v
    assert v.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(tapegrad.grad(lambda x: np.sum(x.mT * np.arange(3.0)))(np.ones((3, 3))),
                                  np.tile(np.arange(3.0)[:, None], (1, 3)))  # fmt: skip


def test_the_like_functions_give_constant_arrays_that_mix_with_values() -> None:
    def f(x: Any) -> Any:
        total = np.zeros_like(x)
        assert type(total) is np.ndarray and total.shape == (3,)
        for k in range(3):
            total = total + x * k
        return np.sum(total * np.full_like(x, 2.0, shape=(3,)))

    np.testing.assert_array_equal(tapegrad.grad(f)(V), np.full(3, 6.0))
    assert np.ones_like(Value(M), dtype=np.float32).dtype == np.float32


def test_item_is_the_one_number_and_is_refused_inside_a_trace() -> None:
    assert Value(np.array([2.5])).item() == 2.5
    with pytest.raises(ShapeError, match="item\\(\\) of a Value of shape"):
        Value(M).item()
    with pytest.raises(tapegrad.errors.ConcretizationError):
        tapegrad.grad(lambda x: x.sum().item())(V)


def test_take_refuses_out_and_clipping_modes() -> None:
    with pytest.raises(InputTypeError, match="take: out= and mode="):
        np.take(Value(M), [0, 5], mode="clip")
    with pytest.raises(ShapeError):
        np.take(Value(M), [0], axis=2)


def test_the_zeroth_matrix_power_is_a_constant_identity() -> None:
    identity = np.linalg.matrix_power(Value(np.ones((2, 3, 3))), 0)
    assert type(identity) is np.ndarray
    np.testing.assert_array_equal(identity, np.linalg.matrix_power(np.ones((2, 3, 3)), 0))


def test_cov_refuses_frequency_and_analytic_weights() -> None:
    with pytest.raises(InputTypeError, match="cov: fweights=, aweights= and dtype= are not supported"):
        np.cov(Value(M), aweights=np.ones(4))


def test_round_takes_whole_numbers_only() -> None:
    """np.round(x, 2) would need a scaled rounding op; the message says how to write it."""
    with pytest.raises(InputTypeError, match=r"round: only decimals=0 .* np.round\(x \* 100\) / 100"):
        np.round(Value(M), 2)
    np.testing.assert_array_equal(np.round(Value(M / 3)).data, np.round(M / 3))

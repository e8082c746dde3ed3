"""``np.reshape(v, shape, order="F")`` and ``v.reshape(..., order="F")``: Fortran order, as numpy's.

Found by the corpus (tests/corpus): ``np.reshape`` refused ``order=`` although ``np.ravel`` took it.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value
from tapegrad.errors import InputTypeError

X = np.arange(24.0).reshape(2, 3, 4) / 7.0


@pytest.mark.parametrize("shape", [(4, 6), (6, -1), 24, (2, 2, 3, 2), (-1,)])
def test_fortran_order_values_are_numpys(shape: object) -> None:
    np.testing.assert_array_equal(np.reshape(Value(X), shape, order="F").data, np.reshape(X, shape, order="F"))
    np.testing.assert_array_equal(Value(X).reshape(shape, order="F").data, X.reshape(shape, order="F"))
    np.testing.assert_array_equal(np.reshape(Value(X), shape, order="C").data, np.reshape(X, shape))


def test_the_method_takes_the_shape_as_separate_ints_too() -> None:
    np.testing.assert_array_equal(Value(X).reshape(4, 6, order="F").data, X.reshape(4, 6, order="F"))


def test_fortran_order_gradient_replay_and_generated_code() -> None:
    weights = np.cos(np.arange(24.0)).reshape(6, 4)

    def f(x: object) -> object:
        return np.sum(np.reshape(x, (6, 4), order="F") * weights)

    gradient = tapegrad.grad(f)(X)
    assert_close_to([gradient], numerical_gradients(f, [X]))
    np.testing.assert_array_equal(gradient, np.reshape(weights, X.shape, order="F"))
    tape = tapegrad.grad_tape(tapegrad.trace(f, X))
    for ours, theirs in zip(tape.compile("numpy")(X + 1.0), tape(X + 1.0)):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("order", ["A", "K", "c"])
def test_memory_layout_orders_are_refused_by_name(order: str) -> None:
    with pytest.raises(InputTypeError, match="reshape: order must be 'C' or 'F'"):
        np.reshape(Value(X), (4, 6), order=order)

"""What numpy users reach for on array Values: conversions, numpy's functions, equality, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OpKind
from tapegrad.errors import InputTypeError, ShapeError


def test_equal_and_not_equal_record_the_comparison() -> None:
    x = Value(np.array([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(tapegrad.where(tapegrad.equal(x, 0.0), 5.0, 7.0).data, [5.0, 7.0, 5.0])
    np.testing.assert_array_equal(tapegrad.not_equal(x, 0.0).data, [0.0, 1.0, 0.0])
    tape = tapegrad.trace(lambda x: tapegrad.where(tapegrad.equal(x, 0.0), x * 2.0, x * 3.0).sum(), x.data)
    np.testing.assert_array_equal(tape.gradient(np.array([0.0, 2.0, 0.0]))[0], [2.0, 3.0, 2.0])
    np.testing.assert_array_equal((x == 0.0).data, [1.0, 0.0, 1.0])  # the operators record the same comparison
    np.testing.assert_array_equal((x != 0.0).data, [0.0, 1.0, 0.0])
    assert x in {x} and hash(x) == object.__hash__(x)  # hashing stays by identity


def test_float_and_int_of_a_one_number_value() -> None:
    loss = (Value(np.ones((2, 2), np.float32)) * 3.0).mean()
    assert float(loss) == 3.0 and int(loss) == 3 and type(float(loss)) is float
    with pytest.raises(ShapeError, match=r"float\(\) of a Value of shape \(3,\): it is not one number"):
        float(Value(np.ones(3)))
    with pytest.raises(ShapeError, match=r"int\(\) of a Value of shape \(2, 2\)"):
        int(Value(np.ones((2, 2))))


def test_numpy_reductions_of_a_value_are_recorded() -> None:
    v = Value(np.array([1.0, 5.0, 3.0]))
    total, mean, top = np.sum(v), np.mean(v), np.max(v)
    assert (total.data, mean.data, top.data) == (9.0, 3.0, 5.0)
    (total + mean + top).backward()
    np.testing.assert_allclose(v.grad, [1 + 1 / 3, 2 + 1 / 3, 1 + 1 / 3])
    with pytest.raises(InputTypeError, match="dtype= and out= are not supported"):
        np.sum(v, out=np.zeros(()))


def test_numpy_may_not_turn_a_value_into_an_array() -> None:
    with pytest.raises(InputTypeError, match=r"would lose its tape; use the Value's methods"):
        np.array(Value(np.ones(3)))


def test_comparisons_keep_float32() -> None:
    w = Value(np.ones(3, np.float32))
    assert (w > 0).dtype == np.float32 and (w * (w > 0)).dtype == np.float32
    assert (Value(np.ones(3)) > np.float32(0)).dtype == np.float64
    tape = tapegrad.trace(lambda w: (w * (w > 0)).sum(), np.ones(3, np.float32))
    assert tape.compile("numpy")(np.full(3, 2.0, np.float32)) == 6.0


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda x: x.sum(axis=1.0), InputTypeError, r"sum: axis must be an int or a tuple of ints, got 1\.0"),
        (lambda x: x.softmax(axis=(0, 1)), InputTypeError, r"log_softmax: axis must be one int, got \(0, 1\)"),
        (lambda x: x.astype("bogus"), InputTypeError, r"astype: 'bogus' is not a numpy dtype"),
        (lambda x: Value([[1.0, 2.0], [3.0]]), InputTypeError, r"must be a number or a rectangular array"),
    ],
)
def test_misuse_gets_a_tapegrad_error(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(Value(np.ones((2, 3))))  # type: ignore[operator]


def test_an_empty_index_list_selects_nothing() -> None:
    assert Value(np.arange(3.0))[[]].shape == (0,)


def test_the_optimiser_keeps_broadcasts_and_transposes_of_constants_as_views() -> None:
    X = np.random.default_rng(0).normal(size=(1000, 2))
    tape = tapegrad.trace(lambda W: (X @ W).tanh().mean(), np.ones((2, 3)))
    optimized = tapegrad.optimize(tapegrad.grad_tape(tape))
    biggest = max(np.size(v) for v in optimized.values)
    assert biggest == 3000  # the activations; no folded (1000, 3) seed or second copy of X
    constants = [v for kind, v in zip(optimized.ops, optimized.values) if kind is OpKind.CONST]
    assert sum(np.size(v) for v in constants) <= X.size + 10
    W = np.random.default_rng(1).normal(size=(2, 3))
    assert optimized(W)[0] == tape(W)
    np.testing.assert_array_equal(optimized(W)[1], tape.gradient(W)[0])

"""Misuse of array Values: ShapeError naming the op and the shapes, and the other tapegrad errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value, where
from tapegrad.errors import InputTypeError, NonScalarOutputError, ShapeError, TapegradError

# ---------------------------------------------------------------- errors


def _x() -> Value:
    return Value(np.arange(12.0).reshape(3, 4))


SHAPE_ERRORS = [
    pytest.param(lambda: _x() + Value(np.ones(3)), r"add: operands f64\[3,4\] and f64\[3\] do not fit", id="broadcast"),
    pytest.param(lambda: _x() * np.ones((2, 4)), r"mul: operands f64\[3,4\] and f64\[2,4\]", id="broadcast numpy"),
    pytest.param(
        lambda: where(_x() > 0, _x(), np.ones(2)), r"where: operands .*f64\[3,4\].*f64\[2\]", id="broadcast where"
    ),
    pytest.param(
        lambda: _x() @ Value(np.ones((3, 2))),
        r"matmul: f64\[3,4\] @ f64\[3,2\]: the last axis of the left operand \(4\) must match "
        r"the second-to-last axis of the right one \(3\)",
        id="matmul inner",
    ),
    pytest.param(
        lambda: _x() @ np.ones(3),
        r"matmul: f64\[3,4\] @ f64\[3\].*only axis of the right one \(3\)",
        id="matmul vector",
    ),
    pytest.param(
        lambda: Value(2.0) @ Value(3.0),
        r"matmul: operands f64\[\] and f64\[\] must have at least one axis",
        id="matmul scalars",
    ),
    pytest.param(lambda: Value(np.ones(2)) @ 3.0, r"matmul: operands f64\[2\] and f64\[\]", id="matmul vector scalar"),
    pytest.param(
        lambda: Value(np.ones((2, 3, 4))) @ Value(np.ones((5, 4, 2))),
        r"matmul: operands f64\[2,3,4\] and f64\[5,4,2\]",
        id="matmul batch",
    ),
    pytest.param(
        lambda: _x().reshape(5, 2), r"reshape: operands f64\[3,4\] do not fit.*size 12.*\(5,2\)", id="reshape size"
    ),
    pytest.param(lambda: _x().reshape(-1, -1), r"reshape: operands f64\[3,4\]", id="reshape two unknowns"),
    pytest.param(
        lambda: _x().transpose(0, 0),
        r"transpose: axes \(0, 0\) are not a permutation of the 2 axes of f64\[3,4\]",
        id="transpose repeated",
    ),
    pytest.param(lambda: _x().transpose(0, 1, 2), r"transpose: axes \(0, 1, 2\) .* f64\[3,4\]", id="transpose long"),
    pytest.param(lambda: _x().transpose(0, 2), r"transpose: axes \(0, 2\) .* f64\[3,4\]", id="transpose out of range"),
    pytest.param(
        lambda: _x()[3],
        r"getitem: operands f64\[3,4\] do not fit: index 3 is out of bounds for axis 0 with size 3",
        id="index out of range",
    ),
    pytest.param(lambda: _x()[:, -5], r"getitem: .*f64\[3,4\].*index -5 is out of bounds for axis 1", id="index -5"),
    pytest.param(
        lambda: _x()[np.array([0, 7])],
        r"getitem: .*f64\[3,4\].*index 7 is out of bounds",
        id="index array out of range",
    ),
    pytest.param(lambda: _x()[0, 0, 0], r"getitem: .*f64\[3,4\].*too many indices", id="too many indices"),
    pytest.param(lambda: _x()[np.array([True, False])], r"getitem: .*f64\[3,4\].*boolean index", id="mask shape"),
    pytest.param(lambda: Value(2.0)[0], r"cannot index a scalar \(f64\[\]\)", id="index a scalar"),
    pytest.param(
        lambda: tapegrad.concatenate([_x(), Value(np.ones((2, 3)))], axis=1),
        r"concatenate: shapes \[\(3, 4\), \(2, 3\)\] differ outside axis 1",
        id="concatenate shapes",
    ),
    pytest.param(
        lambda: tapegrad.concatenate([_x(), Value(np.ones(4))]),
        r"concatenate: .*same number of axes.*\[\(3, 4\), \(4,\)\]",
        id="concatenate ndim",
    ),
    pytest.param(
        lambda: tapegrad.concatenate([Value(1.0), Value(2.0)]), r"concatenate: .*at least one", id="concatenate scalars"
    ),
    pytest.param(lambda: tapegrad.concatenate([]), r"concatenate: needs at least one array", id="concatenate none"),
    pytest.param(
        lambda: tapegrad.concatenate([_x(), _x()], axis=2),
        r"concatenate: axis 2 is out of range",
        id="concatenate axis",
    ),
    pytest.param(
        lambda: tapegrad.stack([_x(), Value(np.ones((3, 3)))]),
        r"stack: arrays must all have one shape, got \[\(3, 4\), \(3, 3\)\]",
        id="stack shapes",
    ),
    pytest.param(lambda: tapegrad.stack([_x(), _x()], axis=3), r"stack: axis 3 is out of range", id="stack axis"),
    pytest.param(lambda: _x().sum(axis=2), r"sum: axis 2 is out of range for an array of 2 dimension", id="sum axis"),
    pytest.param(lambda: _x().mean(axis=-3), r"mean: axis -3 is out of range", id="mean axis"),
    pytest.param(lambda: _x().max(axis=(0, 5)), r"max: axis 5 is out of range", id="max axis"),
    pytest.param(lambda: _x().logsumexp(axis=2), r"logsumexp: axis 2 is out of range", id="logsumexp axis"),
    pytest.param(lambda: _x().softmax(axis=2), r"log_softmax: axis 2 is out of range", id="softmax axis"),
    pytest.param(lambda: _x().sum(axis=(0, -2)), r"sum: repeated axis", id="repeated axis"),
    pytest.param(lambda: Value(np.zeros((0, 3))).max(axis=0), r"max: operands f64\[0,3\]", id="max of nothing"),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([0, 1])),
        r"cross_entropy: targets must be 3 integer class indices for logits f64\[3,4\], got an array of shape \(2,\)",
        id="targets shape",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([[0], [1], [2]])),
        r"cross_entropy: .*shape \(3, 1\)",
        id="targets 2d",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([0, 1, 4])),
        r"cross_entropy: targets must lie in \[0, 4\), got values from 0 to 4",
        id="targets too big",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([0, -1, 2])),
        r"cross_entropy: targets must lie in \[0, 4\), got values from -1",
        id="targets negative",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([0.0, 1.0, 2.0])),
        r"cross_entropy: .*integer class indices.*dtype float64",
        id="targets float",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(_x(), np.array([True, False, True])),
        r"cross_entropy: .*dtype bool",
        id="targets bool",
    ),
    pytest.param(
        lambda: tapegrad.cross_entropy(Value(np.ones(4)), np.array([0])),
        r"cross_entropy: logits must be \(batch, classes\), got f64\[4\]",
        id="logits 1d",
    ),
]


@pytest.mark.parametrize("make, message", SHAPE_ERRORS)
def test_shape_errors_name_the_op_and_the_shapes(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        make()


def test_shape_error_is_raised_at_record_time_inside_a_trace() -> None:
    def f(x: Any) -> Any:
        return x @ x

    with pytest.raises(ShapeError, match=r"matmul: f64\[2,3\] @ f64\[2,3\]"):
        tapegrad.trace(f, np.ones((2, 3)))
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, TapegradError)


def test_the_truth_of_an_array_value_is_ambiguous() -> None:
    x = Value(np.array([1.0, -1.0]))
    with pytest.raises(ShapeError, match=r"truth of an array Value of shape \(2,\) is ambiguous"):
        bool(x > 0)
    with pytest.raises(ShapeError, match="ambiguous"):
        if x:
            pass
    assert bool(Value(np.array([2.0])) > 1.0) is True  # one element is fine, as numpy
    with pytest.raises(ShapeError, match="ambiguous"):
        tapegrad.trace(lambda v: v * 2.0 if v > 0 else v, np.ones(3))


def test_backward_of_an_array_result_asks_for_a_scalar() -> None:
    x = Value(np.ones((3, 4)))
    with pytest.raises(NonScalarOutputError, match=r"backward\(\) needs a scalar.*shape \(3, 4\).*\.sum\(\)"):
        (x * 2.0).backward()
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


def test_backward_of_an_array_leaf_asks_for_a_scalar() -> None:
    x = Value(np.ones(3))
    with pytest.raises(NonScalarOutputError, match=r"backward\(\) needs a scalar"):
        x.backward()


def test_gradients_of_array_outputs_need_a_seed() -> None:
    tape = tapegrad.trace(lambda a: a * a, np.array([1.0, 2.0]))
    with pytest.raises(NonScalarOutputError, match=r"'out' of tape .* is an array \(f64\[2\]\).*seed="):
        tape.gradient(np.array([3.0, 4.0]))
    with pytest.raises(NonScalarOutputError, match="is an array"):
        tapegrad.grad(lambda a: a * a)(np.array([1.0, 2.0]))
    with pytest.raises(NonScalarOutputError, match="is an array"):
        tapegrad.grad_tape(tape)
    (g,) = tape.gradient(np.array([3.0, 4.0]), seed=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(g, [6.0, 80.0])


def test_replaying_an_array_tape_at_another_shape_is_refused() -> None:
    tape = tapegrad.trace(lambda W, x: (x @ W).sum(), np.ones((3, 2)), np.ones((4, 3)))
    message = r"input 'W' of tape '<lambda>' was recorded as f64\[3,2\] but is given as f64\[3,3\].*trace it again"
    with pytest.raises(ShapeError, match=message):
        tape(np.ones((3, 3)), np.ones((4, 3)))
    with pytest.raises(ShapeError, match=r"input 'x' .* f64\[4,3\] but is given as f64\[\]"):
        tape.gradient(np.ones((3, 2)), 1.0)


def test_a_value_index_picks_rows_and_must_be_the_whole_index() -> None:
    x = Value(np.arange(4.0))
    assert x[Value(1.0)].data == 1.0 and list(x[Value(np.array([3.0, 3.0]))].data) == [3.0, 3.0]
    with pytest.raises(InputTypeError, match=r"a Value must be the whole index.*index with its \.data"):
        Value(np.ones((2, 2)))[Value(1.0), 0]
    with pytest.raises(ShapeError, match=r"take: indices must be whole numbers in \[0, 4\)"):
        x[Value(np.array([0.5]))]
    with pytest.raises(ShapeError, match=r"got values from 4.0 to 4.0"):
        x[Value(4.0)]
    with pytest.raises(InputTypeError, match="integers or booleans, got dtype float64"):
        x[np.array([0.0, 1.0])]
    with pytest.raises(InputTypeError, match="not a bool"):
        x[True]


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([1 + 2j]), np.array([None], dtype=object)])
def test_arrays_of_non_real_numbers_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(InputTypeError, match="must hold real numbers, got an array of dtype"):
        Value(bad)


def test_len_of_a_scalar_value_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="len"):
        len(Value(2.0))

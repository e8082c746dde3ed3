"""trace, grad, value_and_grad, function: names, structure, guards, nesting, errors."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import sympy as sp

import tapegrad
from tapegrad import Value
from tapegrad.errors import (
    ArgumentCountError,
    ConcretizationError,
    InputTypeError,
    NonScalarOutputError,
    OutputTypeError,
    RetraceWarning,
    ShapeError,
    StaleTapeError,
)


def test_inputs_are_named_after_parameters_or_names() -> None:
    def f(alpha: Value, beta: Value) -> Value:
        return alpha * beta

    assert tapegrad.trace(f, 1.0, 2.0).inputs == ("alpha", "beta")
    assert tapegrad.trace(f, 1.0, 2.0, names=["λ", "class"]).inputs == ("λ", "class")
    assert tapegrad.trace(lambda *xs: xs[0] + xs[1], 1.0, 2.0).inputs == ("xs0", "xs1")


def test_outputs_keep_the_structure_f_returned() -> None:
    single = tapegrad.trace(lambda x: x * 2, 1.0)
    pair = tapegrad.trace(lambda x, y: (x + y, x * y), 1.0, 2.0)
    listed = tapegrad.trace(lambda x: [x, 2.0], 1.0)
    assert single(3.0) == 6.0 and single.outputs == ("out",)
    assert pair(2.0, 5.0) == (7.0, 10.0) and pair.outputs == ("out0", "out1")
    assert listed(4.0) == [4.0, 2.0]


def test_grad_and_value_and_grad_as_jax() -> None:
    f = lambda x, y: x * y.sin()  # noqa: E731
    assert tapegrad.grad(f)(2.0, 0.5) == math.sin(0.5)
    assert tapegrad.grad(f, argnums=1)(2.0, 0.5) == 2.0 * math.cos(0.5)
    assert tapegrad.grad(f, argnums=(0, 1))(2.0, 0.5) == (math.sin(0.5), 2.0 * math.cos(0.5))
    value, g = tapegrad.value_and_grad(f)(2.0, 0.5)
    assert value == 2.0 * math.sin(0.5) and g == math.sin(0.5)
    tape = tapegrad.trace(f, 1.0, 1.0)
    assert tapegrad.grad(tape, argnums=1)(2.0, 0.5) == 2.0 * math.cos(0.5)


def test_higher_derivatives_by_nesting_grad() -> None:
    d = tapegrad.grad
    x = sp.Symbol("x")
    for n, f in enumerate([d(lambda v: v.tanh()), d(d(lambda v: v.tanh())), d(d(d(d(lambda v: v.tanh()))))]):
        order = [1, 2, 4][n]
        expected = float(sp.diff(sp.tanh(x), x, order).subs(x, 0.3))
        assert f(0.3) == pytest.approx(expected, rel=1e-12)


def test_nested_derivatives_do_not_confuse_perturbations() -> None:
    g = tapegrad.grad
    assert g(lambda x: x * g(lambda y: x + y)(1.0))(1.0) == 1.0
    assert g(lambda x: g(lambda y: x * y)(1.0))(2.0) == 1.0


def test_grad_errors() -> None:
    with pytest.raises(NonScalarOutputError, match="seed"):
        tapegrad.grad(lambda x: (x, x))(1.0)
    with pytest.raises(ArgumentCountError, match="argnums=2"):
        tapegrad.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(InputTypeError, match="argnums"):
        tapegrad.grad(lambda x: x, argnums="0")(1.0)  # type: ignore[arg-type]


def test_trace_errors() -> None:
    with pytest.raises(ArgumentCountError, match="example argument"):
        tapegrad.trace(lambda x, y: x, 1.0)
    with pytest.raises(ArgumentCountError, match="names"):
        tapegrad.trace(lambda x: x, 1.0, names=["a", "b"])
    with pytest.raises(InputTypeError, match="strings"):
        tapegrad.trace(lambda x: x, 1.0, names=[3])  # type: ignore[list-item]
    with pytest.raises(InputTypeError, match="'x'"):
        tapegrad.trace(lambda x: x, "1.0")
    with pytest.raises(OutputTypeError, match="returned str"):
        tapegrad.trace(lambda x: "no", 1.0)


def test_guards_are_recorded_only_when_python_asks_for_truth() -> None:
    tape = tapegrad.trace(lambda x: tapegrad.where(x > 0, x.sqrt(), 0.0), 1.0)
    assert "guard" not in str(tape)
    assert tape(-1.0) == 0.0  # replays both sides; no stale tape

    def branchy(x: Value) -> Value:
        if x > 0 and x < 10:
            return x * 2
        return -x

    tape = tapegrad.trace(branchy, 1.0)
    assert str(tape).count("guard") == 2
    assert tape(3.0) == 6.0


def test_flipped_guard_raises_stale_tape_error_naming_the_line() -> None:
    def f(x: Value) -> Value:
        if x > 0:  # the guard's line
            return x * 2
        return -x

    tape = tapegrad.trace(f, 1.0)
    with pytest.raises(StaleTapeError, match=r"x > 0 \(recorded True\) at .*test_functional.py:\d+ is now False"):
        tape(-1.0)
    with pytest.raises(StaleTapeError, match="tapegrad.where"):
        tape.gradient(-1.0)
    with pytest.raises(StaleTapeError, match="at 2 of 3 points"):
        tape(np.array([-1.0, 2.0, -3.0]))


def test_function_keeps_one_tape_per_branch_pattern() -> None:
    calls = []

    @tapegrad.function
    def f(x: Value) -> Value:
        calls.append(1)
        return x * 2 if x > 0 else -x

    assert f(3.0) == 6.0 and f(-3.0) == 3.0 and f(5.0) == 10.0 and f(-1.0) == 1.0
    assert len(f.tapes) == 2 and len(calls) == 2
    assert f.gradient(5.0) == (2.0,) and f.gradient(-5.0) == (-1.0,)
    assert f.__name__ == "f"
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (lambda x: x * x.size, [3.0, 3.0, 3.0]),
        (lambda x: x * x.shape[0], [3.0, 3.0, 3.0]),
        (lambda x: x * (x.ndim + 1), [2.0, 2.0, 2.0]),
        (lambda x: x * len(x), [3.0, 3.0, 3.0]),
        (lambda x: x * sum(1 for _ in x), [3.0, 3.0, 3.0]),
    ],
)
def test_function_traces_at_the_arrays_when_the_body_reads_a_shape(f: Any, expected: list[float]) -> None:
    # Issue 14.13: traced at one point, x * x.size replayed as x * 1 on the batch.
    wrapped = tapegrad.function(f)
    np.testing.assert_array_equal(wrapped(np.ones(3)), expected)
    np.testing.assert_array_equal(f(Value(np.ones(3))).data, expected)
    np.testing.assert_array_equal(wrapped(np.ones(2)), np.array(expected[:2]) * (2 / 3 if expected[0] == 3 else 1))
    np.testing.assert_array_equal(tapegrad.function(lambda x: x * 2)(np.ones(3)), [2.0, 2.0, 2.0])


def test_a_traced_value_stored_into_a_numpy_array_is_refused_clearly() -> None:
    # Issue 14.3: numpy said only "setting an array element with a sequence".
    def f(x: Value) -> Value:
        y = np.zeros(3)
        y[0] = x[0] * 2
        return x.sum() + y.sum()

    message = r"stored into a numpy array at .*test_functional.py:\d+ .*tapegrad.stack"
    with pytest.raises(ConcretizationError, match=message):
        tapegrad.trace(f, np.ones(3))
    assert f(Value(np.ones(3))).data == 5.0  # eagerly, numpy keeps the number (detached, as with PyTorch)


def test_function_keeps_at_most_cache_size_tapes_least_recently_used_dropped() -> None:
    traced = []

    @tapegrad.function(cache_size=2)
    def f(x: Value) -> Value:
        traced.append(x._data)  # a spy on each trace (reading .data itself is refused)
        if x > 1:
            return x * 3
        return x * 2 if x > 0 else -x

    assert [f(2.0), f(0.5), f(2.0), f(-1.0)] == [6.0, 1.0, 6.0, 1.0]  # three branch patterns
    assert f.cache_size == 2 and len(f.tapes) == 2
    assert f.tapes[0](-2.0) == 2.0 and f.tapes[1](5.0) == 15.0  # most recently used first; 0 < x <= 1 dropped
    assert f(0.25) == 0.5 and traced == [2.0, 0.5, -1.0, 0.25]  # so it is traced again
    assert tapegrad.Function(f.f).cache_size == 16
    for bad in [0, -1, 2.5, True, None]:
        with pytest.raises(InputTypeError, match="cache_size must be a positive int"):
            tapegrad.function(f.f, cache_size=bad)  # type: ignore[arg-type]


def test_function_keeps_one_tape_per_branch_pattern_of_batches_that_disagree() -> None:
    """A batch whose points take different branches is traced again on every call, and fails;
    it used to keep a new tape each time and try them all on every call (3,000 calls: 218 s)."""

    @tapegrad.function
    def f(x: Value) -> Value:
        return x * 2 if x > 0 else -x

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetraceWarning)
        for _ in range(300):
            with pytest.raises(StaleTapeError, match=r"at \d of 4 points"):
                f(np.concatenate([rng.normal(size=3), [1.0, -1.0]])[1:])
    assert len(f.tapes) == 2


def test_function_warns_when_most_calls_trace_again() -> None:
    @tapegrad.function
    def halve(x: Value) -> Value:
        while x > 1:  # each number of halvings is another branch pattern
            x = x / 2
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)
        for n in range(10):  # ten traces in the first 20 calls: not most of them
            assert halve(2.0**n) == 1.0 and halve(2.0**n) == 1.0
    with pytest.warns(RetraceWarning, match=r"traced halve again on 11 of its last 20 calls.*cache_size=16.*where"):
        for n in range(10, 12):
            halve(2.0**n)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)
        halve(2.0**30)  # said once


def test_tape_call_errors() -> None:
    tape = tapegrad.trace(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(ArgumentCountError, match=r"takes 2 inputs \(x, y\) but was given 3"):
        tape(1.0, 2.0, 3.0)
    with pytest.raises(InputTypeError, match="input 'y'"):
        tape(1.0, None)
    with pytest.raises(InputTypeError, match="input 'x'"):
        tape(1j, 2.0)
    with pytest.raises(InputTypeError, match="dtype"):
        tape(np.array(["a"]), 2.0)
    multi = tapegrad.trace(lambda x: (x, x * x), 1.0)
    with pytest.raises(NonScalarOutputError, match="2 outputs"):
        multi.gradient(1.0)
    with pytest.raises(ArgumentCountError, match="seed has 3 entries"):
        multi.gradient(1.0, seed=(1.0, 2.0, 3.0))
    assert multi.gradient(3.0, seed=(1.0, 1.0)) == (1.0 + 6.0,)


def test_tape_called_on_values_records_onto_the_eager_tape() -> None:
    tape = tapegrad.trace(lambda x: x * x + 1, 1.0)
    w = Value(3.0)
    y = tape(w)
    assert isinstance(y, Value) and y.data == 10.0
    y.backward()
    assert w.grad == 6.0


# ---------------------------------------------------------------- keyword arguments (issue 19)


def scaled_square(x: Any, y: Any = 1.0, *, shift: float = 0.0) -> Any:
    return y * x**2 + shift


def test_grad_passes_keyword_arguments_through() -> None:
    assert tapegrad.grad(scaled_square)(3.0, y=3.0) == 18.0
    assert tapegrad.grad(scaled_square)(3.0, y=3.0, shift=5.0) == 18.0
    assert tapegrad.value_and_grad(scaled_square)(3.0, y=0.5, shift=1.0) == (5.5, 3.0)
    assert tapegrad.grad(scaled_square, argnums=(0, 1))(3.0, 2.0, shift=1.0) == (12.0, 9.0)
    assert tapegrad.grad(tapegrad.grad(scaled_square))(3.0, y=2.0) == 4.0  # nests
    assert tapegrad.grad(scaled_square).__name__ == "scaled_square"


def test_keyword_arguments_to_a_tape_are_refused() -> None:
    tape = tapegrad.trace(scaled_square, 1.0, 2.0)
    with pytest.raises(ArgumentCountError, match="takes its inputs by position.*pass them in the order x, y"):
        tapegrad.grad(tape)(1.0, y=2.0)


def test_trace_refuses_names_with_a_lone_surrogate() -> None:
    """No tape file, generated module or terminal can hold one: refused where the name enters."""
    message = r"the input name 'a\\ud800' holds a lone surrogate \('\\ud800' at character 1\)"
    with pytest.raises(InputTypeError, match=message):
        tapegrad.trace(lambda x: x * 2.0, 1.0, names=["a\ud800"])

    def f(x: Value) -> Value:
        return x * 2.0

    f.__name__ = "\udfff"
    with pytest.raises(InputTypeError, match=r"the function's __name__ '\\udfff' holds a lone surrogate"):
        tapegrad.trace(f, 1.0)

    def named(x: Value) -> Value:
        out = x * 2.0
        out.name = "out\ud800"
        return out

    with pytest.raises(InputTypeError, match=r"the output name 'out\\ud800' holds a lone surrogate"):
        tapegrad.trace(named, 1.0)


def test_a_ragged_input_is_an_input_type_error() -> None:
    tape = tapegrad.trace(lambda x, y: x * y, 2.0, 3.0)
    with pytest.raises(InputTypeError, match=r"input 'x' must be a number or a rectangular array"):
        tape([1.0, [2.0, 3.0]], 1.0)
    with pytest.raises(InputTypeError, match=r"input 'y' must be a number or a rectangular array"):
        tape.gradient(1.0, [[1.0], [2.0, 3.0]])


@pytest.mark.parametrize("seed", [np.ones(4), np.ones((1, 3)), np.ones((3, 1)), 2.0, np.ones((2, 3))], ids=repr)
def test_a_seed_of_another_shape_than_the_output_is_a_shape_error(seed: object) -> None:
    """(3, 1) and (2, 3) seeds used to broadcast into a wrong gradient without a word; (4,) gave numpy's error."""
    tape = tapegrad.trace(lambda x: x * 2.0, np.ones(3))
    for gradient in (tape.gradient, tape.value_and_gradient):
        with pytest.raises(ShapeError, match=r"the seed for output 'out' .* pass seed= an array of shape \(3,\)"):
            gradient(np.ones(3), seed=seed)
    assert np.array_equal(tape.gradient(np.ones(3), seed=np.array([1.0, 2.0, 3.0]))[0], [2.0, 4.0, 6.0])


def test_a_seed_must_fit_the_batch_of_a_tape_of_numbers() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y, x + y), 2.0, 3.0)
    batch = (np.ones(3), np.full(3, 2.0))
    with pytest.raises(ShapeError, match=r"the seed for output 'out0' .* has the batch's shape \(3,\)"):
        tape.gradient(*batch, seed=(np.ones(4), np.ones(3)))
    with pytest.raises(ShapeError, match=r"has the batch's shape \(\)"):
        tape.gradient(1.0, 2.0, seed=(np.ones(3), 1.0))
    assert [list(g) for g in tape.gradient(*batch, seed=(np.ones(3), 1.0))] == [[3.0] * 3, [2.0] * 3]

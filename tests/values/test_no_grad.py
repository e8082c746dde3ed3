"""tapegrad.no_grad(): computing without recording, as a block, a decorator, per thread."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import tapegrad
from tapegrad import Value, no_grad
from tapegrad.core.state import STATE
from tapegrad.errors import ConcretizationError, NonFiniteError
from tapegrad.nn import MLP, batched


def eager_records() -> int:
    return 0 if STATE.eager is None else len(STATE.eager)


def test_nothing_is_recorded_and_results_are_new_leaves() -> None:
    w = Value(0.5)
    recorded = ((w * 2.0).tanh() + 1) ** 2 / 3.0 - w.exp()
    before = eager_records()
    with no_grad():
        y = ((w * 2.0).tanh() + 1) ** 2 / 3.0 - w.exp()
        assert eager_records() == before
    assert eager_records() == before
    assert type(y) is Value and y._tape is None and y.grad == 0.0 and y.name is None
    assert y.data == recorded.data


def test_every_op_gives_the_recorded_number() -> None:
    """Scalars through every unary method and comparison, and a batched MLP on arrays, bit for bit."""
    x = Value(0.7)
    methods = ["relu", "tanh", "exp", "log", "sigmoid", "sin", "cos", "sqrt", "abs", "__neg__"]
    recorded = [getattr(x, m)().data for m in methods] + [(x > 0.5).data, (x <= 0.5).data, (2.0**x).data]
    with no_grad():
        untracked = [getattr(x, m)().data for m in methods] + [(x > 0.5).data, (x <= 0.5).data, (2.0**x).data]
    assert untracked == recorded
    v = Value(np.arange(3.0))
    recorded_operands = [(x + 1).data, (3 - x).data, (v * [1, 2, 3]).data, (v @ np.ones(3)).data]
    with no_grad():
        untracked_operands = [(x + 1).data, (3 - x).data, (v * [1, 2, 3]).data, (v @ np.ones(3)).data]
    np.testing.assert_equal(untracked_operands, recorded_operands)
    model, X = batched.MLP(8, [16, 16, 1], seed=3), np.random.default_rng(0).normal(size=(32, 8))
    expected = model(X).softmax(axis=0).sum(axis=1)
    with no_grad():
        got = model(X).softmax(axis=0).sum(axis=1)
    assert got._tape is None and got.grad.shape == (32,)
    np.testing.assert_array_equal(got.data, expected.data)


def test_backward_through_a_no_grad_result_gives_nothing_to_the_leaves() -> None:
    w = Value(0.5)
    with no_grad():
        y = (w * 2.0).tanh()
    z = y * 3.0 + w
    z.backward()
    assert y.grad == 3.0  # y is a leaf of its own, as Value(y.data)
    assert w.grad == 1.0  # only the path recorded outside the block


def test_blocks_nest_and_recording_resumes_after() -> None:
    w = Value(0.5)
    with no_grad():
        with no_grad():
            assert (w * 2)._tape is None
        assert (w * 2)._tape is None  # the inner block's end does not turn recording back on
    assert STATE.no_grad == 0
    z = w * 2
    assert z._tape is not None
    z.backward()
    assert w.grad == 2.0


def test_an_exception_leaves_the_block() -> None:
    w = Value(0.5)
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError
    assert STATE.no_grad == 0 and (w * 2)._tape is not None


def test_decorator_with_and_without_parentheses() -> None:
    w = Value(0.5)

    @no_grad
    def bare(x: Value) -> Value:
        """Doc."""
        return x * x

    @no_grad()
    def called(x: Value) -> Value:
        return x * x

    assert bare(w)._tape is None and called(w)._tape is None
    assert bare.__name__ == "bare" and bare.__doc__ == "Doc."
    assert (w * w)._tape is not None


def test_it_holds_for_the_thread_that_entered_it() -> None:
    entered, recorded = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def other() -> None:
        entered.wait(10)
        results["other"] = (Value(1.0) * 2.0)._tape is not None  # this thread still records
        recorded.set()

    thread = threading.Thread(target=other)
    thread.start()
    with no_grad():
        entered.set()
        recorded.wait(10)
        results["here"] = (Value(1.0) * 2.0)._tape is None
    thread.join(10)
    assert results == {"other": True, "here": True}


def test_trace_and_grad_inside_the_block_still_record() -> None:
    """A tape is a program, not a gradient: trace, grad and tape.gradient work inside no_grad."""
    w = Value(3.0)
    with no_grad():
        tape = tapegrad.trace(lambda x: x * w + x**2, 2.0)
        assert tapegrad.grad(lambda x: x**3)(2.0) == 12.0
        assert (w * 1.0)._tape is None  # the trace's end does not turn eager recording back on
        assert tape.gradient(1.0) == (5.0,)
        untracked = tape(Value(1.0))  # replaying over Values records nothing either
    assert tape(1.0) == 4.0 and untracked._tape is None and untracked.data == 4.0


def test_inside_a_traced_function_it_is_refused() -> None:
    def f(x: Value) -> Value:
        with no_grad():
            return x * 2

    with pytest.raises(ConcretizationError, match=r"no_grad\(\) inside the trace of 'f'.*outside the traced"):
        tapegrad.trace(f, 1.0)
    assert STATE.no_grad == 0 and not STATE.traces


def test_debug_nans_still_checks() -> None:
    with tapegrad.debug_nans(), no_grad(), pytest.raises(NonFiniteError, match="log produced nan inside no_grad"):
        Value(-1.0).log()


def test_backward_of_earlier_values_works_inside() -> None:
    w = Value(0.5)
    loss = (w * 3.0).tanh()
    with no_grad():
        loss.backward()
    assert w.grad == 3.0 * (1 - math.tanh(1.5) ** 2)


def test_an_evaluation_loop_keeps_no_tape() -> None:
    model = MLP(2, [4, 1])
    STATE.eager = STATE.current = None
    with no_grad():
        for _ in range(100):
            score = model([0.5, -0.5])
    assert STATE.eager is None and score._tape is None

"""The interpreters: batched replay, strong zeros on arrays, threads, debug_nans."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.interpret import ARRAY, FLOAT, backward, forward
from tapegrad.errors import NonFiniteError
from tapegrad.lab.testing import random_program


def program(x, y):  # type: ignore[no-untyped-def]
    z = (x * y).sin() + (x / (1 + y * y)).tanh()
    return tapegrad.maximum(z, x.exp().log()) * tapegrad.where(y > 0, y.sqrt(), 0.0) + (x - y).abs()


POINTS = [(0.5, 2.0), (-1.0, 0.25), (3.0, -2.0), (0.0, 1e-3), (-0.7, 0.0)]


def test_array_replay_equals_float_replay_point_by_point() -> None:
    tape = tapegrad.trace(program, 0.5, 2.0)
    xs = np.array([p[0] for p in POINTS])
    ys = np.array([p[1] for p in POINTS])
    values = tape(xs, ys)
    gx, gy = tape.gradient(xs, ys)
    for i, (x, y) in enumerate(POINTS):
        assert values[i] == pytest.approx(tape(x, y), rel=1e-15, abs=0)
        fx, fy = tape.gradient(x, y)
        assert gx[i] == pytest.approx(fx, rel=1e-15, abs=1e-300)
        assert gy[i] == pytest.approx(fy, rel=1e-15, abs=1e-300)


def test_eager_and_replay_agree() -> None:
    tape = tapegrad.trace(program, 0.5, 2.0)
    for x0, y0 in POINTS:
        x, y = Value(x0), Value(y0)
        out = program(x, y)
        out.backward()
        assert out.data == tape(x0, y0)
        assert (x.grad, y.grad) == tape.gradient(x0, y0)


def test_broadcasting_and_output_shapes() -> None:
    tape = tapegrad.trace(lambda x, y: x * y + 1.0, 1.0, 1.0)
    out = tape(np.ones((3, 1)), np.arange(4.0))
    assert out.shape == (3, 4)
    gx, gy = tape.gradient(np.ones((3, 1)), np.arange(4.0))
    assert gx.shape == gy.shape == (3, 4)
    constant = tapegrad.trace(lambda x: 2.0, 1.0)
    assert constant(np.zeros(5)).shape == (5,)
    assert constant.gradient(np.zeros(5))[0].shape == (5,)
    assert tape([1.0, 2.0], 3.0).tolist() == [4.0, 7.0]


def test_strong_zeros_hold_elementwise() -> None:
    tape = tapegrad.trace(lambda x: tapegrad.where(x > 0, x.sqrt(), 0.0), 1.0)
    (g,) = tape.gradient(np.array([-1.0, 0.0, 4.0]))
    assert g[0] == 0.0 and g[1] == 0.0 and g[2] == 0.25
    tape = tapegrad.trace(lambda x: x.exp().tanh(), 1.0)
    (g,) = tape.gradient(np.array([1000.0, 0.0]))
    assert g[0] == 0.0 and g[1] == pytest.approx(1 - math.tanh(1) ** 2)


def test_generic_loops_over_floats_and_arrays() -> None:
    tape = tapegrad.trace(program, 0.5, 2.0)
    out = tape.output_slots[0]
    values = forward(tape, [0.5, 2.0], FLOAT)
    assert values == tape.values
    adjoint = backward(tape, values, {out: 1.0}, FLOAT)
    batch = forward(tape, [np.array([0.5]), np.array([2.0])], ARRAY)
    batch_adjoint = backward(tape, batch, {out: np.ones(1)}, ARRAY)
    for slot in tape.input_slots:
        assert batch_adjoint[slot][0] == adjoint[slot]


def test_threads_record_and_differentiate_independently() -> None:
    def work(seed: float) -> tuple[float, float, float]:
        x = Value(seed)
        y = x
        for _ in range(2000):
            y = (y * 0.9 + 0.1).tanh() + x * 0.01
        y.backward()
        tape = tapegrad.trace(program, seed, 2.0)
        return y.data, x.grad, tape.gradient(seed, 2.0)[0]

    expected = {s: work(s) for s in (0.1, 0.2, 0.3, 0.4)}
    results: dict[float, tuple[float, float, float]] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, work(s))) for s in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_debug_nans_is_per_thread() -> None:
    seen: list[str] = []

    def other() -> None:
        seen.append(str(Value(-1.0).log().data))

    with tapegrad.debug_nans():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with pytest.raises(NonFiniteError, match="log"):
            Value(-1.0).log()
    assert seen == ["nan"]


def test_debug_nans_names_records_in_replay_and_backward() -> None:
    tape = tapegrad.trace(lambda x: x.sqrt() * 2, 4.0)
    with tapegrad.debug_nans():
        with pytest.raises(NonFiniteError, match=r"forward: record %1 = sqrt %0"):
            tape(-1.0)
        with pytest.raises(NonFiniteError, match=r"backward .* record %1 = sqrt %0"):
            tape.gradient(0.0)
    assert tape.gradient(0.0) == (math.inf,)


@pytest.mark.parametrize("seed", range(5))
def test_float_fast_path_equals_the_generic_loops(seed: int) -> None:
    from tapegrad.core.interpret import backward_float, forward_float

    xs = [0.3, -1.2, 2.5, 0.0]
    for f, point in [(random_program(300, inputs=4, seed=seed), xs), (program, [0.5, 2.0])]:
        tape = tapegrad.trace(f, *point)
        out = tape.output_slots[0]
        generic = forward(tape, point, FLOAT)
        fast = forward_float(tape, point)
        assert fast == generic
        generic_adjoint = backward(tape, generic, {out: 1.0}, FLOAT)
        fast_adjoint = backward_float(tape, fast, {out: 1.0})
        assert generic_adjoint == fast_adjoint  # None where nothing flowed, in both


def test_a_negative_zero_gradient_keeps_its_sign() -> None:
    """The first contribution is stored, not added to +0.0, as in the generic loop and generated code."""
    import math as _math

    tape = tapegrad.trace(lambda x: x * -0.0, 1.0)
    (g,) = tape.gradient(1.0)
    assert g == 0.0 and _math.copysign(1.0, g) == -1.0
    assert tapegrad.grad_tape(tape)(1.0)[1] == g and _math.copysign(1.0, tapegrad.grad_tape(tape)(1.0)[1]) == -1.0

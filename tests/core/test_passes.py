"""Optimiser passes: smaller tapes, bit-for-bit the same results, idempotent."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value
from tapegrad.core.passes import PASSES, common_subexpressions, dead_code, fold_constants, identities
from tapegrad.errors import StaleTapeError, UnknownNameError
from tapegrad.lab.testing import random_program

EDGES = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1.0, -3.5]


def bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0]) if not math.isnan(x) else -1


def same_everywhere(a: tapegrad.Tape, b: tapegrad.Tape) -> None:
    """a and b give bit-identical results (any nan counts as nan) at every edge input."""
    for x in EDGES:
        args = [x] * len(a.inputs)
        ra, rb = a(*args), b(*args)
        ra, rb = (ra, rb) if isinstance(ra, tuple) else ((ra,), (rb,))
        assert [bits(v) for v in ra] == [bits(v) for v in rb], (x, ra, rb)


# Each identity, traced, and what it must reduce to.
IDENTITIES = [
    (lambda x: x * 1.0, 1),
    (lambda x: 1.0 * x, 1),
    (lambda x: x / 1.0, 1),
    (lambda x: x - 0.0, 1),
    (lambda x: x + (-0.0), 1),
    (lambda x: (-0.0) + x, 1),
    (lambda x: -(-x), 1),  # noqa: B002
    (lambda x: x**1, 1),
    (lambda x: tapegrad.where(x > 0, x, x), 1),
    (lambda x: tapegrad.maximum(x, x), 1),
    (lambda x: tapegrad.minimum(x, x), 1),
]
NOT_IDENTITIES = [
    lambda x: x * 0.0,  # inf * 0 is nan
    lambda x: x + 0.0,  # -0.0 + 0.0 is +0.0
    lambda x: x - (-0.0),  # -0.0 - -0.0 is +0.0
    lambda x: x - x,  # inf - inf is nan
    lambda x: x / x,  # 0 / 0 is nan
]


@pytest.mark.parametrize("f, size", IDENTITIES)
def test_each_identity_is_applied_and_exact(f, size) -> None:  # type: ignore[no-untyped-def]
    tape = tapegrad.trace(f, 1.0)
    small = tapegrad.optimize(tape)
    assert len(small) == size, str(small)
    same_everywhere(tape, small)


def test_times_minus_one_becomes_neg() -> None:
    tape = tapegrad.trace(lambda x: x * -1.0, 1.0)
    small = identities(tape)
    assert "neg %0" in str(small)
    same_everywhere(tape, small)


@pytest.mark.parametrize("f", NOT_IDENTITIES)
def test_inexact_rewrites_are_never_applied(f) -> None:  # type: ignore[no-untyped-def]
    tape = tapegrad.trace(f, 1.0)
    small = tapegrad.optimize(tape)
    assert len(small) == len(dead_code(tape))
    same_everywhere(tape, small)


def test_dead_code_keeps_outputs_inputs_and_guards() -> None:
    def f(x, y):  # type: ignore[no-untyped-def]
        unused = (x * y).exp()  # noqa: F841
        if x > 0:
            return x.sin()
        return x

    tape = tapegrad.trace(f, 1.0, 2.0)
    small = dead_code(tape)
    assert small.stats() == {"input": 2, "const": 1, "gt": 1, "guard": 1, "sin": 1}
    assert small.inputs == ("x", "y") and small.outputs == ("out",)
    assert "test_passes.py" in str(small)  # the guard keeps its line
    with pytest.raises(StaleTapeError):
        small(-1.0, 2.0)


def test_common_subexpressions_normalise_commutative_ops() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y + y * x) + (x + y).sin() + (y + x).sin(), 1.0, 2.0)
    small = common_subexpressions(tape)
    assert small.stats()["mul"] == 1 and small.stats()["sin"] == 1
    same_everywhere(tape, small)
    # maximum is not commutative bit for bit: maximum(0.0, -0.0) != maximum(-0.0, 0.0)
    m = tapegrad.trace(lambda x, y: tapegrad.maximum(x, y) - tapegrad.maximum(y, x), 1.0, 2.0)
    assert common_subexpressions(m).stats()["maximum"] == 2


def test_constants_fold() -> None:
    tape = tapegrad.trace(lambda x: x * (Value(2.0) * 3.0 + 1.0) + Value(4.0).sqrt(), 1.0)
    small = tapegrad.optimize(tape)
    assert small.stats() == {"input": 1, "const": 2, "mul": 1, "add": 1}
    same_everywhere(tape, small)


def test_passes_are_idempotent_and_keep_names() -> None:
    tape = tapegrad.grad_tape(tapegrad.trace(random_program(200, inputs=3, seed=4), 0.1, 0.2, 0.3))
    for run in list(PASSES.values()) + [tapegrad.optimize]:
        once = run(tape)
        twice = run(once)
        assert once.records == twice.records and once.output_slots == twice.output_slots
        assert once.inputs == tape.inputs and once.outputs == tape.outputs
    assert len(tapegrad.optimize(tape)) < len(tape)
    assert tapegrad.optimize(tape, passes=["dce"]).records == dead_code(tape).records
    with pytest.raises(UnknownNameError, match="no optimiser pass named 'inline'"):
        tapegrad.optimize(tape, passes=["inline"])


def test_fold_constants_alone() -> None:
    tape = tapegrad.trace(lambda x: x + Value(2.0).exp(), 1.0)
    assert fold_constants(tape).stats()["const"] == 2  # exp(2) joins the original 2.0, until dce


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 80), inputs=st.integers(1, 3))
def test_optimised_tapes_agree_bit_for_bit(seed: int, n: int, inputs: int) -> None:
    program = random_program(n, inputs=inputs, seed=seed)
    tape = tapegrad.grad_tape(tapegrad.trace(program, *[0.5] * inputs))
    small = tapegrad.optimize(tape)
    rng = random.Random(seed)
    points = [[rng.choice(EDGES + [rng.uniform(-3, 3)]) for _ in range(inputs)] for _ in range(4)]
    for point in points:
        assert [bits(v) for v in small(*point)] == [bits(v) for v in tape(*point)]
    batch = [np.array([p[i] for p in points]) for i in range(inputs)]
    for a, b in zip(small(*batch), tape(*batch)):
        np.testing.assert_array_equal(a, b)

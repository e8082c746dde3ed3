"""The float reverse sweep's inlined rules and zero adjoints, bit for bit against the table's rules.

:func:`~tapegrad.core.interpret.backward_float` runs the rules of ``add``,
``mul`` and ``relu`` inline instead of calling the op table, and sends a
zero adjoint's zeros without multiplying.  Each case here
compares it with the generic :func:`~tapegrad.core.interpret.backward`, which
calls the table's rule for every record: the adjoint of every slot must have
the same bits (signed zeros and which slots hold ``None`` included; any nan
matches any nan, as IEEE leaves a nan's sign and payload to the machine).
"""

from __future__ import annotations

import itertools
import math
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value
from tapegrad.core.interpret import FLOAT, INLINED_VJPS, backward, backward_float
from tapegrad.core.ops import OPS, OpKind
from tapegrad.core.tape import Tape

SPECIAL = [0.0, -0.0, 1.5, -2.5, 5e-324, -1e308, math.inf, -math.inf, math.nan]
"""Adjoints and operands: signed zeros, a subnormal, overflow, infinities, nan."""
PREVIOUS = [None, 0.0, -0.0, 3.0, math.inf, math.nan]
"""What an operand's adjoint holds when the record is reached: nothing yet, a zero of either sign, a sum."""


def bits(x: Any) -> Any:
    """A float as its bit pattern (every nan alike), None as itself."""
    if x is None:
        return None
    if math.isnan(x):
        return "nan"
    return struct.pack("<d", x)


def assert_same_adjoints(tape: Tape, seeds: dict[int, float]) -> None:
    expected = backward(tape, tape.values, seeds, FLOAT)
    got = backward_float(tape, tape.values, seeds)
    assert [bits(g) for g in got] == [bits(g) for g in expected], (seeds, got, expected)


def one_record(kind: OpKind, operands: list[float], same: bool = False) -> Tape:
    """A tape of inputs and one ``kind`` record on them (on one input twice when ``same``)."""
    tape = Tape("case", traced=True)
    slots = [tape.append(OpKind.INPUT, (), f"x{k}", x) for k, x in enumerate(operands)]
    if same:
        slots = [slots[0]] * len(slots)
    op = OPS[kind]
    tape.append(kind, tuple(slots), None, op.scalar(*[tape.values[s] for s in slots]))  # type: ignore[misc]
    return tape


def test_the_inlined_ops_are_the_commonest_scalar_ops() -> None:
    assert INLINED_VJPS == {OpKind.ADD, OpKind.MUL, OpKind.RELU}


def test_each_inlined_rule_sends_what_the_table_sends() -> None:
    """Every adjoint, operand and earlier partial sum of SPECIAL, for every inlined op."""
    cases = 0
    for kind in sorted(INLINED_VJPS):
        arity = OPS[kind].arity
        for operands in itertools.product(SPECIAL, repeat=arity):
            for same in (False, True) if arity == 2 else (False,):
                tape = one_record(kind, list(operands), same)
                out = len(tape.ops) - 1
                for g in SPECIAL:
                    for previous in itertools.product(PREVIOUS, repeat=arity):
                        seeds = {out: g}
                        seeds.update({s: p for s, p in zip(tape.input_slots, previous) if p is not None})
                        assert_same_adjoints(tape, seeds)
                        cases += 1
    assert cases > 30_000


# ---------------------------------------------------------------- random programs full of zero adjoints

STEPS: dict[str, Any] = {
    "add": lambda x, y, j: x + y,
    "sub": lambda x, y, j: x - y,
    "mul": lambda x, y, j: x * y,
    "neg": lambda x, y, j: -x,
    "relu": lambda x, y, j: x.relu(),
    "relu of a difference": lambda x, y, j: (x - y).relu(),
    "relu of a negation": lambda x, y, j: (-x).relu(),
    "tanh": lambda x, y, j: x.tanh(),
    "div": lambda x, y, j: x / y,
    "maximum": lambda x, y, j: tapegrad.maximum(x, y),
    "times a zero": lambda x, y, j: x * -0.0 if j % 2 else 0.0 * x,
    "plus a zero": lambda x, y, j: x + (-0.0 if j % 2 else 0.0),
}
"""Steps of a random program; the relus and the zero constants make many adjoints zero."""
NUMBERS = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -3.0, 1e300, -1e300]), st.floats(-4.0, 4.0))


def run(program: list[tuple[str, int, int]], xs: list[Any]) -> Any:
    """Each step on two earlier results (by index modulo how many exist); returns the sum of the last three."""
    results = list(xs)
    for name, i, j in program:
        results.append(STEPS[name](results[i % len(results)], results[j % len(results)], j))
    return results[-1] + results[-2] - results[-3] if len(results) >= 3 else results[-1]


programs = st.lists(
    st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(programs, st.lists(NUMBERS, min_size=3, max_size=3), st.sampled_from([1.0, -1.0, 0.0, -0.0, math.nan]))
def test_random_relu_heavy_programs_sweep_as_the_table_does(
    program: list[tuple[str, int, int]], point: list[float], seed: float
) -> None:
    """Dead relus, zero constants and zero seeds fill these tapes with zero adjoints of both signs."""
    tape = tapegrad.trace(lambda *xs: run(program, list(xs)), *point)
    assert_same_adjoints(tape, {tape.output_slots[0]: seed})


@settings(max_examples=100, deadline=None)
@given(programs, st.lists(NUMBERS, min_size=3, max_size=3))
def test_eager_gradients_are_those_of_the_generic_sweep(
    program: list[tuple[str, int, int]], point: list[float]
) -> None:
    """``backward()`` on eager Values (recorded by the operators' fast paths) gives the generic sweep's bits."""
    xs = [Value(x, name=f"v{k}") for k, x in enumerate(point)]
    out = run(program, xs)
    if not isinstance(out, Value) or out._tape is None:
        return
    tape = out.tape()
    expected = backward(tape, tape.values, {tape.output_slots[0]: 1.0}, FLOAT)
    out.backward()
    by_input = {name: expected[slot] for name, slot in zip(tape.inputs, tape.input_slots)}
    for k, x in enumerate(xs):
        g = by_input.get(f"v{k}")
        assert bits(x.grad) == bits(0.0 if g is None else g)


def test_a_chain_of_a_million_records_sweeps_without_recursion() -> None:
    """500,000 multiply-adds across several eager tapes: the gradient is the product of the factors."""
    x = Value(0.75)
    y = x
    for _ in range(500_000):
        y = y * 0.9999995 + 1e-7
    y.backward()
    expected = 1.0
    for _ in range(500_000):
        expected *= 0.9999995
    assert x.grad == expected

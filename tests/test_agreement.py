"""Every engine computes the same values and gradients on random programs.

A program is a list of instructions; :func:`run` executes it on any kind of
Value (and the module supplying ``where``, ``maximum``, ``minimum``), so the
very same program runs in tapegrad eager, as a traced tape replayed on floats
and on numpy arrays, and in the closure engine.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from support import UNARY

import tapegrad
import tapegrad.lab.closure
from tapegrad.core.interpret import FLOAT, backward, forward, forward_tangents, make_domain
from tapegrad.core.ops import Op, OpKind
from tapegrad.errors import StaleTapeError
from tapegrad.formats.codegen import compile_tape

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "gt": lambda x, y: x > y,
    "ge": lambda x, y: x >= y,
    "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y,
}
BINARY: dict[str, Callable[[ModuleType, Any, Any], Any]] = {
    "add": lambda lib, x, y: x + y,
    "sub": lambda lib, x, y: x - y,
    "mul": lambda lib, x, y: x * y,
    "div": lambda lib, x, y: x / y,
    "pow": lambda lib, x, y: x**y,
    "maximum": lambda lib, x, y: lib.maximum(x, y),
    "minimum": lambda lib, x, y: lib.minimum(x, y),
    "gt": lambda lib, x, y: x > y,
    "ge": lambda lib, x, y: x >= y,
    "lt": lambda lib, x, y: x < y,
    "le": lambda lib, x, y: x <= y,
}
OPERATIONS = [*UNARY, *BINARY, "pow_const", "where"]
CONSTANTS = [0.0, 1.0, -1.0, 2.0, 0.5, 1e-3, -3.5, 1e8]
EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.0, 1e-3]
EDGE_INPUTS = [0.0, -0.0, 1.0, -1.0, 1e-3, -1e-3, 0.5, 2.0, 1e8, -1e8, 1e300, 709.0, 710.0, -745.0]


class Instruction(NamedTuple):
    """One step: ``operation`` on earlier results picked by index (modulo
    how many exist), with a constant operand on the right (``side`` 1) or
    left (``side`` 2) instead of a second result; ``where`` compares with
    ``COMPARE`` entry ``side``."""

    operation: str
    operands: tuple[int, int, int, int]
    side: int
    constant: float
    exponent: float


def run(program: Sequence[Instruction], inputs: Sequence[Any], lib: ModuleType) -> Any:
    """Execute ``program`` on ``inputs``; the last result is the output."""
    results = list(inputs)
    for step in program:
        x, y, z, w = (results[i % len(results)] for i in step.operands)
        if step.operation in UNARY:
            out = UNARY[step.operation](x)
        elif step.operation == "pow_const":
            out = x**step.exponent
        elif step.operation == "where":
            condition = list(COMPARE.values())[step.side](x, y)
            out = lib.where(condition, z, w)
        elif step.side == 1:
            out = BINARY[step.operation](lib, x, step.constant)
        elif step.side == 2:
            out = BINARY[step.operation](lib, step.constant, x)
        else:
            out = BINARY[step.operation](lib, x, y)
        results.append(out)
    return results[-1]


# ---------------------------------------------------------------- the engines


def eager(program: Sequence[Instruction], point: Sequence[float]) -> tuple[float, list[float]]:
    xs = [tapegrad.Value(v) for v in point]
    out = run(program, xs, tapegrad)
    out.backward()
    return out.data, [x.grad for x in xs]


def closure(program: Sequence[Instruction], point: Sequence[float]) -> tuple[float, list[float]]:
    xs = [tapegrad.lab.closure.Value(v) for v in point]
    out = run(program, xs, tapegrad.lab.closure)
    out.backward()
    return out.data, [x.grad for x in xs]


def trace(program: Sequence[Instruction], point: Sequence[float]) -> tapegrad.Tape:
    return tapegrad.trace(lambda *xs: run(program, xs, tapegrad), *point)


def replay(tape: tapegrad.Tape, point: Sequence[Any]) -> tuple[Any, list[Any]]:
    return tape(*point), list(tape.gradient(*point))


# ---------------------------------------------------------------- agreement

TOLERANCE = 1e-12


def agree(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    """Equal to ``tolerance`` relative (absolute near zero); nan matches nan, inf matches inf."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def assert_agree(expected: tuple[Any, Sequence[Any]], got: tuple[Any, Sequence[Any]], what: str) -> None:
    (value, grads), (other_value, other_grads) = expected, got
    assert agree(value, other_value), f"{what}: value {other_value!r}, expected {value!r}"
    assert len(grads) == len(other_grads)
    for i, (g, other) in enumerate(zip(grads, other_grads)):
        assert agree(g, other), f"{what}: gradient {i} is {other!r}, expected {g!r}"


# ---------------------------------------------------------------- random programs

numbers = st.one_of(
    st.sampled_from(EDGE_INPUTS),
    st.floats(-10.0, 10.0),
    st.floats(-1e6, 1e6),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Instruction], list[list[float]]]:
    """A program over 1-4 inputs and three points to run it at."""
    count = draw(st.integers(1, 4))
    instruction = st.builds(
        Instruction,
        st.sampled_from(OPERATIONS),
        st.tuples(*[st.integers(0, 63)] * 4),
        st.integers(0, 3),
        st.sampled_from(CONSTANTS),
        st.sampled_from(EXPONENTS),
    )
    program = draw(st.lists(instruction, min_size=1, max_size=12))
    points = draw(st.lists(st.lists(numbers, min_size=count, max_size=count), min_size=3, max_size=3))
    return program, points


@settings(max_examples=200, deadline=None)
@given(cases())
def test_eager_replay_and_closure_agree(case: tuple[list[Instruction], list[list[float]]]) -> None:
    program, (point, other, _) = case
    expected = eager(program, point)
    assert_agree(expected, closure(program, point), "closure engine")
    tape = trace(program, point)
    assert_agree(expected, replay(tape, point), "replay at the traced point")
    expected_other = eager(program, other)
    assert_agree(expected_other, closure(program, other), "closure engine at a second point")
    assert_agree(expected_other, replay(tape, other), "replay at a second point")


# The ops whose float and numpy implementations may differ in the last bit.
ELEMENTARY = {OpKind.EXP, OpKind.LOG, OpKind.TANH, OpKind.SIGMOID, OpKind.SIN, OpKind.COS, OpKind.POW, OpKind.POW_CONST}


def _nudged(op: Op, direction: float) -> Any:
    """``op``'s float rule, its result moved one ulp towards ``direction`` if the op is elementary."""
    fn = op.scalar
    if fn is None or op.kind not in ELEMENTARY:
        return fn

    def nudged(*args: Any) -> Any:
        result = fn(*args)
        return math.nextafter(result, direction) if math.isfinite(result) else result

    return nudged


NUDGED = [
    make_domain(f"nudged{d}", lambda op, d=d: _nudged(op, d), const=float, is_zero=FLOAT.is_zero, truth=FLOAT.truth)
    for d in (math.inf, -math.inf)
]


def sensitive_to_rounding(tape: tapegrad.Tape, point: Sequence[float]) -> bool:
    """Whether moving every input, or every elementary function's result, by one ulp moves the
    float replay beyond the tolerance.

    numpy's ``exp``, ``tanh`` or ``power`` may differ from the math module's
    in the last bit.  Most programs shrink such a difference; some amplify
    it (``sin`` of 1e15, a comparison on a tie, ``1 - tanh(x)**2`` near
    saturation), and there no two implementations of the elementary
    functions can be expected to agree.
    """
    expected = replay(tape, point)
    reference = [expected[0], *expected[1]]
    for direction in (math.inf, -math.inf):
        moved = replay(tape, [math.nextafter(v, direction) for v in point])
        if not all(agree(a, b) for a, b in zip(reference, [moved[0], *moved[1]])):
            return True
    for domain in NUDGED:
        try:
            values = forward(tape, point, domain)
        except StaleTapeError:
            return True
        adjoint = backward(tape, values, {tape.output_slots[0]: 1.0}, domain)
        grads = [adjoint[s] if s < len(adjoint) and adjoint[s] is not None else 0.0 for s in tape.input_slots]
        if not all(agree(a, float(b)) for a, b in zip(reference, [values[tape.output_slots[0]], *grads])):
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(cases())
def test_array_replay_is_pointwise_float_replay(case: tuple[list[Instruction], list[list[float]]]) -> None:
    program, points = case
    tape = trace(program, points[0])
    columns = [np.array(column) for column in zip(*points)]
    values, grads = replay(tape, columns)
    for k, point in enumerate(points):
        expected = replay(tape, point)
        got = (values[k], [g[k] for g in grads])
        finite = all(math.isfinite(v) for v in [expected[0], got[0], *expected[1], *got[1]])
        if finite and sensitive_to_rounding(tape, point):
            continue
        assert_agree(expected, got, f"array replay at point {k}")


def test_array_gradient_of_division_by_a_zero_constant() -> None:
    tape = tapegrad.trace(lambda x: x / 0.0, 1.0)
    grads = tape.gradient(np.array([1.0, -1.0]))
    assert list(grads[0]) == [tape.gradient(1.0)[0], tape.gradient(-1.0)[0]] == [math.inf, math.inf]


def test_array_power_one_half_at_minus_infinity_and_minus_zero() -> None:
    tape = tapegrad.trace(lambda x: 1.0 / x**0.5, 1.0)
    points = [-math.inf, -0.0, 4.0]
    values = tape(np.array(points))
    assert [float(tape(x)) for x in points] == [0.0, math.inf, 0.5]  # C99: pow(-inf, 0.5) = inf, pow(-0.0, 0.5) = 0.0
    assert list(values) == [0.0, math.inf, 0.5]


# ---------------------------------------------------------------- bit for bit, signed zeros included


def bit_key(x: Any) -> Any:
    """What must be equal between engines: the bit pattern of a number, any nan counting as one
    (IEEE leaves a nan's sign and payload to the hardware)."""
    x = float(x)
    return "nan" if math.isnan(x) else struct.pack("<d", x)


def assert_same_bits(expected: Sequence[Any], got: Sequence[Any], what: str) -> None:
    assert [bit_key(v) for v in got] == [bit_key(v) for v in expected], f"{what}: {got!r}, expected {expected!r}"


def reverse_engines(program: Sequence[Instruction], point: Sequence[float]) -> dict[str, list[Any]]:
    """Value and gradient at ``point`` from every engine in reverse mode."""
    tape = trace(program, point)
    values = forward(tape, point, FLOAT)
    adjoint = backward(tape, values, {tape.output_slots[0]: 1.0}, FLOAT)
    generic = [values[tape.output_slots[0]]] + [
        adjoint[s] if s < len(adjoint) and adjoint[s] is not None else 0.0 for s in tape.input_slots
    ]
    full = tapegrad.grad_tape(tape)
    optimized = tapegrad.optimize(full)
    engines = {
        "eager": eager(program, point),
        "closure": closure(program, point),
        "tape.gradient": replay(tape, point),
    }
    flat = {name: [value, *grads] for name, (value, grads) in engines.items()}
    flat["generic loop"] = generic
    flat["grad_tape"] = list(full(*point))
    flat["optimize"] = list(optimized(*point))
    flat["math code"] = list(compile_tape(optimized)(*point))
    flat["math code, not optimized"] = list(compile_tape(full)(*point))
    return flat


def forward_engines(program: Sequence[Instruction], point: Sequence[float], k: int) -> dict[str, list[Any]]:
    """Value and tangent along input ``k`` at ``point`` from every engine in forward mode."""
    tape = trace(program, point)
    tangent = [1.0 if i == k else 0.0 for i in range(len(point))]
    values = forward(tape, point, FLOAT)
    tangents = forward_tangents(tape, values, dict(zip(tape.input_slots, tangent)), FLOAT)
    out = tape.output_slots[0]
    jvp_tape = tapegrad.jvp_tape(tape)
    optimized = tapegrad.optimize(jvp_tape)
    return {
        "forward_tangents": [values[out], 0.0 if tangents[out] is None else tangents[out]],
        "jvp": list(tapegrad.jvp(tape, point, tangent)),
        "jvp_tape": list(jvp_tape(*point, *tangent)),
        "optimize": list(optimized(*point, *tangent)),
        "math code": list(compile_tape(optimized)(*point, *tangent)),
    }


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_engine_gives_the_same_bits(case: tuple[list[Instruction], list[list[float]]]) -> None:
    """Reverse mode in every engine, then forward mode in every engine: the same bits, signed zeros included."""
    program, (point, other, _) = case
    for at in (point, other):
        try:
            engines = reverse_engines(program, at)
        except StaleTapeError:
            continue  # the second point takes another branch than the traced one
        expected = engines.pop("eager")
        for name, got in engines.items():
            assert_same_bits(expected, got, f"{name} at {at}")
        for k in range(len(at)):
            modes = forward_engines(program, at, k)
            expected = modes.pop("forward_tangents")
            for name, got in modes.items():
                assert_same_bits(expected, got, f"forward mode, {name}, input {k} at {at}")


def test_signed_zeros_follow_pytorchs_rule_in_both_modes() -> None:
    """The first contribution is the gradient; relu(-x) and x * -0.0 have gradient -0.0 everywhere."""
    relu_of_minus = [Instruction("neg", (0, 0, 0, 0), 0, 0.0, 1.0), Instruction("relu", (1, 0, 0, 0), 0, 0.0, 1.0)]
    times_minus_zero = [Instruction("mul", (0, 0, 0, 0), 1, -0.0, 1.0)]
    for program in (relu_of_minus, times_minus_zero):
        for name, got in reverse_engines(program, [1.0]).items():
            assert_same_bits([got[0], -0.0], got, name)
        for name, got in forward_engines(program, [1.0], 0).items():
            assert_same_bits([got[0], -0.0], got, f"forward mode, {name}")

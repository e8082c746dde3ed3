"""Tape: records, listing, inputs and outputs."""

from __future__ import annotations

import dataclasses

import pytest

import tapegrad
from tapegrad.core.ops import OPS, OpKind
from tapegrad.core.tape import Record


def f(x, y):  # type: ignore[no-untyped-def]
    return (x * y).tanh() + x ** 2


def test_listing_reads_one_record_a_line() -> None:
    tape = tapegrad.trace(f, 1.0, 2.0)
    assert str(tape) == "\n".join(
        [
            "tape f(x, y) -> out",
            "  %0 = input x",
            "  %1 = input y",
            "  %2 = mul %0 %1",
            "  %3 = tanh %2",
            "  %4 = pow_const %0 2",
            "  %5 = add %3 %4",
            "  return %5",
        ]
    )
    assert repr(tape) == "<Tape f(x, y): 6 records>"


def test_records_are_typed_and_immutable() -> None:
    tape = tapegrad.trace(f, 1.0, 2.0)
    assert len(tape) == 6
    assert tape[2] == Record(OpKind.MUL, (0, 1), None)
    assert tape[4].attr == 2 and isinstance(tape[4].op, OpKind)
    assert [r.op for r in tape] == [OpKind.INPUT, OpKind.INPUT, OpKind.MUL, OpKind.TANH, OpKind.POW_CONST, OpKind.ADD]
    assert tape.records == list(tape)
    with pytest.raises(AttributeError):
        tape[2].op = OpKind.ADD  # type: ignore[misc]
    assert tape.inputs == ("x", "y") and tape.outputs == ("out",)
    assert tape.stats() == {"input": 2, "mul": 1, "tanh": 1, "pow_const": 1, "add": 1}


def test_guard_listing_names_the_condition_and_line() -> None:
    def g(x):  # type: ignore[no-untyped-def]
        if x > 0:
            return x
        return -x

    text = str(tapegrad.trace(g, 1.0))
    assert "%1 = const 0" in text
    assert "%2 = gt %0 %1  # " in text and "test_tape.py" in text
    assert "%3 = guard %2 is true" in text


def test_op_table_is_one_entry_per_kind() -> None:
    assert [op.kind for op in OPS] == list(OpKind)
    for op in OPS:
        assert dataclasses.is_dataclass(op)
        if op.scalar is not None:
            assert op.array is not None, op.name

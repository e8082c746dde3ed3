"""The C backend's engine: a small virtual machine in C, printed from the op table, and tapes encoded for it.

Why a virtual machine and not one C statement per record: a C compiler
takes time that grows with the program, and a gradient tape is a long
program.  Measured on the 185k-record moons gradient (gcc 12, one core):
one statement per record took 20 s to compile at ``-O0`` and minutes at
``-O1``, and ran no faster than this machine.  The machine's source is the
same for every tape (its ``switch`` has one case per scalar op of the table,
each case printed by :class:`~tapegrad.formats.cprinter.CPrinter`), so it is
compiled once per tapegrad version and compiler and cached; a tape becomes
arrays of instructions, which numpy builds in well under a second.

An instruction is four 32-bit numbers: the op (its :class:`OpKind`), two
operand slots and the result slot; an op of three operands (``where``,
``clip``) takes its third from an ``ARG`` instruction after it.  Slots
index one work array: the inputs first, then the constants (literals,
``pow_const``'s exponent, captured inputs), then results, each result slot
reused once its value has been read for the last time, so the work array
stays small enough for the processor's caches (8k slots for the moons
gradient, not 185k).  A guard returns its number when the inputs take the
other branch; the caller raises with the message, which stays in Python.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..core.ops import OPS, OpKind
from ..core.passes import live_records
from ..core.tape import Tape, portable_site
from .codegen import check_scalar
from .cprinter import C_KERNELS, CPrinter, last_reads

__all__ = ["Program", "encode", "machine_source", "ARG"]

ARG = len(OPS)  # the pseudo-op carrying a third operand
_OPERANDS = ("A", "B", "C")


def _scalar_ops() -> list[tuple[int, str]]:
    """(op number, C expression over A, B, C) for every op the machine runs, printed from the table."""
    printer = CPrinter()
    cases = []
    for op in OPS:
        if op.scalar is None:
            continue
        operands = list(_OPERANDS[: op.arity + (1 if op.has_attr else 0)])
        attr = operands.pop() if op.has_attr else ""
        cases.append((int(op.kind), printer.record(op, operands, attr)))
    return cases


@functools.cache  # the same text for every tape of this version: printed once per process
def machine_source() -> str:
    """The C source of the machine: the same text for every tape of this tapegrad version."""
    cases = _scalar_ops()
    printer_helpers = sorted(_helpers_of(cases))
    lines = [
        f"/* tapegrad {__version__}: the C backend's virtual machine, printed from the op table. Do not edit. */",
        "#include <math.h>",
        "#include <stdint.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "",
        *[C_KERNELS[h] + "\n" for h in printer_helpers],
        "typedef struct { int32_t op, a, b, out; } tg_instruction;",
        "",
        "static int tg_execute(const tg_instruction *restrict code, long count, double *restrict w) {",
        "    for (const tg_instruction *pc = code, *end = code + count; pc < end; pc++) {",
        "        const double A = w[pc->a], B = w[pc->b];",
        "        const int32_t out = pc->out;",
        "        double C, r;",
        "        switch (pc->op) {",
    ]
    for number, expression in cases:
        third = "C = w[pc[1].a]; pc++; " if "C" in _tokens(expression) else ""
        lines.append(f"        case {number}: {third}r = {expression}; break;")
    guard = int(OpKind.GUARD)
    lines += [
        f"        case {guard}: if ((A != 0.0) != (pc->b != 0)) return out; continue;",
        "        default: return -2;",
        "        }",
        "        (void)C;",
        "        w[out] = r;",
        "    }",
        "    return 0;",
        "}",
        "",
        "/* n points: x holds n rows of `inputs` numbers, y gets n rows of `outputs`; 0, a guard's number, or",
        "   -1 (no memory) or -2 (an unknown instruction). */",
        "int tg_run(const tg_instruction *code, long count, const double *constants, long n_constants,",
        "           const int32_t *outputs, long n_outputs, long inputs, long slots,",
        "           long n, const double *x, double *y) {",
        "    double *w = calloc((size_t)(slots > 0 ? slots : 1), sizeof(double));",
        "    if (!w) return -1;",
        "    memcpy(w + inputs, constants, sizeof(double) * (size_t)n_constants);",
        "    int r = 0;",
        "    for (long i = 0; i < n && !r; i++) {",
        "        memcpy(w, x + i * inputs, sizeof(double) * (size_t)inputs);",
        "        r = tg_execute(code, count, w);",
        "        for (long k = 0; k < n_outputs; k++) y[i * n_outputs + k] = w[outputs[k]];",
        "    }",
        "    free(w);",
        "    return r;",
        "}",
        "",
    ]
    return "\n".join(lines)


def _tokens(expression: str) -> set[str]:
    return set("".join(ch if ch.isalnum() or ch == "_" else " " for ch in expression).split())


def _helpers_of(cases: list[tuple[int, str]]) -> set[str]:
    used = set().union(*(_tokens(expression) for _, expression in cases))
    return {name for name in C_KERNELS if name in used}


@dataclass(frozen=True, slots=True)
class Program:
    """A tape encoded for the machine: instructions, constants, where the outputs are, and sizes.

    ``guards[k]`` says which branch the guard returning ``k + 1`` recorded,
    and where.  A program keeps no reference to its tape: the compile cache
    is keyed weakly by the tape, and a value holding its key would keep it alive.
    """

    name: str
    input_names: tuple[str, ...]
    structure: str  # what the traced function returned: "value", "tuple" or "list"
    code: np.ndarray  # int32, shape (count, 4): op, a, b, out
    constants: np.ndarray  # float64, in slots inputs, inputs + 1, ...
    outputs: np.ndarray  # int32 slots
    inputs: int
    slots: int
    guards: tuple[str, ...]


def encode(tape: Tape) -> Program:
    """``tape`` (scalar) as machine instructions; the work array's slots reused as values die.

    One pass over the records, skipping dead ones; 185k records take about a second.
    """
    check_scalar(tape, "c")
    live = live_records(tape)  # dead records get no instruction
    n_inputs = len(tape.input_slots)
    slot = [-1] * len(tape)
    for j, s in enumerate(tape.input_slots):
        slot[s] = j
    constants: dict[bytes, int] = {}  # by the float's bytes: -0.0 and 0.0 are two constants, and nan one

    def constant(value: Any) -> int:
        key = np.float64(value).tobytes()
        if key not in constants:
            constants[key] = n_inputs + len(constants)
        return constants[key]

    attrs: dict[int, int] = {}
    for i, kind in enumerate(tape.ops):
        if not live[i]:
            continue
        if kind is OpKind.INPUT and slot[i] < 0:
            slot[i] = constant(tape.values[i])  # captured from an enclosing trace: a constant
        elif kind is OpKind.CONST:
            slot[i] = constant(tape.attrs[i])
        elif i in tape.attrs and OPS[kind].scalar is not None:
            attrs[i] = constant(tape.attrs[i])  # pow_const's exponent
    value_of, last_use = last_reads(tape, live)
    first_result = top = n_inputs + len(constants)
    free: list[int] = []
    code: list[tuple[int, int, int, int]] = []
    guards: list[int] = []
    skip = (OpKind.INPUT, OpKind.CONST)
    for i, (kind, operands) in enumerate(zip(tape.ops, tape.args)):
        if not live[i] or kind in skip:
            continue
        a = slot[operands[0]] if operands else 0
        b = slot[operands[1]] if len(operands) > 1 else attrs.get(i, 0)
        if kind is OpKind.GUARD:
            guards.append(i)
            code.append((int(kind), a, 1 if tape.attrs[i] else 0, len(guards)))
            slot[i] = a
            continue
        for operand in operands:
            value = value_of[operand]  # a guard's operand reads its condition's slot
            if last_use[value] == i and slot[value] >= first_result:
                free.append(slot[value])
                last_use[value] = -1  # freed once, even if it is read twice here
        if free:
            slot[i] = free.pop()
        else:
            slot[i], top = top, top + 1
        code.append((int(kind), a, b, slot[i]))
        if len(operands) == 3:
            code.append((ARG, slot[operands[2]], 0, 0))
    return Program(
        name=tape.name,
        input_names=tape.inputs,
        structure=tape.structure,
        code=_read_only(np.array(code, dtype=np.int32).reshape(-1, 4)),
        constants=_read_only(np.array([np.frombuffer(k, dtype=np.float64)[0] for k in constants], dtype=np.float64)),
        outputs=_read_only(np.array([slot[s] for s in tape.output_slots], dtype=np.int32)),
        inputs=n_inputs,
        slots=top,
        guards=tuple(f"{tape.describe_guard(g)} at {portable_site(tape.sites.get(g, ''))}" for g in guards),
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    """The machine trusts a program's slot numbers (it checks none, for speed), so nobody may change them."""
    array.flags.writeable = False
    return array

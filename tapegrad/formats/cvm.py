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

from dataclasses import dataclass

import numpy as np

from .._version import __version__
from ..core.ops import OPS, OpKind
from ..core.passes import dead_code
from ..core.tape import Tape
from .codegen import _check_scalar
from .cprinter import C_KERNELS, CPrinter

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

    ``guards[k]`` is the tape slot of the guard that returns ``k + 1``.
    """

    tape: Tape
    code: np.ndarray  # int32, shape (count, 4): op, a, b, out
    constants: np.ndarray  # float64, in slots inputs, inputs + 1, ...
    outputs: np.ndarray  # int32 slots
    inputs: int
    slots: int
    guards: tuple[int, ...]


def encode(tape: Tape) -> Program:
    """``tape`` (scalar) as machine instructions; the work array's slots reused as values die."""
    tape = dead_code(tape)
    _check_scalar(tape)
    n_inputs = len(tape.input_slots)
    slot = [-1] * len(tape)
    for j, s in enumerate(tape.input_slots):
        slot[s] = j
    constants: dict[bytes, int] = {}  # by the float's bytes: -0.0 and 0.0 are two constants, and nan one

    def constant(value: object) -> int:
        key = np.float64(value).tobytes()
        if key not in constants:
            constants[key] = n_inputs + len(constants)
        return constants[key]

    for i, kind in enumerate(tape.ops):
        if kind is OpKind.INPUT and slot[i] < 0:
            slot[i] = constant(tape.values[i])  # captured from an enclosing trace: a constant
        elif kind is OpKind.CONST:
            slot[i] = constant(tape.attrs[i])
    attrs = {i: constant(tape.attrs[i]) for i, kind in enumerate(tape.ops) if OPS[kind].scalar and i in tape.attrs}
    last_use = list(range(len(tape)))
    for i, operands in enumerate(tape.args):
        for a in operands:
            last_use[a] = i
    for s in tape.output_slots:
        last_use[s] = len(tape)
    first_result = n_inputs + len(constants)
    free: list[int] = []
    top = first_result
    code: list[tuple[int, int, int, int]] = []
    guards: list[int] = []
    for i, kind in enumerate(tape.ops):
        if kind in (OpKind.INPUT, OpKind.CONST):
            continue
        operands = [slot[a] for a in tape.args[i]] + ([attrs[i]] if i in attrs else [])
        if kind is OpKind.GUARD:
            guards.append(i)
            code.append((int(kind), operands[0], 1 if tape.attrs[i] else 0, len(guards)))
            slot[i] = operands[0]
            continue
        for a in set(tape.args[i]):
            if last_use[a] == i and slot[a] >= first_result:
                free.append(slot[a])
        if free:
            slot[i] = free.pop()
        else:
            slot[i], top = top, top + 1
        a, b = (operands + [0, 0])[:2]
        code.append((int(kind), a, b, slot[i]))
        if len(operands) == 3:
            code.append((ARG, operands[2], 0, 0))
    return Program(
        tape=tape,
        code=np.array(code, dtype=np.int32).reshape(-1, 4),
        constants=np.array([np.frombuffer(k, dtype=np.float64)[0] for k in constants], dtype=np.float64),
        outputs=np.array([slot[s] for s in tape.output_slots], dtype=np.int32),
        inputs=n_inputs,
        slots=top,
        guards=tuple(guards),
    )

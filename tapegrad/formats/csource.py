"""C source of a scalar tape, one statement per record: what ``export(..., backend="c")`` writes.

This is code to read and to build yourself (``cc -O1 -ffp-contract=off``);
``tape.compile("c")`` runs tapes on the C machine of :mod:`tapegrad.formats.cvm`
instead, because a compiler's time grows with the program: the 185k-record
moons gradient as statements took gcc 12 about 20 s at ``-O0`` and minutes at
``-O1`` (one core), where the machine compiles once in under a second.

Each record that computes writes one double of a work array, ``w[k] = ...;``
(inputs are ``x[j]``, constants are literals); a slot is reused once its value
has been read for the last time.  The statements are cut into parts of
:data:`PART_SIZE` (``static int tg_NAME_p0(...)``...), called in order, since
compilers slow down more than linearly on one long function.  A guard (a
branch the tape recorded) makes the function return its number.  Each
expression is printed by :class:`~tapegrad.formats.cprinter.CPrinter`, the
printer of the machine's cases too, so both give the interpreter's numbers.

For a tape ``NAME`` the source defines::

    int NAME(const double *x, double *y);               /* one point: 0, a guard's number, or -1 (no memory) */
    int NAME_batch(long n, const double *x, double *y); /* n points, x row by row, y row by row */
    int NAME_body(const double *x, double *y, double *w);

Safety: no text a user typed reaches the C source except in comments,
reduced to ASCII letters, digits and a little punctuation without ``*`` or
``/`` (:func:`comment_text`); function names are checked to be plain C
identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .._version import __version__
from ..core.ops import OPS, OpKind
from ..core.passes import dead_code
from ..core.tape import Tape
from ..errors import UnknownNameError
from .codegen import check_scalar, tape_hash
from .cprinter import C_KERNELS, CPrinter, c_literal, last_reads

__all__ = ["CFunctionSource", "c_source", "PART_SIZE", "comment_text"]

PART_SIZE = 2_000
"""Statements per C function (measured with gcc 12 -O1, see docs/guide/c-backend.md)."""

_C_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_C_RESERVED = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
               "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
               "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
               "volatile", "while", "main"}  # fmt: skip


_COMMENT_SAFE = set("_ .,():-=+'")  # no * and no /, so nothing can end or open a comment


def comment_text(text: str) -> str:
    """``text`` as it may appear inside a C comment: ASCII letters, digits, spaces and ``_.,():-=+'``; else ``?``."""
    return "".join(ch if (ch.isascii() and (ch.isalnum() or ch in _COMMENT_SAFE)) else "?" for ch in str(text))[:80]


def check_c_name(name: str) -> str:
    """A function name for C source: a plain identifier, not a keyword, not one of tapegrad's (``tg_``)."""
    if not _C_NAME.fullmatch(name) or name in _C_RESERVED or name.startswith("tg_"):
        raise UnknownNameError(
            f"{name!r} cannot name a C function: use ASCII letters, digits and _ (a letter first, at most 63), "
            "not a C keyword, and not starting with tg_"
        )
    return name


class CFunctionSource:
    """The statements of one C function computing ``tape``, and what its caller needs to know.

    ``guards`` lists the guard records in the order of their numbers (guard
    ``k`` is returned as ``k + 1``); ``work`` is the length of the work array.
    """

    def __init__(self, tape: Tape, name: str, part_size: int = PART_SIZE) -> None:
        self.tape = dead_code(tape)
        check_scalar(self.tape, "c")
        self.name = check_c_name(name)
        self.part_size = part_size
        self.printer = CPrinter()
        self.statements: list[str] = []
        self.guards: list[int] = []
        self.work = 0
        self.names = self._lay_out()

    def _lay_out(self) -> list[str]:
        """Each computing record gets a work slot, reused once its value is read for the last time.

        Reusing slots keeps the work array small enough for the processor's
        caches: the 185k-record moons gradient needs 6,852 slots, not 184k.
        """
        tape = self.tape
        names = [""] * len(tape)
        value_of, last_use = last_reads(tape)
        free: list[int] = []  # slots whose values are dead, reused last-freed first
        params = {slot: f"x[{j}]" for j, slot in enumerate(tape.input_slots)}
        for i, kind in enumerate(tape.ops):
            args = [names[a] for a in tape.args[i]]
            if kind is OpKind.INPUT:
                names[i] = params.get(i) or c_literal(tape.values[i])  # captured: a constant
            elif kind is OpKind.CONST:
                names[i] = c_literal(tape.attrs[i])
            elif kind is OpKind.GUARD:
                self.guards.append(i)
                expected = 1 if tape.attrs[i] else 0
                self.statements.append(f"if (({args[0]} != 0.0) != {expected}) return {len(self.guards)};")
                names[i] = args[0]
            else:
                op = OPS[kind]
                attr = c_literal(tape.attrs[i]) if i in tape.attrs else ""
                code = self.printer.record(op, args, attr)
                for v in {value_of[a] for a in tape.args[i]}:  # a guard's operand reads its condition's slot
                    if last_use[v] == i and names[v].startswith("w["):
                        free.append(int(names[v][2:-1]))
                if free:
                    names[i] = f"w[{free.pop()}]"
                else:
                    names[i] = f"w[{self.work}]"
                    self.work += 1
                self.statements.append(f"{names[i]} = {code};")
        return names

    @property
    def inputs(self) -> int:
        return len(self.tape.input_slots)

    @property
    def outputs(self) -> int:
        return len(self.tape.output_slots)

    def lines(self) -> list[str]:
        """The parts, the body (parts, then the outputs), the one-point and the batch entry points."""
        name, lines = self.name, []
        parts = [self.statements[k : k + self.part_size] for k in range(0, len(self.statements), self.part_size)]
        for number, part in enumerate(parts):
            lines.append(f"static int tg_{name}_p{number}(const double *restrict x, double *restrict w) {{")
            lines += ["    " + s for s in part] + ["    return 0;", "}", ""]
        lines.append("/* Inputs: " + (", ".join(f"x[{j}] {comment_text(n)}" for j, n in
                                              enumerate(self.tape.inputs)) or "none") + " */")  # fmt: skip
        lines.append(f"int {name}_body(const double *restrict x, double *restrict y, double *restrict w) {{")
        lines.append("    int r = 0;")
        lines += [f"    if ((r = tg_{name}_p{number}(x, w))) return r;" for number in range(len(parts))]
        outputs = [self.names[s] for s in self.tape.output_slots]
        lines += [f"    y[{k}] = {out};  /* {comment_text(n)} */" for k, (out, n) in
                  enumerate(zip(outputs, self.tape.output_names))]  # fmt: skip
        lines += ["    (void)x; (void)w;", "    return 0;", "}", ""]
        work = max(self.work, 1)
        lines += [
            f"int {name}(const double *restrict x, double *restrict y) {{",
            f"    double *w = malloc(sizeof(double) * {work});",
            "    if (!w) return -1;",
            f"    int r = {name}_body(x, y, w);",
            "    free(w);",
            "    return r;",
            "}",
            "",
            f"int {name}_batch(long n, const double *restrict x, double *restrict y) {{",
            f"    double *w = malloc(sizeof(double) * {work});",
            "    if (!w) return -1;",
            "    int r = 0;",
            "    for (long i = 0; i < n && !r; i++)",
            f"        r = {name}_body(x + i * {self.inputs}, y + i * {self.outputs}, w);",
            "    free(w);",
            "    return r;",
            "}",
        ]
        return lines


def c_source(functions: Sequence[CFunctionSource], title: str = "") -> str:
    """One C translation unit defining ``functions``, with the kernels they call and a header."""
    helpers: set[str] = set().union(*(f.printer.helpers for f in functions))
    first = functions[0].tape
    lines = [
        f"/* Generated by tapegrad {__version__} (c backend), tape hash {tape_hash(first)}. Do not edit: regenerate.",
        f"   {comment_text(title)} */" if title else "   Compile with -ffp-contract=off and without -ffast-math. */",
        "#include <math.h>",
        "#include <stdlib.h>",
        "",
    ]
    for helper in sorted(helpers):
        lines += [C_KERNELS[helper], ""]
    for function in functions:
        lines += function.lines() + [""]
    return "\n".join(lines)


def function_source(tape: Tape, name: str = "f", part_size: int = PART_SIZE) -> tuple[str, CFunctionSource]:
    """The C source of one function ``name`` computing ``tape``, and its description."""
    function = CFunctionSource(tape, name, part_size)
    return c_source([function]), function

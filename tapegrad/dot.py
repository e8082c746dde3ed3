"""Graphviz DOT pictures of tapes, in micrograd's style of boxes.

One node per record (slot, op, and the value and adjoint when given),
edges from operands; inputs and outputs are highlighted and guards drawn as
diamonds.  A large tape is summarised: its first and last records, with a
node saying how many were left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ops import OpKind
from .tape import Tape

__all__ = ["to_dot", "render", "svg"]


def _label(text: str) -> str:
    """Text safe inside a DOT record label."""
    out = []
    for ch in text:
        if ch in '{}|<>"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii").replace("\\", "\\\\"))
    return "".join(out)


def _quoted(text: str) -> str:
    """Text safe inside a quoted DOT identifier (the graph's name)."""
    return "".join("\\" + ch if ch in '"\\' else ch if ch.isprintable() else "?" for ch in text)


def _number(x: Any) -> str:
    return f"{float(x):.4g}"


def to_dot(
    tape: Tape, values: Sequence[Any] | None = None, grads: Sequence[Any] | None = None, limit: int = 60
) -> str:
    """DOT source of the tape's graph; ``values``/``grads`` (one per slot) label the boxes.

    Tapes longer than ``limit`` records show their first and last ``limit // 2``.
    """
    count = len(tape)
    keep = list(range(count))
    if count > limit:
        keep = list(range(limit // 2)) + list(range(count - limit // 2, count))
    shown = set(keep)
    outputs = {s: n for s, n in zip(tape.output_slots, tape.output_names)}
    lines = [
        f'digraph "{_quoted(tape.name)}" {{',
        "  rankdir=LR;",
        '  node [shape=record, fontname="Helvetica", fontsize=10];',
    ]
    for i in keep:
        kind = tape.ops[i]
        op = str(kind)
        if kind is OpKind.INPUT:
            op = f"input {tape.attrs[i]}"
        elif kind is OpKind.CONST:
            op = f"const {tape.attrs[i]!r}"
        elif kind is OpKind.POW_CONST:
            op = f"pow_const {tape.attrs[i]!r}"
        fields = [f"%{i}", op]
        if values is not None:
            fields.append(f"data {_number(values[i])}")
        if grads is not None:
            fields.append(f"grad {_number(grads[i])}")
        if i in outputs:
            fields.append(f"output {outputs[i]}")
        label = " | ".join(_label(f) for f in fields)
        style = ""
        if kind is OpKind.INPUT:
            style = ', style=filled, fillcolor="#dbeafe"'
        elif i in outputs:
            style = ', style=filled, fillcolor="#dcfce7"'
        elif kind is OpKind.GUARD:
            style = ", shape=diamond"
            label = _label(f"%{i} guard {tape.describe_guard(i)}")
        box = label if kind is OpKind.GUARD else f"{{ {label} }}"
        lines.append(f'  n{i} [label="{box}"{style}];')
        for a in tape.args[i]:
            if a in shown:
                lines.append(f"  n{a} -> n{i};")
    if count > limit:
        hidden = count - len(keep)
        lines.append(f'  skipped [shape=plaintext, label="... {hidden:,} records not shown ..."];')
        lines.append(f"  n{limit // 2 - 1} -> skipped [style=dashed];")
        lines.append(f"  skipped -> n{count - limit // 2} [style=dashed];")
    lines.append("}")
    return "\n".join(lines)


def render(tape: Tape, path: Any, format: str = "svg", **labels: Any) -> Any:
    """Draw the tape with Graphviz's ``dot`` program into ``path`` (svg, png or pdf).

    Raises :class:`~tapegrad.errors.MissingToolError` when ``dot`` is not
    installed, naming the package to install.
    """
    import shutil
    import subprocess
    from pathlib import Path

    from .errors import MissingToolError, UnknownNameError

    if format not in ("svg", "png", "pdf"):
        raise UnknownNameError(f"render writes svg, png or pdf, not {format!r}")
    program = shutil.which("dot")
    if program is None:
        raise MissingToolError(
            "drawing a tape needs Graphviz's dot program: install it with 'apt-get install graphviz' "
            "(Debian/Ubuntu), 'brew install graphviz' (macOS) or 'conda install graphviz'"
        )
    target = Path(path)
    subprocess.run([program, f"-T{format}", "-o", str(target)], input=to_dot(tape, **labels), text=True, check=True)
    return target


def svg(tape: Tape) -> str | None:
    """The tape as SVG text, or None when ``dot`` is not installed (for Jupyter)."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        return None
    done = subprocess.run([program, "-Tsvg"], input=to_dot(tape), text=True, capture_output=True)
    return done.stdout if done.returncode == 0 else None

"""Graphviz DOT pictures of tapes, in micrograd's style of boxes.

One node per record (slot, op, and the value and adjoint when given),
edges from operands; inputs and outputs are highlighted and guards drawn as
diamonds.  A large tape is summarised: its first and last records, with a
node saying how many were left out.

Array tapes show each record's dtype and shape under its op
(``matmul`` over ``f64[100,16]``) and its attribute as the listing does
(``sum axis=1 keepdims``, ``getitem [:, 1:3]``); an array value or
adjoint is summarised by its type and a few statistics, never spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.ops import OpKind, attribute_text
from ..core.shapes import ArrayAttr, type_text
from ..core.tape import Tape

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


_MAX_ATTRIBUTE = 60  # characters of an attribute shown in a box


def _summary(x: Any) -> list[str]:
    """A slot's value or adjoint in a few characters: a number, a short array, or an array's type and statistics.

    Returns the lines of the summary (a large array's type, then its range and mean).
    """
    if x is None:
        return ["-"]
    if not isinstance(x, np.ndarray) or (x.ndim == 0 and x.dtype.kind in "fiub"):
        try:
            return [_number(x)]
        except (TypeError, ValueError):
            return [str(x)[:_MAX_ATTRIBUTE]]
    if x.dtype.kind not in "fiub":
        return [type_text(x)]
    if 0 < x.size <= 4:
        return ["[" + ", ".join(_number(v) for v in x.ravel().tolist()) + "]"]
    if x.size == 0:
        return [f"{type_text(x)} (empty)"]
    finite = np.isfinite(x)
    lines = [type_text(x)]
    if finite.any():
        kept = x if finite.all() else x[finite]
        with np.errstate(all="ignore"):
            lines += [
                f"min {_number(kept.min())}  max {_number(kept.max())}",
                f"mean {_number(kept.mean(dtype=np.float64))}",
            ]
    nans = int(np.isnan(x).sum())
    infs = int(x.size - finite.sum()) - nans
    if nans or infs:
        lines.append(", ".join([f"{nans:,} nan"] * bool(nans) + [f"{infs:,} inf"] * bool(infs)))
    return lines


def _op_text(tape: Tape, i: int) -> str:
    """The op and its attribute, as the listing words them (``sum axis=1 keepdims``)."""
    kind, attr = tape.ops[i], tape.attrs.get(i)
    if isinstance(attr, ArrayAttr) and attr.array.size > 6:
        return str(kind)  # its type is on the next line; its numbers are too many for a box
    text = attribute_text(kind, attr)
    if not text:
        return str(kind)
    if len(text) > _MAX_ATTRIBUTE:
        text = text[: _MAX_ATTRIBUTE - 3] + "..."
    return f"{kind} {text}"


def to_dot(tape: Tape, values: Sequence[Any] | None = None, grads: Sequence[Any] | None = None, limit: int = 60) -> str:
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
        op = _label(_op_text(tape, i))
        if tape.array:  # the type on a second line of the op's field
            op += "\\n" + _label(tape.type_of(i))
        fields = [_label(f"%{i}"), op]
        for name, given in (("data", values), ("grad", grads)):
            if given is not None:
                first, *more = _summary(given[i])
                fields.append("\\n".join(_label(line) for line in [f"{name} {first}", *more]))
        if i in outputs:
            fields.append(_label(f"output {outputs[i]}"))
        label = " | ".join(fields)
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

    from ..errors import MissingToolError, UnknownNameError

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

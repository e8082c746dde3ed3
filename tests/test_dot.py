"""DOT pictures of tapes (tapegrad.dot.to_dot).

The specification, section by section:

1. valid DOT: Graphviz's ``dot -Tsvg`` accepts it (when installed), and a
   small reader here checks the statements, the nodes and the edges;
2. labels: one box per record, hostile names (quotes, braces, pipes, angle
   brackets, backslashes, newlines) escaped so the box keeps its fields;
3. values and gradients appear when given; inputs and outputs are
   highlighted; guards are drawn as diamonds with their condition;
4. a large tape is summarised: its first and last records and a node
   saying how many were left out.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import tapegrad
from tapegrad.core.tape import Tape
from tapegrad.formats.dot import to_dot

HAS_DOT = shutil.which("dot") is not None
STATEMENT = re.compile(
    r"^  (n\d+|skipped)(?: -> (n\d+|skipped))? \[(.*)\];$|^  (n\d+) -> (n\d+);$|^  \w+=\w+;$|^  node \[.*\];$"
)
ATTRIBUTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s"]+)')


def render_svg(text: str) -> str:
    result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "<svg" in result.stdout
    return result.stdout


def read_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """Nodes (id -> attributes) and edges of to_dot's output, checking every line is one statement."""
    lines = text.split("\n")
    assert re.fullmatch(r'digraph "(?:[^"\\]|\\.)*" \{', lines[0]), lines[0]
    assert lines[-1] == "}"
    nodes: dict[str, dict[str, str]] = {}
    edges = []
    for line in lines[1:-1]:
        match = STATEMENT.match(line)
        assert match, line
        if match[4]:
            edges.append((match[4], match[5]))
        elif match[1] and match[2]:
            edges.append((match[1], match[2]))
        elif match[1]:
            assert re.fullmatch(r"[,\s]*", ATTRIBUTE.sub("", match[3])), line  # nothing but attributes
            nodes[match[1]] = {k: v[1:-1] if v.startswith('"') else v for k, v in ATTRIBUTE.findall(match[3])}
    for a, b in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


def record_fields(label: str) -> list[str]:
    """The fields of a record label ``{ a | b }``, unescaped; escaped characters never split a field."""
    assert label.startswith("{ ") and label.endswith(" }"), label
    fields, current, i, body = [], "", 0, label[2:-2]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            current += body[i + 1]
            i += 2
            continue
        assert ch not in '{}<>"', f"unescaped {ch!r} in {label!r}"
        if ch == "|":
            fields.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    return fields + [current.strip()]


def branchy(x, y):  # type: ignore[no-untyped-def]
    if x > 0:
        return (x * y).tanh() + x**2
    return -x


def tapes() -> dict[str, Tape]:
    traced = tapegrad.trace(branchy, 1.0, 2.0)
    return {
        "traced": traced,
        "gradient": tapegrad.grad_tape(traced),
        "parsed": tapegrad.parse("where(x > 0, sqrt(x), 0) * y"),
        "several outputs": tapegrad.trace(lambda x, y: (x + y, x * y), 1.0, 2.0),
        "no inputs": tapegrad.parse("1 + 2"),
    }


# ---------------------------------------------------------------- 1. valid DOT


@pytest.mark.parametrize("name", sorted(tapes()))
def test_every_record_is_a_node_and_every_operand_an_edge(name: str) -> None:
    tape = tapes()[name]
    nodes, edges = read_dot(to_dot(tape))
    assert sorted(nodes) == sorted(f"n{i}" for i in range(len(tape)))
    assert sorted(edges) == sorted((f"n{a}", f"n{i}") for i in range(len(tape)) for a in tape.args[i])


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
@pytest.mark.parametrize("name", sorted(tapes()))
def test_graphviz_reads_it(name: str) -> None:
    tape = tapes()[name]
    render_svg(to_dot(tape))
    render_svg(to_dot(tape, values=tape.values, grads=[0.5] * len(tape)))


# ---------------------------------------------------------------- 2. labels

HOSTILE_NAMES = [
    'say "hi"', "{x}", "a|b", "<port>", "back\\slash", "new\nline", "tab\there", "ünï ✓", '}"; n9 -> n0; "',
    "\\", '"', "{ | }",
]  # fmt: skip


def test_each_box_shows_its_slot_and_op() -> None:
    tape = tapes()["traced"]
    nodes, _ = read_dot(to_dot(tape))
    assert record_fields(nodes["n0"]["label"]) == ["%0", "input x"]
    assert record_fields(nodes["n2"]["label"]) == ["%2", "const 0"]
    assert record_fields(nodes["n5"]["label"]) == ["%5", "mul"]
    assert record_fields(nodes["n7"]["label"]) == ["%7", "pow_const 2"]
    assert record_fields(nodes["n8"]["label"]) == ["%8", "add", "output out"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_escaped(name: str) -> None:
    tape = tapegrad.trace(lambda x, y: x * y, 1.0, 2.0, names=[name, "y"])
    tape.output_names = [name]
    text = to_dot(tape)
    nodes, edges = read_dot(text)  # one statement a line: nothing escaped its label
    assert len(nodes) == 3 and sorted(edges) == [("n0", "n2"), ("n1", "n2")]
    shown = name.replace("\n", "\\n").replace("\t", "\\t")  # control characters are shown as escapes
    assert record_fields(nodes["n0"]["label"]) == ["%0", f"input {shown}"]
    assert record_fields(nodes["n2"]["label"]) == ["%2", "mul", f"output {shown}"]
    if HAS_DOT:
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", render_svg(text))]
        assert f"input {shown}" in texts and f"output {shown}" in texts


def test_hostile_tape_names_stay_inside_the_graph_name() -> None:
    tape = tapegrad.parse("x")
    for name in ['a"b', "{x}", "new\nline", '" { n0 -> n0 } "']:
        tape.name = name
        read_dot(to_dot(tape))
        if HAS_DOT:
            render_svg(to_dot(tape))


def test_the_graph_name_reads_as_the_tape_name() -> None:
    tape = tapegrad.trace(lambda x: x, 1.0)
    assert to_dot(tape).split("\n")[0] == 'digraph "<lambda>" {'


# ---------------------------------------------------------------- 3. values, gradients, highlights, guards


def test_values_and_gradients_appear_when_given() -> None:
    tape = tapegrad.parse("x * y + 1")
    values = [2.0, 3.0, 6.0, 1.0, 7.0]
    grads = [3.0, 2.0, 1.0, 1.0, 1.0]
    nodes, _ = read_dot(to_dot(tape, values=values, grads=grads))
    assert record_fields(nodes["n2"]["label"]) == ["%2", "mul", "data 6", "grad 1"]
    assert record_fields(nodes["n0"]["label"]) == ["%0", "input x", "data 2", "grad 3"]
    only_values, _ = read_dot(to_dot(tape, values=values))
    assert record_fields(only_values["n4"]["label"]) == ["%4", "add", "data 7", "output out"]
    plain, _ = read_dot(to_dot(tape))
    assert "data" not in plain["n2"]["label"] and "grad" not in plain["n2"]["label"]
    small, _ = read_dot(to_dot(tape, values=[1 / 3, 1e-300, float("nan"), float("inf"), -0.0]))
    assert [record_fields(small[f"n{i}"]["label"])[2] for i in range(5)] == [
        "data 0.3333", "data 1e-300", "data nan", "data inf", "data -0"]  # fmt: skip


def test_inputs_and_outputs_are_highlighted() -> None:
    tape = tapes()["several outputs"]
    nodes, _ = read_dot(to_dot(tape))
    assert nodes["n0"]["fillcolor"] == nodes["n1"]["fillcolor"] == "#dbeafe"
    assert nodes["n2"]["fillcolor"] == nodes["n3"]["fillcolor"] == "#dcfce7"
    assert nodes["n0"]["style"] == "filled" and nodes["n3"]["style"] == "filled"
    assert record_fields(nodes["n2"]["label"])[-1] == "output out0"
    assert record_fields(nodes["n3"]["label"])[-1] == "output out1"
    other = read_dot(to_dot(tapes()["parsed"]))[0]
    assert "fillcolor" not in other["n3"] and "style" not in other["n3"]


def test_guards_are_diamonds_with_their_condition() -> None:
    tape = tapes()["traced"]
    nodes, edges = read_dot(to_dot(tape))
    assert nodes["n4"]["shape"] == "diamond"
    assert nodes["n4"]["label"] == "%4 guard x \\> 0 (recorded True)"
    assert ("n3", "n4") in edges
    assert sum(1 for n in nodes.values() if n.get("shape") == "diamond") == 1
    if HAS_DOT:
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", render_svg(to_dot(tape)))]
        assert "%4 guard x > 0 (recorded True)" in texts


# ---------------------------------------------------------------- 4. large tapes


def long_tape(n: int) -> Tape:
    def chain(x, y):  # type: ignore[no-untyped-def]
        r = x
        for _ in range(n):
            r = r * y
        return r

    return tapegrad.trace(chain, 1.0, 0.5)


def test_a_large_tape_is_summarised() -> None:
    tape = long_tape(10_000)
    count = len(tape)
    assert count > 10_000
    text = to_dot(tape)
    assert len(text.split("\n")) < 200
    assert f'label="... {count - 60:,} records not shown ..."' in text
    nodes, edges = read_dot(text)
    shown = sorted(int(n[1:]) for n in nodes if n != "skipped")
    assert shown == list(range(30)) + list(range(count - 30, count))
    assert ("n29", "skipped") in edges and ("skipped", f"n{count - 30}") in edges
    assert record_fields(nodes[f"n{count - 1}"]["label"])[-1] == "output out"  # the output is among the last
    if HAS_DOT:
        render_svg(text)


def test_the_summary_limit_is_a_parameter() -> None:
    tape = long_tape(100)
    nodes, _ = read_dot(to_dot(tape, limit=10))
    assert len(nodes) == 11 and "skipped" in nodes
    assert f"{len(tape) - 10:,} records not shown" in nodes["skipped"]["label"]
    whole, _ = read_dot(to_dot(tape, limit=len(tape)))
    assert len(whole) == len(tape) and "skipped" not in whole


# ---------------------------------------------------------------- rendering with Graphviz


def _png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the pixel data of a PNG."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pixels, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            pixels += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(pixels)))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_writes_a_picture_that_is_not_blank(tmp_path: Path) -> None:
    tape = tapegrad.trace(lambda x, y: (x * y).tanh() + x, 0.5, 2.0)
    png = tape.render(tmp_path / "tape.png", format="png")
    width, height, colours = _png_size_and_colours(png.read_bytes())
    assert 100 < width < 2000 and 50 < height < 2000
    assert colours > 2  # text, boxes and fills, not a blank canvas
    svg_text = tape.render(tmp_path / "tape.svg").read_text()
    assert svg_text.lstrip().startswith("<?xml") and "tanh" in svg_text
    assert tape._repr_svg_() is not None and "<svg" in tape._repr_svg_()


def test_render_without_graphviz_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tapegrad.errors import MissingToolError, UnknownNameError

    tape = tapegrad.trace(lambda x: x.sin(), 1.0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError, match="apt-get install graphviz"):
        tape.render(tmp_path / "t.svg")
    assert tape._repr_svg_() is None  # Jupyter then shows the listing
    with pytest.raises(UnknownNameError, match="svg, png or pdf"):
        tape.render(tmp_path / "t.gif", format="gif")

"""DOT pictures of tapes (tapegrad.formats.dot.to_dot), of numbers and of arrays.

The specification, section by section:

1. valid DOT: Graphviz's ``dot -Tsvg`` accepts it (when installed), and a
   small reader here checks the statements, the nodes and the edges;
2. labels: one box per record, hostile names (quotes, braces, pipes, angle
   brackets, backslashes, newlines) escaped so the box keeps its fields;
3. values and gradients appear when given; inputs and outputs are
   highlighted; guards are drawn as diamonds with their condition;
4. a large tape is summarised: its first and last records and a node
   saying how many were left out;

and for array tapes:

5. types: every box of an array tape shows its record's dtype and shape on
   a second line under the op (``matmul`` over ``f64[100,16]``); boxes of
   tapes of numbers are unchanged;
6. attributes read as in the listing: axes of reductions, indices of
   ``getitem`` and ``scatter``, shapes, permutations, concat's axis,
   astype's dtype, small constants spelled out, large ones not; a long
   attribute is cut short;
7. values and adjoints: a number, a short array spelled out, a large one
   summarised by its type, range and mean (and its count of nan and inf),
   never spelled out, however large; an adjoint that did not flow is ``-``;
8. Graphviz reads the pictures of array tapes (when installed).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tapegrad
from tapegrad.core.interpret import ARRAY, backward, forward
from tapegrad.core.tape import Tape
from tapegrad.formats.dot import to_dot
from tapegrad.nn.batched import MLP

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


NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')


def boxes(text: str) -> dict[str, list[list[str]]]:
    """Each node's label as fields, each field as its lines: ``\\n`` breaks a line, other escapes are unescaped."""
    found = {}
    for line in text.split("\n"):
        match = NODE.match(line)
        if not match:
            continue
        label = match[2]
        assert label.startswith("{ ") and label.endswith(" }"), label
        fields: list[list[str]] = [[""]]
        body, i = label[2:-2], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                if body[i + 1] == "n":
                    fields[-1].append("")
                else:
                    fields[-1][-1] += body[i + 1]
                i += 2
                continue
            assert ch not in '{}<>"', f"unescaped {ch!r} in {label!r}"
            if ch == "|":
                fields.append([""])
            else:
                fields[-1][-1] += ch
            i += 1
        found[match[1]] = [[part.strip() for part in field] for field in fields]
    return found


def mlp_tape(points: int = 100) -> tapegrad.Tape:
    model = MLP(2, [16, 16, 1], seed=1)
    x = np.random.default_rng(0).normal(size=(points, 2))
    return tapegrad.trace(lambda x: model(x).tanh().mean(), x)


def values_and_grads(tape: tapegrad.Tape) -> tuple[list, list]:  # type: ignore[type-arg]
    inputs = [tape.values[s] for s in tape.input_slots]
    values = forward(tape, inputs, ARRAY)
    grads = backward(tape, values, {tape.output_slots[0]: 1.0}, ARRAY)
    return values, grads + [None] * (len(tape) - len(grads))


# ---------------------------------------------------------------- 5. array tapes: types


def test_each_box_shows_its_type_under_its_op() -> None:
    tape = mlp_tape()
    shown = boxes(to_dot(tape))
    assert len(shown) == len(tape)
    for i in range(len(tape)):
        slot, op, *_ = shown[f"n{i}"]
        assert slot == [f"%{i}"] and len(op) == 2 and op[1] == tape.type_of(i)
    assert shown["n0"][1] == ["input x", "f64[100,2]"]
    assert shown["n2"][1] == ["matmul", "f64[100,16]"]
    assert shown[f"n{len(tape) - 1}"][1] == ["div", "f64[]"]


def test_float32_and_scalar_records_show_their_types() -> None:
    tape = tapegrad.trace(lambda x: x.astype(np.float32).sum() * 2.0, np.ones((2, 3)))
    shown = boxes(to_dot(tape))
    assert [shown[f"n{i}"][1][1] for i in range(len(tape))] == ["f64[2,3]", "f32[2,3]", "f32[]", "f64[]", "f32[]"]


def test_tapes_of_numbers_show_no_types() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y).tanh(), 1.0, 2.0)
    assert [op for _, op, *_ in boxes(to_dot(tape)).values()] == [["input x"], ["input y"], ["mul"], ["tanh"]]


# ---------------------------------------------------------------- 6. array tapes: attributes


def test_attributes_read_as_in_the_listing() -> None:
    def f(x):  # type: ignore[no-untyped-def]
        parts = [
            x.sum(axis=1, keepdims=True).sum(),
            x.max(),
            tapegrad.logsumexp(x, axis=(0, 1)),
            x[:, 1:3].sum(),
            x[np.array([0, 0, 1])].sum(),
            x.reshape(3, 2).T.sum(),
            tapegrad.concatenate([x, x], axis=1).sum(),
            tapegrad.log_softmax(x, axis=0).sum(),
            x.astype(np.float32).astype(np.float64).sum(),
            (x * np.array([1.0, 2.0, 3.0])).sum(),
            (x * np.arange(24.0).reshape(4, 2, 3)).sum(),
        ]
        return sum(parts[1:], parts[0])

    tape = tapegrad.trace(f, np.arange(6.0).reshape(2, 3))
    ops = [op[0] for _, op, *_ in boxes(to_dot(tape)).values()]
    for expected in [
        "sum axis=1 keepdims",
        "sum axis=all",
        "max axis=all",
        "logsumexp axis=0,1",
        "getitem [:, 1:3]",
        "getitem [[0, 0, 1]]",
        "reshape (3, 2)",
        "transpose (1, 0)",
        "concat axis=1",
        "log_softmax axis=0",
        "astype float32",
        "const [1., 2., 3.]",
    ]:
        assert expected in ops, (expected, ops)
    assert "const" in ops  # the (4, 2, 3) constant: not 24 numbers in a box
    gradient = tapegrad.grad_tape(tapegrad.trace(lambda x: (x[np.array([1, 1])] * x[0]).sum(), np.ones((2, 3))))
    ops = [op[0] for _, op, *_ in boxes(to_dot(gradient)).values()]
    assert "scatter [[1, 1]] into (2, 3)" in ops and "sum_to (3,)" in ops


def test_a_long_attribute_is_cut_short() -> None:
    tape = tapegrad.trace(lambda x: x.reshape((1,) * 30 + (6,)).sum(), np.ones((2, 3)))
    (op,) = [box[1][0] for box in boxes(to_dot(tape)).values() if box[1][0].startswith("reshape")]
    assert op.endswith("...") and len(op) <= len("reshape ") + 60


# ---------------------------------------------------------------- 7. array tapes: values and adjoints


def test_large_values_and_gradients_are_summarised() -> None:
    tape = mlp_tape()
    values, grads = values_and_grads(tape)
    shown = boxes(to_dot(tape, values=values, grads=grads))
    data, grad = shown["n2"][2], shown["n2"][3]
    hidden = values[2]
    assert data[0] == "data f64[100,16]"
    assert data[1] == f"min {hidden.min():.4g}  max {hidden.max():.4g}" and data[2] == f"mean {hidden.mean():.4g}"
    assert grad[0] == "grad f64[100,16]" and grad[1].startswith("min ") and grad[2].startswith("mean ")
    assert shown[f"n{len(tape) - 1}"][2:] == [[f"data {values[-1]:.4g}"], ["grad 1"], ["output out"]]


def test_a_million_elements_make_a_short_label() -> None:
    x = np.random.default_rng(0).normal(size=(1000, 1000))
    tape = tapegrad.trace(lambda x: (x * 2.0).sum(), x)
    values, grads = values_and_grads(tape)
    text = to_dot(tape, values=values, grads=grads)
    assert len(text) < 2_000
    assert boxes(text)["n0"][2][0] == "data f64[1000,1000]"


def test_small_arrays_are_spelled_out_and_empty_ones_said_so() -> None:
    tape = tapegrad.trace(lambda x, y: (x * 2.0).sum() + y.sum(), np.array([0.5, -0.0, 1 / 3]), np.ones((3, 0)))
    values, grads = values_and_grads(tape)
    shown = boxes(to_dot(tape, values=values, grads=grads))
    assert shown["n0"][2:4] == [["data [0.5, -0, 0.3333]"], ["grad [2, 2, 2]"]]
    assert shown["n1"][2] == ["data f64[3,0] (empty)"]


def test_nan_and_inf_are_counted_and_left_out_of_the_statistics() -> None:
    x = np.arange(10.0)
    x[[1, 2]], x[3] = np.nan, -np.inf
    tape = tapegrad.trace(lambda x: x.sum(), x)
    shown = boxes(to_dot(tape, values=[x, np.nan]))
    assert shown["n0"][2] == ["data f64[10]", "min 0  max 9", "mean 5.571", "2 nan, 1 inf"]
    everything_nan = boxes(to_dot(tape, values=[np.full(10, np.nan), np.nan]))
    assert everything_nan["n0"][2] == ["data f64[10]", "10 nan"]


def test_an_adjoint_that_did_not_flow_is_a_dash() -> None:
    tape = tapegrad.trace(lambda x, y: x.sum(), np.ones(3), np.ones(3))
    shown = boxes(to_dot(tape, grads=[np.ones(3), None, 1.0]))
    assert shown["n1"][2] == ["grad -"] and shown["n0"][2] == ["grad [1, 1, 1]"]


# ---------------------------------------------------------------- 8. array tapes: Graphviz


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
def test_graphviz_reads_array_pictures() -> None:
    tape = mlp_tape()
    values, grads = values_and_grads(tape)
    for text in [to_dot(tape), to_dot(tape, values=values, grads=grads), to_dot(tapegrad.grad_tape(tape))]:
        result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr == "" and "<svg" in result.stdout
        assert "f64[100,16]" in result.stdout

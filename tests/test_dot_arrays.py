"""DOT pictures of array tapes (tapegrad.dot.to_dot).

The specification, section by section:

1. types: every box of an array tape shows its record's dtype and shape on
   a second line under the op (``matmul`` over ``f64[100,16]``); boxes of
   tapes of numbers are unchanged;
2. attributes read as in the listing: axes of reductions, indices of
   ``getitem`` and ``scatter``, shapes, permutations, concat's axis,
   astype's dtype, small constants spelled out, large ones not; a long
   attribute is cut short;
3. values and adjoints: a number, a short array spelled out, a large one
   summarised by its type, range and mean (and its count of nan and inf),
   never spelled out, however large; an adjoint that did not flow is ``-``;
4. Graphviz reads the pictures (when installed).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import tapegrad
from tapegrad.core.interpret import ARRAY, backward, forward
from tapegrad.formats.dot import to_dot
from tapegrad.nn.batched import MLP

HAS_DOT = shutil.which("dot") is not None
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


# ---------------------------------------------------------------- 1. types


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


# ---------------------------------------------------------------- 2. attributes


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


# ---------------------------------------------------------------- 3. values and adjoints


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


# ---------------------------------------------------------------- 4. Graphviz


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
def test_graphviz_reads_array_pictures() -> None:
    tape = mlp_tape()
    values, grads = values_and_grads(tape)
    for text in [to_dot(tape), to_dot(tape, values=values, grads=grads), to_dot(tapegrad.grad_tape(tape))]:
        result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr == "" and "<svg" in result.stdout
        assert "f64[100,16]" in result.stdout

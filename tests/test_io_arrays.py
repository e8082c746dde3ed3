"""Array tapes in tape files (tapegrad.io, format version 2).

The specification, section by section:

1. round trips: traced array tapes (every array op, float32, special
   values, empty axes, a batched MLP, an embedding with cross-entropy, a
   guard on a reduction), their gradient tapes and optimised gradient tapes
   come back with every record, attribute and recorded value (dtype, shape,
   bits, memory layout), so they replay and differentiate bit for bit;
2. the format: the sample file below; tapes of numbers only are still
   written as version 1 (which older tapegrads read) and version 1 files
   are still read; array ops and array constants need version 2;
3. validation: every kind of bad field of an array file (dtypes, shapes,
   data, index items, axes, permutations, arity, shapes that do not fit,
   guards on arrays) raises ``TapeFormatError`` naming its JSON path;
4. caps: the values of a loaded tape hold at most ``max_elements``
   elements, checked before numpy makes them, so a small file cannot ask
   for a huge array;
5. a fuzz test: random mutations of array files give a tape whose ``dumps``
   is stable and that replays, or ``TapeFormatError``, nothing else.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import json_paths, load_mutated

import tapegrad
from tapegrad import io
from tapegrad.core.ops import OPS, OpKind
from tapegrad.core.shapes import ArrayAttr, Index
from tapegrad.core.tape import portable_site
from tapegrad.errors import StaleTapeError, TapeFormatError
from tapegrad.nn.batched import MLP

# ---------------------------------------------------------------- tapes to round-trip


def every_op(x, w, v):  # type: ignore[no-untyped-def]
    """Every array op of the table, and the composites made of them: x (3, 4), w (4, 2), v (4,)."""
    h = (x @ w).tanh()
    u = x @ v + (v @ w).sum()
    s = h.sum(axis=0).sum() + h.mean(axis=1, keepdims=True).sum() + h.max(axis=(0, 1))
    t = x.T.reshape(2, -1).transpose(1, 0)
    mask = np.arange(12).reshape(3, 4) % 3 == 0  # a boolean index (x.data > 0 is refused inside a trace)
    picked = x[np.array([0, 2, 2]), 1:3].sum() + x[..., None, ::-2][0].sum() + x[mask].sum() + x[-1, 2]
    cat = tapegrad.concatenate([h, h * 2.0, t[:3]], axis=1)
    st = tapegrad.stack([u, u * u], axis=1)
    soft = tapegrad.softmax(cat).max() + tapegrad.log_softmax(st, axis=0).sum() + tapegrad.logsumexp(cat, 1).sum()
    f32 = x.astype(np.float32).sum().astype(np.float64)
    ce = tapegrad.cross_entropy(cat, np.array([0, 3, 1]))
    w2 = tapegrad.where(x > 0.5, x, -x).sum() + tapegrad.maximum(x, 0.1).sum() + (x >= 0).sum()
    return s + picked + soft + f32 + ce + w2 + t.sum()


SPECIAL = np.array([math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 5e-324, 1e-310, 1.7976931348623157e308])


SPECIAL32 = np.array([math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 1e-45, 3.4028235e38], dtype=np.float32)


def special_values(x):  # type: ignore[no-untyped-def]
    return x * SPECIAL, (x[:9] * SPECIAL32).astype(np.float32) * np.array(1e-45, dtype=np.float32)


def guarded(x):  # type: ignore[no-untyped-def]
    if x.sum() > 0:
        return (x * x).sum()
    return -x.sum()


def mlp_loss() -> Callable[..., Any]:
    model = MLP(2, [8, 8, 1], seed=1)
    return lambda x, y: ((model(x).reshape(-1) - y) ** 2).mean()


def embedding_loss(table):  # type: ignore[no-untyped-def]
    """makemore's model in small: embed two-token contexts, a tanh layer, cross-entropy; table (5, 3)."""
    contexts = np.array([[0, 1], [2, 2], [4, 3], [1, 0]])
    weights = np.random.default_rng(3).normal(size=(6, 5))
    hidden = table[contexts].reshape(4, 6).tanh()
    return tapegrad.cross_entropy(hidden @ weights, np.array([1, 4, 0, 0]))


def transposed_constant(x):  # type: ignore[no-untyped-def]
    """A constant laid out in Fortran order: numpy's sums follow memory order, so the layout must come back."""
    m = np.asfortranarray(np.random.default_rng(5).normal(size=(30, 20)))
    return (x @ m).sum(axis=0).sum()


def rng_arrays(*shapes: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in shapes]


def traced(name: str) -> tapegrad.Tape:
    if name == "every op":
        return tapegrad.trace(every_op, *rng_arrays((3, 4), (4, 2), (4,)))
    if name == "float32":
        return tapegrad.trace(
            lambda x, y: ((x @ y).tanh() * np.float32(0.1)).sum(), *rng_arrays((3, 2), (2, 4), dtype=np.float32)
        )
    if name == "special values":
        return tapegrad.trace(special_values, np.linspace(-1.0, 1.0, 10))
    if name == "empty axes":
        return tapegrad.trace(lambda x, y: (x @ y).sum(axis=0) + x.sum() + y[:, :0].sum(), *rng_arrays((3, 0), (0, 4)))
    if name == "guard":
        return tapegrad.trace(guarded, np.arange(1.0, 4.0))
    if name == "mlp":
        return tapegrad.trace(mlp_loss(), *rng_arrays((20, 2), (20,)))
    if name == "embedding":
        return tapegrad.trace(embedding_loss, *rng_arrays((5, 3)))
    if name == "transposed constant":
        return tapegrad.trace(transposed_constant, *rng_arrays((7, 30)))
    raise KeyError(name)


TRACED = ["every op", "float32", "special values", "empty axes", "guard", "mlp", "embedding", "transposed constant"]
DIFFERENTIABLE = ["every op", "float32", "guard", "mlp", "embedding", "transposed constant"]


def make(name: str) -> tapegrad.Tape:
    """A fresh tape of each kind: traced, its gradient tape, or its optimised gradient tape."""
    kind, _, base = name.partition(" of ")
    if kind == "gradient":
        return tapegrad.grad_tape(traced(base))
    if kind == "optimized gradient":
        return tapegrad.optimize(tapegrad.grad_tape(traced(base)))
    return traced(name)


NAMES = TRACED + [f"gradient of {n}" for n in DIFFERENTIABLE] + [f"optimized gradient of {n}" for n in DIFFERENTIABLE]


# ---------------------------------------------------------------- comparing exactly


def value_key(x: Any) -> tuple[Any, ...]:
    """A slot value by type, dtype, shape, bits and memory layout."""
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes(), x.flags.c_contiguous, x.flags.f_contiguous)
    return (type(x).__name__, struct.pack("<d", x))


def attr_key(attr: Any) -> Any:
    if isinstance(attr, float):
        return struct.pack("<d", attr)
    if isinstance(attr, ArrayAttr):
        return ("array", attr.key(), value_key(attr.array))
    return (type(attr).__name__, attr)  # Index and tuples compare by content


def results_key(result: Any) -> list[tuple[Any, ...]]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [value_key(x) for x in items]


def replay_key(tape: tapegrad.Tape, point: list[Any]) -> Any:
    try:
        return results_key(tape(*point))
    except StaleTapeError:
        return "stale"


def points_for(tape: tapegrad.Tape) -> list[list[Any]]:
    """The recorded point and a random one of the same shapes and dtypes."""
    recorded = [tape.values[s] for s in tape.input_slots]
    rng = np.random.default_rng(len(tape))
    other = [rng.normal(size=np.shape(x)).astype(getattr(x, "dtype", np.float64)) for x in recorded]
    return [recorded, [x if np.ndim(x) else float(x) for x in other]]


def assert_same_tape(loaded: tapegrad.Tape, tape: tapegrad.Tape) -> None:
    assert io.dumps(loaded) == io.dumps(tape)
    assert loaded.ops == tape.ops and loaded.args == tape.args
    assert sorted(loaded.attrs) == sorted(tape.attrs)
    assert [attr_key(loaded.attrs[s]) for s in sorted(loaded.attrs)] == [
        attr_key(tape.attrs[s]) for s in sorted(tape.attrs)
    ]
    # A folded constant's slot may hold a view of its array; replays use the attribute, compared above with its layout.
    numbers = [value_key(x)[:4] if kind is OpKind.CONST else value_key(x) for kind, x in zip(tape.ops, tape.values)]
    assert [
        value_key(x)[:4] if kind is OpKind.CONST else value_key(x) for kind, x in zip(loaded.ops, loaded.values)
    ] == numbers
    assert [loaded.type_of(s) for s in range(len(loaded))] == [tape.type_of(s) for s in range(len(tape))]
    assert loaded.array == tape.array and loaded.broadcasts == tape.broadcasts
    assert (loaded.name, loaded.inputs, loaded.outputs, loaded.structure) == (
        tape.name,
        tape.inputs,
        tape.outputs,
        tape.structure,
    )
    assert loaded.input_slots == tape.input_slots
    assert loaded.sites == {s: portable_site(w) for s, w in tape.sites.items()}  # files relative to the cwd
    assert loaded.traced and loaded.sealed


# ---------------------------------------------------------------- 1. round trips


@pytest.mark.parametrize("name", NAMES)
def test_array_tapes_round_trip_exactly(name: str, tmp_path: Path) -> None:
    tape = make(name)
    tape.save(tmp_path / "tape.json")
    loaded = tapegrad.Tape.load(tmp_path / "tape.json")
    assert (tmp_path / "tape.json").read_text(encoding="utf-8") == io.dumps(tape)
    assert json.loads(io.dumps(tape))["version"] == 2
    assert_same_tape(loaded, tape)
    for point in points_for(tape):
        assert replay_key(loaded, point) == replay_key(tape, point)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradients_of_loaded_array_tapes_are_bit_for_bit(name: str) -> None:
    tape = make(name)
    loaded = io.loads(io.dumps(tape))
    for point in points_for(tape):
        try:
            expected = results_key(tape.gradient(*point))
        except StaleTapeError:
            with pytest.raises(StaleTapeError):
                loaded.gradient(*point)
            continue
        assert results_key(loaded.gradient(*point)) == expected


def test_the_listing_of_a_loaded_tape_shows_the_recorded_types() -> None:
    tape = make("every op")
    loaded = io.loads(io.dumps(tape))
    tape.sites = {s: portable_site(w) for s, w in tape.sites.items()}  # a tape file names files relative to the cwd
    assert str(loaded) == str(tape)
    assert "%3: f64[3,2] = matmul %0 %1" in str(tape)


def test_a_transposed_constant_is_stored_in_c_order() -> None:
    """Array attributes are copied into C order when recorded, so results never depend on a layout."""
    tape = make("transposed constant")
    const = json.loads(io.dumps(tape))["records"][1][2]
    assert "layout" not in const and const["shape"] == [30, 20]
    loaded = io.loads(io.dumps(tape))
    assert loaded.attrs[1].array.flags.c_contiguous


def test_a_fortran_ordered_example_keeps_its_layout() -> None:
    x = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    tape = tapegrad.trace(lambda x: x.sum(axis=0), x)
    example = json.loads(io.dumps(tape))["example"][0]
    assert example["layout"] == [1, 0]
    loaded = io.loads(io.dumps(tape))
    assert loaded.values[loaded.input_slots[0]].flags.f_contiguous


def test_special_values_are_written_exactly() -> None:
    tape = make("special values")
    records = json.loads(io.dumps(tape))["records"]
    arrays = [r[2] for r in records if r[0] == "const" and isinstance(r[2], dict)]
    (f64,) = [a for a in arrays if a["dtype"] == "float64"]
    assert f64["data"] == ["inf", "-inf", "nan", "-0.0", "0.0", "0.1", "0.3333333333333333", "5e-324", "1e-310",
                           "1.7976931348623157e+308"]  # fmt: skip
    f32 = [a for a in arrays if a["dtype"] == "float32"]
    assert f32[0]["data"][5] == repr(float(np.float32(0.1)))  # the float32 value, exactly, as a float64
    assert f32[1] == {"dtype": "float32", "shape": [], "data": [repr(float(np.float32(1e-45)))]}
    loaded = io.loads(io.dumps(tape))
    out, small = loaded(np.full(10, -1.0))
    assert math.copysign(1.0, out[3]) == 1.0 and math.isnan(out[2]) and small.dtype == np.float32


def test_index_attributes_come_back() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    cases = [
        (1, slice(None), slice(3, None, -2)),
        (Ellipsis, None, 2),
        (np.array([[0, 1], [1, 0]]), slice(None), np.array([3, -1])),
        (x[..., 0] > 5,),
        (slice(None), np.array([], dtype=np.intp)),
        (),
    ]
    for index in cases:
        tape = tapegrad.trace(lambda v, index=index: v[index].sum(), x)  # type: ignore[misc]
        loaded = io.loads(io.dumps(tape))
        assert loaded.attrs[1] == tape.attrs[1] == Index(index)
        assert replay_key(loaded, [x + 1]) == replay_key(tape, [x + 1])
        assert results_key(loaded.gradient(x)) == results_key(tape.gradient(x))


# ---------------------------------------------------------------- 2. the format


def test_the_sample_file() -> None:
    """What the module docstring describes, on one small tape."""
    weights = np.array([2.0, math.nan])
    tape = tapegrad.trace(lambda x: (x[:, ::-1] * weights).sum(axis=0), np.array([[1.0, -0.0], [math.inf, 0.1]]))
    assert json.loads(io.dumps(tape)) == {
        "format": "tapegrad.tape",
        "version": 2,
        "name": "<lambda>",
        "records": [
            ["input", [], "x"],
            ["getitem", [0], [{"slice": [None, None, None]}, {"slice": [None, None, -1]}]],
            ["const", [], {"dtype": "float64", "shape": [2], "data": ["2.0", "nan"]}],
            ["mul", [1, 2]],
            ["sum", [3], {"axes": [0], "keepdims": False}],
        ],
        "inputs": [0],
        "example": [{"dtype": "float64", "shape": [2, 2], "data": ["1.0", "-0.0", "inf", "0.1"]}],
        "captured": {},
        "outputs": [4],
        "output_names": ["out"],
        "structure": "value",
        "sites": {},
    }


def test_tapes_of_numbers_are_still_written_as_version_1() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y).tanh() + 2.5, 1.0, 2.0)
    document = json.loads(io.dumps(tape))
    assert document["version"] == 1 and io.VERSION == 2
    document["version"] = 2  # and the same document as version 2 is the same tape
    assert io.dumps(io.loads(json.dumps(document))) == io.dumps(tape)


def test_array_ops_need_version_2() -> None:
    document = json.loads(io.dumps(make("every op")))
    document["version"] = 1
    with pytest.raises(TapeFormatError, match=r"at records\[3\]\[0\]: matmul is an array op; array ops need format"):
        io.loads(json.dumps(document))
    document = small()
    document["version"] = 1
    document["records"][3:] = []
    document["outputs"], document["captured"] = [2], {}
    document["example"] = ["1.0"]
    with pytest.raises(TapeFormatError, match=r"at records\[1\]\[2\]: expected a number written as a string"):
        io.loads(json.dumps(document))


def test_versions_beyond_2_name_the_versions_read() -> None:
    document = small()
    document["version"] = 3
    with pytest.raises(TapeFormatError, match="version 3 is from a newer tapegrad; this one reads versions 1 to 2"):
        io.loads(json.dumps(document))


# ---------------------------------------------------------------- 3. validation


def small() -> dict[str, Any]:
    """A small valid array document using every array op, a guard and a captured number."""
    return {
        "format": "tapegrad.tape", "version": 2, "name": "f",
        "records": [
            ["input", [], "x"],                                                                        # 0 f64[2,3]
            ["const", [], {"dtype": "float32", "shape": [3], "data": ["1.0", "-0.0", "inf"]}],          # 1 f32[3]
            ["mul", [0, 1]],                                                                           # 2 f64[2,3]
            ["sum", [2], {"axes": [1], "keepdims": False}],                                            # 3 f64[2]
            ["getitem", [0], [{"dtype": "int64", "shape": [3], "data": [1, 0, 1]},
                              {"slice": [None, None, -1]}]],                                            # 4 f64[3,3]
            ["transpose", [4], [1, 0]],                                                                # 5 f64[3,3]
            ["reshape", [5], [-1]],                                                                    # 6 f64[9]
            ["concat", [6, 6], 0],                                                                     # 7 f64[18]
            ["broadcast_to", [3], [4, 2]],                                                             # 8 f64[4,2]
            ["sum_to", [8], [1, 2]],                                                                   # 9 f64[1,2]
            ["scatter", [3], {"index": [{"slice": [None, None, None]}, 0], "shape": [2, 4]}],          # 10 f64[2,4]
            ["astype", [7], "float32"],                                                                # 11 f32[18]
            ["const", [], {"dtype": "float64", "shape": [3, 2], "data": ["1", "2", "3", "4", "5", "6"]}],  # 12
            ["matmul", [0, 12]],                                                                       # 13 f64[2,2]
            ["logsumexp", [13], {"axes": None, "keepdims": True}],                                     # 14 f64[1,1]
            ["max", [11], {"axes": [0], "keepdims": False}],                                           # 15 f32[]
            ["input", [], "captured:c"],                                                               # 16 f64[]
            ["gt", [14, 16]],                                                                          # 17 f64[1,1]
            ["guard", [17], True],                                                                     # 18
            ["add", [14, 16]],                                                                         # 19 f64[1,1]
            ["log_softmax", [13], 1],                                                                  # 20 f64[2,2]
        ],
        "inputs": [0],
        "example": [{"dtype": "float64", "shape": [2, 3], "data": ["0.5", "1.0", "-2.0", "3.0", "0.25", "1e-300"]}],
        "captured": {"16": "4.0"},
        "outputs": [19], "output_names": ["out"], "structure": "value", "sites": {"17": "f.py:3"},
    }  # fmt: skip


def test_the_small_document_is_valid() -> None:
    tape = io.loads(json.dumps(small()))
    types = [tape.type_of(s) for s in range(len(tape))]
    assert types == ["f64[2,3]", "f32[3]", "f64[2,3]", "f64[2]", "f64[3,3]", "f64[3,3]", "f64[9]", "f64[18]",
                     "f64[4,2]", "f64[1,2]", "f64[2,4]", "f32[18]", "f64[3,2]", "f64[2,2]", "f64[1,1]", "f32[]",
                     "f64[]", "f64[1,1]", "f64[1,1]", "f64[1,1]", "f64[2,2]"]  # fmt: skip
    x = np.array([[0.5, 1.0, -2.0], [3.0, 0.25, 1e-300]])
    expected = np.log(np.exp(x @ np.arange(1.0, 7.0).reshape(3, 2)).sum()) + 4.0
    assert tape(x).shape == (1, 1) and tape(x)[0, 0] == pytest.approx(expected)
    assert tape.gradient(x, seed=np.ones((1, 1)))[0].shape == (2, 3)
    with pytest.raises(StaleTapeError):
        tape(x - 100.0)
    assert io.dumps(io.loads(io.dumps(tape))) == io.dumps(tape)


def setter(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def concat_of_a_scalar(document: dict[str, Any]) -> None:
    document["records"][3][2]["axes"] = None  # record 3 sums to a number
    document["records"][7][1] = [3]


C = ("records", 1, 2)  # the float32 constant
INDEX = ("records", 4, 2, 0)  # the int64 index array

# (what is wrong, the change, the JSON path in the message, a distinctive part of the message)
BAD_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "unknown dtype",
        setter(*C, "dtype", value="float16"),
        "records[1][2].dtype",
        "expected float64 or float32, got 'float16'",
    ),
    ("integer constant", setter(*C, "dtype", value="int64"), "records[1][2].dtype", "expected float64 or float32"),
    ("dtype not a string", setter(*C, "dtype", value=5), "records[1][2].dtype", "got '5'"),
    (
        "negative size",
        setter(*C, "shape", value=[-3]),
        "records[1][2].shape[0]",
        "expected a size (an integer from 0), got -3",
    ),
    ("size a float", setter(*C, "shape", value=[3.0]), "records[1][2].shape[0]", "expected a size"),
    ("size a bool", setter(*C, "shape", value=[True]), "records[1][2].shape[0]", "expected a size"),
    ("shape not a list", setter(*C, "shape", value=3), "records[1][2].shape", "expected a shape"),
    ("too many axes", setter(*C, "shape", value=[1] * 33), "records[1][2].shape", "at most 32 integers"),
    (
        "data too short",
        setter(*C, "data", value=["1.0", "2.0"]),
        "records[1][2].data",
        "2 numbers, but shape [3] holds 3",
    ),
    ("data too long", setter(*C, "shape", value=[1]), "records[1][2].data", "3 numbers, but shape [1] holds 1"),
    ("data not a list", setter(*C, "data", value="1.0"), "records[1][2].data", "expected list, got str"),
    (
        "datum a JSON float",
        setter(*C, "data", 0, value=1.5),
        "records[1][2].data[0]",
        "expected a number written as a string",
    ),
    ("datum not a number", setter(*C, "data", 2, value="lots"), "records[1][2].data[2]", "not a number: 'lots'"),
    ("datum a bool", setter(*C, "data", 1, value=False), "records[1][2].data[1]", "expected a number"),
    (
        "datum not a float32",
        setter(*C, "data", 0, value="0.1"),
        "records[1][2].data[0]",
        "'0.1' is not a float32 number",
    ),
    ("datum a huge integer", setter(*C, "data", 0, value=2**60), "records[1][2].data[0]", "integer too large"),
    (
        "array with a stray key",
        setter(*C, "order", value="C"),
        "records[1][2]",
        "expected an object with the keys data, dtype, shape",
    ),
    ("array without data", lambda d: d["records"][1][2].pop("data"), "records[1][2]", "the keys data, dtype, shape"),
    (
        "layout not a permutation",
        setter("records", 12, 2, "layout", value=[0, 0]),
        "records[12][2].layout",
        "a permutation of the 2 axes",
    ),
    (
        "index array of floats",
        setter(*INDEX, "dtype", value="float64"),
        "records[4][2][0].dtype",
        "expected int64 or bool",
    ),
    (
        "index datum a float",
        setter(*INDEX, "data", 0, value=1.5),
        "records[4][2][0].data[0]",
        "expected int64 items, got 1.5",
    ),
    ("index datum a bool", setter(*INDEX, "data", 0, value=True), "records[4][2][0].data[0]", "expected int64 items"),
    (
        "boolean datum an int",
        lambda d: d["records"][4][2][0].update(dtype="bool"),
        "records[4][2][0].data[0]",
        "expected bool items, got 1",
    ),
    ("index out of bounds", setter(*INDEX, "data", 0, value=5), "records[4]", "index 5 is out of bounds"),
    ("index item unknown", setter("records", 4, 2, 1, value="all"), "records[4][2][1]", "expected an index item"),
    ("index item a float", setter("records", 4, 2, 1, value=1.0), "records[4][2][1]", "expected an index item"),
    ("index item a bool", setter("records", 4, 2, 1, value=True), "records[4][2][1]", "expected an index item"),
    ("index item a huge integer", setter("records", 4, 2, 1, value=2**60), "records[4][2][1]", "expected an integer"),
    ("index not a list", setter("records", 4, 2, value=0), "records[4][2]", "expected an index"),
    ("slice step zero", setter("records", 4, 2, 1, "slice", 2, value=0), "records[4][2][1].slice[2]", "cannot be zero"),
    (
        "slice of two",
        setter("records", 4, 2, 1, "slice", value=[0, 1]),
        "records[4][2][1].slice",
        "[start, stop, step]",
    ),
    (
        "slice bound a string",
        setter("records", 4, 2, 1, "slice", 0, value="1"),
        "records[4][2][1].slice[0]",
        "expected an integer",
    ),
    ("too many indices", setter("records", 4, 2, value=[0, 0, 0]), "records[4]", "too many indices"),
    ("two ellipses", setter("records", 4, 2, value=["...", "..."]), "records[4]", "single ellipsis"),
    (
        "boolean index of no axes",
        setter("records", 4, 2, 0, value={"dtype": "bool", "shape": [], "data": [True]}),
        "records[4][2][0]",
        "at least one axis",
    ),
    (
        "boolean mask of the wrong shape",
        setter("records", 4, 2, 0, value={"dtype": "bool", "shape": [3], "data": [True] * 3}),
        "records[4]",
        "getitem",
    ),
    (
        "axis out of range",
        setter("records", 3, 2, "axes", value=[2]),
        "records[3]",
        "axis 2 is out of range for 2 axes",
    ),
    (
        "axes out of order",
        setter("records", 3, 2, "axes", value=[1, 0]),
        "records[3][2].axes",
        "increasing order, each once",
    ),
    ("axis repeated", setter("records", 3, 2, "axes", value=[1, 1]), "records[3][2].axes", "increasing order"),
    ("axis negative", setter("records", 3, 2, "axes", value=[-1]), "records[3][2].axes[0]", "an integer from 0"),
    ("keepdims not a bool", setter("records", 3, 2, "keepdims", value=0), "records[3][2].keepdims", "true or false"),
    (
        "reduction without axes",
        setter("records", 3, 2, value={"keepdims": False}),
        "records[3][2]",
        "the keys axes, keepdims",
    ),
    (
        "reduction attribute a list",
        setter("records", 3, 2, value=[[1], False]),
        "records[3][2]",
        "the keys axes, keepdims",
    ),
    ("not a permutation", setter("records", 5, 2, value=[0, 0]), "records[5]", "[0, 0] is not a permutation of 2 axes"),
    ("permutation too short", setter("records", 5, 2, value=[0]), "records[5]", "not a permutation"),
    (
        "two unknown sizes",
        setter("records", 6, 2, value=[-1, -1]),
        "records[6][2]",
        "at most one size of a reshape can be -1",
    ),
    ("size below -1", setter("records", 6, 2, value=[-2]), "records[6][2][0]", "an integer from -1"),
    ("reshape to another size", setter("records", 6, 2, value=[4]), "records[6]", "reshape"),
    ("concat of nothing", setter("records", 7, 1, value=[]), "records[7][1]", "concat takes one or more operand(s)"),
    ("concat axis out of range", setter("records", 7, 2, value=1), "records[7]", "axis 1 is out of range for 1 axes"),
    ("concat axis negative", setter("records", 7, 2, value=-1), "records[7][2]", "an axis (an integer from 0)"),
    ("concat axis a string", setter("records", 7, 2, value="0"), "records[7][2]", "an axis"),
    ("concat of different ranks", setter("records", 7, 1, value=[6, 0]), "records[7]", "concat"),
    ("concat of a scalar", concat_of_a_scalar, "records[7]", "out of range for 0 axes"),
    ("broadcast to a misfit", setter("records", 8, 2, value=[4, 3]), "records[8]", "broadcast_to"),
    ("sum_to a misfit", setter("records", 9, 2, value=[2, 2]), "records[9]", "[2, 2] does not broadcast to [4, 2]"),
    ("sum_to more axes", setter("records", 9, 2, value=[1, 1, 2]), "records[9]", "does not broadcast"),
    ("scatter into a misfit", setter("records", 10, 2, "shape", value=[3, 4]), "records[10]", "has shape [3], not [2]"),
    ("scatter out of bounds", setter("records", 10, 2, "index", 1, value=9), "records[10]", "out of bounds"),
    (
        "scatter without a shape",
        setter("records", 10, 2, value={"index": []}),
        "records[10][2]",
        "the keys index, shape",
    ),
    ("log_softmax axis out of range", setter("records", 20, 2, value=2), "records[20]", "axis 2 is out of range"),
    ("log_softmax axis negative", setter("records", 20, 2, value=-1), "records[20][2]", "an axis (an integer from 0)"),
    (
        "astype to integers",
        setter("records", 11, 2, value="int32"),
        "records[11][2]",
        "expected 'float64' or 'float32'",
    ),
    ("matmul of vectors", setter("records", 13, 1, value=[3, 3]), "records[13]", "matmul records matrices"),
    ("matmul of a misfit", setter("records", 13, 1, value=[0, 0]), "records[13]", "inner sizes agree"),
    (
        "elementwise misfit",
        setter("records", 13, value=["mul", [0, 3]]),
        "records[13]",
        "mul: operands f64[2,3] and f64[2] do not fit",
    ),
    (
        "guard on an array",
        setter("records", 18, 1, value=[2]),
        "records[18][1][0]",
        "a guard's condition is one number, not f64[2,3]",
    ),
    (
        "example against the guard",
        setter("captured", "16", value="1e9"),
        "example",
        "does not satisfy the tape's guards",
    ),
    (
        "example of the wrong dtype",
        setter("example", 0, "dtype", value="bool"),
        "example[0].dtype",
        "expected float64 or float32",
    ),
    (
        "example not an array",
        setter("example", 0, value=["0.5"]),
        "example[0]",
        "expected a number written as a string",
    ),
    (
        "captured not an array",
        setter("captured", "16", value={"dtype": "float64"}),
        "captured.16",
        "the keys data, dtype, shape",
    ),
    (
        "array exponent",
        setter("records", 2, value=["pow_const", [0], {"dtype": "float64", "shape": [], "data": []}]),
        "records[2][2]",
        "expected a number written as a string",
    ),
]


@pytest.mark.parametrize(("what", "change", "path", "message"), BAD_FIELDS, ids=[b[0] for b in BAD_FIELDS])
def test_each_bad_array_field_is_named_by_its_json_path(
    what: str, change: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    document = small()
    change(document)
    with pytest.raises(TapeFormatError) as error:
        io.loads(json.dumps(document))
    assert str(error.value).startswith(f"invalid tape file at {path}: "), str(error.value)
    assert message in str(error.value), str(error.value)


def test_every_op_of_the_table_checks_its_arity_in_version_2() -> None:
    for op in OPS:
        for count in [op.arity + 1] if op.arity >= 0 else [0]:
            document = small()
            document["records"][2] = [op.name, [0] * count] + ([1] if op.has_attr else [])
            with pytest.raises(TapeFormatError, match=r"at records\[2\]\[1\]: .* takes"):
                io.loads(json.dumps(document))


def test_captured_arrays_round_trip() -> None:
    inner: dict[str, tapegrad.Tape] = {}

    def outer(x):  # type: ignore[no-untyped-def]
        inner["tape"] = tapegrad.trace(lambda y: (x * y).sin().sum(), np.ones(3))
        return x.sum()

    tapegrad.trace(outer, np.array([0.5, -0.0, 2.0]))
    tape = inner["tape"]
    document = json.loads(io.dumps(tape))
    assert document["captured"] == {"1": {"dtype": "float64", "shape": [3], "data": ["0.5", "-0.0", "2.0"]}}
    assert_same_tape(io.loads(io.dumps(tape)), tape)


# ---------------------------------------------------------------- 4. caps


def test_a_small_file_cannot_ask_for_a_huge_array() -> None:
    for change in [
        setter("records", 8, 2, value=[10**5, 10**5, 2]),  # broadcast_to
        setter("records", 10, 2, "shape", value=[2, 10**10]),  # scatter
        setter(
            "records",
            4,
            2,
            value=[{"dtype": "int64", "shape": [n, 1], "data": [0] * n} for n in [20_000]]
            + [{"dtype": "int64", "shape": [1, 20_000], "data": [0] * 20_000}],
        ),  # getitem of (20,000, 20,000)
    ]:
        document = small()
        change(document)
        message = (
            r"at records\[\d+\]: the tape's arrays would hold more than 268,435,456 elements \(pass max_elements\)"
        )
        with pytest.raises(TapeFormatError, match=message):
            io.loads(json.dumps(document), max_elements=io.MAX_ELEMENTS)


def test_the_element_cap_is_a_parameter() -> None:
    text = json.dumps(small())
    total = sum(int(np.size(v)) for v in io.loads(text).values) + 3  # what its slots hold, and the index array
    assert len(io.loads(text, max_elements=total)) == 21
    with pytest.raises(TapeFormatError, match=r"at records\[7\]: the tape's arrays would hold more than 60 elements"):
        io.loads(text, max_elements=60)
    assert io.MAX_ELEMENTS >= 2**28


def test_a_million_element_array_round_trips(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(1000, 1000))
    tape = tapegrad.trace(lambda v: (v * 2.0).sum(axis=1), x)
    tape.save(tmp_path / "big.json")
    loaded = tapegrad.Tape.load(tmp_path / "big.json")
    assert value_key(loaded.values[0]) == value_key(tape.values[0])
    assert results_key(loaded(x + 1.0)) == results_key(tape(x + 1.0))


# ---------------------------------------------------------------- 5. fuzz

POOL: list[Any] = [0, 1, -1, 2, 3, 5, 100, 10**6, 2**53, True, False, None, "", "1.0", "-0.0", "nan", "inf", "1e999",
                   "float64", "float32", "int64", "bool", "...", "sum", "getitem", "scatter", "concat", "reshape",
                   "matmul", [], [0], [1, 0], [-1], [2, 2], [[]], {}, {"slice": [None, None, -1]},
                   {"axes": None, "keepdims": True}, {"axes": [0], "keepdims": False},
                   {"dtype": "int64", "shape": [1], "data": [0]}, {"dtype": "float64", "shape": [], "data": ["2.0"]},
                   {"dtype": "bool", "shape": [2], "data": [True, False]}, 1.5, "a" * 50]  # fmt: skip


def mutate(document: Any, rng: random.Random) -> str:
    """One to three random edits: replace, delete, insert, nudge an integer (a size, an axis, an index)."""
    document = copy.deepcopy(document)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(json_paths(document))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, r = path[-1], rng.random()
        if isinstance(parent[key], int) and not isinstance(parent[key], bool) and r < 0.4:
            parent[key] += rng.choice([-2, -1, 1, 2, 100])
        elif r < 0.7:
            parent[key] = copy.deepcopy(rng.choice(POOL))
        elif r < 0.85:
            del parent[key]
        elif isinstance(parent, list):
            parent.insert(key, copy.deepcopy(rng.choice(POOL)))
        else:
            parent[key] = copy.deepcopy(rng.choice(POOL))
    return json.dumps(document, ensure_ascii=False)


def test_random_mutations_of_array_files_load_stably_or_raise_tape_format_error() -> None:
    rng = random.Random(20240607)
    documents = [small()] + [json.loads(io.dumps(make(n))) for n in ["every op", "embedding", "special values"]]
    outcomes = {"tape": 0, "error": 0}
    for _ in range(4_000):
        outcomes[load_mutated(mutate(rng.choice(documents), rng))] += 1
    assert outcomes["tape"] > 150 and outcomes["error"] > 2_000, outcomes


HUGE_EMPTY = [0, 2**52, 2**52]  # no elements, but numpy refuses the shape ("array is too big")


@pytest.mark.parametrize("where", ["example", "constant", "broadcast_to", "reshape"])
def test_a_huge_shape_with_a_zero_is_a_format_error(where: str) -> None:
    document = json.loads(io.dumps(tapegrad.trace(lambda x: (x * 2.0).sum(), np.ones(3))))
    empty = {"dtype": "float64", "shape": HUGE_EMPTY, "data": []}
    path = {"example": "example[0].shape", "constant": "records[1][2].shape"}.get(where, "records[2][2]")
    if where == "example":
        document["example"][0] = empty
    elif where == "constant":
        document["records"][1][2] = empty
    else:
        document["records"][2] = [where, [0], HUGE_EMPTY]
    message = rf"at {re.escape(path)}: shape \[0, 4503599627370496, 4503599627370496\] is too large"
    with pytest.raises(TapeFormatError, match=message):
        io.loads(json.dumps(document))

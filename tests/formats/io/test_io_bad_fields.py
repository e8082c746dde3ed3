"""Every kind of bad field of a tape file (tapegrad.formats.io) raises ``TapeFormatError`` naming its JSON path.

Of a tape of numbers, and of an array file: dtypes, shapes, data, index items, axes, permutations,
arity, shapes that do not fit, guards on arrays.  Each case mutates one field of a small valid document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tapegrad import io
from tapegrad.core.ops import OPS
from tapegrad.errors import StaleTapeError, TapeFormatError

from .tapes import setter, small, small_array


def test_the_small_document_is_valid() -> None:
    tape = io.loads(json.dumps(small()))
    assert tape(3.0, 4.0) == 12.0 and tape.inputs == ("x", "y")
    with pytest.raises(StaleTapeError):
        tape(-3.0, 4.0)


def deleter(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.pop(key)


# (what is wrong, the change, the JSON path in the message, a distinctive part of the message)
BAD_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown op", setter("records", 2, 0, value="frobnicate"), "records[2][0]", "unknown op 'frobnicate'"),
    ("op not a string", setter("records", 2, 0, value=5), "records[2][0]", "unknown op '5'"),
    ("wrong arity", setter("records", 2, 1, value=[0]), "records[2][1]", "mul takes 2 operand(s)"),
    ("operands not a list", setter("records", 2, 1, value="01"), "records[2][1]", "mul takes 2 operand(s)"),
    (
        "operand is the record itself",
        setter("records", 2, 1, value=[0, 2]),
        "records[2][1][1]",
        "expected a slot from 0 to 1, got 2",
    ),
    ("operand later than the record", setter("records", 2, 1, value=[5, 1]), "records[2][1][0]", "got 5"),
    ("operand out of range", setter("records", 2, 1, value=[0, 10**6]), "records[2][1][1]", "got 1000000"),
    ("operand negative", setter("records", 2, 1, value=[-1, 1]), "records[2][1][0]", "got -1"),
    ("operand a bool", setter("records", 2, 1, value=[True, 1]), "records[2][1][0]", "got True"),
    ("operand a float", setter("records", 2, 1, value=[0.0, 1]), "records[2][1][0]", "got 0.0"),
    ("operand a string", setter("records", 2, 1, value=["0", 1]), "records[2][1][0]", "expected a slot"),
    ("operand a huge integer", setter("records", 2, 1, value=[10**30, 1]), "records[2][1][0]", "expected a slot"),
    ("record not a list", setter("records", 1, value={"op": "input"}), "records[1]", "expected [op, operands]"),
    ("record too long", setter("records", 2, value=["mul", [0, 1], 2, 3]), "records[2]", "expected [op, operands]"),
    ("record too short", setter("records", 2, value=["mul"]), "records[2]", "expected [op, operands]"),
    ("missing attribute", setter("records", 0, value=["input", []]), "records[0]", "input needs attribute"),
    ("attribute not taken", setter("records", 2, value=["mul", [0, 1], "2"]), "records[2]", "mul takes no attribute"),
    ("input name not a string", setter("records", 0, 2, value=5), "records[0][2]", "expected a name"),
    ("input name too long", setter("records", 0, 2, value="x" * 10_001), "records[0][2]", "at most 10000 characters"),
    ("constant not a number", setter("records", 3, 2, value="abc"), "records[3][2]", "not a number: 'abc'"),
    ("constant a bool", setter("records", 3, 2, value=True), "records[3][2]", "expected a number written as a string"),
    (
        "constant a JSON float",
        setter("records", 3, 2, value=0.5),
        "records[3][2]",
        "expected a number written as a str",
    ),
    ("constant a huge integer", setter("records", 3, 2, value=2**60), "records[3][2]", "integer too large"),
    ("constant a long string", setter("records", 3, 2, value="1" * 41), "records[3][2]", "expected a number"),
    (
        "guard attribute not a bool",
        setter("records", 5, 2, value="yes"),
        "records[5][2]",
        "a guard's attribute is true or false",
    ),
    ("output out of range", setter("outputs", value=[99]), "outputs[0]", "expected a slot from 0 to 6, got 99"),
    ("output a bool", setter("outputs", value=[True]), "outputs[0]", "got True"),
    ("output negative", setter("outputs", value=[-1]), "outputs[0]", "got -1"),
    ("outputs not a list", setter("outputs", value=2), "outputs", "expected list, got int"),
    ("output name not a string", setter("output_names", value=[5]), "output_names[0]", "expected a name"),
    ("output names not matching", setter("output_names", value=["a", "b"]), "output_names", "one name per output"),
    ("input slot not an input", setter("inputs", value=[2, 1]), "inputs[0]", "must name an input record, once"),
    ("input twice", setter("inputs", value=[0, 0]), "inputs[0]", "must name an input record, once"),
    ("input out of range", setter("inputs", value=[0, 7]), "inputs[1]", "expected a slot from 0 to 6"),
    ("example too short", setter("example", value=["1.0"]), "example", "one example value per input"),
    ("example not a number", setter("example", 1, value="two"), "example[1]", "not a number: 'two'"),
    ("example against the guards", setter("example", 0, value="-1.0"), "example", "does not satisfy the tape's guards"),
    ("name not a string", setter("name", value=5), "name", "expected str, got int"),
    ("name too long", setter("name", value="n" * 10_001), "name", "expected a name"),
    ("unknown structure", setter("structure", value="dict"), "structure", "expected one of value, tuple, list"),
    ("value with two outputs", setter("outputs", value=[2, 2]), "output_names", "one name per output"),
    (
        "structure 'value' with two outputs",
        lambda d: d.update(outputs=[2, 2], output_names=["a", "b"]),
        "structure",
        "('value' for one output)",
    ),
    (
        "captured not an input",
        setter("captured", value={"6": "4.0", "2": "1.0"}),
        "captured.2",
        "must name an input record that is not a declared input",
    ),
    (
        "captured a declared input",
        setter("captured", value={"6": "4.0", "0": "1.0"}),
        "captured.0",
        "not a declared input",
    ),
    (
        "captured key not a slot",
        setter("captured", value={"6": "4.0", "x": "1.0"}),
        "captured.x",
        "expected a slot number as the key",
    ),
    (
        "captured key negative",
        setter("captured", value={"6": "4.0", "-1": "1.0"}),
        "captured.-1",
        "expected a slot number",
    ),
    ("captured value not a number", setter("captured", "6", value="four"), "captured.6", "not a number: 'four'"),
    (
        "input neither declared nor captured",
        setter("captured", value={}),
        "records[6]",
        "an input that is neither declared nor captured",
    ),
    ("captured not an object", setter("captured", value=[]), "captured", "expected dict, got list"),
    ("site slot out of range", setter("sites", value={"99": "f.py:1"}), "sites.99", "expected a slot from 0 to 6"),
    ("site not a string", setter("sites", value={"4": 5}), "sites.4", "expected a name"),
    ("records not a list", setter("records", value={}), "records", "expected list, got dict"),
    ("wrong format name", setter("format", value="numpy.npz"), "format", "expected 'tapegrad.tape', got 'numpy.npz'"),
    ("version a string", setter("version", value="1"), "version", "expected int, got str"),
    ("version a bool", setter("version", value=True), "version", "expected int, got bool"),
    ("version a float", setter("version", value=1.0), "version", "expected int, got float"),
]
REQUIRED = ["version", "records", "inputs", "example", "captured", "outputs", "output_names", "structure", "sites",
            "name"]  # fmt: skip
BAD_FIELDS += [(f"missing {key}", deleter(key), key, "missing") for key in REQUIRED]
BAD_FIELDS += [("missing format", deleter("format"), "format", "expected 'tapegrad.tape', got 'None'")]


@pytest.mark.parametrize(("what", "change", "path", "message"), BAD_FIELDS, ids=[b[0] for b in BAD_FIELDS])
def test_each_bad_field_is_named_by_its_json_path(
    what: str, change: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    document = small()
    change(document)
    with pytest.raises(TapeFormatError) as error:
        io.loads(json.dumps(document))
    assert str(error.value).startswith(f"invalid tape file at {path}: ")
    assert message in str(error.value)


def test_every_op_of_the_table_checks_its_arity() -> None:
    for op in OPS:
        document = small()
        document["records"][2] = [op.name, [0] * (op.arity + 1)] + ([1] if op.has_attr else [])
        with pytest.raises(TapeFormatError, match=r"at records\[2\]\[1\]: .* takes"):
            io.loads(json.dumps(document))


def test_the_small_array_document_is_valid() -> None:
    tape = io.loads(json.dumps(small_array()))
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


def concat_of_a_scalar(document: dict[str, Any]) -> None:
    document["records"][3][2]["axes"] = None  # record 3 sums to a number
    document["records"][7][1] = [3]


C = ("records", 1, 2)  # the float32 constant
INDEX = ("records", 4, 2, 0)  # the int64 index array

# (what is wrong, the change, the JSON path in the message, a distinctive part of the message)
BAD_ARRAY_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
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


@pytest.mark.parametrize(("what", "change", "path", "message"), BAD_ARRAY_FIELDS, ids=[b[0] for b in BAD_ARRAY_FIELDS])
def test_each_bad_array_field_is_named_by_its_json_path(
    what: str, change: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    document = small_array()
    change(document)
    with pytest.raises(TapeFormatError) as error:
        io.loads(json.dumps(document))
    assert str(error.value).startswith(f"invalid tape file at {path}: "), str(error.value)
    assert message in str(error.value), str(error.value)


def test_every_op_of_the_table_checks_its_arity_in_version_2() -> None:
    for op in OPS:
        for count in [op.arity + 1] if op.arity >= 0 else [0]:
            document = small_array()
            document["records"][2] = [op.name, [0] * count] + ([1] if op.has_attr else [])
            with pytest.raises(TapeFormatError, match=r"at records\[2\]\[1\]: .* takes"):
                io.loads(json.dumps(document))

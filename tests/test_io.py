"""Tape files (tapegrad.io): JSON, exact, validated before anything is built.

The specification, section by section:

1. round trips: ``tape.save(path)`` / ``Tape.load(path)`` of traced tapes,
   gradient tapes, tapes with guards (still checked after loading) and
   captured values; every float (inf, nan, -0.0, subnormals, 0.1) comes
   back bit for bit, and so does every replayed result;
2. the file is JSON, never pickle;
3. validation: every kind of bad field raises ``TapeFormatError`` naming
   its JSON path; so do bare NaN/Infinity, deep nesting, huge numbers,
   oversize files, too many records, text that is not JSON or not UTF-8,
   and format versions other than this one (naming the version needed);
4. a fuzz test: thousands of random mutations of valid files give either a
   tape whose ``dumps`` is stable or ``TapeFormatError``, nothing else;
5. size: a 10**5-record tape round-trips; the defaults admit 10**6 records.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import math
import random
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import json_paths, load_mutated

import tapegrad
from tapegrad import io, maximum, where
from tapegrad.core.ops import OPS, OpKind
from tapegrad.core.tape import portable_site
from tapegrad.errors import StaleTapeError, TapeFormatError
from tapegrad.lab.testing import random_program


def test_a_tape_file_names_source_files_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    here = Path(__file__).resolve()
    assert tape.sites and all(site.startswith(f"{here}:") for site in tape.sites.values())
    monkeypatch.chdir(here.parent.parent)
    assert {site.rpartition(":")[0] for site in json.loads(io.dumps(tape))["sites"].values()} == {f"tests/{here.name}"}
    monkeypatch.chdir(tmp_path)  # the file is elsewhere: its name alone, never the directories above it
    text = io.dumps(tape)
    assert {site.rpartition(":")[0] for site in json.loads(text)["sites"].values()} == {here.name}
    assert str(here.parent) not in text


def bits(x: Any) -> bytes:
    return struct.pack("<d", float(x))


def record_key(record: tapegrad.Record) -> tuple[Any, ...]:
    """A record with its attribute's bits, so that a nan constant equals itself."""
    attr = bits(record.attr) if isinstance(record.attr, float) else (type(record.attr), record.attr)
    return (record.op, record.args, attr)


def results_bits(result: Any) -> list[bytes]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [bits(x) for x in items]


def branchy(x, y):  # type: ignore[no-untyped-def]
    if x > 0:
        return (x * y).tanh() + x**2 + maximum(x, y) / y + where(x < y, x.exp(), y.log()) + 0.1
    return -x


def captured_tape() -> tapegrad.Tape:
    """A tape whose formula uses a Value of an enclosing trace (a captured input)."""
    inner: dict[str, tapegrad.Tape] = {}

    def outer(x):  # type: ignore[no-untyped-def]
        inner["tape"] = tapegrad.trace(lambda y: (x * y).sin() + y, 2.0)
        return x

    tapegrad.trace(outer, 3.0)
    return inner["tape"]


SPECIAL = [math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 5e-324, 1e-310, 2.2250738585072014e-308,
           1.7976931348623157e308, -2.5, 2**53 - 1, 7]  # fmt: skip


def special_constants(x):  # type: ignore[no-untyped-def]
    return tuple(x * c for c in SPECIAL)


BUILDERS: dict[str, Callable[[], tapegrad.Tape]] = {
    "traced": lambda: tapegrad.trace(branchy, 1.0, 2.0),
    "gradient": lambda: tapegrad.grad_tape(tapegrad.trace(branchy, 1.0, 2.0)),
    "optimized gradient": lambda: tapegrad.optimize(tapegrad.grad_tape(tapegrad.trace(branchy, 1.0, 2.0))),
    "captured": captured_tape,
    "special constants": lambda: tapegrad.trace(special_constants, 1.5),
    "parsed": lambda: tapegrad.parse("where(x > 0, sqrt(x), 0) + x ** 3 - 1e-300 * y"),
    "random program": lambda: tapegrad.trace(random_program(40, inputs=3, seed=7), 0.1, 0.2, 0.3),
    "list of outputs": lambda: tapegrad.trace(lambda x, y: [x, y * 2, 3.0], 1.0, 2.0),
    "no inputs": lambda: tapegrad.parse("2 * 3"),
}


def make(name: str) -> tapegrad.Tape:
    """A fresh tape of each kind (none kept at module level: other test files count live tapes)."""
    return BUILDERS[name]()


POINTS = [0.5, 1.0, 2.0, 1e-310, 1e300, math.inf, 0.0]


def points_for(tape: tapegrad.Tape) -> list[list[float]]:
    rng = random.Random(len(tape))
    return [[rng.choice(POINTS) for _ in tape.inputs] for _ in range(6)] + [
        [float(tape.values[s]) for s in tape.input_slots]
    ]


def replay_bits(tape: tapegrad.Tape, point: list[float]) -> list[bytes] | str:
    try:
        return results_bits(tape(*point))
    except StaleTapeError:
        return "stale"


# ---------------------------------------------------------------- 1. round trips


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_save_and_load_round_trip(name: str, tmp_path: Path) -> None:
    tape = make(name)
    path = tmp_path / "tape.json"
    tape.save(path)
    loaded = tapegrad.Tape.load(path)
    assert io.dumps(loaded) == io.dumps(tape) == path.read_text(encoding="utf-8")
    assert loaded.name == tape.name and loaded.inputs == tape.inputs and loaded.outputs == tape.outputs
    assert [record_key(r) for r in loaded] == [record_key(r) for r in tape]
    assert loaded.structure == tape.structure and loaded.sites == {s: portable_site(w) for s, w in tape.sites.items()}
    numbers = [s for s, op in enumerate(tape.ops) if op is not OpKind.GUARD]  # a guard's slot holds no number
    assert [bits(loaded.values[s]) for s in numbers] == [bits(tape.values[s]) for s in numbers]
    assert loaded.traced and loaded.sealed
    for point in points_for(tape):
        assert replay_bits(loaded, point) == replay_bits(tape, point)


def test_gradients_of_a_loaded_tape_are_bit_for_bit(tmp_path: Path) -> None:
    tape = make("traced")
    tape.save(tmp_path / "t.json")
    loaded = tapegrad.Tape.load(tmp_path / "t.json")
    for point in [(1.0, 2.0), (0.25, -3.0), (2.0, 1e-310)]:
        assert results_bits(loaded.gradient(*point)) == results_bits(tape.gradient(*point))


def test_a_guard_still_raises_after_loading(tmp_path: Path) -> None:
    tape = make("traced")
    tape.save(tmp_path / "g.json")
    loaded = tapegrad.Tape.load(tmp_path / "g.json")
    assert loaded(1.0, 2.0) == tape(1.0, 2.0)
    with pytest.raises(StaleTapeError, match=r"x > 0 \(recorded True\)"):
        loaded(-1.0, 2.0)
    with pytest.raises(StaleTapeError):
        loaded.gradient(-1.0, 2.0)


def test_captured_values_come_back() -> None:
    tape = make("captured")
    document = json.loads(io.dumps(tape))
    assert document["captured"] == {"1": "3.0"}
    loaded = io.loads(io.dumps(tape))
    assert loaded(5.0) == tape(5.0) == math.sin(15.0) + 5.0
    assert loaded.gradient(5.0) == tape.gradient(5.0)


def test_special_constants_are_written_exactly() -> None:
    tape = make("special constants")
    text = io.dumps(tape)
    constants = [r[2] for r in json.loads(text)["records"] if r[0] == "const"]
    assert constants == ["inf", "-inf", "nan", "-0.0", "0.0", "0.1", "0.3333333333333333", "5e-324", "1e-310",
                         "2.2250738585072014e-308", "1.7976931348623157e+308", "-2.5", 2**53 - 1, 7]  # fmt: skip
    loaded = io.loads(text)
    assert [bits(r.attr) for r in loaded if r.attr is not None and r.op is OpKind.CONST] == [bits(c) for c in SPECIAL]
    assert results_bits(loaded(-1.5)) == results_bits(tape(-1.5))
    assert math.copysign(1.0, loaded(2.0)[3]) == -1.0  # x * -0.0 keeps its sign


def test_integers_stay_integers() -> None:
    loaded = io.loads(io.dumps(tapegrad.parse("x ** 3 + 2")))
    attrs = [r.attr for r in loaded if r.attr is not None and not isinstance(r.attr, str)]
    assert attrs == [3, 2] and all(type(a) is int for a in attrs)


def test_loads_accepts_text_and_bytes() -> None:
    text = io.dumps(make("traced"))
    assert io.dumps(io.loads(text)) == io.dumps(io.loads(text.encode("utf-8"))) == text


def test_non_ascii_names_round_trip(tmp_path: Path) -> None:
    tape = tapegrad.trace(lambda x, y: x * y, 1.0, 2.0, names=["δ", 'quote"and\\slash\n'])
    tape.name = "ünïcode ✓"
    tape.save(tmp_path / "u.json")
    loaded = tapegrad.Tape.load(tmp_path / "u.json")
    assert loaded.inputs == ("δ", 'quote"and\\slash\n') and loaded.name == "ünïcode ✓"


# ---------------------------------------------------------------- 2. JSON, never pickle


def test_the_file_is_json_with_a_format_name_and_version(tmp_path: Path) -> None:
    make("traced").save(tmp_path / "t.json")
    raw = (tmp_path / "t.json").read_bytes()
    assert raw.startswith(b"{")
    document = json.loads(raw)
    assert document["format"] == io.FORMAT == "tapegrad.tape"
    assert document["version"] == 1 and io.VERSION == 2  # a tape of numbers is still written as version 1
    assert set(document) == {"format", "version", "name", "records", "inputs", "example", "captured", "outputs",
                             "output_names", "structure", "sites"}  # fmt: skip


def test_loading_runs_no_code() -> None:
    tree = ast.parse(inspect.getsource(io))
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    imported = {alias.name for node in imports for alias in node.names}
    imported |= {node.module for node in imports if isinstance(node, ast.ImportFrom)}
    assert not imported & {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


# ---------------------------------------------------------------- 3. validation


def small() -> dict[str, Any]:
    """A small valid document: x * y, a guard recording x > 0, and a captured input."""
    return {
        "format": "tapegrad.tape", "version": 1, "name": "f",
        "records": [["input", [], "x"], ["input", [], "y"], ["mul", [0, 1]], ["const", [], 0], ["gt", [0, 3]],
                    ["guard", [4], True], ["input", [], "captured:c"]],
        "inputs": [0, 1], "example": ["1.0", "2.0"], "captured": {"6": "4.0"},
        "outputs": [2], "output_names": ["out"], "structure": "value", "sites": {"4": "f.py:3"},
    }  # fmt: skip


def test_the_small_document_is_valid() -> None:
    tape = io.loads(json.dumps(small()))
    assert tape(3.0, 4.0) == 12.0 and tape.inputs == ("x", "y")
    with pytest.raises(StaleTapeError):
        tape(-3.0, 4.0)


def setter(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


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


@pytest.mark.parametrize(("version", "needed"), [(3, "a newer"), (99, "a newer"), (0, "an older"), (-1, "an older")])
def test_other_versions_name_the_version_needed(version: int, needed: str) -> None:
    document = small()
    document["version"] = version
    with pytest.raises(TapeFormatError) as error:
        io.loads(json.dumps(document))
    assert str(error.value) == (
        f"invalid tape file at version: format version {version} is from {needed} tapegrad; "
        "this one reads versions 1 to 2"
    )


def test_the_document_must_be_an_object() -> None:
    for text in ["[]", "1", '"tape"', "null", "true"]:
        with pytest.raises(TapeFormatError, match=r"invalid tape file at \$: expected a JSON object"):
            io.loads(text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_bare_json_constants_are_refused(constant: str) -> None:
    text = json.dumps(small()).replace('"2.0"', constant)
    with pytest.raises(TapeFormatError, match=f"bare {constant} is not allowed"):
        io.loads(text)


def test_deeply_nested_json() -> None:
    for depth in [100_000, 1_000_000]:
        with pytest.raises(TapeFormatError, match="nested too deeply|not JSON"):
            io.loads("[" * depth + "]" * depth)
    deep_field = json.dumps(small())[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(TapeFormatError, match="nested too deeply"):
        io.loads(deep_field)


def test_huge_numbers() -> None:
    text = json.dumps(small()).replace('"version": 1', '"version": ' + "9" * 5_000)
    with pytest.raises(TapeFormatError):
        io.loads(text)
    text = json.dumps(small()).replace('"version": 1', '"version": ' + "9" * 4_000)
    with pytest.raises(TapeFormatError, match="is from a newer tapegrad"):
        io.loads(text)
    text = json.dumps(small()).replace('["mul", [0, 1]]', '["mul", [0, ' + "1" * 3000 + "]]")
    with pytest.raises(TapeFormatError, match=r"at records\[2\]\[1\]\[1\]: expected a slot"):
        io.loads(text)
    text = json.dumps(small()).replace('["const", [], 0]', '["const", [], 1e999999]')
    with pytest.raises(TapeFormatError, match=r"at records\[3\]\[2\]"):
        io.loads(text)


def test_size_limits(tmp_path: Path) -> None:
    text = json.dumps(small())
    path = tmp_path / "t.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TapeFormatError, match=f"is {len(text):,} bytes; the limit is 100 \\(pass max_bytes\\)"):
        io.load(path, max_bytes=100)
    with pytest.raises(TapeFormatError, match="the limit is 100 "):
        io.loads(text, max_bytes=100)
    with pytest.raises(TapeFormatError, match=r"at records: 7 records; the limit is 6 \(pass max_records\)"):
        io.loads(text, max_records=6)
    assert len(io.load(path, max_bytes=len(text), max_records=7)) == 7


@pytest.mark.parametrize("text", ["", "hello", "{", '{"format": "tapegrad.tape",', "{'format': 1}", "\x00", "[1,]"])
def test_not_json_at_all(text: str) -> None:
    with pytest.raises(TapeFormatError, match="not JSON"):
        io.loads(text)


def test_not_utf8(tmp_path: Path) -> None:
    raw = json.dumps(small()).encode("utf-8").replace(b'"name": "f"', b'"name": "\xc3\x28\xff"')
    (tmp_path / "bad.json").write_bytes(raw)
    with pytest.raises(TapeFormatError, match="not JSON"):
        tapegrad.Tape.load(tmp_path / "bad.json")
    with pytest.raises(TapeFormatError, match="not JSON"):
        io.loads(raw)
    latin = json.dumps(small(), ensure_ascii=False).replace('"name": "f"', '"name": "é"').encode("latin-1")
    with pytest.raises(TapeFormatError, match="not JSON"):
        io.loads(latin)


@pytest.mark.parametrize("where", ["captured", "sites"])
def test_non_ascii_digit_keys_are_format_errors(where: str) -> None:
    document = small()
    document[where]["²"] = "1.0"
    with pytest.raises(TapeFormatError, match=f"at {where}."):
        io.loads(json.dumps(document))


# ---------------------------------------------------------------- 4. fuzz

POOL: list[Any] = [0, 1, -1, 2, 3, 6, 7, 100, 10**20, 2**53, True, False, None, "", "x", "1.0", "-0.0", "nan", "-inf",
                   "1e999", "add", "input", "const", "guard", "pow_const", "where", "tanh", "smul", "0", "01", "١",
                   [], [0], [0, 1], [[]], {}, {"0": "1"}, {"1": "x"}, 1.5, -0.0, "a" * 50, "tapegrad.tape", "value",
                   "tuple", "list"]  # fmt: skip


def mutate_document(document: Any, rng: random.Random) -> str:
    """One to three random edits of a parsed document: replace, delete, insert, nudge."""
    document = copy.deepcopy(document)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(json_paths(document))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, r = path[-1], rng.random()
        if r < 0.5:
            parent[key] = rng.choice(POOL)
        elif r < 0.65:
            del parent[key]
        elif r < 0.8 and isinstance(parent, list):
            parent.insert(key, rng.choice(POOL))
        elif r < 0.9 and isinstance(parent, dict):
            parent[rng.choice(["0", "1", "2", "99", "x", "00"])] = rng.choice(POOL)
        elif isinstance(parent[key], int) and not isinstance(parent[key], bool):
            parent[key] += rng.choice([-1, 1, -parent[key] - 1, 1000])
        elif isinstance(parent[key], str):
            parent[key] = parent[key][: rng.randrange(len(parent[key]) + 1)]
        else:
            parent[key] = rng.choice(POOL)
    return json.dumps(document, ensure_ascii=False)


def mutate_bytes(text: str, rng: random.Random) -> bytes:
    """One to three random byte edits: overwrite, delete, insert a JSON character."""
    raw = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 3)):
        i, r = rng.randrange(len(raw)), rng.random()
        if r < 0.4:
            raw[i] = rng.randrange(256)
        elif r < 0.7:
            del raw[i]
        else:
            raw.insert(i, rng.choice(b'0123456789[]{},:"-.eE'))
    return bytes(raw)


def test_random_mutations_load_stably_or_raise_tape_format_error() -> None:
    rng = random.Random(20240601)
    documents = [json.loads(io.dumps(make(name))) for name in BUILDERS] + [small()]
    outcomes = {"tape": 0, "error": 0}
    for _ in range(5_000):
        base = rng.choice(documents)
        text: str | bytes = mutate_document(base, rng) if rng.random() < 0.7 else mutate_bytes(json.dumps(base), rng)
        outcomes[load_mutated(text)] += 1
    assert outcomes["tape"] > 300 and outcomes["error"] > 3_000


# ---------------------------------------------------------------- 5. size


def test_a_hundred_thousand_records_round_trip(tmp_path: Path) -> None:
    def chain(x, y):  # type: ignore[no-untyped-def]
        r = x
        for _ in range(50_000):
            r = r * y + x
        return r

    tape = tapegrad.trace(chain, 1.0, 0.5)
    assert len(tape) > 10**5
    tape.save(tmp_path / "big.json")
    loaded = tapegrad.Tape.load(tmp_path / "big.json")
    assert io.dumps(loaded) == io.dumps(tape)
    assert bits(loaded(0.3, 0.7)) == bits(tape(0.3, 0.7))
    # the defaults admit a tape ten times as long
    assert io.MAX_RECORDS >= 10**6
    bytes_per_record = (tmp_path / "big.json").stat().st_size / len(tape)
    assert bytes_per_record * 10**6 < io.MAX_BYTES


@pytest.mark.parametrize("given", [None, [1, 2], {"format": "tapegrad.tape"}, 3.0], ids=repr)
def test_loads_takes_text(given: Any) -> None:
    message = r"loads reads a tape from JSON text \(str or bytes\), got .*; use load\(path\)"
    with pytest.raises(TapeFormatError, match=message):
        io.loads(given)


@pytest.mark.parametrize(
    "place, path",
    [("name", "name"), ("input", "records[0][2]"), ("output_names", "output_names[0]"), ("sites", "sites.2")],
)
def test_a_lone_surrogate_in_a_name_is_refused_on_load(place: str, path: str) -> None:
    """JSON may write "\\ud800"; such a name would make save(), str(tape) and the CLI fail later."""
    document = json.loads(io.dumps(tapegrad.trace(lambda x: x * 2.0 if x > 0 else x, 1.0)))
    if place == "input":
        document["records"][0][2] = "x\udc80"
    elif place == "sites":
        document["sites"] = {"2": "x\udc80"}
    else:
        document[place] = "x\udc80" if place == "name" else ["x\udc80"]
    message = rf"invalid tape file at {re.escape(path)}: the name 'x\\udc80' holds a lone"
    with pytest.raises(TapeFormatError, match=message):
        io.loads(json.dumps(document))

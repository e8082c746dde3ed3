"""Tape files (tapegrad.formats.io) round-trip exactly: tapes of numbers and array tapes.

1. round trips: ``tape.save(path)`` / ``Tape.load(path)`` of traced tapes,
   gradient tapes, tapes with guards (still checked after loading) and
   captured values; every float (inf, nan, -0.0, subnormals, 0.1) comes
   back bit for bit, and so does every replayed result; array tapes (every
   array op, float32, special values, empty axes, a batched MLP, an
   embedding with cross-entropy, a guard on a reduction), their gradient
   tapes and optimised gradient tapes come back with every record,
   attribute and recorded value (dtype, shape, bits, memory layout);
2. the file is JSON, never pickle; tapes of numbers only are still written
   as version 1 (which older tapegrads read) and version 1 files are still
   read; array ops and array constants need version 2 (the sample file);
3. size: a 10**5-record tape round-trips; the defaults admit 10**6 records;
   the values of a loaded tape hold at most ``max_elements`` elements,
   checked before numpy makes them, so a small file cannot ask for a huge
   array.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tapegrad
from tapegrad import io
from tapegrad.core.ops import OpKind
from tapegrad.core.shapes import Index
from tapegrad.core.tape import portable_site
from tapegrad.errors import StaleTapeError, TapeFormatError

from .tapes import (
    BUILDERS,
    DIFFERENTIABLE,
    NAMES,
    SPECIAL,
    array_points_for,
    assert_same_tape,
    bits,
    branchy,
    make,
    make_array,
    points_for,
    record_key,
    replay_bits,
    replay_key,
    results_bits,
    results_key,
    setter,
    small_array,
    value_key,
)


def test_a_tape_file_names_source_files_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    here = Path(branchy.__code__.co_filename).resolve()  # the file the guard is written in (tests/formats/io/tapes.py)
    assert tape.sites and all(site.startswith(f"{here}:") for site in tape.sites.values())
    monkeypatch.chdir(here.parents[3])  # the repository
    sites = json.loads(io.dumps(tape))["sites"].values()
    assert {site.rpartition(":")[0] for site in sites} == {f"tests/formats/io/{here.name}"}
    monkeypatch.chdir(tmp_path)  # the file is elsewhere: its name alone, never the directories above it
    text = io.dumps(tape)
    assert {site.rpartition(":")[0] for site in json.loads(text)["sites"].values()} == {here.name}
    assert str(here.parent) not in text


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


# ---------------------------------------------------------------- 1. round trips


@pytest.mark.parametrize("name", NAMES)
def test_array_tapes_round_trip_exactly(name: str, tmp_path: Path) -> None:
    tape = make_array(name)
    tape.save(tmp_path / "tape.json")
    loaded = tapegrad.Tape.load(tmp_path / "tape.json")
    assert (tmp_path / "tape.json").read_text(encoding="utf-8") == io.dumps(tape)
    assert json.loads(io.dumps(tape))["version"] == 2
    assert_same_tape(loaded, tape)
    for point in array_points_for(tape):
        assert replay_key(loaded, point) == replay_key(tape, point)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradients_of_loaded_array_tapes_are_bit_for_bit(name: str) -> None:
    tape = make_array(name)
    loaded = io.loads(io.dumps(tape))
    for point in array_points_for(tape):
        try:
            expected = results_key(tape.gradient(*point))
        except StaleTapeError:
            with pytest.raises(StaleTapeError):
                loaded.gradient(*point)
            continue
        assert results_key(loaded.gradient(*point)) == expected


def test_the_listing_of_a_loaded_tape_shows_the_recorded_types() -> None:
    tape = make_array("every op")
    loaded = io.loads(io.dumps(tape))
    tape.sites = {s: portable_site(w) for s, w in tape.sites.items()}  # a tape file names files relative to the cwd
    assert str(loaded) == str(tape)
    assert "%3: f64[3,2] = matmul %0 %1" in str(tape)


def test_a_transposed_constant_is_stored_in_c_order() -> None:
    """Array attributes are copied into C order when recorded, so results never depend on a layout."""
    tape = make_array("transposed constant")
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
    tape = make_array("special values")
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
    document = json.loads(io.dumps(make_array("every op")))
    document["version"] = 1
    with pytest.raises(TapeFormatError, match=r"at records\[3\]\[0\]: matmul is an array op; array ops need format"):
        io.loads(json.dumps(document))
    document = small_array()
    document["version"] = 1
    document["records"][3:] = []
    document["outputs"], document["captured"] = [2], {}
    document["example"] = ["1.0"]
    with pytest.raises(TapeFormatError, match=r"at records\[1\]\[2\]: expected a number written as a string"):
        io.loads(json.dumps(document))


def test_versions_beyond_2_name_the_versions_read() -> None:
    document = small_array()
    document["version"] = 3
    with pytest.raises(TapeFormatError, match="version 3 is from a newer tapegrad; this one reads versions 1 to 2"):
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
        document = small_array()
        change(document)
        message = (
            r"at records\[\d+\]: the tape's arrays would hold more than 33,554,432 elements \(pass max_elements\)"
        )
        with pytest.raises(TapeFormatError, match=message):
            io.loads(json.dumps(document), max_elements=io.MAX_ELEMENTS)


def test_the_element_cap_is_a_parameter() -> None:
    text = json.dumps(small_array())
    total = sum(int(np.size(v)) for v in io.loads(text).values) + 3  # what its slots hold, and the index array
    assert len(io.loads(text, max_elements=total)) == 21
    with pytest.raises(TapeFormatError, match=r"at records\[7\]: the tape's arrays would hold more than 60 elements"):
        io.loads(text, max_elements=60)
    assert io.MAX_ELEMENTS >= 2**25  # 256 MB of float64, a third of what a default load may take (see io)


def test_a_million_element_array_round_trips(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(1000, 1000))
    tape = tapegrad.trace(lambda v: (v * 2.0).sum(axis=1), x)
    tape.save(tmp_path / "big.json")
    loaded = tapegrad.Tape.load(tmp_path / "big.json")
    assert value_key(loaded.values[0]) == value_key(tape.values[0])
    assert results_key(loaded(x + 1.0)) == results_key(tape(x + 1.0))

"""Tape files (tapegrad.formats.io) are validated before anything is built: the document as a whole.

Bare NaN/Infinity, deep nesting, huge numbers, oversize files, too many records, text that is not
JSON or not UTF-8, lone surrogates in names, shapes numpy refuses, and format versions other than
the ones read (naming the version needed) raise ``TapeFormatError``.  (Bad fields, one by one:
``test_io_bad_fields.py``.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import io
from tapegrad.errors import TapeFormatError

from .tapes import small


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

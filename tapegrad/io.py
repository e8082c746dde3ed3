"""Tape files: JSON, validated before anything is built.

The format (``"format": "tapegrad.tape"``, ``"version": 1``)::

    {"format": "tapegrad.tape", "version": 1, "name": "f",
     "records": [["input", [], "x"], ["const", [], "2.5"], ["mul", [0, 1]]],
     "inputs": [0], "example": ["1.0"], "outputs": [2], "output_names": ["out"],
     "structure": "value", "sites": {"3": "f.py:12"}}

Numbers are written as ``repr`` strings, so every float, ``inf``, ``nan``
and ``-0.0`` comes back bit for bit.  No pickle: loading runs no code.
:func:`load` checks every field (known op kinds, arity, operand slots in
range and earlier than their record, types, sizes) and raises
:class:`~tapegrad.errors.TapeFormatError` naming the JSON path of the first
bad one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import StaleTapeError, TapeFormatError
from .interpret import forward_float
from .ops import OPS, OpKind
from .tape import Attr, Tape

__all__ = ["save", "load", "dumps", "loads", "FORMAT", "VERSION", "MAX_BYTES", "MAX_RECORDS"]

FORMAT = "tapegrad.tape"
VERSION = 1
MAX_BYTES = 512 * 2**20
MAX_RECORDS = 10_000_000
_MAX_NAME = 10_000
_KINDS = {str(op.kind): op for op in OPS}
_STRUCTURES = ("value", "tuple", "list")


def _number_text(x: Any) -> str | int:
    return x if isinstance(x, int) and not isinstance(x, bool) else repr(float(x))


def dumps(tape: Tape) -> str:
    """The tape as JSON text (see the module docstring for the format)."""
    records: list[list[Any]] = []
    for i, kind in enumerate(tape.ops):
        record: list[Any] = [str(kind), list(tape.args[i])]
        if i in tape.attrs:
            attr = tape.attrs[i]
            record.append(attr if isinstance(attr, (str, bool)) else _number_text(attr))
        records.append(record)
    extra = [s for s in range(len(tape)) if tape.ops[s] is OpKind.INPUT and s not in tape.input_slots]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "name": tape.name,
        "records": records,
        "inputs": list(tape.input_slots),
        "example": [repr(float(tape.values[s])) for s in tape.input_slots],
        "captured": {str(s): repr(float(tape.values[s])) for s in extra},
        "outputs": list(tape.output_slots),
        "output_names": list(tape.output_names),
        "structure": tape.structure,
        "sites": {str(s): site for s, site in tape.sites.items()},
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def save(tape: Tape, path: str | Path) -> None:
    """Write ``tape`` as a JSON tape file."""
    Path(path).write_text(dumps(tape), encoding="utf-8")


# ---------------------------------------------------------------- loading


class _Checker:
    """Reads a parsed document field by field, failing with the field's JSON path."""

    def fail(self, path: str, message: str) -> TapeFormatError:
        return TapeFormatError(f"invalid tape file at {path}: {message}")

    def field(self, document: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str = "") -> Any:
        if key not in document:
            raise self.fail(f"{path}{key}", "missing")
        value = document[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{path}{key}", f"expected {names}, got {type(value).__name__}")
        return value

    def slot(self, value: Any, limit: int, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
            raise self.fail(path, f"expected a slot from 0 to {limit - 1}, got {str(value)[:40]}")
        return value

    def number(self, value: Any, path: str) -> float | int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= 2**53:
                raise self.fail(path, "integer too large (keep integers below 2**53, or write them as floats)")
            return value
        if not isinstance(value, str) or len(value) > 40:
            raise self.fail(path, f"expected a number written as a string, got {str(value)[:40]}")
        try:
            return float(value)
        except ValueError:
            raise self.fail(path, f"not a number: {value[:40]!r}") from None

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or len(value) > _MAX_NAME:
            raise self.fail(path, f"expected a name (a string of at most {_MAX_NAME} characters)")
        return value


def loads(text: str | bytes, max_bytes: int = MAX_BYTES, max_records: int = MAX_RECORDS) -> Tape:
    """A tape from JSON text, after checking all of it."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > max_bytes:
        raise TapeFormatError(f"the tape file is {size:,} bytes; the limit is {max_bytes:,} (pass max_bytes)")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except TapeFormatError:
        raise
    except RecursionError:
        raise TapeFormatError("invalid tape file: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise TapeFormatError(f"invalid tape file: not JSON ({str(error)[:80]})") from None
    return _build(document, max_records)


def load(path: str | Path, max_bytes: int = MAX_BYTES, max_records: int = MAX_RECORDS) -> Tape:
    """A tape from a file written by :func:`save`, validated before it is built."""
    target = Path(path)
    size = target.stat().st_size
    if size > max_bytes:
        raise TapeFormatError(f"{target} is {size:,} bytes; the limit is {max_bytes:,} (pass max_bytes)")
    return loads(target.read_bytes(), max_bytes, max_records)


def _refuse_constant(name: str) -> Any:
    raise TapeFormatError(f"invalid tape file: bare {name} is not allowed (numbers are strings)")


def _build(document: Any, max_records: int) -> Tape:
    c = _Checker()
    if not isinstance(document, dict):
        raise c.fail("$", "expected a JSON object")
    if document.get("format") != FORMAT:
        raise c.fail("format", f"expected {FORMAT!r}, got {str(document.get('format'))[:40]!r}")
    version = c.field(document, "version", int)
    if version != VERSION:
        newer = "a newer" if version > VERSION else "an older"
        raise c.fail("version", f"format version {version} is from {newer} tapegrad; this one reads version {VERSION}")
    records = c.field(document, "records", list)
    if len(records) > max_records:
        raise c.fail("records", f"{len(records):,} records; the limit is {max_records:,} (pass max_records)")
    ops: list[OpKind] = []
    argss: list[tuple[int, ...]] = []
    attrs: dict[int, Attr] = {}
    for i, record in enumerate(records):
        path = f"records[{i}]"
        if not isinstance(record, list) or len(record) not in (2, 3):
            raise c.fail(path, "expected [op, operands] or [op, operands, attribute]")
        if not isinstance(record[0], str) or record[0] not in _KINDS:
            raise c.fail(f"{path}[0]", f"unknown op {str(record[0])[:40]!r}")
        op = _KINDS[record[0]]
        if not isinstance(record[1], list) or len(record[1]) != op.arity:
            raise c.fail(f"{path}[1]", f"{op.name} takes {op.arity} operand(s)")
        args = tuple(c.slot(a, i, f"{path}[1][{k}]") for k, a in enumerate(record[1]))
        if op.has_attr != (len(record) == 3):
            raise c.fail(path, f"{op.name} {'needs' if op.has_attr else 'takes no'} attribute")
        if op.has_attr:
            attr = record[2]
            if op.kind is OpKind.INPUT:
                attrs[i] = c.name(attr, f"{path}[2]")
            elif op.kind is OpKind.GUARD:
                if not isinstance(attr, bool):
                    raise c.fail(f"{path}[2]", "a guard's attribute is true or false")
                attrs[i] = attr
            else:
                attrs[i] = c.number(attr, f"{path}[2]")
        ops.append(op.kind)
        argss.append(args)
    count = len(ops)
    inputs = [c.slot(s, count, f"inputs[{k}]") for k, s in enumerate(c.field(document, "inputs", list))]
    for k, s in enumerate(inputs):
        if ops[s] is not OpKind.INPUT or inputs.count(s) > 1:
            raise c.fail(f"inputs[{k}]", "must name an input record, once")
    example = c.field(document, "example", list)
    if len(example) != len(inputs):
        raise c.fail("example", "expected one example value per input")
    values = [float(c.number(x, f"example[{k}]")) for k, x in enumerate(example)]
    captured = c.field(document, "captured", dict)
    outputs = [c.slot(s, count, f"outputs[{k}]") for k, s in enumerate(c.field(document, "outputs", list))]
    names = [c.name(n, f"output_names[{k}]") for k, n in enumerate(c.field(document, "output_names", list))]
    if len(names) != len(outputs):
        raise c.fail("output_names", "expected one name per output")
    structure = c.field(document, "structure", str)
    if structure not in _STRUCTURES or (structure == "value" and len(outputs) != 1):
        raise c.fail("structure", f"expected one of {', '.join(_STRUCTURES)} ('value' for one output)")
    sites = c.field(document, "sites", dict)

    tape = Tape(c.name(c.field(document, "name", str), "name"), traced=True)
    tape.ops, tape.args, tape.attrs = ops, argss, attrs
    recorded = [math.nan] * count
    for s, x in zip(inputs, values):
        recorded[s] = x
    for key, x in captured.items():
        s = _key_slot(c, key, count, "captured")
        if ops[s] is not OpKind.INPUT or s in inputs:
            raise c.fail(f"captured.{key}", "must name an input record that is not a declared input")
        recorded[s] = float(c.number(x, f"captured.{key}"))
    for s in range(count):
        if ops[s] is OpKind.INPUT and s not in inputs and str(s) not in captured:
            raise c.fail(f"records[{s}]", "an input that is neither declared nor captured")
        if ops[s] is OpKind.CONST:
            recorded[s] = float(c.number(records[s][2], f"records[{s}][2]"))
    tape.values = recorded
    tape.input_slots, tape.output_slots, tape.output_names, tape.structure = inputs, outputs, names, structure
    tape.sites = {_key_slot(c, k, count, "sites"): c.name(v, f"sites.{k}") for k, v in sites.items()}
    try:
        tape.values = forward_float(tape, values)  # the recorded point, so the file's guards must hold there
    except StaleTapeError as error:
        raise c.fail("example", f"the example point does not satisfy the tape's guards ({str(error)[:80]})") from None
    tape.sealed = True
    return tape


def _key_slot(c: _Checker, key: str, count: int, where: str) -> int:
    if not (key.isascii() and key.isdigit()) or len(key) > 12:
        raise c.fail(f"{where}.{key[:20]}", "expected a slot number as the key")
    return c.slot(int(key), count, f"{where}.{key}")


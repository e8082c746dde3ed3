"""Tape files: JSON, validated before anything is built.

The format (``"format": "tapegrad.tape"``)::

    {"format": "tapegrad.tape", "version": 1, "name": "f",
     "records": [["input", [], "x"], ["const", [], "2.5"], ["mul", [0, 1]]],
     "inputs": [0], "example": ["1.0"], "captured": {}, "outputs": [2], "output_names": ["out"],
     "structure": "value", "sites": {"3": "f.py:12"}}

Numbers are written as ``repr`` strings, so every float, ``inf``, ``nan``
and ``-0.0`` comes back bit for bit.  No pickle: loading runs no code.

Version 2 adds arrays.  Wherever a number can stand (a constant, an
example input, a captured value) an array can too, as
``{"dtype": "float64", "shape": [2, 3], "data": ["1.0", ...]}`` (data
flattened in C order; float32 data is written as the float64 of each
value, so it too is exact).  An array laid out otherwise in memory (a
transposed constant) adds ``"layout": [1, 0]``, its axes from outermost
to innermost: numpy's sums and products follow the memory order, so this
keeps replays bit for bit.  Array ops carry these attributes::

    sum, max, logsumexp, prod       {"axes": [1] or null (all), "keepdims": false}
    reshape, broadcast_to, sum_to   a shape: [2, 3]
    transpose                       a permutation: [1, 0]
    getitem                         an index: a list of items, each an integer, null (a new axis),
                                    "...", {"slice": [start, stop, step]} or an int64/bool array
    scatter                         {"index": [...], "shape": [2, 3]}
    concat                          an axis (and any number of operands, at least one)
    log_softmax, cumsum, argsort    an axis
    astype                          "float32" or "float64"
    einsum, seinsum                 subscripts written out: "ij,jk->ik" (letters, commas, one "->";
                                    an operand per term, each letter one size)

A constant that came from sympy or the parser with an exact value (in any
version) is ``{"value": "0.3333333333333333", "exact": ["rational", 1, 3]}``
or ``{"value": "3.141592653589793", "exact": ["constant", "pi"]}``; the
value must be the exact one's float (:mod:`tapegrad.core.exact`).

A tape without arrays is still written as version 1, which older
tapegrads read.  :func:`load` checks every field (known op kinds, arity,
operand slots in range and earlier than their record, types, sizes,
dtypes, shapes, axes, indices), replays the records at the example point
to check every shape and guard, and raises
:class:`~tapegrad.errors.TapeFormatError` naming the JSON path of the first
bad one.  The replay recomputes each record's value as recording does, so
a loaded tape knows the shape and dtype of every slot; the arrays of all
slots together may hold at most ``max_elements`` elements, checked before
each is made, so that a small file cannot ask for a huge array, and the
replay may take at most ``max_work`` element operations (a matrix product
``(n, k) @ (k, m)`` takes ``n * m * k``), so that it cannot ask for hours
either.  The array documents, indices and size and work estimates are
:mod:`tapegrad.io_arrays`.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..core.einsum import parse_normal
from ..core.exact import ExactConstant, check_exact, exact_float
from ..core.interpret import array_result
from ..core.ops import OPS, OPS_BY_NAME, AttrKind, OpKind
from ..core.shapes import ArrayAttr, type_text
from ..core.tape import ARRAY_OPS, Attr, Tape, check_name, portable_site
from ..errors import InputTypeError, TapeFormatError
from .io_arrays import (
    FLOATS,
    MAX_INT,
    MAX_NDIM,
    array_json,
    index_json,
    read_array,
    read_index,
    result_size,
    result_work,
)

__all__ = [
    "save", "load", "dumps", "loads", "FORMAT", "VERSION", "MAX_BYTES", "MAX_RECORDS", "MAX_ELEMENTS", "MAX_WORK",
]  # fmt: skip

FORMAT = "tapegrad.tape"
VERSION = 2
# The default caps keep a load under about 1 GB (measured; the README's security section has the figures).
MAX_BYTES = 32 * 2**20
"""The largest file (a 10**6-record tape takes about 20 MB).

Parsing JSON costs up to about 27 bytes of memory per byte of text (a file
of empty lists ``[],[],...``): 0.9 GB at this size.
"""
MAX_RECORDS = 1_000_000
"""The most records (a loaded tape and its parsed document peak at about 430 bytes a record)."""
MAX_ELEMENTS = 2**25
"""The most array elements the values of a loaded tape may hold in all (256 MB of float64)."""
MAX_WORK = 2**30
"""The most element operations replaying a loaded tape at its example point may take (a second or two of numpy).

A matrix product ``(n, k) @ (k, m)`` takes ``n * m * k``, a reduction
reads its whole operand: a 300-byte file of two ``broadcast_to`` views and
a batched ``matmul`` asks for 2**33 of them (18 s), with results well
inside :data:`MAX_ELEMENTS`.
"""
_MAX_NAME = 10_000
_STRUCTURES = ("value", "tuple", "list")


# ---------------------------------------------------------------- writing


def _number_text(x: Any) -> str | int:
    return x if isinstance(x, int) and not isinstance(x, bool) else repr(float(x))


def _value_json(x: Any) -> Any:
    """A slot value (an example input, a captured value): a number, or an array."""
    return array_json(x) if isinstance(x, np.ndarray) else repr(float(x))


def _attr_json(kind: OpKind, attr: Attr) -> Any:
    what = OPS[kind].attr
    if isinstance(attr, (str, bool)):  # an input's name, a guard's truth, a dtype
        return attr
    if isinstance(attr, ArrayAttr):
        return array_json(attr.array)
    if isinstance(attr, ExactConstant):
        return {"value": repr(attr.value), "exact": list(attr.exact)}
    if what is AttrKind.AXES:
        axes, keepdims = attr
        return {"axes": None if axes is None else [int(a) for a in axes], "keepdims": bool(keepdims)}
    if what is AttrKind.INDEX:
        return index_json(attr)
    if what is AttrKind.SCATTER:
        return {"index": index_json(attr[0]), "shape": [int(n) for n in attr[1]]}
    if what is AttrKind.SHAPE or what is AttrKind.PERMUTATION:
        return [int(n) for n in attr]
    return _number_text(attr)


def _version_needed(tape: Tape) -> int:
    """1 for a tape of numbers only (readable by tapegrads before arrays), else 2."""
    if any(kind in ARRAY_OPS for kind in tape.ops) or any(isinstance(a, ArrayAttr) for a in tape.attrs.values()):
        return 2
    inputs = [s for s, kind in enumerate(tape.ops) if kind is OpKind.INPUT]
    return 2 if any(isinstance(tape.values[s], np.ndarray) for s in inputs) else 1


def dumps(tape: Tape) -> str:
    """The tape as JSON text (see the module docstring for the format)."""
    records: list[list[Any]] = []
    for i, kind in enumerate(tape.ops):
        record: list[Any] = [str(kind), list(tape.args[i])]
        if i in tape.attrs:
            record.append(_attr_json(kind, tape.attrs[i]))
        records.append(record)
    declared = set(tape.input_slots)
    extra = [s for s in range(len(tape)) if tape.ops[s] is OpKind.INPUT and s not in declared]
    document = {
        "format": FORMAT,
        "version": _version_needed(tape),
        "name": tape.name,
        "records": records,
        "inputs": list(tape.input_slots),
        "example": [_value_json(tape.values[s]) for s in tape.input_slots],
        "captured": {str(s): _value_json(tape.values[s]) for s in extra},
        "outputs": list(tape.output_slots),
        "output_names": list(tape.output_names),
        "structure": tape.structure,
        "sites": {str(s): portable_site(site) for s, site in tape.sites.items()},
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def save(tape: Tape, path: str | Path) -> None:
    """Write ``tape`` as a JSON tape file."""
    Path(path).write_text(dumps(tape), encoding="utf-8")


# ---------------------------------------------------------------- loading


class _Checker:
    """Reads a parsed document field by field, failing with the field's JSON path.

    It also keeps the element budget: every array read or computed is
    charged before it is made, so a small file cannot ask for a huge one;
    and the work budget: every array op's element operations, so a small
    file cannot ask for hours of replay either.
    """

    def __init__(self, max_elements: int = MAX_ELEMENTS, arrays: bool = True, max_work: int = MAX_WORK) -> None:
        self.max_elements = self.budget = max_elements
        self.max_work = self.work = max_work
        self.arrays = arrays  # version 2: arrays may stand where numbers do

    def fail(self, path: str, message: str) -> TapeFormatError:
        return TapeFormatError(f"invalid tape file at {path}: {message}")

    def charge(self, count: int, path: str) -> None:
        if count > self.budget:
            raise self.fail(
                path, f"the tape's arrays would hold more than {self.max_elements:,} elements (pass max_elements)"
            )
        self.budget -= count

    def charge_work(self, count: int, path: str) -> None:
        if count > self.work:
            raise self.fail(
                path,
                f"replaying the tape at its example point would take more than {self.max_work:,} element operations "
                "(a matrix product (n, k) @ (k, m) takes n * m * k); pass max_work if you trust the file",
            )
        self.work -= count

    def field(self, document: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str = "") -> Any:
        if key not in document:
            raise self.fail(f"{path}{key}", "missing")
        value = document[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{path}{key}", f"expected {names}, got {type(value).__name__}")
        return value

    def keys(self, value: Any, keys: set[str], path: str) -> dict[str, Any]:
        if not isinstance(value, dict) or set(value) != keys:
            raise self.fail(path, f"expected an object with the keys {', '.join(sorted(keys))}")
        return value

    def slot(self, value: Any, limit: int, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
            raise self.fail(path, f"expected a slot from 0 to {limit - 1}, got {str(value)[:40]}")
        return value

    def integer(self, value: Any, path: str, low: int = -MAX_INT, what: str = "an integer") -> int:
        if type(value) is not int or not low <= value < MAX_INT:
            raise self.fail(path, f"expected {what}, got {str(value)[:40]}")
        return value

    def number(self, value: Any, path: str) -> float | int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= MAX_INT:
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
        try:
            return check_name(value, "the name")
        except InputTypeError as error:  # JSON's "\ud800": a str that no file or terminal can hold
            raise self.fail(path, str(error)) from None

    def shape(self, value: Any, path: str, low: int = 0) -> tuple[int, ...]:
        if not isinstance(value, list) or len(value) > MAX_NDIM:
            raise self.fail(path, f"expected a shape: a list of at most {MAX_NDIM} integers")
        what = "a size (an integer from 0)" if low == 0 else "a size (an integer from -1)"
        shape = tuple(self.integer(n, f"{path}[{k}]", low, what) for k, n in enumerate(value))
        if math.prod(n for n in shape if n > 0) >= MAX_INT:  # numpy refuses such a shape even with a 0 in it
            raise self.fail(path, f"shape {list(shape)} is too large: its sizes other than 0 multiply past 2**53")
        return shape

    def value(self, value: Any, path: str) -> Any:
        """A number (a float), or a float array as Values hold them (a 0-d float64 array is a float)."""
        if not (self.arrays and isinstance(value, dict)):
            return float(self.number(value, path))
        array = read_array(self, value, path, FLOATS)
        return float(array) if array.shape == () and array.dtype == np.float64 else array

    def exact(self, raw: Any, path: str) -> ExactConstant:
        """A constant with its exact value: ``{"value": "0.3333333333333333", "exact": ["rational", 1, 3]}``."""
        raw = self.keys(raw, {"value", "exact"}, path)
        value = float(self.number(raw["value"], f"{path}.value"))
        problem = check_exact(raw["exact"])
        if problem is not None:
            raise self.fail(f"{path}.exact", problem)
        exact = tuple(raw["exact"])
        if exact_float(exact) != value:
            raise self.fail(f"{path}.value", f"{value!r} is not the float of its exact value {list(exact)}")
        return ExactConstant(value, exact)

    def attribute(self, kind: OpKind, raw: Any, path: str) -> Attr:
        """A record's attribute, as far as it can be checked without the operands' shapes."""
        what = OPS[kind].attr
        if what is AttrKind.NAME:
            return self.name(raw, path)
        if what is AttrKind.TRUTH:
            if not isinstance(raw, bool):
                raise self.fail(path, "a guard's attribute is true or false")
            return raw
        if kind is OpKind.CONST and isinstance(raw, dict) and "exact" in raw:
            return self.exact(raw, path)
        if kind is OpKind.CONST and self.arrays and isinstance(raw, dict):
            data = self.value(raw, path)
            return ArrayAttr(data) if isinstance(data, np.ndarray) else data
        if what is AttrKind.AXES:
            raw = self.keys(raw, {"axes", "keepdims"}, path)
            axes = None if raw["axes"] is None else self.shape(raw["axes"], f"{path}.axes")
            if axes is not None and list(axes) != sorted(set(axes)):
                raise self.fail(f"{path}.axes", "expected axes in increasing order, each once")
            if not isinstance(raw["keepdims"], bool):
                raise self.fail(f"{path}.keepdims", "expected true or false")
            return (axes, raw["keepdims"])
        if what is AttrKind.SHAPE or what is AttrKind.PERMUTATION:
            shape = self.shape(raw, path, -1 if kind is OpKind.RESHAPE else 0)
            if shape.count(-1) > 1:
                raise self.fail(path, "at most one size of a reshape can be -1")
            return shape
        if what is AttrKind.INDEX:
            return read_index(self, raw, path)
        if what is AttrKind.SCATTER:
            raw = self.keys(raw, {"index", "shape"}, path)
            return (read_index(self, raw["index"], f"{path}.index"), self.shape(raw["shape"], f"{path}.shape"))
        if what is AttrKind.AXIS:
            return self.integer(raw, path, 0, "an axis (an integer from 0)")
        if what is AttrKind.ROWS:
            return self.integer(raw, path, 0, "a number of rows (an integer from 0)")
        if what is AttrKind.SUBSCRIPTS:  # checked strictly here: nothing else reaches numpy's einsum parser
            try:
                parse_normal(raw)
            except ValueError as error:
                raise self.fail(path, str(error)[:200]) from None
            return raw
        if what is AttrKind.DTYPE:
            if raw not in FLOATS:
                raise self.fail(path, f"expected 'float64' or 'float32', got {str(raw)[:40]!r}")
            return raw
        return self.number(raw, path)  # a constant, an exponent


def loads(
    text: str | bytes,
    max_bytes: int = MAX_BYTES,
    max_records: int = MAX_RECORDS,
    max_elements: int = MAX_ELEMENTS,
    max_work: int = MAX_WORK,
) -> Tape:
    """A tape from JSON text, after checking all of it (the caps are the module's ``MAX_*`` constants)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TapeFormatError(
            f"loads reads a tape from JSON text (str or bytes), got {type(text).__name__}; "
            "use load(path) for a file, or loads(json.dumps(document)) for a parsed document"
        )
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
    return _build(document, max_records, max_elements, max_work)


def load(
    path: str | Path,
    max_bytes: int = MAX_BYTES,
    max_records: int = MAX_RECORDS,
    max_elements: int = MAX_ELEMENTS,
    max_work: int = MAX_WORK,
) -> Tape:
    """A tape from a file written by :func:`save`, validated before it is built.

    At most ``max_bytes + 1`` bytes are read, whatever ``path`` is: a FIFO
    or a device (``/dev/zero``) reports a size of 0 and never ends.
    """
    target = Path(path)
    with target.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > max_bytes:
            raise TapeFormatError(f"{target} is {size:,} bytes; the limit is {max_bytes:,} (pass max_bytes)")
        text = _read_at_most(file, max_bytes + 1)
    if len(text) > max_bytes:
        raise TapeFormatError(f"{target} holds more than {max_bytes:,} bytes, the limit (pass max_bytes)")
    return loads(text, max_bytes, max_records, max_elements, max_work)


def _read_at_most(file: BinaryIO, count: int) -> bytes:
    """Up to ``count`` bytes, read in chunks: one ``read(count)`` would reserve all of them at once."""
    chunks: list[bytes] = []
    while count > 0:
        chunk = file.read(min(count, 2**20))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise TapeFormatError(f"invalid tape file: bare {name} is not allowed (numbers are strings)")


def _build(document: Any, max_records: int, max_elements: int, max_work: int = MAX_WORK) -> Tape:
    c = _Checker(max_elements, max_work=max_work)
    if not isinstance(document, dict):
        raise c.fail("$", "expected a JSON object")
    if document.get("format") != FORMAT:
        raise c.fail("format", f"expected {FORMAT!r}, got {str(document.get('format'))[:40]!r}")
    version = c.field(document, "version", int)
    if not 1 <= version <= VERSION:
        newer = "a newer" if version > VERSION else "an older"
        raise c.fail(
            "version", f"format version {version} is from {newer} tapegrad; this one reads versions 1 to {VERSION}"
        )
    c.arrays = version >= 2
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
        if not isinstance(record[0], str) or record[0] not in OPS_BY_NAME:
            raise c.fail(f"{path}[0]", f"unknown op {str(record[0])[:40]!r}")
        op = OPS_BY_NAME[record[0]]
        operands = record[1]
        if not isinstance(operands, list) or (len(operands) != op.arity if op.arity >= 0 else not operands):
            raise c.fail(f"{path}[1]", f"{op.name} takes {op.arity if op.arity >= 0 else 'one or more'} operand(s)")
        if op.kind in ARRAY_OPS and version < 2:
            raise c.fail(f"{path}[0]", f"{op.name} is an array op; array ops need format version 2")
        args = tuple(c.slot(a, i, f"{path}[1][{k}]") for k, a in enumerate(operands))
        if op.has_attr != (len(record) == 3):
            raise c.fail(path, f"{op.name} {'needs' if op.has_attr else 'takes no'} attribute")
        if op.has_attr:
            attrs[i] = c.attribute(op.kind, record[2], f"{path}[2]")
        ops.append(op.kind)
        argss.append(args)
        records[i] = None  # the parsed record is read: free it, so the document and the tape do not peak together
    count = len(ops)
    inputs = [c.slot(s, count, f"inputs[{k}]") for k, s in enumerate(c.field(document, "inputs", list))]
    uses = Counter(inputs)
    for k, s in enumerate(inputs):
        if ops[s] is not OpKind.INPUT or uses[s] > 1:
            raise c.fail(f"inputs[{k}]", "must name an input record, once")
    declared = set(inputs)
    example = c.field(document, "example", list)
    if len(example) != len(inputs):
        raise c.fail("example", "expected one example value per input")
    given = {s: c.value(x, f"example[{k}]") for k, (s, x) in enumerate(zip(inputs, example))}
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
    for key, x in captured.items():
        s = _key_slot(c, key, count, "captured")
        if ops[s] is not OpKind.INPUT or s in declared:
            raise c.fail(f"captured.{key}", "must name an input record that is not a declared input")
        given[s] = c.value(x, f"captured.{key}")
    for s in range(count):
        if ops[s] is OpKind.INPUT and s not in given:
            raise c.fail(f"records[{s}]", "an input that is neither declared nor captured")
    tape.sites = {_key_slot(c, k, count, "sites"): c.name(v, f"sites.{k}") for k, v in sites.items()}
    for i, (kind, args) in enumerate(zip(ops, argss)):
        attr: Any = attrs.get(i)
        if kind is OpKind.INPUT:
            value = given[i]
        elif kind is OpKind.CONST:
            value = attr.array if isinstance(attr, ArrayAttr) else float(attr)
        elif kind is OpKind.GUARD:
            value = _guard(c, tape, i, args[0], attr)
        else:
            value = _compute(c, tape, i, kind, args, attr)
        tape.append(kind, args, attr, value)
    tape.input_slots, tape.output_slots, tape.output_names, tape.structure = inputs, outputs, names, structure
    tape.sealed = True
    return tape


def _key_slot(c: _Checker, key: str, count: int, where: str) -> int:
    if not (key.isascii() and key.isdigit()) or len(key) > 12:
        raise c.fail(f"{where}.{key[:20]}", "expected a slot number as the key")
    return c.slot(int(key), count, f"{where}.{key}")


# ---------------------------------------------------------------- replaying at the example point


def _guard(c: _Checker, tape: Tape, slot: int, condition: int, recorded: bool) -> Any:
    """A guard's value is its condition's, which must hold at the example point as it did when recorded."""
    value = tape.values[condition]
    if np.size(value) != 1:
        raise c.fail(f"records[{slot}][1][0]", f"a guard's condition is one number, not {type_text(value)}")
    if bool(np.asarray(value) != 0.0) != recorded:
        raise c.fail(
            "example",
            f"the example point does not satisfy the tape's guards (the guard at records[{slot}] "
            f"recorded {recorded}, but its condition is {not recorded} there)",
        )
    return value


def _compute(c: _Checker, tape: Tape, slot: int, kind: OpKind, args: tuple[int, ...], attr: Attr) -> Any:
    """A record's value at the example point, as recording computes it, after checking its shapes."""
    op = OPS[kind]
    operands = [tape.values[a] for a in args]
    if op.scalar is not None and all(type(x) is float for x in operands):
        return op.scalar(*operands, attr) if op.has_attr else op.scalar(*operands)
    path = f"records[{slot}]"
    shapes = [np.shape(x) for x in operands]
    try:
        size = result_size(kind, shapes, attr, c.budget)
    except (ValueError, IndexError) as error:
        operand_types = " and ".join(type_text(x) for x in operands)
        raise c.fail(path, f"{op.name}: operands {operand_types} do not fit: {str(error)[:200]}") from None
    c.charge(size, path)
    c.charge_work(result_work(kind, shapes, size, attr), path)
    try:
        value = array_result(op, operands, attr)
    except ValueError as error:  # a ShapeError, or numpy's own refusal ("array is too big")
        raise c.fail(path, str(error)[:300]) from None
    if isinstance(value, np.ndarray) and value.dtype.name not in FLOATS:
        raise c.fail(path, f"{op.name} gives {value.dtype} values; a tape holds float64 or float32")
    return value

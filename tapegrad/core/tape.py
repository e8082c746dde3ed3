"""Records and tapes: a program as a linear list of typed records.

A record's position on the tape is the *slot* of its result; its operands are
the slots of earlier records.  Inputs and constants are records too, so a tape
is a complete straight-line program that prints as one record a line::

    >>> tape = tapegrad.trace(lambda x, y: x * y + 1, 2.0, 3.0)
    >>> print(tape)
    tape <lambda>(x, y) -> out
      %0 = input x
      %1 = input y
      %2 = mul %0 %1
      %3 = const 1
      %4 = add %2 %3
      return %4
"""

from __future__ import annotations

import gc
import os
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputTypeError
from .ops import OPS, OpKind, attribute_text
from .shapes import FLOAT64, dtype_of, type_text

__all__ = ["Record", "Tape", "cyclic_gc_paused", "check_name"]

Attr = Any
"""A record's attribute: a number, a name, a truth, an axis or shape tuple,
an :class:`~tapegrad.shapes.Index` or an :class:`~tapegrad.shapes.ArrayAttr`."""

ARRAY_OPS = frozenset(op.kind for op in OPS if op.scalar is None and op.array is not None)
"""The ops that exist only for arrays (they change shapes)."""


def _shape_and_dtype(value: Any) -> tuple[tuple[int, ...], Any]:
    if type(value) is np.ndarray:
        return value.shape, value.dtype
    return np.shape(value), dtype_of(value)


def check_name(name: str, what: str) -> str:
    """``name``, if it can be written as UTF-8; else :class:`~tapegrad.errors.InputTypeError`.

    A tape's names end up in tape files, generated modules and terminals,
    all UTF-8.  The one Python string that no UTF-8 can hold has a lone
    surrogate (``"\\ud800"``); such a name is refused where it enters, so
    ``save``, ``str(tape)`` and ``tapegrad show`` never fail on it later.
    """
    try:
        if isinstance(name, str):
            name.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputTypeError(
            f"{what} {name[:40]!r} holds a lone surrogate ({name[error.start]!r} at character {error.start}), "
            "which no tape file or terminal can hold; remove it or use another name"
        ) from None
    return name


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a big tape is built.

    Records are tuples of ints and hold no cycles, but the collector still
    scans them over and over as millions are allocated (it doubled the time
    of an optimiser pass over 500,000 records).  Reference counting frees
    everything as usual meanwhile; the collector's previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_INHERITED: list[weakref.WeakKeyDictionary[Tape, Any]] = []


def side_table(inherited: bool = False) -> weakref.WeakKeyDictionary[Tape, Any]:
    """A table in which a higher layer keeps its data about tapes, beside the program.

    Weakly keyed: an entry goes with its tape.  With ``inherited``, a tape
    made from another (:func:`tapegrad.optimize`, :func:`tapegrad.grad_tape`,
    ``jvp_tape``) keeps the other's entry (see :func:`inherit`): the sympy
    symbols of a tape from ``from_sympy`` still name the inputs of its
    gradient tape.
    """
    table: weakref.WeakKeyDictionary[Tape, Any] = weakref.WeakKeyDictionary()
    if inherited:
        _INHERITED.append(table)
    return table


def inherit(new: Tape, old: Tape) -> None:
    """``new``, made from ``old`` with the same inputs, keeps ``old``'s entries of inherited side tables."""
    for table in _INHERITED:
        entry = table.get(old)
        if entry is not None:
            table[new] = entry


class Record(NamedTuple):
    """One operation: its kind, the slots of its operands, a constant attribute.

    ``attr`` is the name of an ``input``, the number of a ``const``, the
    exponent of ``pow_const`` and the recorded truth of a ``guard``.
    """

    op: OpKind
    args: tuple[int, ...]
    attr: Attr = None


class Tape:
    """A recorded program: records, named inputs and outputs, guards.

    Tapes come from :func:`tapegrad.trace` (a function recorded once, to be
    replayed on new inputs) or are made behind eager :class:`~tapegrad.Value`
    arithmetic.  Call a traced tape to replay it, ``tape.gradient(...)`` to
    differentiate it.

    The records are stored by column (``ops``, ``args``, ``attrs``), which
    makes recording faster and an op about 40% smaller than a list of Record
    objects; ``tape[i]``, iteration and :attr:`records` give them back as
    :class:`Record` values.

    A Tape is the program and nothing else: what recording needs beside it
    (what is already on the tape, where an eager tape's adjoints go) lives
    in :mod:`tapegrad.values.tapes`, the compile cache in
    :mod:`tapegrad.formats.codegen`, the sympy symbols of a tape made from
    sympy in a :func:`side_table` of :mod:`tapegrad.formats.symbolic_import`.

    Attributes:
        ops, args: the kind and operand slots of every record.
        attrs: the attribute of each record that has one, by slot.
        values: the value of every slot when the tape was recorded.
        input_slots, output_slots: where the inputs and outputs live.
        output_names, structure: the outputs' names, and whether the traced function returned one, a tuple or a list.
        sites: ``"file:line"`` of the user's code for comparisons and guards.
        captures: the inputs standing for Values of an enclosing trace, as ``(slot, value)``.
        array, narrow, broadcasts, nbytes: what the backward pass must know of array records.
        traced, sealed, reads_shape: made by a trace; takes no more records; read a shape.

    Conveniences, each a thin call into the layer that does the work:
    ``tape(*args)`` and :meth:`gradient`, :meth:`value_and_gradient`,
    :meth:`explain` (replay), :meth:`compile` (generated code),
    :meth:`save` / :meth:`load` (tape files), :meth:`to_sympy`,
    :meth:`to_dot` / :meth:`render`, and the listing (``str(tape)``).
    """

    def __init__(self, name: str = "tape", traced: bool = False) -> None:
        self.name = name
        self.ops: list[OpKind] = []
        self.args: list[tuple[int, ...]] = []
        self.attrs: dict[int, Attr] = {}
        self.values: list[Any] = []
        self.input_slots: list[int] = []
        self.output_slots: list[int] = []
        self.output_names: list[str] = []
        self.structure = "value"  # what the traced function returned: "value", "tuple" or "list"
        self.sites: dict[int, str] = {}
        # Values of enclosing traces used inside this one, as (slot, value).
        self.captures: list[tuple[int, Any]] = []  # Any: a recording Value (the layer above)
        self.nbytes = 0  # bytes of the arrays recorded (an eager tape is closed past a limit, values/record.py)
        # Array tapes: some slot holds a numpy array (shapes and dtypes are
        # those of the recorded values), and the elementwise records whose
        # operands were broadcast or promoted, whose cotangents must be summed
        # and cast back to each operand's shape and dtype.
        self.array = False
        self.narrow = False  # some slot holds float32: cotangents are cast back to their operand's dtype
        self.broadcasts: set[int] = set()
        self.traced = traced
        # Takes no more records: a trace that has finished, or an eager tape closed by backward() or its size.
        self.sealed = False
        self.reads_shape = False  # traced code read a shape, size or dtype (tapegrad.function traces at the arrays)

    # ------------------------------------------------------------ building
    def append(self, op: OpKind, args: tuple[int, ...], attr: Attr, value: Any) -> int:
        """Add one record with its recorded value; return its slot."""
        slot = len(self.ops)
        self.ops.append(op)
        self.args.append(args)
        if attr is not None:
            self.attrs[slot] = attr
        self.values.append(value)
        if isinstance(value, np.ndarray) or op in ARRAY_OPS:
            self.note_array(slot, OPS[op].elementwise, [self.values[a] for a in args], value)
        return slot

    def note_array(self, slot: int, elementwise: bool, operands: list[Any], value: Any) -> None:
        """Record what the backward pass must know of an array record: did numpy broadcast or promote?"""
        self.array = True
        self.nbytes += getattr(value, "nbytes", 8)
        shape, dtype = _shape_and_dtype(value)
        if dtype != FLOAT64:
            self.narrow = True
        for operand in operands:
            operand_shape, operand_dtype = _shape_and_dtype(operand)
            if (elementwise and operand_shape != shape) or operand_dtype != dtype:
                self.broadcasts.add(slot)
                return

    def type_of(self, slot: int) -> str:
        """The dtype and shape of a slot, e.g. ``f64[100,16]`` (``f64[]`` for a scalar)."""
        return type_text(self.values[slot])
    # ------------------------------------------------------------ reading
    def __getitem__(self, slot: int) -> Record:
        return Record(self.ops[slot], self.args[slot], self.attrs.get(slot))

    def __iter__(self) -> Iterator[Record]:
        return (self[i] for i in range(len(self.ops)))

    @property
    def records(self) -> list[Record]:
        """Every record, in order (built on each call)."""
        return list(self)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The names of the inputs, in argument order."""
        return tuple(str(self.attrs[s]) for s in self.input_slots)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The names of the outputs, in order."""
        return tuple(self.output_names)

    def __len__(self) -> int:
        return len(self.ops)

    def stats(self) -> dict[str, int]:
        """How many records of each op kind the tape holds."""
        return dict(Counter(str(op) for op in self.ops))

    def operand_text(self, slot: int) -> str:
        """An operand as a reader wants it: an input's name, a constant, or ``%slot``."""
        record = self[slot]
        if record.op is OpKind.INPUT:
            return str(record.attr)
        if record.op is OpKind.CONST:
            return repr(record.attr)
        return f"%{slot}"

    def describe_guard(self, slot: int) -> str:
        """A guard as the condition the user wrote, e.g. ``x > 0 (recorded True)``."""
        (cond,) = self.args[slot]
        test = self[cond]
        op = OPS[test.op]
        if op.infix and len(test.args) == 2:
            text = f"{self.operand_text(test.args[0])} {op.infix} {self.operand_text(test.args[1])}"
        else:
            text = f"bool({self.operand_text(cond)})"
        return f"{text} (recorded {bool(self.attrs[slot])})"

    def format_record(self, slot: int) -> str:
        """One listing line, e.g. ``%4 = add %2 %3``."""
        record = self[slot]
        typed = f": {self.type_of(slot)}" if self.array else ""
        parts = [f"%{slot}{typed} = {record.op}"]
        parts += [f"%{a}" for a in record.args]
        attribute = attribute_text(record.op, record.attr)
        if attribute:
            parts.append(attribute)
        line = " ".join(parts)
        if slot in self.sites:
            line += f"  # {self.sites[slot]}"
        return line

    def __str__(self) -> str:
        outputs = ", ".join(self.output_names) or "nothing"
        lines = [f"tape {self.name}({', '.join(self.inputs)}) -> {outputs}"]
        lines += ["  " + self.format_record(i) for i in range(len(self.ops))]
        if self.output_slots:
            lines.append("  return " + ", ".join(f"%{s}" for s in self.output_slots))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Tape {self.name}({', '.join(self.inputs)}): {len(self.ops)} records>"

    def compile(self, backend: str = "math", *, workers: int | None = None, block: int | None = None) -> Any:
        """The tape as generated Python source, compiled once and cached.

        ``backend="math"`` works on floats, ``"numpy"`` on arrays (see
        :mod:`tapegrad.codegen`), ``"c"`` on floats with a C compiler's speed
        (:mod:`tapegrad.formats.cbuild`); the function takes the tape's inputs and
        returns what calling the tape returns.  With numpy, a large batch runs
        in blocks of ``block`` points on ``workers`` threads (None: the
        measured default, all cores; see :mod:`tapegrad.formats.blocked`).
        """
        from ..formats.codegen import compile_tape

        return compile_tape(self, backend, workers=workers, block=block)

    def save(self, path: Any) -> None:
        """Write the tape as a JSON tape file (see :mod:`tapegrad.io`); never pickle."""
        from ..formats.io import save

        save(self, path)

    @staticmethod
    def load(path: Any) -> Tape:
        """Read a tape file, validating every field first (:class:`TapeFormatError` if any is wrong)."""
        from ..formats.io import load

        return load(path)

    def to_dot(self, values: Any = None, grads: Any = None) -> str:
        """Graphviz DOT source of the tape (see :mod:`tapegrad.dot`)."""
        from ..formats.dot import to_dot

        return to_dot(self, values, grads)

    def render(self, path: Any, format: str = "svg") -> Any:
        """Draw the tape with Graphviz's ``dot`` into ``path``; a clear error when dot is missing."""
        from ..formats.dot import render

        return render(self, path, format)

    def _repr_svg_(self) -> str | None:
        """Jupyter: the picture when Graphviz is installed (else Jupyter falls back to the listing)."""
        if len(self) > 500:
            return None
        from ..formats.dot import svg

        return svg(self)

    # ------------------------------------------------------------ formulas
    def to_sympy(self, symbols: Any = None, cse: bool = False, simplify: bool = False) -> Any:
        """The outputs as sympy expressions (see :func:`tapegrad.symbolic.to_sympy`)."""
        from ..formats.symbolic import to_sympy

        return to_sympy(self, symbols, cse=cse, simplify=simplify)

    def _repr_markdown_(self) -> str:
        """Jupyter: the formula (for small tapes) above the listing."""
        text = f"```text\n{self}\n```"
        if not self.traced or len(self) > 200:
            return text
        import warnings

        import sympy

        from ..errors import SymbolicLimitError

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exprs = self.to_sympy()
            except SymbolicLimitError:  # arrays too big to write out element by element
                return text
        exprs = exprs if isinstance(exprs, (tuple, list)) else [exprs]
        formulas = [f"$${sympy.latex(sympy.Symbol(n))} = {sympy.latex(e)}$$" for n, e in zip(self.output_names, exprs)]
        return "\n\n".join(formulas + [text])

    # ------------------------------------------------------------ running
    def __call__(self, *args: Any) -> Any:
        """Replay the tape on new inputs (floats, numpy arrays or Values).

        Returns the outputs in the structure the traced function returned.
        Arrays are evaluated elementwise with broadcasting.
        """
        from ..functional.replay import replay

        return replay(self, args)

    def gradient(self, *args: Any, seed: Any = None) -> tuple[Any, ...]:
        """The gradient of the output with respect to every input, at ``args``.

        With several outputs, ``seed`` (one cotangent per output) makes this
        a vector-Jacobian product.  Returns one entry per input, in order;
        with array inputs, the gradient at every point.
        """
        from ..functional.replay import replay_gradient

        return replay_gradient(self, args, seed)[1]

    def explain(self, *args: Any, seed: Any = None) -> str:
        """The backward pass at ``args``, step by step: each record's value, adjoint and what it sends.

        A string that shows itself as its lines in a REPL and in Jupyter.
        """
        from ..functional.replay import explain

        return explain(self, args, seed)

    def value_and_gradient(self, *args: Any, seed: Any = None) -> tuple[Any, tuple[Any, ...]]:
        """Like :meth:`gradient`, also returning the outputs."""
        from ..functional.replay import replay_gradient

        return replay_gradient(self, args, seed)


def portable_site(site: str) -> str:
    """``site`` (``"/home/me/work/f.py:12"``) with its file relative to the working directory, else its name alone.

    For what leaves the machine (generated code, tape files): the absolute
    path would show the user's directories to everyone who reads them.
    """
    path, sep, line = site.rpartition(":")
    if not sep or not os.path.isabs(path):
        return site
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        relative = os.pardir
    if relative.startswith(os.pardir):
        relative = os.path.basename(path)
    return f"{relative}:{line}"

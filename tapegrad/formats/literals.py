"""Names and literals: the pieces of generated source that come from a tape's data.

Everything a user typed or recorded reaches generated code through here, and
only as one of these: a safe identifier (:func:`identifiers`), escaped text
in a comment or docstring (:func:`printable`, :func:`docstring_text`) from the
third line on (:func:`fixed_header` writes the first two), a float
that reads back exactly (:func:`literal`), or an array rebuilt element by
element (:func:`array_source`) and named once per module (:class:`Constants`).
:class:`Attribute` is how an op's code template sees a record's attribute::

    >>> identifiers(["lambda", "t3", "x", "x"]), literal(float("-inf"), "numpy")
    (['lambda_', 't3_', 'x', 'x_2'], '-np.inf')
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.shapes import ArrayAttr, Index
from ..errors import UnsupportedOpError

# Temporaries are t0, t1, ...; no user's name may look like one or like a module the code imports.
TEMPORARY = re.compile(r"t[0-9]+")
_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"math", "np", "numpy"}


# ---------------------------------------------------------------- names and literals


def identifiers(names: Sequence[str]) -> list[str]:
    """A safe, unique Python identifier for each name, in order.

    Keywords, builtins and module names get a trailing ``_``, characters that
    cannot be in an identifier become ``_``, a leading digit gets ``x_``,
    names like the temporaries (``t3``) or helpers (``_log``) are changed,
    and repeats get ``_2``, ``_3``...
    """
    taken: set[str] = set()
    suffix: dict[str, int] = {}  # where to resume counting a repeated name: 10**5 copies of "x" stay linear
    result = []
    for name in names:
        base = unicodedata.normalize("NFKC", str(name))  # as Python itself reads identifiers
        base = "".join(ch if ch == "_" or ch.isalnum() else "_" for ch in base) or "x"
        if base[0].isdigit():
            base = "x_" + base
        if not base.isidentifier():
            base = "x"
        if base.startswith("_"):
            base = "v" + base
        if base in _RESERVED or TEMPORARY.fullmatch(base):
            base += "_"
        unique, k = base, suffix.get(base, 2)
        while unique in taken:
            unique, k = f"{base}_{k}", k + 1
        suffix[base] = k
        taken.add(unique)
        result.append(unique)
    return result


CODING_LINE = "# -*- coding: utf-8 -*-"


def fixed_header(text: str) -> list[str]:
    """The first two lines of a generated file: no user text ever reaches them.

    Python takes a comment on line 1 or 2 that matches ``coding[:=]NAME`` as
    the file's encoding (PEP 263).  A tape named ``coding:unicode_escape\\n...``
    there would make Python decode the rest of the file with that codec, so
    the escaped ``\\n`` of the name became a real newline and the text after
    it ran as code on import (``coding:utf-7`` with ``+AAo-`` alike).  Line 1
    declares UTF-8 and line 2 is ``text``, tapegrad's own words (a version,
    a backend, a hash); user text starts on line 3, where no cookie is read.
    """
    if not text.isprintable() or "coding" in text:
        raise AssertionError(f"a generated file's second line must be tapegrad's own text, got {text!r}")
    return [CODING_LINE, f"# {text}"]


def printable(text: str) -> str:
    """Text safe in a comment: anything that could end the line (or a terminal's line) is escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def docstring_text(text: str) -> str:
    """Text safe in a docstring: no backslash or double quote survives unescaped."""
    return printable(text.replace("\\", "\\\\").replace('"', '\\"'))


def literal(x: Any, backend: str) -> str:
    """A float as source that reads back exactly (``repr``), ``inf`` and ``nan`` included."""
    x = float(x)
    module = "math" if backend == "math" else "np"
    if x != x:
        return f"{module}.nan"
    if math.isinf(x):
        return f"{module}.inf" if x > 0 else f"-{module}.inf"
    return repr(x)


# ---------------------------------------------------------------- arrays and attributes


class Constants:
    """The array constants of one generated module, each built once, as ``_c0, _c1...``.

    Equal arrays (by dtype, shape and bytes) share one name, also across the
    functions of an exported module.
    """

    def __init__(self) -> None:
        self.names: dict[ArrayAttr, str] = {}

    def name(self, array: ArrayAttr) -> str:
        if array not in self.names:
            self.names[array] = f"_c{len(self.names)}"
        return self.names[array]

    def lines(self) -> list[str]:
        return [f"{name} = _frozen({array_source(a.array)})" for a, name in self.names.items()]


_DTYPES = {"f": "np.float{bits}", "i": "np.intp", "u": "np.intp", "b": "np.bool_"}


def array_source(array: np.ndarray, indent: str = "") -> str:
    """Source that rebuilds ``array`` exactly: its dtype, its shape, every element (inf and nan too).

    An array of one repeated element is written as ``np.full``; a long one
    on wrapped lines, indented by ``indent`` more than the line it starts on.
    """
    kind = array.dtype.kind
    if kind not in _DTYPES:
        raise UnsupportedOpError(f"cannot write an array of dtype {array.dtype} as source")
    dtype = _DTYPES[kind].format(bits=array.dtype.itemsize * 8)
    element = (lambda x: literal(x, "numpy")) if kind == "f" else repr
    items = [element(x) for x in array.ravel().tolist()]
    if array.size > 1 and array.tobytes() == np.full_like(array, array.flat[0]).tobytes():
        return f"np.full({array.shape!r}, {items[0]}, dtype={dtype})"
    text = ", ".join(items)
    if len(text) > 60:  # a long list of elements: wrapped lines
        text = "\n" + textwrap.indent(textwrap.fill(text, 96 - len(indent)), indent + "    ") + "\n" + indent
    return f"np.array([{text}], dtype={dtype}).reshape({array.shape!r})"


def attribute_source(attr: Any, constants: Constants) -> str:
    """An array op's attribute as exact Python source."""
    if attr is None or isinstance(attr, str):  # a dtype's name: a quoted literal
        return repr(attr)
    if isinstance(attr, (bool, np.bool_)):
        return repr(bool(attr))
    if isinstance(attr, (int, np.integer)):
        return str(int(attr))
    if isinstance(attr, (float, np.floating)):
        return literal(attr, "numpy")
    if isinstance(attr, ArrayAttr):
        return constants.name(attr)
    if isinstance(attr, Index):
        return index_source(attr, constants)
    if isinstance(attr, tuple):
        parts = [attribute_source(part, constants) for part in attr]
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
    raise UnsupportedOpError(f"cannot write the attribute {attr!r} ({type(attr).__name__}) as source")


def index_source(index: Index, constants: Constants) -> str:
    """The text inside ``x[...]``; index arrays are module constants."""
    parts = []
    for item in index.items:
        if isinstance(item, slice):
            bounds = ["" if p is None else str(int(p)) for p in (item.start, item.stop, item.step)]
            parts.append(":".join(bounds if item.step is not None else bounds[:2]))
        elif item is Ellipsis:
            parts.append("...")
        else:
            parts.append(attribute_source(item, constants))
    return ", ".join(parts) if parts else "()"


class Attribute:
    """A record's attribute as an op's code template sees it: ``{c}``, ``{c[0]}``, ``{c[0].has_arrays}``.

    Formatting it gives exact source (see :func:`_source`); indexing and
    attribute access reach inside it.
    """

    __slots__ = ("value", "constants")

    def __init__(self, value: Any, constants: Constants) -> None:
        self.value = value
        self.constants = constants

    def __getitem__(self, key: Any) -> Attribute:
        return Attribute(self.value[key], self.constants)

    def __getattr__(self, name: str) -> Attribute:
        return Attribute(getattr(self.value, name), self.constants)

    def __format__(self, spec: str) -> str:
        return attribute_source(self.value, self.constants)

    def __str__(self) -> str:
        return attribute_source(self.value, self.constants)

    def __repr__(self) -> str:  # ``{c!r}`` in a template: the same source (a name is already a quoted literal)
        return attribute_source(self.value, self.constants)

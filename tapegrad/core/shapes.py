"""Array attributes and shape rules: what the array ops of the table need.

An array op's attribute (the axes of a ``sum``, the index of a ``getitem``,
the array of a constant) is stored on the tape like any other attribute, so
it must compare and hash by content (the optimiser's common-subexpression
pass keys records on it) and print readably in listings (generated code
writes them out exactly, see :mod:`tapegrad.codegen`).  :class:`ArrayAttr`
and :class:`Index` wrap numpy arrays and numpy indices to do that; the
functions below are the shape arithmetic the array ops' rules share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputTypeError, ShapeError

__all__ = [
    "ArrayAttr",
    "Index",
    "FLOAT64",
    "dtype_of",
    "type_text",
    "normalize_axes",
    "kept_shape",
    "transpose_last",
    "inverse_permutation",
]

_DTYPE_NAMES = {"float64": "f64", "float32": "f32", "float16": "f16"}
FLOAT64 = np.dtype(np.float64)


def dtype_of(value: Any) -> np.dtype[Any]:
    """The dtype of a slot's value: an array's own, float64 for a Python float."""
    return getattr(value, "dtype", FLOAT64)


def type_text(value: Any) -> str:
    """``f64[100,16]``: the dtype and shape of a slot's value, as listings show them."""
    name = dtype_of(value).name
    return f"{_DTYPE_NAMES.get(name, name)}[{','.join(str(n) for n in np.shape(value))}]"


class ArrayAttr:
    """A numpy array held as an attribute (an array constant, integer indices).

    Equal when dtype, shape and bytes are equal, so the optimiser can merge
    equal constants; the array is made read-only so the tape cannot change
    behind its back.
    """

    __slots__ = ("array", "_key")

    def __init__(self, array: np.ndarray) -> None:
        array = np.array(array, copy=True, order="C")  # results must not depend on the layout given
        array.flags.writeable = False
        self.array = array
        self._key: tuple[Any, ...] | None = None

    def key(self) -> tuple[Any, ...]:
        if self._key is None:
            self._key = (self.array.dtype.str, self.array.shape, self.array.tobytes())
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArrayAttr) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        if self.array.size <= 6:
            return np.array2string(self.array, separator=", ").replace("\n", "")
        return f"<{type_text(self.array)}>"


def _index_item(item: Any) -> Any:
    """One item of an index, checked, in a hashable form."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        for part in (item.start, item.stop, item.step) if isinstance(item, slice) else ():
            if part is not None and not isinstance(part, (int, np.integer)):
                raise InputTypeError(f"slice bounds must be integers, got {type(part).__name__} {part!r}")
        return item
    if isinstance(item, (bool, np.bool_)):
        raise InputTypeError("index with an integer, a slice, None, ... or an integer/boolean array, not a bool")
    if isinstance(item, (int, np.integer)):
        return int(item)
    array = np.asarray(item)
    if array.size == 0 and array.dtype.kind == "f":  # x[[]]: an empty selection, as numpy gives
        array = array.astype(np.intp)
    if array.dtype.kind not in "iub" or (array.dtype.kind == "b" and array.ndim == 0):
        raise InputTypeError(f"index arrays must hold integers or booleans, got dtype {array.dtype}")
    return ArrayAttr(array.astype(np.intp) if array.dtype.kind in "iu" else array)


class Index:
    """A numpy index (``x[i]``, ``x[:, 1:3]``, ``x[idx]``) as a tape attribute.

    Slices are kept as ``(start, stop, step)`` for hashing; integer and
    boolean arrays as :class:`ArrayAttr`.  ``key`` is what numpy is given.
    """

    __slots__ = ("items", "key", "_hash")

    def __init__(self, index: Any) -> None:
        items = index if isinstance(index, tuple) else (index,)
        self.items = tuple(_index_item(item) for item in items)
        self.key = tuple(item.array if isinstance(item, ArrayAttr) else item for item in self.items)
        self._hash: int | None = None

    def _token(self) -> tuple[Any, ...]:
        return tuple(("slice", i.start, i.stop, i.step) if isinstance(i, slice) else i for i in self.items)

    @property
    def has_arrays(self) -> bool:
        """Advanced (array) indexing, whose backward must add repeated picks."""
        return any(isinstance(item, ArrayAttr) for item in self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Index) and self._token() == other._token()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._token())
        return self._hash

    def __repr__(self) -> str:
        parts = []
        for item in self.items:
            if isinstance(item, slice):
                text = ":".join("" if p is None else str(p) for p in (item.start, item.stop))
                parts.append(text + ("" if item.step is None else f":{item.step}"))
            elif item is Ellipsis:
                parts.append("...")
            elif isinstance(item, ArrayAttr):
                parts.append(repr(item))
            else:
                parts.append(str(item))
        return f"[{', '.join(parts)}]"




# ---------------------------------------------------------------- shape rules


def normalize_axes(axis: Any, ndim: int, op: Any) -> tuple[int, ...] | None:
    """``axis`` (None, an int or a sequence) as sorted non-negative ints; ShapeError if out of range."""
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer, tuple, list)):
        raise InputTypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise InputTypeError(f"{op}: axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for an array of {ndim} dimension(s)")
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def kept_shape(shape: Sequence[int], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` after a reduction over ``axes`` with ``keepdims=True``."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def transpose_last(ndim: int) -> tuple[int, ...]:
    """The permutation swapping the last two axes (a batched matrix transpose)."""
    return (*range(ndim - 2), ndim - 1, ndim - 2)


def inverse_permutation(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(axes))

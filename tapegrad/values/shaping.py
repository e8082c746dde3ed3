"""numpy's shape functions on Values: ``squeeze``, ``moveaxis``, the ``stack`` family, ``split``, ``tile``...

Each function is a composition of rows the op table already has
(``reshape``, ``transpose``, ``broadcast_to``, ``getitem``, ``concat``), so
it replays, differentiates (to any order, in forward mode too), optimises,
exports and generates code wherever those do, with no rule of its own.
Their gradients are the transposed rearrangement: ``split``'s joins the
parts' gradients, ``tile``'s and ``repeat``'s sum the copies.  Selections by
position (``roll``, ``pad``, ``flip``, ``diag``, ``tril``...) are
:mod:`tapegrad.values.selecting`.

Arguments follow numpy's signatures and semantics; a bad one raises a
:mod:`tapegrad.errors` exception naming the function (numpy would raise
``ValueError``, ``AxisError`` or ``TypeError``).  Plain arrays work too: the
functions then compute with numpy (``tapegrad.numpy.tile(np.ones(2), 3)``).

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.tile(x, 3) * np.arange(6.0)))(np.zeros(2))
array([6., 9.])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import normalize_axes, type_text
from ..errors import InputTypeError, ShapeError
from . import arrays
from .record import apply
from .value import Value

__all__ = [
    "squeeze",
    "expand_dims",
    "ravel",
    "reshape",
    "moveaxis",
    "swapaxes",
    "broadcast_to",
    "broadcast_arrays",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "split",
    "array_split",
    "tile",
    "repeat",
]


# ---------------------------------------------------------------- helpers


def _array(x: Any) -> Any:
    """A Value as it is, anything else as a numpy array (numpy's functions take lists too)."""
    return x if isinstance(x, Value) else np.asarray(x)


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(x._data if isinstance(x, Value) else x)


def _text(x: Any) -> str:
    return type_text(x._data if isinstance(x, Value) else np.asarray(x))


def _integer(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{what} must be an int, got {type(value).__name__} {value!r:.40}")
    return int(value)


def _one_axis(axis: Any, ndim: int, what: str) -> int:
    """One axis, as a non-negative int; numpy's AxisError becomes ShapeError."""
    _integer(axis, f"{what}: an axis")
    (axis,) = normalize_axes(axis, ndim, what) or (0,)
    return axis


def _axes_in_order(axis: Any, ndim: int, what: str) -> list[int]:
    """An int or a sequence of axes, each non-negative, in the order given (moveaxis pairs them up)."""
    normalize_axes(axis, ndim, what)  # types, range and repeats
    return [int(a) % ndim for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]


def _reshaped(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` with ``shape``; ``x`` itself when it has that shape already (a Value never changes in place)."""
    x = _array(x)
    return x if _shape(x) == shape else arrays.reshape(x, shape)


def _transposed(x: Any, order: Sequence[int]) -> Any:
    x = _array(x)
    return x if list(order) == sorted(order) else arrays.transpose(x, tuple(order))


def _slice(x: Any, axis: int, key: Any) -> Any:
    """``x[..., key, ...]`` with ``key`` (a slice or an integer array) at ``axis``."""
    return arrays.getitem(x, (slice(None),) * axis + (key,))


# ---------------------------------------------------------------- axes: reshape and transpose


def squeeze(a: Any, axis: Any = None) -> Any:
    """``a`` without its axes of size 1 (all of them, or those in ``axis``)."""
    shape = _shape(a)
    if axis is None:
        axes: Sequence[int] = [d for d, n in enumerate(shape) if n == 1]
    else:
        axes = normalize_axes(axis, len(shape), "squeeze") or ()
        for d in axes:
            if shape[d] != 1:
                raise ShapeError(f"squeeze: axis {d} of {_text(a)} has size {shape[d]}; only axes of size 1 can go")
    return _reshaped(a, tuple(n for d, n in enumerate(shape) if d not in axes))


def expand_dims(a: Any, axis: Any) -> Any:
    """``a`` with new axes of size 1 at ``axis`` (positions in the result, an int or a tuple)."""
    shape = _shape(a)
    added = len(axis) if isinstance(axis, (tuple, list)) else 1
    axes = normalize_axes(axis, len(shape) + added, "expand_dims") or ()
    rest = iter(shape)
    return _reshaped(a, tuple(1 if d in axes else next(rest) for d in range(len(shape) + added)))


def _check_order(order: Any, what: str) -> None:
    if order not in ("C", "F"):
        raise InputTypeError(
            f"{what}: order must be 'C' or 'F', got {order!r}; 'A' and 'K' follow numpy's memory layout, "
            "which a Value does not have"
        )


def _reversed_axes(a: Any) -> Any:
    return _transposed(a, range(len(_shape(a)))[::-1])


def ravel(a: Any, order: str = "C") -> Any:
    """``a`` as one axis, in C order (rows first) or ``order="F"`` (columns first)."""
    _check_order(order, "ravel")
    if order == "F":
        a = _reversed_axes(a)
    return _reshaped(a, (math.prod(_shape(a)),))


def reshape(a: Any, shape: Any, order: str = "C") -> Any:
    """``a`` with a new shape, its elements read and written in C order or ``order="F"`` (first axis fastest).

    Fortran order is C order with every axis reversed, before and after: one ``transpose`` each side.
    """
    _check_order(order, "reshape")
    if order == "C":
        return arrays.reshape(a, shape)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _reversed_axes(arrays.reshape(_reversed_axes(a), shape[::-1]))


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """``a`` with the axes ``source`` moved to the positions ``destination``, the others in their order."""
    ndim = len(_shape(a))
    moved = _axes_in_order(source, ndim, "moveaxis: source")
    places = _axes_in_order(destination, ndim, "moveaxis: destination")
    if len(moved) != len(places):
        raise ShapeError(
            f"moveaxis: source {source!r} and destination {destination!r} must name as many axes as each other"
        )
    order = [d for d in range(ndim) if d not in moved]
    for place, d in sorted(zip(places, moved)):
        order.insert(place, d)
    return _transposed(a, order)


def swapaxes(a: Any, axis1: Any, axis2: Any) -> Any:
    """``a`` with two axes exchanged."""
    ndim = len(_shape(a))
    first, second = _one_axis(axis1, ndim, "swapaxes"), _one_axis(axis2, ndim, "swapaxes")
    order = list(range(ndim))
    order[first], order[second] = second, first
    return _transposed(a, order)


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    """``array`` repeated along new leading axes and its axes of size 1 to ``shape`` (its gradient sums them)."""
    target = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    target = tuple(_integer(n, "broadcast_to: a size") for n in target)
    source = _shape(array)
    lead = len(target) - len(source)
    if lead < 0 or any(n < 0 for n in target) or any(s not in (1, t) for s, t in zip(source, target[lead:])):
        raise ShapeError(
            f"broadcast_to: {_text(array)} cannot be broadcast to shape {target}: each axis must be 1 or the "
            "target's size, counted from the last"
        )
    return _array(array) if source == target else apply(OPS[OpKind.BROADCAST_TO], _array(array), attr=target)


def broadcast_arrays(*args: Any, subok: bool = False) -> tuple[Any, ...]:
    """The arrays broadcast to their common shape, as a tuple (numpy 2's)."""
    try:
        shape = np.broadcast_shapes(*[_shape(a) for a in args])
    except ValueError:
        raise ShapeError(
            f"broadcast_arrays: shapes {', '.join(str(_shape(a)) for a in args)} do not broadcast together"
        ) from None
    return tuple(broadcast_to(a, shape) for a in args)


def _at_least(a: Any, ndim: int) -> Any:
    """``a`` with at least ``ndim`` axes, as numpy's atleast_1d/2d/3d place them."""
    shape = _shape(a)
    if len(shape) >= ndim:
        return _array(a)
    if ndim == 3 and len(shape) == 2:
        return _reshaped(a, (*shape, 1))
    if ndim == 3:
        return _reshaped(a, (1, *(shape or (1,)), 1))
    return _reshaped(a, (1,) * (ndim - len(shape)) + shape)


def atleast_1d(*arys: Any) -> Any:
    """Each array with at least one axis: one array for one argument, else a tuple."""
    out = tuple(_at_least(a, 1) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    """Each array with at least two axes (a vector becomes one row)."""
    out = tuple(_at_least(a, 2) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Each array with at least three axes (a vector ``(n,)`` becomes ``(1, n, 1)``, a matrix ``(m, n, 1)``)."""
    out = tuple(_at_least(a, 3) for a in arys)
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------- joining and splitting


def _arrays(tup: Any, what: str) -> list[Any]:
    if isinstance(tup, Value) and not _shape(tup):
        raise ShapeError(f"{what}: needs a sequence of arrays, got a scalar Value")
    items = list(tup)
    if not items:
        raise ShapeError(f"{what}: needs at least one array")
    return items


def hstack(tup: Sequence[Any]) -> Any:
    """The arrays joined along their second axis (along the first for vectors)."""
    items = [_at_least(a, 1) for a in _arrays(tup, "hstack")]
    return arrays.concatenate(items, 0 if len(_shape(items[0])) == 1 else 1)


def vstack(tup: Sequence[Any]) -> Any:
    """The arrays joined along their first axis, vectors as rows."""
    return arrays.concatenate([_at_least(a, 2) for a in _arrays(tup, "vstack")], 0)


def dstack(tup: Sequence[Any]) -> Any:
    """The arrays joined along their third axis (as numpy's atleast_3d makes them)."""
    return arrays.concatenate([_at_least(a, 3) for a in _arrays(tup, "dstack")], 2)


def column_stack(tup: Sequence[Any]) -> Any:
    """Vectors as columns (and matrices as they are), joined along the second axis."""
    items = []
    for a in _arrays(tup, "column_stack"):
        shape = _shape(a)
        items.append(_reshaped(a, (math.prod(shape), 1)) if len(shape) < 2 else _array(a))
    return arrays.concatenate(items, 1)


def _split(ary: Any, sections: Any, axis: Any, what: str, equal: bool) -> list[Any]:
    shape = _shape(ary)
    if not shape:
        raise ShapeError(f"{what}: a scalar has no axis to split")
    axis = _one_axis(axis, len(shape), what)
    n = shape[axis]
    if np.ndim(sections) == 0:
        count = _integer(sections, f"{what}: the number of sections")
        if count <= 0:
            raise ShapeError(f"{what}: the number of sections must be at least 1, got {count}")
        if equal and n % count:
            raise ShapeError(
                f"split: axis {axis} of {_text(ary)} (size {n}) does not divide into {count} equal sections; "
                "np.array_split allows unequal ones"
            )
        each, extra = divmod(n, count)
        stops = np.cumsum([each + 1] * extra + [each] * (count - extra)).tolist()
        starts = [0, *stops[:-1]]
    else:
        points = [_integer(p, f"{what}: a split index") for p in np.asarray(sections, dtype=object).ravel()]
        starts, stops = [0, *points], [*points, n]
    return [_slice(ary, axis, slice(start, stop)) for start, stop in zip(starts, stops)]


def split(ary: Any, indices_or_sections: Any, axis: Any = 0) -> list[Any]:
    """``ary`` cut along ``axis`` into equal sections (an int) or at the given indices (a list of Values)."""
    return _split(ary, indices_or_sections, axis, "split", equal=True)


def array_split(ary: Any, indices_or_sections: Any, axis: Any = 0) -> list[Any]:
    """As :func:`split`, but ``n`` sections of a length ``l`` make ``l % n`` of one more element first."""
    return _split(ary, indices_or_sections, axis, "array_split", equal=False)


# ---------------------------------------------------------------- repeating


def _counts(reps: Any, what: str) -> tuple[int, ...]:
    counts = tuple(_integer(r, f"{what}: a repetition count") for r in np.asarray(reps, dtype=object).ravel())
    if any(r < 0 for r in counts):
        raise ShapeError(f"{what}: repetition counts must not be negative, got {reps!r}")
    return counts


def tile(A: Any, reps: Any) -> Any:
    """``A`` repeated ``reps`` times along each axis (a reshape, a broadcast and a reshape)."""
    counts = _counts(reps, "tile")
    shape = _shape(A)
    ndim = max(len(counts), len(shape))
    shape = (1,) * (ndim - len(shape)) + shape
    counts = (1,) * (ndim - len(counts)) + counts
    x = _reshaped(A, shape)
    if all(r == 1 for r in counts):
        return x
    x = arrays.reshape(x, tuple(k for n in shape for k in (1, n)))
    x = broadcast_to(x, tuple(k for r, n in zip(counts, shape) for k in (r, n)))
    return arrays.reshape(x, tuple(r * n for r, n in zip(counts, shape)))


def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    """Each element repeated (along ``axis``; of the flattened array for None), one count or one per element."""
    if axis is None:
        a, axis = ravel(a), 0
    shape = _shape(a)
    if not shape:
        raise ShapeError(f"repeat: axis {axis} is out of range for a scalar")
    axis = _one_axis(axis, len(shape), "repeat")
    if np.ndim(repeats) > 1:
        raise ShapeError(f"repeat: repeats must be one count or one per element, got shape {np.shape(repeats)}")
    counts, n = _counts(repeats, "repeat"), shape[axis]
    if len(counts) == 1:
        wide = shape[: axis + 1] + (counts[0],) + shape[axis + 1 :]
        x = broadcast_to(_reshaped(a, shape[: axis + 1] + (1,) + shape[axis + 1 :]), wide)
        return _reshaped(x, shape[:axis] + (n * counts[0],) + shape[axis + 1 :])
    if len(counts) != n:
        raise ShapeError(
            f"repeat: {len(counts)} repetition counts for axis {axis} of {_text(a)} (size {n}); "
            "give one count, or one per element"
        )
    return _slice(a, axis, np.repeat(np.arange(n), counts))

"""numpy's shape functions on Values: ``squeeze``, ``stack``'s relatives, ``split``, ``tile``, ``pad``, ``tril``...

Each function is a composition of rows the op table already has
(``reshape``, ``transpose``, ``broadcast_to``, ``getitem``, ``concat``,
``scatter``, ``where``), so it replays, differentiates (to any order, in
forward mode too), optimises, exports and generates code wherever those do,
with no rule of its own.  Their gradients are the transposed rearrangement:
``flip``'s reverses, ``tile``'s and ``repeat``'s sum the copies,
``pad``'s drops the padding.  Selections stay selections, never products
with a 0/1 mask, so ``tril`` gives exactly 0 above the diagonal, and sends
exactly 0 back there, even where the input holds inf or nan.

Arguments follow numpy's signatures and semantics; a bad one raises a
:mod:`tapegrad.errors` exception naming the function (numpy would raise
``ValueError``, ``AxisError`` or ``TypeError``).  Plain arrays work too: the
functions then compute with numpy (``tapegrad.numpy.tile(np.ones(2), 3)``).

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.tile(x, 3) * np.arange(6.0)))(np.zeros(2))
array([ 9., 12.])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import Index, normalize_axes, type_text
from ..errors import InputTypeError, ShapeError, UnsupportedOpError
from . import arrays
from .record import apply, where
from .value import Value

__all__ = [
    "squeeze",
    "expand_dims",
    "ravel",
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
    "roll",
    "pad",
    "flip",
    "fliplr",
    "flipud",
    "diag",
    "diagonal",
    "tril",
    "triu",
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


def ravel(a: Any, order: str = "C") -> Any:
    """``a`` as one axis, in C order (rows first) or ``order="F"`` (columns first)."""
    if order not in ("C", "F"):
        raise InputTypeError(
            f"ravel: order must be 'C' or 'F', got {order!r}; 'A' and 'K' follow numpy's memory layout, "
            "which a Value does not have"
        )
    if order == "F":
        a = _transposed(a, range(len(_shape(a)))[::-1])
    return _reshaped(a, (math.prod(_shape(a)),))


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


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """``a`` shifted cyclically by ``shift`` along ``axis`` (of the flattened array for None)."""
    if axis is None:
        return _reshaped(roll(ravel(a), shift, 0), _shape(a))
    shape = _shape(a)
    try:
        pairs = np.broadcast(np.asarray(shift, dtype=object), np.asarray(axis, dtype=object))
    except ValueError:
        raise ShapeError(f"roll: shift {shift!r} and axis {axis!r} do not pair up (their lengths differ)") from None
    total: dict[int, int] = {}
    for s, d in pairs:
        d = _one_axis(d, len(shape), "roll")
        total[d] = total.get(d, 0) + _integer(s, "roll: a shift")
    x = _array(a)
    for d, s in total.items():
        n = shape[d]
        if n and s % n:
            cut = n - s % n
            x = arrays.concatenate([_slice(x, d, slice(cut, n)), _slice(x, d, slice(0, cut))], d)
    return x


# ---------------------------------------------------------------- padding

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pairs(value: Any, ndim: int, what: str, whole: bool) -> list[tuple[Any, Any]]:
    """numpy's ways of giving ``pad`` a (before, after) pair per axis: one number, one pair, or one per axis."""
    if isinstance(value, Value):
        raise InputTypeError(f"pad: {what} must be numbers, not a Value")
    given = np.asarray(value)
    if given.dtype.kind not in ("iu" if whole else "iuf"):
        raise InputTypeError(f"pad: {what} must hold {'integers' if whole else 'real numbers'}, got {given.dtype}")
    if given.ndim < 3 and given.size == 1:
        given = given.ravel()[[0, 0]]
    elif given.ndim < 3 and given.size == 2 and given.shape != (2, 1):
        given = given.ravel()
    try:
        pairs = np.broadcast_to(given, (ndim, 2)).tolist()
    except ValueError:
        raise ShapeError(
            f"pad: {what} of shape {given.shape} does not fit an array of {ndim} axes; give one number, "
            "one (before, after) pair, or one pair per axis"
        ) from None
    if whole and any(w < 0 for pair in pairs for w in pair):
        raise ShapeError(f"pad: pad widths must not be negative, got {value!r}")
    return [tuple(pair) for pair in pairs]


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """``array`` padded: with constants (``constant_values``), its edge, or its reflection (``reflect``,
    ``symmetric``), or wrapped around (``wrap``); the padding's gradient goes back to what it copies.

    ``pad_width`` takes every form numpy's does: one width, one (before,
    after) pair, one pair per axis, or a dict from axis to either.
    """
    if mode not in _PAD_MODES:
        raise UnsupportedOpError(f"pad: mode {mode!r} is not supported on Values; use one of {', '.join(_PAD_MODES)}")
    allowed = {"constant": {"constant_values"}, "reflect": {"reflect_type"}, "symmetric": {"reflect_type"}}
    extra = sorted(set(kwargs) - allowed.get(mode, set()))
    if extra:
        raise InputTypeError(f"pad: mode {mode!r} takes no argument {', '.join(extra)}")
    if kwargs.get("reflect_type", "even") != "even":
        raise UnsupportedOpError(
            f"pad: reflect_type={kwargs['reflect_type']!r} is not supported on Values, only 'even'"
        )
    shape = _shape(array)
    if isinstance(pad_width, dict):  # {axis: width or (before, after)}, numpy 2.3's form; other axes unpadded
        widths = [(0, 0)] * len(shape)
        for axis, width in pad_width.items():
            widths[_one_axis(axis, len(shape), "pad")] = _pairs(width, 1, "pad_width", whole=True)[0]
    else:
        widths = _pairs(pad_width, len(shape), "pad_width", whole=True)
    constants = _pairs(kwargs.get("constant_values", 0), len(shape), "constant_values", whole=False)
    x = _array(array)
    dtype = np.asarray(x._data if isinstance(x, Value) else x).dtype
    for d, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        n = _shape(x)[d]
        if mode == "constant":
            block = [np.full(_shape(x)[:d] + (w,) + _shape(x)[d + 1 :], c, dtype=dtype) for w, c in
                     zip((before, after), constants[d])]  # fmt: skip
            x = arrays.concatenate(([block[0]] if before else []) + [x] + ([block[1]] if after else []), d)
        elif n == 0:
            raise ShapeError(f"pad: axis {d} of {_text(array)} is empty; only mode 'constant' can pad it")
        else:  # the source position of each padded one, as numpy pads the positions themselves
            x = _slice(x, d, np.pad(np.arange(n), (before, after), mode=mode))  # type: ignore[call-overload]
    return x


# ---------------------------------------------------------------- flips, diagonals, triangles


def flip(m: Any, axis: Any = None) -> Any:
    """``m`` with the order of elements reversed along ``axis`` (all axes for None)."""
    ndim = len(_shape(m))
    axes = range(ndim) if axis is None else normalize_axes(axis, ndim, "flip") or ()
    if not axes:
        return _array(m)
    return arrays.getitem(m, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(ndim)))


def fliplr(m: Any) -> Any:
    """``m`` with its columns (second axis) reversed."""
    if len(_shape(m)) < 2:
        raise ShapeError(f"fliplr: needs an array of at least two axes, got {_text(m)}")
    return flip(m, 1)


def flipud(m: Any) -> Any:
    """``m`` with its rows (first axis) reversed."""
    if len(_shape(m)) < 1:
        raise ShapeError("flipud: needs an array of at least one axis, got a scalar")
    return flip(m, 0)


def _diagonal_positions(rows: int, columns: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column numbers of diagonal ``offset`` (above the main one if positive) of a rows x columns matrix."""
    if offset >= 0:
        i = np.arange(max(0, min(rows, columns - offset)))
        return i, i + offset
    i = np.arange(max(0, min(rows + offset, columns)))
    return i - offset, i


def diagonal(a: Any, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Any:
    """The diagonal ``offset`` of the matrices over ``axis1`` and ``axis2``, as a new last axis (numpy's)."""
    shape = _shape(a)
    if len(shape) < 2:
        raise ShapeError(f"diagonal: needs an array of at least two axes, got {_text(a)}")
    first, second = _one_axis(axis1, len(shape), "diagonal"), _one_axis(axis2, len(shape), "diagonal")
    if first == second:
        raise ShapeError(f"diagonal: axis1 and axis2 are the same axis ({first}); give two different axes")
    rows, columns = _diagonal_positions(shape[first], shape[second], _integer(offset, "diagonal: offset"))
    x = _transposed(a, [d for d in range(len(shape)) if d not in (first, second)] + [first, second])
    return arrays.getitem(x, (Ellipsis, rows, columns))


def diag(v: Any, k: Any = 0) -> Any:
    """A vector as the diagonal ``k`` of a square matrix of zeros; a matrix's diagonal ``k`` as a vector."""
    shape, k = _shape(v), _integer(k, "diag: k")
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ShapeError(f"diag: takes a vector (to make a matrix) or a matrix (to read a diagonal), got {_text(v)}")
    n = shape[0] + abs(k)
    rows, columns = _diagonal_positions(n, n, k)
    return apply(OPS[OpKind.SCATTER], _array(v), attr=(Index((rows, columns)), (n, n)))


def _triangle(m: Any, k: Any, what: str, lower: bool) -> Any:
    shape, k = _shape(m), _integer(k, f"{what}: k")
    if not shape:
        raise ShapeError(f"{what}: needs a matrix (or a stack of them, or a vector), got a scalar")
    rows, columns = shape[-2] if len(shape) > 1 else shape[-1], shape[-1]  # a vector makes a square, as numpy's
    keep = np.tri(rows, columns, k=k, dtype=bool) if lower else ~np.tri(rows, columns, k=k - 1, dtype=bool)
    return where(keep, _array(m), 0.0)  # a selection: exact zeros, and no gradient, even from inf or nan


def tril(m: Any, k: Any = 0) -> Any:
    """``m`` with the elements above diagonal ``k`` set to 0 (on the last two axes)."""
    return _triangle(m, k, "tril", lower=True)


def triu(m: Any, k: Any = 0) -> Any:
    """``m`` with the elements below diagonal ``k`` set to 0 (on the last two axes)."""
    return _triangle(m, k, "triu", lower=False)

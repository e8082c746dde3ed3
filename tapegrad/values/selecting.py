"""numpy's selections by position on Values: ``roll``, ``pad``, ``flip``, ``diag``, ``diagonal``, ``tril``, ``triu``.

Each picks elements by where they are, with rows the op table already has:
slices joined (``roll``), an index of source positions (``pad``'s edge and
reflections, ``diagonal``), reversed slices (``flip``), a scatter into
zeros (``diag`` of a vector) or a selection between the input and 0
(``tril``, ``triu``).  The gradient goes back to the picked elements, and
copies add up (``pad``'s edge).  Never a product with a 0/1 mask: ``tril``
gives exactly 0 above the diagonal, and sends exactly 0 back there, even
where the input holds inf or nan.  Argument checks and helpers are those of
:mod:`tapegrad.values.shaping`.

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.pad(x, 1, mode="edge")))(np.zeros(3))
array([2., 1., 2.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import Index, normalize_axes
from ..errors import InputTypeError, ShapeError, UnsupportedOpError
from . import arrays
from .record import apply, where
from .shaping import _array, _integer, _one_axis, _reshaped, _shape, _slice, _text, _transposed, ravel
from .value import Value

__all__ = ["roll", "pad", "flip", "fliplr", "flipud", "diag", "diagonal", "tril", "triu"]


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

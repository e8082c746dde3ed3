"""Sorting on the tape: ``np.sort``, ``np.argsort`` and ``np.take_along_axis`` on Values.

The order of a sort depends on the numbers, so it must be found again
whenever a tape runs on new inputs: a permutation frozen when recording would
sort the recorded data and scramble any other.  So ``argsort`` is a row of
the op table (positions computed on the tape, as float64 numbers because
Values hold floats), and ``sort(x)`` is ``take_along_axis(x, argsort(x))``:
``take`` picks the elements at positions that are operands of the tape.
Replay, ``grad_tape``, forward mode and generated numpy code all recompute
the order from their own inputs.

The gradient flows back through the permutation: each input element gets
the adjoint of the sorted position it went to.  The order is stable, so
tied elements keep their input order, and each gets the gradient of its
own position (as PyTorch and JAX); nan sorts last, as numpy's.  The
positions have no gradient.

Top-k is a sort and a slice: ``np.sort(v)[..., -k:]`` (the k largest,
ascending) or ``-np.sort(-v)[..., :k]`` (descending).

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.sort(x) * np.arange(3.0)))(np.array([3.0, 1.0, 2.0]))
array([2., 0., 1.])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import dtype_of
from ..errors import InputTypeError, ShapeError, UnsupportedOpError
from . import arrays
from .record import apply, where
from .value import Value

__all__ = ["argsort", "sort", "take_along_axis"]


def _options(what: str, kind: Any, order: Any) -> None:
    """numpy's sort options: every ``kind`` sorts to the same values (tapegrad's order is stable); no fields."""
    if order is not None:
        raise UnsupportedOpError(f"{what}(..., order=...) sorts structured arrays by field; Values have no fields")
    if kind not in (None, "quicksort", "mergesort", "heapsort", "stable"):
        raise InputTypeError(f"{what}: kind must be 'quicksort', 'mergesort', 'heapsort' or 'stable', got {kind!r}")


def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """The positions that sort ``a`` along ``axis`` (of the flattened array for None), stable, nan last.

    On a Value, a Value of whole float64 numbers, recorded, so a replay sorts
    its own inputs; it indexes (``v[idx]`` for a vector) and feeds
    :func:`take_along_axis`.  On a plain array, numpy's integers.
    """
    _options("argsort", kind, order)
    if not isinstance(a, Value):
        return np.argsort(a, axis=axis, kind="stable")
    x, axis = arrays._along(a, axis, "argsort")
    return apply(OPS[OpKind.ARGSORT], x, attr=axis)


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """``a`` sorted along ``axis`` (flattened for None); the gradient goes back through the order found."""
    _options("sort", kind, order)
    if not isinstance(a, Value):
        return np.sort(a, axis=axis, kind="stable")
    x, axis = arrays._along(a, axis, "sort")
    return _take_along(x, apply(OPS[OpKind.ARGSORT], x, attr=axis), axis, checked=True)


def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    """The elements of ``arr`` at ``indices`` along ``axis`` (numpy's); repeated picks add their gradients.

    Integer arrays are recorded as an index (``getitem``); a Value of
    indices (from :func:`argsort`, or an input) stays an operand, checked to
    hold whole numbers in range on every replay.  Negative indices count from
    the end, as numpy's.
    """
    if axis is None:
        arr, axis = arrays.reshape(arr, (-1,)), 0
    shape, index_shape = np.shape(arrays._data(arr)), np.shape(arrays._data(indices))
    if len(index_shape) != len(shape):
        raise ShapeError(
            f"take_along_axis: indices of shape {index_shape} and arr of shape {shape} must have the same number "
            "of axes (add axes of size 1 to the indices)"
        )
    if not shape:
        raise ShapeError("take_along_axis: a scalar has no axis to take along")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise InputTypeError(f"take_along_axis: axis must be an int or None, got {axis!r}")
    arr, axis = arrays._along(arr, axis, "take_along_axis")
    others = [1 if d == axis else n for d, n in enumerate(shape)]
    try:
        np.broadcast_shapes(tuple(others), tuple(1 if d == axis else n for d, n in enumerate(index_shape)))
    except ValueError:
        raise ShapeError(
            f"take_along_axis: indices of shape {index_shape} do not broadcast against arr of shape {shape} "
            f"outside axis {axis}"
        ) from None
    if isinstance(indices, Value):
        return _take_along(arr, indices, axis, checked=False)
    picks = np.asarray(indices)
    if picks.dtype.kind not in "iu" and not (picks.size == 0 and picks.dtype.kind == "f"):
        raise InputTypeError(f"take_along_axis: indices must be an integer array, got dtype {picks.dtype}")
    n = shape[axis]
    if picks.size and (picks.min() < -n or picks.max() >= n):
        raise ShapeError(
            f"take_along_axis: indices from {picks.min()} to {picks.max()} are out of range for axis {axis} of size {n}"
        )
    key = _grid(shape)
    key[axis] = picks.astype(np.intp)
    return arrays.getitem(arr, tuple(key))


def _grid(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Each axis's positions, shaped to broadcast along the others: ``x[tuple(_grid(x.shape))]`` is ``x``."""
    return [np.arange(m).reshape([m if e == d else 1 for e in range(len(shape))]) for d, m in enumerate(shape)]


def _take_along(x: Any, positions: Value, axis: int, checked: bool) -> Any:
    """``take_along_axis`` with positions held by a Value: ``take`` from the flattened ``x``.

    The element ``(i, j, k)`` of a C-ordered array is number
    ``i * s0 + j * s1 + k`` of its flattening; the positions replace the
    coordinate along ``axis``.  Unless ``checked`` (argsort's own output),
    they are wrapped (negative ones count from the end) and taken from
    ``0, 1, ..., n - 1`` first, which checks on every replay that each is a
    whole number in range.
    """
    shape = np.shape(arrays._data(x))
    n = shape[axis]
    if dtype_of(positions._data) != np.float64:  # float32 holds whole numbers exactly only up to 2**24
        positions = arrays.astype(positions, "float64")
    if not checked:
        positions = arrays.take(
            np.arange(float(n)), where(apply(OPS[OpKind.LT], positions, 0.0), positions + float(n), positions)
        )
    strides = [math.prod(shape[d + 1 :]) for d in range(len(shape))]
    flat = positions if strides[axis] == 1 else positions * float(strides[axis])
    if len(shape) > 1:
        grid = _grid(shape)
        offset = sum(grid[d] * strides[d] for d in range(len(shape)) if d != axis)
        flat = flat + np.asarray(offset, dtype=np.float64)
        x = arrays.reshape(x, (-1,))
    return arrays.take(x, flat)

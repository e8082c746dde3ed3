"""numpy's other spellings of functions tapegrad records: ``np.linalg.outer``, ``np.hsplit``, ``np.rot90``...

numpy 2 has array-API names in ``numpy.linalg`` (``outer``, ``trace``,
``diagonal``, ``cross``, ``matmul``, ``tensordot``, ``matrix_transpose``,
``vecdot``), its own products of matrices (``matrix_power``, ``multi_dot``,
in numpy's order of products), numpy 2 functions (``cumulative_sum``,
``astype``) and older conveniences (``hsplit``/``vsplit``/``dsplit``,
``rollaxis``, ``diagflat``, ``rot90``, ``unstack``, ``copy``, ``take``,
``append``, ``round``).  Code written for complex arrays calls ``conj`` and
``real``; code that starts an accumulator calls ``zeros_like`` (a constant
array here).  Each is the function it is written with (``np.linalg.trace(x)``
is ``np.trace`` on the last two axes, ``np.rot90`` a flip and a transpose),
checked as numpy checks its arguments, so it records, replays and
differentiates as those do.  Differences and statistics (``diff``, ``cov``...)
are :mod:`tapegrad.values.statistics`.

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.rot90(x) * np.arange(4.0).reshape(2, 2)))(np.zeros((2, 2)))
array([[2., 0.],
       [3., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputTypeError, ShapeError
from . import arrays, products, selecting, shaping
from .shaping import _array, _integer, _one_axis, _shape, _text
from .value import Value


def _at_least(x: Any, ndim: int, what: str) -> tuple[int, ...]:
    shape = _shape(x)
    if len(shape) < ndim:
        raise ShapeError(f"{what}: needs an array of at least {ndim} axes, got {_text(x)}")
    return shape


# ---------------------------------------------------------------- numpy.linalg's array-API names


def linalg_outer(x1: Any, x2: Any, /) -> Any:
    """``np.linalg.outer``: as ``np.outer``, but only of two vectors (numpy 2 refuses other shapes)."""
    for x in (x1, x2):
        if len(_shape(x)) != 1:
            raise ShapeError(f"np.linalg.outer: takes two vectors, got {_text(x)}; np.outer flattens other arrays")
    return shaping.expand_dims(_array(x1), 1) * shaping.expand_dims(_array(x2), 0)


def linalg_trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """``np.linalg.trace``: the trace of the last two axes (a stack of matrices gives one per matrix)."""
    _at_least(x, 2, "np.linalg.trace")
    return products.trace(x, offset, -2, -1, dtype)


def linalg_diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """``np.linalg.diagonal``: the diagonal of the last two axes."""
    _at_least(x, 2, "np.linalg.diagonal")
    return selecting.diagonal(x, offset, -2, -1)


def linalg_cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``np.linalg.cross``: ``np.cross`` of 3-vectors only (numpy 2 refuses 2-vectors here)."""
    for x in (x1, x2):
        shape = _shape(x)
        if not shape or shape[_one_axis(axis, len(shape), "np.linalg.cross")] != 3:
            raise ShapeError(f"np.linalg.cross: needs 3-vectors along axis {axis}, got {_text(x)}")
    return products.cross(x1, x2, axis=axis)


def linalg_matmul(x1: Any, x2: Any, /) -> Any:
    return arrays.matmul(x1, x2)


def linalg_tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    return products.tensordot(x1, x2, axes)


def matrix_transpose(x: Any, /) -> Any:
    """The last two axes swapped (``np.matrix_transpose``, ``np.linalg.matrix_transpose``, ``v.mT``)."""
    _at_least(x, 2, "matrix_transpose")
    return shaping.swapaxes(x, -1, -2)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The dot product of the vectors along ``axis``, the other axes broadcast (a product and a sum)."""
    sizes = {_shape(x)[_one_axis(axis, len(_shape(x)), "vecdot")] if _shape(x) else None for x in (x1, x2)}
    if None in sizes or len(sizes) != 1:
        raise ShapeError(f"vecdot: the vectors along axis {axis} differ in length: {_text(x1)} and {_text(x2)}")
    a, b = shaping.broadcast_arrays(_array(x1), _array(x2))
    return arrays.sum_over(a * b, _one_axis(axis, len(_shape(a)), "vecdot"))


def matvec(x1: Any, x2: Any, /) -> Any:
    """``np.matvec``: matrices times vectors, ``(..., m, n) x (..., n) -> (..., m)``."""
    _at_least(x1, 2, "matvec")
    _at_least(x2, 1, "matvec")
    return arrays.getitem(arrays.matmul(x1, shaping.expand_dims(x2, -1)), (Ellipsis, 0))


def vecmat(x1: Any, x2: Any, /) -> Any:
    """``np.vecmat``: vectors times matrices, ``(..., n) x (..., n, m) -> (..., m)``."""
    _at_least(x1, 1, "vecmat")
    _at_least(x2, 2, "vecmat")
    return arrays.getitem(arrays.matmul(shaping.expand_dims(x1, -2), x2), (Ellipsis, 0, slice(None)))


def _square_stack(a: Any, what: str) -> tuple[int, ...]:
    shape = _shape(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"{what}: needs a square matrix or a stack of them (shape (..., M, M)), got {_text(a)}")
    return shape


def matrix_power(a: Any, n: int) -> Any:
    """``a`` multiplied by itself ``n`` times by repeated squaring, in numpy's order (so numpy's bits); a
    negative ``n`` is a power of ``inv(a)``; ``n = 0`` the identity, a constant."""
    shape = _square_stack(a, "np.linalg.matrix_power")
    n = _integer(n, "np.linalg.matrix_power: the exponent")
    if n == 0:
        return np.broadcast_to(np.eye(shape[-1]), shape).copy()
    if n < 0:
        from .linalg import inv  # linalg reads this module's LINALG table, so it imports it first

        a, n = inv(a), -n
    a = _array(a)
    if n <= 3:
        result = a
        for _ in range(n - 1):
            result = arrays.matmul(result, a)
        return result
    power, result = a, None
    while n:
        n, bit = divmod(n, 2)
        if bit:
            result = power if result is None else arrays.matmul(result, power)
        if n:
            power = arrays.matmul(power, power)
    return result


def _chain_order(sizes: list[int]) -> list[list[int]]:
    """Where the cheapest bracketing of a matrix chain splits each stretch ``[i, j]`` (the textbook dynamic
    program, the first cheapest split on ties, as numpy's)."""
    count = len(sizes) - 1
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = -1
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if cost[i][j] < 0 or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k
    return split


def multi_dot(arrays_: Any, *, out: Any = None) -> Any:
    """The product of a chain of matrices in the cheapest order (numpy's choice); the first may be a row
    vector and the last a column vector, as numpy allows."""
    if out is not None:
        raise InputTypeError("np.linalg.multi_dot: out= is not supported on Values (a numpy array cannot hold one)")
    parts = [_array(x) for x in arrays_]
    if len(parts) < 2:
        raise ShapeError(f"np.linalg.multi_dot: needs at least two arrays, got {len(parts)}")
    first, last = len(_shape(parts[0])), len(_shape(parts[-1]))
    if first == 1:
        parts[0] = shaping.expand_dims(parts[0], 0)
    if last == 1:
        parts[-1] = shaping.expand_dims(parts[-1], 1)
    for x in parts:
        if len(_shape(x)) != 2:
            raise ShapeError(f"np.linalg.multi_dot: needs matrices (the ends may be vectors), got {_text(x)}")
    split = _chain_order([_shape(parts[0])[0]] + [_shape(x)[1] for x in parts])

    def product(i: int, j: int) -> Any:
        return parts[i] if i == j else arrays.matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    result = product(0, len(parts) - 1)
    if first == 1:
        result = arrays.getitem(result, 0)
    return arrays.getitem(result, (Ellipsis, 0)) if last == 1 else result


# ---------------------------------------------------------------- older numpy conveniences


def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """``np.split`` along the columns (axis 1), or axis 0 of a vector."""
    shape = _at_least(ary, 1, "hsplit")
    return shaping.split(ary, indices_or_sections, 1 if len(shape) > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """``np.split`` along the rows (axis 0) of an array of at least two axes."""
    _at_least(ary, 2, "vsplit")
    return shaping.split(ary, indices_or_sections, 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """``np.split`` along the depth (axis 2) of an array of at least three axes."""
    _at_least(ary, 3, "dsplit")
    return shaping.split(ary, indices_or_sections, 2)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, as a tuple (``np.stack``'s inverse)."""
    shape = _at_least(x, 1, "unstack")
    axis = _one_axis(axis, len(shape), "unstack")
    return tuple(arrays.getitem(x, (slice(None),) * axis + (i,)) for i in range(shape[axis]))


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Axis ``axis`` moved to lie before position ``start`` (numpy's older ``moveaxis``)."""
    ndim = len(_shape(a))
    axis = _one_axis(axis, ndim, "rollaxis")
    start = _integer(start, "rollaxis: start")
    if not -ndim <= start <= ndim:
        raise ShapeError(f"rollaxis: start {start} is out of range for an array of {ndim} dimension(s)")
    start = start + ndim if start < 0 else start
    start = start - 1 if axis < start else start
    return _array(a) if axis == start else shaping.moveaxis(a, axis, start)


def diagflat(v: Any, k: int = 0) -> Any:
    """The flattened ``v`` as the diagonal ``k`` of a square matrix of zeros."""
    return selecting.diag(shaping.ravel(v), k)


def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Any:
    """``m`` turned by ``k`` quarter turns from the first axis of ``axes`` towards the second: flips and a swap."""
    ndim = len(_at_least(m, 2, "rot90"))
    if len(tuple(axes)) != 2:
        raise ShapeError(f"rot90: axes must be two axes, got {axes!r}")
    first, second = (_one_axis(a, ndim, "rot90") for a in axes)
    if first == second:
        raise ShapeError(f"rot90: axes must be different, got {axes!r}")
    turns = _integer(k, "rot90: k") % 4
    if turns == 0:
        return _array(m)
    if turns == 2:
        return selecting.flip(m, (first, second))
    if turns == 1:
        return shaping.swapaxes(selecting.flip(m, second), first, second)
    return selecting.flip(shaping.swapaxes(m, first, second), second)


def copy(a: Any, order: Any = "K", subok: bool = False) -> Any:
    """A Value itself (a Value never changes in place, so it is its own copy); an array's numpy copy."""
    if order not in ("K", "A", "C", "F"):
        raise InputTypeError(f"copy: order must be 'K', 'A', 'C' or 'F', got {order!r}")
    return a if isinstance(a, Value) else np.array(a, copy=True, order=order, subok=subok)


# ---------------------------------------------------------------- numpy 2 names and rounding


def _cumulative(x: Any, axis: Any, include_initial: bool, what: str, initial: float, run: Callable[..., Any]) -> Any:
    shape = _shape(x)
    if axis is None:
        if len(shape) > 1:
            raise ShapeError(f"{what}: an array of more than one axis needs axis= (numpy 2 does not flatten here)")
        axis = 0
    axis = _one_axis(axis, max(len(shape), 1), what)
    result = run(_array(x), axis)
    if not include_initial:
        return result
    start = np.full(shape[:axis] + (1,) + shape[axis + 1 :], initial)
    return arrays.concatenate([start, result], axis=axis)


def cumulative_sum(x: Any, /, *, axis: Any = None, dtype: Any = None, include_initial: bool = False) -> Any:
    """numpy 2's ``cumulative_sum``: ``cumsum`` along ``axis``, with a leading 0 if ``include_initial``."""
    if dtype is not None:
        raise InputTypeError("cumulative_sum: dtype= is not supported on Values (use .astype)")
    return _cumulative(x, axis, include_initial, "cumulative_sum", 0.0, arrays.cumsum)


def cumulative_prod(x: Any, /, *, axis: Any = None, dtype: Any = None, include_initial: bool = False) -> Any:
    """numpy 2's ``cumulative_prod``: ``cumprod`` along ``axis``, with a leading 1 if ``include_initial``."""
    if dtype is not None:
        raise InputTypeError("cumulative_prod: dtype= is not supported on Values (use .astype)")
    return _cumulative(x, axis, include_initial, "cumulative_prod", 1.0, arrays.cumprod)


def round_(a: Any, decimals: int = 0, out: Any = None) -> Any:
    """``np.round``/``np.around`` to whole numbers (halves to even, as numpy's); its gradient is 0."""
    if out is not None or decimals != 0:
        raise InputTypeError(
            "round: only decimals=0 (and no out=) is supported on Values; scale first: np.round(x * 100) / 100"
        )
    return a.round() if isinstance(a, Value) else np.round(a)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """numpy 2's function form of ``x.astype(dtype)`` (float32 or float64 for a Value)."""
    return arrays.astype(x, dtype) if isinstance(x, Value) else np.astype(x, dtype, copy=copy)


# ---------------------------------------------------------------- real numbers, selections, constants


def real(val: Any) -> Any:
    """A Value itself: Values are real, so ``np.real``, ``np.conj`` and ``v.conj()`` change nothing (code written
    for complex arrays, ``x.conj().T @ y``, runs unchanged)."""
    return val if isinstance(val, Value) else np.real(val)


def conjugate(x: Any) -> Any:
    return x if isinstance(x, Value) else np.conjugate(x)


def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    """``np.take``: the elements at ``indices`` along ``axis`` (of the flattened array with ``axis=None``)."""
    if out is not None or mode != "raise":
        raise InputTypeError("take: out= and mode= are not supported on Values (indices must be in range)")
    if axis is None:
        return arrays.getitem(shaping.ravel(_array(a)), np.asarray(indices))
    axis = _one_axis(axis, len(_shape(a)), "take")
    return arrays.getitem(_array(a), (slice(None),) * axis + (np.asarray(indices),))


def append(arr: Any, values: Any, axis: Any = None) -> Any:
    """``values`` joined after ``arr`` along ``axis``; both flattened first with ``axis=None``, as numpy's."""
    if axis is None:
        return arrays.concatenate([shaping.ravel(_array(arr)), shaping.ravel(_array(values))])
    return arrays.concatenate([_array(arr), _array(values)], axis=axis)


def _like(a: Any, dtype: Any, shape: Any, fill: Callable[[tuple[int, ...], Any], np.ndarray]) -> np.ndarray:
    data = a._data if isinstance(a, Value) else np.asarray(a)
    return fill(data.shape if shape is None else shape, data.dtype if dtype is None else dtype)


def zeros_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None) -> np.ndarray:
    """A plain array of zeros of ``a``'s shape: a constant, not a Value (as JAX's), that mixes with Values."""
    return _like(a, dtype, shape, lambda s, d: np.zeros(s, d))


def ones_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None) -> np.ndarray:
    """A plain array of ones of ``a``'s shape (a constant, as :func:`zeros_like`)."""
    return _like(a, dtype, shape, lambda s, d: np.ones(s, d))


def full_like(
    a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None
) -> np.ndarray:
    """A plain array of ``a``'s shape filled with a number (a Value as ``fill_value`` is refused by numpy)."""
    return _like(a, dtype, shape, lambda s, d: np.full(s, fill_value, d))


LINALG: dict[str, Callable[..., Any]] = {
    "outer": linalg_outer,
    "trace": linalg_trace,
    "diagonal": linalg_diagonal,
    "cross": linalg_cross,
    "matmul": linalg_matmul,
    "tensordot": linalg_tensordot,
    "matrix_transpose": matrix_transpose,
    "vecdot": vecdot,
    "matrix_power": matrix_power,
    "multi_dot": multi_dot,
}
"""numpy.linalg's array-API names -> what records them (``tnp.linalg.<name>`` too)."""

_NUMPY_NAMES: dict[str, Callable[..., Any]] = {
    "matrix_transpose": matrix_transpose,
    "vecdot": vecdot,
    "matvec": matvec,
    "vecmat": vecmat,
    "hsplit": hsplit,
    "vsplit": vsplit,
    "dsplit": dsplit,
    "unstack": unstack,
    "rollaxis": rollaxis,
    "diagflat": diagflat,
    "rot90": rot90,
    "copy": copy,
    "cumulative_sum": cumulative_sum,
    "cumulative_prod": cumulative_prod,
    "round": round_,
    "around": round_,
    "astype": astype,
    "real": real,
    "conjugate": conjugate,
    "take": take,
    "append": append,
    "zeros_like": zeros_like,
    "ones_like": ones_like,
    "full_like": full_like,
}

NUMPY: dict[Any, Callable[..., Any]] = {
    **{getattr(np, name): f for name, f in _NUMPY_NAMES.items() if hasattr(np, name)},
    **{getattr(np.linalg, name): f for name, f in LINALG.items() if hasattr(np.linalg, name)},
}
"""numpy callable -> the function recording it, for the dispatch table (names this numpy has)."""

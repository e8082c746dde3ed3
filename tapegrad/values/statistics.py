"""numpy's differences and statistics on Values: ``np.diff``, ``np.ptp``, ``np.average``, ``np.cov``, ``np.corrcoef``.

Each is written with slices, reductions and a matrix product in the order
numpy computes it (``cov`` scales the deviations' product by ``1 / (N -
ddof)``, ``corrcoef`` divides by the standard deviations and clips), so the
values are numpy's bits and the gradients those of the parts.

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.diff(x) ** 2))(np.array([0.0, 1.0, 3.0]))
array([-2., -2.,  4.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputTypeError, ShapeError
from . import arrays, selecting, shaping
from .shaping import _array, _integer, _one_axis, _shape, _text
from .spellings import _at_least


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The ``n``-th difference along ``axis`` (``a[1:] - a[:-1]``, ``n`` times), after joining ``prepend``
    and ``append`` (numbers are broadcast to one slice), as numpy's."""
    n = _integer(n, "diff: n")
    if n < 0:
        raise ShapeError(f"diff: the order n must not be negative, got {n}")
    shape = _at_least(a, 1, "diff")
    axis = _one_axis(axis, len(shape), "diff")
    x = _array(a)
    ends = [(prepend, 0), (append, 1)]
    if any(end is not None for end, _ in ends):
        parts = [x]
        for end, position in ends:
            if end is not None:
                end = _array(end)
                if not _shape(end):
                    end = shaping.broadcast_to(end, shape[:axis] + (1,) + shape[axis + 1 :])
                parts.insert(len(parts) * position, end)
        x = arrays.concatenate(parts, axis=axis)
    for _ in range(n):
        length = _shape(x)[axis]
        x = shaping._slice(x, axis, slice(1, length)) - shaping._slice(x, axis, slice(0, max(length - 1, 0)))
    return x


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """The range, ``max - min`` along ``axis`` (its gradient reaches the extreme elements)."""
    if out is not None:
        raise InputTypeError("ptp: out= is not supported on Values (a numpy array cannot hold one)")
    return arrays.max_over(_array(a), axis, keepdims) - arrays.min_over(_array(a), axis, keepdims)


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims: bool = False) -> Any:
    """The mean, or with ``weights`` ``sum(a * w) / sum(w)`` along ``axis`` (a 1-D ``w`` along one axis)."""
    x = _array(a)
    if weights is None:
        result, total = arrays.mean_over(x, axis, keepdims), None
    else:
        w = _array(weights)
        if _shape(w) != _shape(x):
            if axis is None or len(_shape(w)) != 1 or not isinstance(axis, (int, np.integer)):
                raise ShapeError(f"average: weights {_text(w)} must have a's shape {_text(x)}, or be 1-D with an axis")
            place = _one_axis(axis, len(_shape(x)), "average")
            w = shaping.broadcast_to(arrays.reshape(w, (-1,) + (1,) * (len(_shape(x)) - place - 1)), _shape(x))
        total = arrays.sum_over(w, axis, keepdims)
        result = arrays.sum_over(x * w, axis, keepdims) / total
    if not returned:
        return result
    if total is None:  # numpy returns the count of elements averaged, per result element
        size, out_size = np.size(arrays._data(x)), np.size(arrays._data(result))
        total = np.full(np.shape(arrays._data(result)), size / max(out_size, 1))
    return result, total


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Any:
    """The covariance matrix of the variables in the rows of ``m`` (columns with ``rowvar=False``), and of
    ``y``'s; the deviations' matrix product scaled by ``1 / (N - ddof)``, as numpy computes it."""
    if fweights is not None or aweights is not None or dtype is not None:
        raise InputTypeError("cov: fweights=, aweights= and dtype= are not supported on Values")
    rows = []
    for data in (m, y):
        if data is None:
            continue
        x = _array(data)
        if len(_shape(x)) > 2:
            raise ShapeError(f"cov: takes a vector or a matrix of observations, got {_text(x)}")
        x = shaping.atleast_2d(x)
        rows.append(x if rowvar or _shape(x)[0] == 1 else shaping.swapaxes(x, 0, 1))
    x = rows[0] if len(rows) == 1 else arrays.concatenate(rows, axis=0)
    ddof = (0 if bias else 1) if ddof is None else _integer(ddof, "cov: ddof")
    fact = max(_shape(x)[1] - ddof, 0)
    x = x - shaping.expand_dims(arrays.mean_over(x, 1), 1)
    c = arrays.matmul(x, shaping.swapaxes(x, 0, 1)) * np.true_divide(1, fact)
    return shaping.squeeze(c)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Pearson correlation coefficients: the covariance divided by the standard deviations, clipped to
    [-1, 1] as numpy's (the clip passes the gradient inside, as everywhere)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if not _shape(c):
        return c / c
    d = shaping.ravel(selecting.diagonal(c))
    stddev = np.sqrt(d)  # numpy's own functions dispatch on Values: sqrt and clip record as in user code
    c = c / shaping.expand_dims(stddev, 1)
    c = c / shaping.expand_dims(stddev, 0)
    return np.clip(c, -1.0, 1.0)


NUMPY: dict[Any, Callable[..., Any]] = {
    np.diff: diff,
    np.ptp: ptp,
    np.average: average,
    np.cov: cov,
    np.corrcoef: corrcoef,
}
"""numpy callable -> the function recording it, for the dispatch table."""

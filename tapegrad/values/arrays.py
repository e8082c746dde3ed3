"""Array operations on Values: matmul, reductions, reshaping, indexing, softmax.

Each function checks its arguments, puts them in the canonical form its op
of the table expects (sorted axes, an :class:`~tapegrad.shapes.Index`,
matrices rather than vectors for ``matmul``) and records one op, or a few
for the composite ones (``mean``, ``softmax``, ``cross_entropy``), whose
gradients then come from the ops they are made of.  They also take plain
numpy arrays, and then simply compute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import Index, normalize_axes, type_text
from ..errors import InputTypeError, ShapeError
from .record import apply, not_equal
from .value import Value

__all__ = [
    "matmul",
    "getitem",
    "transpose",
    "reshape",
    "astype",
    "sum_over",
    "mean_over",
    "max_over",
    "logsumexp",
    "log_softmax",
    "softmax",
    "concatenate",
    "stack",
    "cross_entropy",
    "take",
    "min_over",
    "prod_over",
    "var_over",
    "std_over",
    "cumsum",
    "cumprod",
    "all_over",
    "any_over",
    "arg_extreme",
]


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Value) else x


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(_data(x))


def matmul(x: Any, y: Any) -> Any:
    """``x @ y`` as numpy's matmul: vectors are promoted to matrices and the added axis dropped again."""
    xs, ys = _shape(x), _shape(y)
    if not xs or not ys:
        raise ShapeError(
            f"matmul: operands {type_text(_data(x))} and {type_text(_data(y))} must have at least one axis; "
            "multiply scalars with *"
        )
    inner = ys[0] if len(ys) == 1 else ys[-2]
    if xs[-1] != inner:
        raise ShapeError(
            f"matmul: {type_text(_data(x))} @ {type_text(_data(y))}: the last axis of the left operand ({xs[-1]}) "
            f"must match the {'only' if len(ys) == 1 else 'second-to-last'} axis of the right one ({inner})"
        )
    x2 = reshape(x, (1, xs[0])) if len(xs) == 1 else x
    y2 = reshape(y, (ys[0], 1)) if len(ys) == 1 else y
    out = apply(OPS[OpKind.MATMUL], x2, y2)
    if len(xs) > 1 and len(ys) > 1:
        return out
    shape = list(np.shape(_data(out)))
    if len(ys) == 1:
        del shape[-1]
    if len(xs) == 1:
        del shape[-1 if len(ys) == 1 else -2]
    return reshape(out, tuple(shape))


def getitem(x: Any, index: Any) -> Any:
    """``x[index]``: integers, slices, None, ``...`` and integer or boolean arrays, as numpy indexes."""
    if not _shape(x):
        raise ShapeError(f"cannot index a scalar ({type_text(_data(x))}); only arrays have items")
    if isinstance(index, Value):
        return take(x, index)
    if isinstance(index, tuple) and any(isinstance(item, Value) for item in index):
        raise InputTypeError(
            "a Value must be the whole index, x[idx] (it picks rows, and a tape replays with new ones); "
            "inside a tuple, or to fix the indices, index with its .data"
        )
    return apply(OPS[OpKind.GETITEM], x, attr=Index(index))


def take(x: Any, idx: Value, bound: int | None = None) -> Any:
    """``x[idx]`` for indices held by a Value: rows of ``x``, picked by numbers the tape can be replayed with.

    Indexing with a numpy array records the indices as an attribute, fixed
    for every replay; a Value (an input of a traced training step, say)
    keeps them an operand, so a tape or generated code takes a new
    minibatch each call.  The indices must be whole numbers in
    ``[0, bound)`` (default: the rows of ``x``), checked again on every
    replay.
    """
    rows = _shape(x)[0]
    bound = rows if bound is None else bound
    picks = np.asarray(idx._data)
    if picks.size and (np.any(picks != np.floor(picks)) or picks.min() < 0 or picks.max() >= bound):
        raise ShapeError(
            f"take: indices must be whole numbers in [0, {bound}) for {type_text(_data(x))}, "
            f"got values from {picks.min()} to {picks.max()}"
        )
    return apply(OPS[OpKind.TAKE], x, idx, attr=bound)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """The axes of ``x`` permuted (reversed by default)."""
    ndim = len(_shape(x))
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % ndim if ndim else int(a) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ShapeError(
            f"transpose: axes {tuple(axes or ())} are not a permutation of the {ndim} axes of {type_text(_data(x))}"
        )
    return apply(OPS[OpKind.TRANSPOSE], x, attr=perm)


def reshape(x: Any, shape: Any) -> Any:
    """``x`` with a new shape of the same size (one entry may be -1)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise InputTypeError(f"reshape: a shape is a tuple of ints, got {shape!r}")
    return apply(OPS[OpKind.RESHAPE], x, attr=tuple(int(n) for n in shape))


def astype(x: Any, dtype: Any) -> Any:
    """``x`` converted to float32 or float64."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise InputTypeError(f"astype: {dtype!r} is not a numpy dtype; Values hold float32 or float64") from None
    if name not in ("float32", "float64"):
        raise InputTypeError(f"astype: Values hold float32 or float64, not {name}")
    return apply(OPS[OpKind.ASTYPE], x, attr=name)


def _reduction(kind: OpKind, x: Any, axis: Any, keepdims: bool) -> Any:
    axes = normalize_axes(axis, len(_shape(x)), kind)
    return apply(OPS[kind], x, attr=(axes, bool(keepdims)))


def sum_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The sum over ``axis`` (an int, a tuple, or None for all)."""
    return _reduction(OpKind.SUM, x, axis, keepdims)


def mean_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The mean over ``axis``: a sum divided by the count (nan over an empty axis, as numpy)."""
    shape = _shape(x)
    axes = normalize_axes(axis, len(shape), "mean")
    count = math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)
    return sum_over(x, axes, keepdims) / float(count)


def max_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The maximum over ``axis``; ties share the gradient evenly."""
    return _reduction(OpKind.MAX, x, axis, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow."""
    return _reduction(OpKind.LOGSUMEXP, x, axis, keepdims)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - logsumexp(x)`` along ``axis``: log-probabilities, stable for large logits (one op)."""
    if not isinstance(axis, (int, np.integer)):
        raise InputTypeError(f"log_softmax: axis must be one int, got {axis!r}")
    (axis,) = normalize_axes(axis, len(_shape(x)), "log_softmax") or (0,)
    return apply(OPS[OpKind.LOG_SOFTMAX], x, attr=axis)


def softmax(x: Any, axis: int = -1) -> Any:
    """Probabilities along ``axis``: ``exp(log_softmax(x))``, stable for large logits."""
    out = log_softmax(x, axis)
    return out.exp() if isinstance(out, Value) else np.exp(out)


def concatenate(values: Sequence[Any], axis: int | None = 0) -> Any:
    """The arrays joined along an existing ``axis`` (None: flattened first, as numpy's)."""
    values = list(values)
    if not values:
        raise ShapeError("concatenate: needs at least one array")
    if axis is None:
        values, axis = [reshape(v, (-1,)) for v in values], 0
    shapes = [_shape(v) for v in values]
    ndim = len(shapes[0])
    if not ndim or any(len(s) != ndim for s in shapes):
        raise ShapeError(f"concatenate: arrays need the same number of axes (at least one), got {shapes}")
    (axis,) = normalize_axes(axis, ndim, "concatenate") or (0,)
    if any(s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes):
        raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    return apply(OPS[OpKind.CONCAT], *values, attr=axis)


def stack(values: Sequence[Any], axis: int = 0) -> Any:
    """The arrays (of one shape) joined along a new ``axis``."""
    values = list(values)
    if not values:
        raise ShapeError("stack: needs at least one array")
    shape = _shape(values[0])
    if any(_shape(v) != shape for v in values):
        raise ShapeError(f"stack: arrays must all have one shape, got {[_shape(v) for v in values]}")
    (axis,) = normalize_axes(axis, len(shape) + 1, "stack") or (0,)
    expanded = shape[:axis] + (1,) + shape[axis:]
    return concatenate([reshape(v, expanded) for v in values], axis)


def cross_entropy(logits: Any, targets: Any) -> Any:
    """The mean negative log-likelihood of integer ``targets`` (N,) under ``logits`` (N, C)."""
    shape = _shape(logits)
    labels = np.asarray(_data(targets))
    if isinstance(targets, Value) and labels.dtype.kind == "f" and np.all(labels == np.floor(labels)):
        labels = labels.astype(np.intp)  # checked below; the Value keeps them an operand of the tape
    if len(shape) != 2:
        raise ShapeError(f"cross_entropy: logits must be (batch, classes), got {type_text(_data(logits))}")
    if labels.shape != shape[:1] or labels.dtype.kind not in "iu":
        raise ShapeError(
            f"cross_entropy: targets must be {shape[0]} integer class indices for logits {type_text(_data(logits))}, "
            f"got an array of shape {labels.shape} and dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= shape[1]):
        raise ShapeError(
            f"cross_entropy: targets must lie in [0, {shape[1]}), got values from {labels.min()} to {labels.max()}"
        )
    if isinstance(targets, Value):  # pick from the flattened log-probabilities: row * classes + target
        # Taking the targets from 0, 1, ..., C - 1 checks, on every replay too, that each is a class.
        classes = take(np.arange(float(shape[1])), targets)
        flat = reshape(log_softmax(logits, -1), (shape[0] * shape[1],))
        return -mean_over(take(flat, classes + np.arange(shape[0]) * float(shape[1])))
    picked = getitem(log_softmax(logits, -1), (np.arange(shape[0]), labels))
    return -mean_over(picked)


# ---------------------------------------------------------------- more of numpy's reductions


def min_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The minimum over ``axis``: ``-max(-x)``, exact, and ties share the gradient evenly as max's do."""
    return -max_over(-x if isinstance(x, Value) else np.negative(x), axis, keepdims)


def prod_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The product over ``axis``; its gradient follows PyTorch where the slice holds zeros.

    One zero: the product of the others at the zero, 0 elsewhere; two or
    more zeros: 0 everywhere (not the nan of ``out / x``).
    """
    return _reduction(OpKind.PROD, x, axis, keepdims)


def var_over(x: Any, axis: Any = None, keepdims: bool = False, ddof: float = 0) -> Any:
    """The variance over ``axis``: mean squared deviation, divided by ``count - ddof`` as numpy's."""
    shape = _shape(x)
    axes = normalize_axes(axis, len(shape), "var")
    count = math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)
    deviation = x - mean_over(x, axes, keepdims=True)
    return sum_over(deviation**2, axes, keepdims) / float(count - ddof)


def std_over(x: Any, axis: Any = None, keepdims: bool = False, ddof: float = 0) -> Any:
    """The standard deviation: ``sqrt(var)``."""
    out = var_over(x, axis, keepdims, ddof)
    return out.sqrt() if isinstance(out, Value) else np.sqrt(out)


def _along(x: Any, axis: Any, what: str) -> tuple[Any, int]:
    """``x`` and one axis of it, flattened first when ``axis`` is None (numpy's cumulative functions)."""
    if axis is None:
        return reshape(x, (-1,)), 0
    if not isinstance(axis, (int, np.integer)):
        raise InputTypeError(f"{what}: axis must be one int or None, got {axis!r}")
    if not _shape(x):
        raise ShapeError(f"{what}: axis {axis} is out of range for a scalar")
    (axis,) = normalize_axes(axis, len(_shape(x)), what) or (0,)
    return x, axis


def cumsum(x: Any, axis: Any = None) -> Any:
    """The running sum along ``axis`` (of the flattened array for None); its gradient is the reversed running sum."""
    x, axis = _along(x, axis, "cumsum")
    return apply(OPS[OpKind.CUMSUM], x, attr=axis)


def cumprod(x: Any, axis: Any = None) -> Any:
    """The running product along ``axis``: one product per step, so zeros differentiate exactly."""
    x, axis = _along(x, axis, "cumprod")
    steps = [getitem(x, (slice(None),) * axis + (slice(i, i + 1),)) for i in range(_shape(x)[axis])]
    for i in range(1, len(steps)):
        steps[i] = steps[i - 1] * steps[i]
    return concatenate(steps, axis) if steps else x


def _condition(x: Any) -> Any:
    return not_equal(x, 0.0)


def all_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """1.0 where every element over ``axis`` is nonzero, else 0.0: a recorded condition (``if`` makes it a guard)."""
    return min_over(_condition(x), axis, keepdims)


def any_over(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """1.0 where some element over ``axis`` is nonzero, else 0.0: a recorded condition."""
    return max_over(_condition(x), axis, keepdims)


def arg_extreme(x: Any, axis: Any, keepdims: bool, which: str) -> Any:
    """``np.argmax``/``np.argmin`` of the numbers: integers, not differentiable, refused inside a trace.

    Inside a trace the integers would be replayed unchanged on new inputs
    (as ``float(v)`` would), so there they raise ConcretizationError.
    """
    if isinstance(x, Value):
        x._check_concrete(f"{which}()")
        x = x._data
    return getattr(np, which)(x, axis=axis, keepdims=keepdims)

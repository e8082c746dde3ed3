"""numpy's own functions on Values: ``np.sin(v)``, ``np.sum(v, axis=0)``, ``A @ v``, recorded on the tape.

Value implements numpy's two override protocols, ``__array_ufunc__``
(NEP 13: ufuncs such as ``np.exp``, and the operators of an ndarray with a
Value, ``X * v``) and ``__array_function__`` (NEP 18: ``np.sum``,
``np.dot``, ``np.where``...).  Both look the numpy callable up in ONE table,
:data:`TABLE`, from numpy callable to the tapegrad function that records it:

* every elementwise row of the op table whose numpy rule *is* a numpy
  function (``np.sin``, ``np.add``, ``np.where``...) is found from the row,
  so a new op row dispatches without an entry here;
* the rest is written below with numpy's own signatures (reductions,
  ``clip``, comparisons, whose rows compute with IEEE-safe kernels), or in
  a module of its own (``einsum``, ``dot``, ``cross``...: :mod:`.products`).

Anything else raises :class:`UnsupportedOpError` naming the numpy function,
never numpy's generic message and never a silent conversion to float.  The
same functions make the explicit namespace ``import tapegrad.numpy as tnp``
(``tnp.sin``, ``tnp.sum``...), which takes Values and plain arrays alike.

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda x: np.sum(np.sin(x) * np.arange(3.0)))(np.zeros(3))
array([0., 1., 2.])
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.ops import OPS, Op, OpKind
from ..errors import UnsupportedOpError
from . import arrays, linalg, products, selecting, shaping, sorting, spellings, statistics
from .record import apply
from .record import maximum as _maximum
from .record import minimum as _minimum
from .record import where as _where
from .value import Value, _no_out

__all__ = ["TABLE", "SUPPORTED", "ufunc", "function"]

_DOCS = "see tapegrad.numpy.SUPPORTED (docs/numpy.md) for the list"


# ---------------------------------------------------------------- functions written here, with numpy's signatures


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("sum", dtype, out)
    return arrays.sum_over(a, axis, keepdims)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("mean", dtype, out)
    return arrays.mean_over(a, axis, keepdims)


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("max", None, out)
    return arrays.max_over(a, axis, keepdims)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("min", None, out)
    return arrays.min_over(a, axis, keepdims)


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("prod", dtype, out)
    return arrays.prod_over(a, axis, keepdims)


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
    _no_out("var", dtype, out)
    return arrays.var_over(a, axis, keepdims, ddof)


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
    _no_out("std", dtype, out)
    return arrays.std_over(a, axis, keepdims, ddof)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumsum", dtype, out)
    return arrays.cumsum(a, axis)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumprod", dtype, out)
    return arrays.cumprod(a, axis)


def argmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("argmax", None, out)
    return arrays.arg_extreme(a, axis, keepdims, "argmax")


def argmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("argmin", None, out)
    return arrays.arg_extreme(a, axis, keepdims, "argmin")


def all(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("all", None, out)
    return arrays.all_over(a, axis, keepdims)


def any(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    _no_out("any", None, out)
    return arrays.any_over(a, axis, keepdims)


def outer(a: Any, b: Any) -> Any:
    """The outer product of the flattened operands."""
    return _multiply(arrays.reshape(a, (-1, 1)), arrays.reshape(b, (1, -1)))


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """``a`` limited to ``[a_min, a_max]``; the gradient passes inside and at the bounds (as PyTorch's clamp)."""
    if a_min is not None:
        a = _where(_less(a, a_min), a_min, a)
    if a_max is not None:
        a = _where(_greater(a, a_max), a_max, a)
    return a


def power(x: Any, y: Any) -> Any:
    """``x ** y``; a constant exponent stays an exact attribute (``pow_const``), as ``v ** 2`` does."""
    if isinstance(x, Value) and not isinstance(y, Value) and np.ndim(y) == 0:
        return x**y
    return apply(OPS[OpKind.POW], x, y)


def _row(kind: OpKind) -> Callable[..., Any]:
    op = OPS[kind]
    return lambda x, y: apply(op, x, y)


_multiply = _row(OpKind.MUL)
_greater, _greater_equal, _less = _row(OpKind.GT), _row(OpKind.GE), _row(OpKind.LT)
_less_equal, _equal, _not_equal = _row(OpKind.LE), _row(OpKind.EQ), _row(OpKind.NE)


def _positive(x: Any) -> Any:
    return x


def _shape_of(name: str) -> Callable[..., Any]:
    return lambda a: getattr(np, name)(arrays._data(a))


_WRITTEN: dict[Any, Callable[..., Any]] = {
    np.sum: sum, np.mean: mean, np.max: max, np.amax: max, np.min: min, np.amin: min, np.prod: prod,
    np.var: var, np.std: std, np.cumsum: cumsum, np.cumprod: cumprod, np.argmax: argmax, np.argmin: argmin,
    np.all: all, np.any: any, np.outer: outer, np.clip: clip, np.power: power,
    np.matmul: arrays.matmul, np.maximum: _maximum, np.minimum: _minimum,
    np.greater: _greater, np.greater_equal: _greater_equal, np.less: _less, np.less_equal: _less_equal,
    np.equal: _equal, np.not_equal: _not_equal, np.positive: _positive,
    np.reshape: shaping.reshape, np.transpose: arrays.transpose, np.concatenate: arrays.concatenate,
    np.stack: arrays.stack, np.shape: _shape_of("shape"), np.ndim: _shape_of("ndim"), np.size: _shape_of("size"),
    np.einsum: products.einsum, np.dot: products.dot, np.vdot: products.vdot, np.inner: products.inner,
    np.tensordot: products.tensordot, np.kron: products.kron, np.cross: products.cross, np.trace: products.trace,
}  # fmt: skip

_SHAPES: dict[Any, Callable[..., Any]] = {  # issue 17: values/shaping.py, selecting.py, sorting.py
    np.squeeze: shaping.squeeze, np.expand_dims: shaping.expand_dims, np.ravel: shaping.ravel,
    np.moveaxis: shaping.moveaxis, np.swapaxes: shaping.swapaxes,
    np.broadcast_to: shaping.broadcast_to, np.broadcast_arrays: shaping.broadcast_arrays,
    np.atleast_1d: shaping.atleast_1d, np.atleast_2d: shaping.atleast_2d, np.atleast_3d: shaping.atleast_3d,
    np.hstack: shaping.hstack, np.vstack: shaping.vstack, np.dstack: shaping.dstack,
    np.column_stack: shaping.column_stack, np.split: shaping.split, np.array_split: shaping.array_split,
    np.tile: shaping.tile, np.repeat: shaping.repeat, np.roll: selecting.roll, np.pad: selecting.pad,
    np.flip: selecting.flip, np.fliplr: selecting.fliplr, np.flipud: selecting.flipud,
    np.diag: selecting.diag, np.diagonal: selecting.diagonal, np.tril: selecting.tril, np.triu: selecting.triu,
    np.sort: sorting.sort, np.argsort: sorting.argsort, np.take_along_axis: sorting.take_along_axis,
}  # fmt: skip
_WRITTEN |= {getattr(np.linalg, name): getattr(linalg, name) for name in linalg.NUMPY_NAMES}


def _is_numpy_function(function: Any) -> bool:
    return getattr(np, getattr(function, "__name__", ""), None) is function


def _elementwise(op: Op) -> Callable[..., Any]:
    def run(*operands: Any) -> Any:
        if len(operands) != op.arity:
            raise UnsupportedOpError(f"np.{op.array.__name__} with {len(operands)} operands on Values; {_DOCS}")  # type: ignore[union-attr]
        return apply(op, *operands)

    run.__name__ = str(op.array.__name__)  # type: ignore[union-attr]
    return run


TABLE: dict[Any, Callable[..., Any]] = {
    **_WRITTEN,
    **_SHAPES,
    **spellings.NUMPY,
    **statistics.NUMPY,
    **{op.array: _elementwise(op) for op in OPS if op.elementwise and not op.has_attr and _is_numpy_function(op.array)},
}
"""numpy callable -> the tapegrad function recording it: the one table both protocols read."""

_REDUCE: dict[Any, Callable[..., Any]] = {np.add: sum, np.multiply: prod, np.maximum: max, np.minimum: min}
_ACCUMULATE: dict[Any, Callable[..., Any]] = {np.add: cumsum, np.multiply: cumprod}
_METHODS: dict[str, dict[Any, Callable[..., Any]]] = {"reduce": _REDUCE, "accumulate": _ACCUMULATE}
"""The ufunc methods with a meaning on a tape: ``np.add.reduce`` is a sum, ``np.multiply.accumulate`` a cumprod."""


def _numpy_name(function: Any) -> str:
    module = getattr(function, "__module__", None) or "numpy"
    module = "np" + module[len("numpy") :] if module.startswith("numpy") else module
    return f"{module.replace('.core', '').replace('._core', '')}.{getattr(function, '__name__', function)}"


SUPPORTED: tuple[str, ...] = tuple(sorted({_numpy_name(f) for f in TABLE}))
"""The numpy functions tapegrad records on Values, by name (``np.sin``, ``np.linalg.norm``...)."""


def _unsupported(name: str, why: str = "") -> UnsupportedOpError:
    return UnsupportedOpError(
        f"{name} is not supported on tapegrad Values{why}: tapegrad records only numpy functions it can "
        f"differentiate; {_DOCS}. Write it with supported functions, or use v.data for the plain numbers"
    )


def _call(name: str, target: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """``target(*args, **kwargs)``, with arguments it does not take refused by name (not a TypeError)."""
    try:
        return target(*args, **kwargs)
    except TypeError:
        signature = _signature(target)  # read only on failure: binding every call would double np.sum(v)'s cost
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as error:
                raise _unsupported(f"{name} with these arguments", f" ({error})") from None
        raise


@functools.cache
def _signature(target: Callable[..., Any]) -> inspect.Signature | None:
    """``target``'s signature, read once (None for a builtin without one)."""
    try:
        return inspect.signature(target)
    except ValueError:
        return None


def ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Value.__array_ufunc__``: ``np.exp(v)``, ``X * v``, ``np.add.reduce(v)``, recorded."""
    name = _numpy_name(ufunc)
    out = kwargs.pop("out", None)
    if out is not None and not (len(out) == 1 and out[0] is inputs[0] and method == "__call__"):
        raise _unsupported(f"{name}(..., out=...)", " (a numpy array cannot hold a Value; use the result)")
    # out=(x,) with x the first operand is numpy's `x += v`: the result is the new Value, as Python's x = x + v.
    if method == "__call__":
        target = TABLE.get(ufunc)
        extra = [k for k, v in kwargs.items() if not (k == "where" and v is True or k != "where" and v is None)]
        if target is None or extra:
            raise _unsupported(name, f" (with {', '.join(extra)}=)" if target is not None else "")
        return target(*inputs)
    target = _METHODS.get(method, {}).get(ufunc)
    if target is None:
        raise _unsupported(f"{name}.{method}")
    kwargs.setdefault("axis", 0)  # a ufunc's reduce and accumulate run along the first axis by default
    return _call(f"{name}.{method}", target, inputs, kwargs)


def function(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Value.__array_function__``: ``np.sum(v)``, ``np.dot(A, v)``, ``np.where(c, v, 0)``, recorded."""
    target = TABLE.get(func)
    if target is None:
        raise _unsupported(_numpy_name(func))
    return _call(_numpy_name(func), target, args, kwargs)


# ---------------------------------------------------------------- the namespace tapegrad.numpy

_NAMESPACE: dict[str, Any] = {"norm": linalg.norm, "linalg": linalg}  # tnp.linalg.det, and tnp.norm as before
for _name in dir(np):
    _object = getattr(np, _name, None)
    if not _name.startswith("_") and callable(_object) and builtins.any(_object is f for f in TABLE):
        _NAMESPACE[_name] = TABLE[_object]
del _name, _object


def __getattr__(name: str) -> Any:
    """``tnp.sin``, ``tnp.arctan2``...: every numpy name in :data:`TABLE`, for Values and plain arrays alike."""
    try:
        return _NAMESPACE[name]
    except KeyError:
        raise AttributeError(
            f"tapegrad.numpy has no {name!r}: numpy's {name} is not recorded by tapegrad; {_DOCS}"
        ) from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMESPACE))

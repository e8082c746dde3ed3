"""Kernels: the IEEE-safe float and numpy functions the op table computes with.

``math``'s functions raise where IEEE 754 returns inf or nan, and numpy's
defaults differ from C in places; each function here answers as IEEE (and
numpy) do.  They use nothing but ``math`` and ``numpy``: generated code
(:mod:`tapegrad.formats.codegen`) copies their source as it is, so the
interpreter and exported code cannot drift.  Names start with ``_`` so that
in a generated module they never clash with a user's names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import MissingToolError

# ---------------------------------------------------------------- IEEE floats
# math's functions raise where IEEE 754 returns inf or nan; each scalar rule
# below takes math's fast path and answers as IEEE (and numpy) do instead.
# They use nothing but ``math``: generated code (tapegrad.codegen) includes
# their source as it is, so the interpreter and exported code cannot drift.


def _div(x: float, y: float) -> float:
    try:
        return x / y
    except ZeroDivisionError:  # x / ±0 is ±inf, and 0 / 0 is nan
        if x != x or x == 0.0:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)


def _pow(x: float, c: float) -> float:
    try:
        return math.pow(x, c)
    except OverflowError:
        return -math.inf if x < 0.0 and c % 2.0 == 1.0 else math.inf
    except ValueError:  # zero to a negative power, or a negative base to a fractional one
        if x == 0.0:
            return math.copysign(math.inf, x) if c % 2.0 == 1.0 else math.inf
        return math.nan


def _pow_const(x: float, c: float) -> float:
    # x ** c for a constant exponent.  The exponents gradients are made of take cheap forms, the same in
    # every engine (the numpy rule and both code printers write them alike).  Squares, reciprocals and
    # square roots are correctly rounded; x**3, x**1.5 and x**-0.5 are within an ulp of C's pow, x**4,
    # x**-2 and x**-1.5 within two (two or three roundings).  x ** (k / 2) goes through sqrt where
    # x > 0 and takes C's pow at zeros, infinities, negatives and nan.
    c = float(c)
    if c == 2.0:
        return x * x
    if c == 3.0:
        return x * x * x
    if c == 4.0:
        s = x * x
        return s * s
    if c == -1.0:
        return _div(1.0, x)
    if c == -2.0:
        r = _div(1.0, x)
        return r * r
    if x > 0.0 and (c == 0.5 or c == -0.5 or c == 1.5 or c == -1.5):
        root = math.sqrt(x)
        if c == 0.5:
            return root
        if c == -0.5:
            return 1.0 / root
        return x * root if c == 1.5 else _div(1.0, x * root)
    return _pow(x, c)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else math.nan


def _sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = _exp(x)  # also the nan path: nan >= 0 is False
    return e / (1.0 + e)


def _relu(x: float) -> float:
    return 0.0 if x <= 0.0 else x  # nan stays nan


def _maximum(x: float, y: float) -> float:
    return x if (x > y or x != x) else y  # a nan on either side wins


def _minimum(x: float, y: float) -> float:
    return x if (x < y or x != x) else y


def _where(c: float, a: float, b: float) -> float:
    return a if c else b


def _gate(g: float, x: float) -> float:
    return g if x > 0.0 else 0.0


def _smul(g: float, y: float) -> float:
    # A zero on either side wins over inf and nan: y == 0 is a local derivative of zero (forward mode,
    # second derivatives); a finite g keeps the product, and with it the sign of the zero.
    if g == 0.0:
        return g
    return y if y == 0.0 and g - g != 0.0 else g * y


def _sdiv(g: float, y: float) -> float:
    return g if g == 0.0 else _div(g, y)


# ---------------------------------------------------------------- numpy arrays
# Written to pick exactly the element the scalar rule picks.  General powers
# use np.float_power: np.power(x, 0.5) takes a sqrt shortcut that disagrees
# with C's pow at -inf and -0.0.  Constant exponents of the cheap forms
# (``_pow_const``) use np.square, np.reciprocal and np.sqrt (float_power
# takes 105 µs for 10^4 squares, np.square 2 µs).


def _pow_array(x: Any, y: Any) -> Any:
    """``x ** y`` as C's pow computes it, in the dtype numpy's promotion gives (float32 stays float32)."""
    out = np.float_power(x, y)  # always float64
    dtype = np.result_type(x, y)
    return out.astype(dtype) if dtype.kind == "f" and dtype != out.dtype else out


def _pow_const_array(x: Any, c: float) -> Any:
    """``x ** c`` for a constant exponent, in the forms the float rule ``_pow_const`` takes, element for element."""
    c = float(c)
    if c == 2.0:
        return np.square(x)
    if c == 3.0:
        return np.square(x) * x
    if c == 4.0:
        return np.square(np.square(x))
    if c == -1.0:
        return np.reciprocal(x)
    if c == -2.0:
        return np.square(np.reciprocal(x))
    if c == 0.5 or c == -0.5 or c == 1.5 or c == -1.5:
        return _pow_half_array(x, c)
    return _pow_array(x, c)


def _pow_half_array(x: Any, c: float) -> Any:
    """``x ** c`` for ``c`` = ±0.5 or ±1.5 as ``_pow_const`` computes it, through sqrt (several times faster than pow).

    sqrt takes ``x + 0.0``, since ``pow(-0.0, 0.5)`` is ``+0.0`` where ``sqrt(-0.0)`` is ``-0.0``; at
    ``-inf``, where sqrt gives nan, pow's ``inf`` (or ``0.0``) is put back.
    """
    x = x + 0.0
    root = np.sqrt(x)
    if c == 0.5:
        out = root
    elif c == -0.5:
        out = np.reciprocal(root)
    else:
        out = x * root if c == 1.5 else np.reciprocal(x * root)
    return _keep_zeros(np.inf if c > 0.0 else 0.0, out, np.equal(x, -np.inf))


def _sigmoid_array(x: Any) -> Any:
    e = np.exp(np.minimum(x, 0.0))  # exp(x) where x < 0, so it never overflows
    positive = 1.0 / (1.0 + np.exp(-np.maximum(x, 0.0)))
    return np.where(x >= 0.0, positive, e / (1.0 + e))


def _relu_array(x: Any) -> Any:
    # maximum keeps nan; adding 0.0 turns -0.0 into 0.0, as the scalar rule gives.  Seven times
    # faster than np.where(x <= 0.0, 0.0, x) on big arrays (no boolean temporary).
    out = np.maximum(x, 0.0)
    if type(out) is np.ndarray:  # patched in place: one temporary fewer
        out += 0.0
        return out
    return out + 0.0


def _maximum_array(x: Any, y: Any) -> Any:
    return np.where((x > y) | (x != x), x, y)


def _minimum_array(x: Any, y: Any) -> Any:
    return np.where((x < y) | (x != x), x, y)


def _truth_array(condition: Any, left: Any, right: Any) -> Any:
    """A comparison's truth as 1.0 or 0.0, in the float type numpy gives its operands (float32 stays float32)."""
    dtype = np.result_type(getattr(left, "dtype", left), getattr(right, "dtype", right))
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    if not hasattr(condition, "astype"):
        condition = np.asarray(condition)
    return condition.astype(dtype)


def _compare_array(ufunc: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, y: _truth_array(ufunc(x, y), x, y)


def _smul_array(g: Any, y: Any, out: Any = None) -> Any:
    # ``out``: a buffer to write into (the blocked numpy code, tapegrad.formats.blocked); the same numbers
    out = np.multiply(g, y, out=out)
    if isinstance(out, np.generic):  # two numbers (numpy code called with floats): the float rule's choice
        return g if g == 0.0 else y if y == 0.0 and g - g != 0.0 else out
    zero_g = np.equal(g, 0.0)
    if type(out) is np.ndarray and not (zero_g.any() or np.equal(y, 0.0).any()):
        return out  # no zero on either side, the usual case: the plain product is the strong one
    out = _keep_zeros(g, out, zero_g)  # the mask computed once
    zero = np.equal(y, 0.0)
    if type(out) is np.ndarray and not zero.any():  # other array types (dask) stay lazy: np.where below
        return out
    return _keep_zeros(y, out, zero & (np.subtract(g, g) != 0.0))  # a zero y wins over an infinite or nan g


def _sdiv_array(g: Any, y: Any, out: Any = None) -> Any:
    out = np.divide(g, y, out=out)
    if isinstance(out, np.generic):
        return g if g == 0.0 else out
    return _keep_zeros(g, out)


def _keep_zeros(g: Any, out: Any, zero: Any = None) -> Any:
    """``out`` with ``g`` put back wherever ``g`` is zero (the strong zeros of smul and sdiv),
    or wherever ``zero`` holds if it is given.

    A numpy result is patched in place, which is cheaper than ``np.where``
    when, as usual, few adjoints are zero: one vectorised comparison (four
    times faster than ``np.count_nonzero``) and nothing more when no adjoint
    is zero.  Other array types (dask) get ``np.where``.
    """
    if zero is None:
        zero = np.equal(g, 0.0)
    if isinstance(out, np.generic):  # two scalars: numpy gives a scalar; np.where would make it a 0-d array
        return g if zero else out
    if type(out) is np.ndarray:
        if zero.any():
            np.copyto(out, g, where=zero)
        return out
    return np.where(zero, g, out)


# ---------------------------------------------------------------- array ops
# Forward rules of the ops that change shapes.  They use nothing but numpy,
# so generated code copies them too; attributes arrive as plain tuples.


def _sum_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``x`` down to ``shape``: undoes numpy broadcasting (the backward of an elementwise op)."""
    if type(x) is np.ndarray and x.ndim == len(shape) + 1 and x.shape[1:] == shape and x.size < 4096:
        if x.dtype.kind == "f":  # one leading axis (a bias's gradient), the usual case: its reduction at once
            return np.add.reduce(x, axis=(0,))
    xshape = np.shape(x)
    lead = len(xshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and xshape[lead + i] != 1)
    if lead and len(axes) == lead and type(x) is np.ndarray and x.dtype.kind == "f":
        # Leading axes only (a bias's gradient): one reduction, or for big arrays a matrix-vector
        # product, several times faster than np.sum's strided loop.
        if x.size < 4096:
            return np.add.reduce(x, axis=axes)
        rows, columns = int(np.prod(xshape[:lead])), int(np.prod(shape))
        return np.reshape(np.ones(rows, dtype=x.dtype) @ np.reshape(x, (rows, columns)), shape)
    total = np.sum(x, axis=axes, keepdims=True) if axes else x
    return np.reshape(total, shape) if lead else total


def _scatter(g: Any, key: Any, shape: tuple[int, ...], repeats: bool) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``key``: the backward of indexing.

    An array index may pick an element twice (an embedding row used twice);
    ``np.add.at`` adds every pick, where assignment would keep one.
    """
    dtype = getattr(g, "dtype", np.dtype(np.float64))
    out = np.zeros(shape, dtype=dtype)
    if repeats:
        np.add.at(out, key, g)
    else:
        out[key] = g
    return out


def _logsumexp(x: Any, attr: tuple[Any, bool]) -> Any:
    """log(sum(exp(x))) over ``axes``, shifted by the maximum so it never overflows."""
    axes, keepdims = attr
    top = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(x - top), axis=axes, keepdims=True)) + top
    return out if keepdims else np.sum(out, axis=axes)


def _log_softmax(x: Any, axis: int) -> Any:
    """``x - logsumexp(x)`` along ``axis``, with the maximum subtracted first: exact even for logits of 1e16."""
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    shifted = x - np.where(np.isfinite(top), top, 0.0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _rows(idx: Any, bound: int) -> Any:
    """Row numbers given as numbers (a tape input carries them as floats), checked to be in [0, bound)."""
    rows = np.asarray(idx).astype(np.intp)
    if rows.size and (np.any(rows != idx) or rows.min() < 0 or rows.max() >= bound):
        raise ValueError(f"indices must be whole numbers in [0, {bound}); got {np.min(idx)} to {np.max(idx)}")
    return rows


def _take(x: Any, idx: Any, bound: int) -> Any:
    """The rows ``idx`` of ``x`` (``x[idx]`` with indices that are an operand, not an attribute).

    ``bound`` is how many index values are valid: the rows of ``x``, or
    fewer (cross_entropy checks its targets against the classes this way).
    """
    return np.take(x, _rows(idx, bound), axis=0)


def _take_grad(g: Any, idx: Any, rows: int) -> Any:
    """Zeros of ``rows`` rows with each row of ``g`` added at its index: the backward of take (repeats add)."""
    out = np.zeros((rows, *np.shape(g)[np.ndim(idx) :]), dtype=getattr(g, "dtype", np.float64))
    np.add.at(out, _rows(idx, rows), g)
    return out


def _concat(*args: Any) -> Any:
    return np.concatenate(args[:-1], axis=args[-1])


def _smatmul(x: Any, y: Any) -> Any:
    """``x @ y`` whose products are strong, as ``smul``'s: a zero times an inf or a nan adds 0, not nan.

    The backward of ``matmul`` (and its forward mode) contracts adjoints with
    the operands, as ``sum(smul(g, y))`` does on scalars; a plain matmul
    would let one infinite weight turn the zero adjoints of a whole row into
    nan.  A product without a nan met no such term, so the usual case costs
    one check of the result.  Otherwise the product is taken again over the
    finite entries, and where infinite or nan terms meet an element, they
    decide it: counted by products of masks, as many as there are terms.
    """
    out = np.matmul(x, y)
    if not np.isnan(out).any():
        return out
    nan_x, nan_y, inf_x, inf_y = np.isnan(x), np.isnan(y), np.isinf(x), np.isinf(y)
    finite = np.matmul(np.where(nan_x | inf_x, 0.0, x), np.where(nan_y | inf_y, 0.0, y))
    sign_x, sign_y = np.where(nan_x, 0.0, np.sign(x)), np.where(nan_y, 0.0, np.sign(y))
    # Infinite terms: an infinite x times a nonzero y that is not nan, or a finite nonzero x times an infinite y.
    big_x, small_x, big_y = np.where(inf_x, sign_x, 0.0), np.where(inf_x, 0.0, sign_x), np.where(inf_y, sign_y, 0.0)
    signs = np.matmul(big_x, sign_y) + np.matmul(small_x, big_y)
    count = np.matmul(np.abs(big_x), np.abs(sign_y)) + np.matmul(np.abs(small_x), np.abs(big_y))
    nans = np.matmul(nan_x * 1.0, (y != 0.0) * 1.0) + np.matmul(((x != 0.0) & ~nan_x) * 1.0, nan_y * 1.0)
    infinite = np.where(count + signs > 0.0, np.inf, 0.0) + np.where(count - signs > 0.0, -np.inf, 0.0)
    infinite = np.where(nans > 0.0, np.nan, infinite)
    strong = np.where((count > 0.0) | (nans > 0.0), finite + infinite, finite)
    return strong.astype(out.dtype) if strong.dtype != out.dtype else strong


def _seinsum(*args: Any) -> Any:
    """``np.einsum(subscripts, *operands)`` whose products are strong: a term with a zero factor adds 0.

    The einsum counterpart of :func:`_smatmul` (``args``: the operands, then
    the subscripts): the backward of ``einsum`` contracts adjoints with the
    operands, and a zero adjoint must send nothing even past an infinite or
    nan operand.  Without a nan in the result no term was nan, so the usual
    case costs one check; otherwise the contraction is taken again over the
    finite entries, and the terms whose factors are all nonzero but not all
    finite are counted by contracting masks: any nan among them makes nan,
    infinities of one sign an infinity, of both signs nan.
    """
    *xs, subscripts = args
    out = np.einsum(subscripts, *xs)
    if not np.isnan(out).any():
        return out
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    nan, inf = [np.isnan(x) for x in xs], [np.isinf(x) for x in xs]
    finite = np.einsum(subscripts, *[np.where(n | i, 0.0, x) for x, n, i in zip(xs, nan, inf)])
    signs_all = [np.where(n, 0.0, np.sign(x)) for x, n in zip(xs, nan)]
    signs_finite = [np.where(i, 0.0, s) for s, i in zip(signs_all, inf)]
    signs = np.einsum(subscripts, *signs_all) - np.einsum(subscripts, *signs_finite)
    count = np.einsum(subscripts, *map(np.abs, signs_all)) - np.einsum(subscripts, *map(np.abs, signs_finite))
    nonzero = [(x != 0.0) * 1.0 for x in xs]
    nans = np.einsum(subscripts, *nonzero) - np.einsum(subscripts, *[z * (1.0 - n) for z, n in zip(nonzero, nan)])
    infinite = np.where(count + signs > 0.0, np.inf, 0.0) + np.where(count - signs > 0.0, -np.inf, 0.0)
    infinite = np.where(nans > 0.0, np.nan, infinite)
    strong = np.where((count > 0.0) | (nans > 0.0), finite + infinite, finite)
    strong = strong.astype(out.dtype) if strong.dtype != out.dtype else strong
    return strong[()] if strong.ndim == 0 else strong  # a scalar where np.einsum gives one


# ---------------------------------------------------------------- more elementwise functions
# The float rules of tan, the inverse and hyperbolic functions, logarithms,
# rounding and remainders.  Where ``math`` raises (``math.asin(2)``,
# ``math.atanh(1)``, ``math.log1p(-1)``, ``7.0 % 0.0``) they answer as numpy
# does (nan, inf, -inf, nan).  Rounding keeps the sign of a zero result
# (``ceil(-0.5) = -0.0``), as numpy does and Python's int-valued ``math.ceil`` cannot.


def _tan(x: float) -> float:
    return math.tan(x) if math.isfinite(x) else math.nan


def _asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def _acos(x: float) -> float:
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


def _sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(math.inf, x)


def _cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return math.inf


def _acosh(x: float) -> float:
    return math.acosh(x) if x >= 1.0 else math.nan


def _atanh(x: float) -> float:
    if -1.0 < x < 1.0:
        return math.atanh(x)
    return math.copysign(math.inf, x) if x == 1.0 or x == -1.0 else math.nan


def _log1p(x: float) -> float:
    if x > -1.0:
        return math.log1p(x)
    return -math.inf if x == -1.0 else math.nan


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _log2(x: float) -> float:
    if x > 0.0:
        return math.log2(x)
    return -math.inf if x == 0.0 else math.nan


def _log10(x: float) -> float:
    if x > 0.0:
        return math.log10(x)
    return -math.inf if x == 0.0 else math.nan


def _exp2(x: float) -> float:
    exp2 = getattr(math, "exp2", None)  # Python 3.11+; before, C's pow stands in (within an ulp)
    if exp2 is None:
        return _pow(2.0, x)
    try:
        return exp2(x)
    except OverflowError:
        return math.inf


def _cbrt(x: float) -> float:
    # A power refined by one Newton step: within an ulp of np.cbrt, exact on cubes (math.cbrt, new in
    # Python 3.11, is up to 3 ulps off: math.cbrt(27.0) is 3.0000000000000004).
    if x == 0.0 or not math.isfinite(x):
        return x
    y = math.copysign(abs(x) ** (1.0 / 3.0), x)
    return y - (y - x / (y * y)) / 3.0


def _square(x: float) -> float:
    return x * x


def _reciprocal(x: float) -> float:
    return _div(1.0, x)


def _logaddexp(x: float, y: float) -> float:
    # numpy's formula, step for step: equal infinities give themselves, never inf - inf.
    if x == y:
        return x + 0.6931471805599453  # log(2)
    d = x - y
    if d > 0.0:
        return x + math.log1p(math.exp(-d))
    if d <= 0.0:
        return y + math.log1p(math.exp(d))
    return d  # a nan


def _softplus(x: float) -> float:
    return _logaddexp(0.0, x)


def _sign(x: float) -> float:
    if x > 0.0:
        return 1.0
    return -1.0 if x < 0.0 else x + 0.0  # 0.0 for either zero, as numpy; nan stays nan


def _floor(x: float) -> float:
    return math.copysign(float(math.floor(x)), x) if math.isfinite(x) else x


def _ceil(x: float) -> float:
    return math.copysign(float(math.ceil(x)), x) if math.isfinite(x) else x


def _trunc(x: float) -> float:
    return math.copysign(float(math.trunc(x)), x) if math.isfinite(x) else x


def _round(x: float) -> float:
    # Python's round is numpy's: half to even.
    return math.copysign(float(round(x)), x) if math.isfinite(x) else x


def _mod(x: float, y: float) -> float:
    try:
        return x % y  # Python's remainder is numpy's: the sign of y
    except ZeroDivisionError:
        return math.nan


def _fmod(x: float, y: float) -> float:
    try:
        return math.fmod(x, y)  # C's remainder: the sign of x
    except ValueError:  # fmod(x, 0) and fmod(inf, y)
        return math.nan


def _floor_divide(x: float, y: float) -> float:
    try:
        return x // y
    except ZeroDivisionError:
        return _div(x, y)


def _clip(x: float, lo: float, hi: float) -> float:
    # x stays where it equals a bound (-0.0 clipped to [0, 1] is -0.0); a nan anywhere gives nan.
    y = lo if (x < lo or lo != lo) else x
    return hi if (y > hi or hi != hi) else y


def _clip_array(x: Any, lo: Any, hi: Any) -> Any:
    """``clip`` as the float rule computes it; np.clip's own loops disagree with each other at signed zeros."""
    y = np.where((x < lo) | (lo != lo), lo, x)
    return np.where((y > hi) | (hi != hi), hi, y)


def _softplus_array(x: Any) -> Any:
    return np.logaddexp(0.0, x)


def _special() -> Any:
    """scipy.special, an optional extra: numpy has no vectorised erf."""
    try:
        import scipy.special  # optional extra, imported when first needed: pip install tapegrad[special]
    except ImportError:
        raise MissingToolError(
            "erf and erfc of arrays (and numpy code using them) need scipy, which is not installed; "
            "install tapegrad's optional extra: pip install 'tapegrad[special]' (or pip install scipy)"
        ) from None
    return scipy.special


def _erf_array(x: Any) -> Any:
    return _special().erf(x)


def _erfc_array(x: Any) -> Any:
    return _special().erfc(x)


def _prod(x: Any, attr: tuple[Any, bool]) -> Any:
    """The product over ``axes`` (the ufunc's own reduction, as ``np.prod`` computes it)."""
    return np.multiply.reduce(x, axis=attr[0], keepdims=attr[1])  # type: ignore[call-overload]


def _cumsum(x: Any, axis: int) -> Any:
    """The running sum along ``axis`` (as ``np.cumsum`` with an axis)."""
    return np.add.accumulate(x, axis=axis)


def _argsort(x: Any, axis: int) -> Any:
    """The positions that sort ``x`` along ``axis``, as float64 numbers (Values hold floats).

    Stable, so ties keep their order; nan sorts last, as ``np.sort``.
    float64 holds every position of an array below 2**53 elements exactly.
    numpy's default sort (vectorised) is some 30 times faster than its
    stable one on random floats; without ties (equal neighbours once
    sorted, or two nans) the order is unique, so it is the stable order.
    """
    order = np.argsort(x, axis=axis)
    ranked = np.moveaxis(np.take_along_axis(x, order, axis=axis), axis, -1)
    if ranked.shape[-1] > 1 and (np.any(ranked[..., 1:] == ranked[..., :-1]) or np.any(np.isnan(ranked[..., -2]))):
        order = np.argsort(x, axis=axis, kind="stable")
    return order.astype(np.float64)

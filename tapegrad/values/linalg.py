"""``numpy.linalg`` on Values: ``np.linalg.det(v)``, ``tnp.linalg.solve(A, b)``, recorded with their gradients.

Each function checks shapes as numpy does (raising :class:`ShapeError`
with what was wrong) and records the op rows of :mod:`tapegrad.core.ops`
(``det``, ``inv``, ``solve``, ``cholesky``, ``eigvalsh``...), or, for
``norm``, a composition of existing ops.  All work on stacks of matrices
(``(..., M, N)``) as numpy's do; they also take plain arrays and then
compute.  Where numpy raises ``LinAlgError`` (a singular matrix for ``inv``
and ``solve``, a matrix that is not positive definite for ``cholesky``),
tapegrad gives that matrix ``nan``, as IEEE arithmetic gives ``1 / 0 = inf``
rather than an error; docs/numpy.md has the table of formulas and
singular-input behaviour.

>>> import numpy as np, tapegrad
>>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> tapegrad.grad(lambda a: np.linalg.slogdet(a).logabsdet)(A)  # inv(A).T
array([[ 0.6, -0.2],
       [-0.2,  0.4]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..core.ops import OPS, OpKind
from ..core.shapes import type_text
from ..errors import ShapeError, UnsupportedOpError
from . import arrays, spellings
from .record import apply, not_equal
from .value import Value

__all__ = [
    "det",
    "slogdet",
    "inv",
    "solve",
    "cholesky",
    "eigh",
    "eigvalsh",
    "qr",
    "svd",
    "svdvals",
    "norm",
    "matrix_norm",
    "vector_norm",
    "SlogdetResult",
    "EighResult",
    "QRResult",
    "SVDResult",
]


NUMPY_NAMES: tuple[str, ...] = tuple(name for name in __all__[:13] if hasattr(np.linalg, name))
"""The functions of ``numpy.linalg`` this module records (``svdvals``, ``matrix_norm``... where numpy has them)."""


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as numpy's: ``det = sign * exp(logabsdet)``; ``sign`` is flat (no gradient)."""

    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


def _operand(a: Any) -> Any:
    """A Value as it is; anything else as a float64 array (a list of lists is a matrix)."""
    return a if isinstance(a, Value) else np.asarray(a, dtype=np.float64)


def _matrices(name: str, a: Any, square: bool = True) -> Any:
    """``a`` checked to be a (stack of) matrices, square if asked; ShapeError saying what is wrong."""
    a = _operand(a)
    shape = np.shape(arrays._data(a))
    what = f"np.linalg.{name}: needs a{' square' if square else ''} matrix or a stack of them (shape (..., M, "
    what += "M))" if square else "N))"
    if len(shape) < 2:
        raise ShapeError(
            f"{what}; got {type_text(arrays._data(a))}. A vector is not a matrix: reshape it, e.g. v.reshape(1, -1)"
        )
    if square and shape[-1] != shape[-2]:
        raise ShapeError(f"{what}; got {type_text(arrays._data(a))}, whose last two axes differ")
    if 0 in shape[-2:]:
        raise ShapeError(f"{what}; got {type_text(arrays._data(a))}, an empty matrix")
    return a


def _record(kind: OpKind, *operands: Any) -> Any:
    return apply(OPS[kind], *operands)


def _swap(a: Any) -> Any:
    ndim = np.ndim(arrays._data(a))
    return arrays.transpose(a, (*range(ndim - 2), ndim - 1, ndim - 2))


def det(a: Any) -> Any:
    """The determinant; its gradient is the transposed adjugate, finite at singular matrices (as PyTorch)."""
    return _record(OpKind.DET, _matrices("det", a))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, log|det|)``: ``logabsdet`` is ``-inf`` at a singular matrix, and its gradient ``inv(a).T`` nan."""
    a = _matrices("slogdet", a)
    return SlogdetResult(_record(OpKind.SLOGDET_SIGN, a), _record(OpKind.LOGABSDET, a))


def inv(a: Any) -> Any:
    """The inverse; a singular matrix of the stack gives nan (numpy raises LinAlgError)."""
    return _record(OpKind.INV, _matrices("inv", a))


def solve(a: Any, b: Any) -> Any:
    """``x`` with ``a @ x == b``, as numpy 2: ``b`` a vector ``(M,)``, or a stack of matrices ``(..., M, K)``."""
    a, b = _matrices("solve", a), _operand(b)
    rows, shape = np.shape(arrays._data(a))[-1], np.shape(arrays._data(b))
    column = shape[-1:] if len(shape) == 1 else shape[-2:-1]
    if not column or column[0] != rows:
        raise ShapeError(
            f"np.linalg.solve: b of {type_text(arrays._data(b))} does not fit a of {type_text(arrays._data(a))}: "
            f"b must be a vector of {rows} numbers or a stack of matrices with {rows} rows ({rows}, K)"
        )
    try:
        np.broadcast_shapes(np.shape(arrays._data(a))[:-2], shape[:-2])
    except ValueError:
        raise ShapeError(
            f"np.linalg.solve: the stacks of a {type_text(arrays._data(a))} and b {type_text(arrays._data(b))} "
            "do not broadcast"
        ) from None
    return _record(OpKind.SOLVE, a, b)


def cholesky(a: Any, upper: bool = False) -> Any:
    """The lower Cholesky factor ``L`` (``L @ L.T == a``), read from ``a``'s lower triangle; with ``upper``,
    the upper factor read from the upper triangle (as numpy 2).

    The gradient is symmetric (that of the symmetric matrix, as PyTorch and
    JAX); a matrix that is not positive definite gives nan.
    """
    a = _matrices("cholesky", a)
    if upper:
        return _swap(_record(OpKind.CHOLESKY, _swap(a)))
    return _record(OpKind.CHOLESKY, a)


def _lower(name: str, a: Any, UPLO: str) -> Any:
    """``a`` for a function reading the lower triangle; ``UPLO="U"`` reads the upper one (of ``a``'s transpose)."""
    if UPLO not in ("L", "U"):
        raise UnsupportedOpError(f"np.linalg.{name}: UPLO must be 'L' or 'U', got {UPLO!r}")
    a = _matrices(name, a)
    return _swap(a) if UPLO == "U" else a


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices.

    Eigenvectors are defined up to sign (numpy's choice is kept); their
    gradient is infinite or nan where eigenvalues repeat (as JAX), unless
    the loss does not depend on how the repeated ones are chosen.
    """
    a = _lower("eigh", a, UPLO)
    return EighResult(_record(OpKind.EIGVALSH, a), _record(OpKind.EIGH_VECTORS, a))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of symmetric matrices, ascending; gradient ``V diag(g) V^T``."""
    return _record(OpKind.EIGVALSH, _lower("eigvalsh", a, UPLO))


def qr(a: Any, mode: str = "reduced") -> Any:
    """The reduced QR factorisation ``(Q, R)`` (``mode="r"``: ``R`` alone); "complete" for square or tall
    matrices only where it equals the reduced one."""
    a = _matrices("qr", a, square=False)
    rows, columns = np.shape(arrays._data(a))[-2:]
    if mode == "complete" and rows > columns:
        raise UnsupportedOpError(
            "np.linalg.qr(..., mode='complete') of a tall matrix: the extra columns of Q are not unique, so they "
            "have no gradient; use mode='reduced' (the default)"
        )
    if mode not in ("reduced", "complete", "r"):
        raise UnsupportedOpError(f"np.linalg.qr(..., mode={mode!r}) on a Value: use 'reduced' (the default) or 'r'")
    r = _record(OpKind.QR_R, a)
    return r if mode == "r" else QRResult(_record(OpKind.QR_Q, a), r)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """The singular value decomposition ``(U, S, Vh)``, ``a == U @ (S[..., None] * Vh)`` (reduced).

    ``full_matrices=True`` (numpy's default) is accepted for square
    matrices, where it equals the reduced form; for other shapes pass
    ``full_matrices=False``.  ``hermitian`` is ignored (the general SVD
    computes the same values).  Singular vectors are defined up to sign;
    their gradient is infinite or nan where singular values repeat.
    """
    a = _matrices("svd", a, square=False)
    if not compute_uv:
        return _record(OpKind.SVDVALS, a)
    rows, columns = np.shape(arrays._data(a))[-2:]
    if full_matrices and rows != columns:
        raise UnsupportedOpError(
            f"np.linalg.svd of a {rows}x{columns} matrix with full_matrices=True (numpy's default): the extra "
            "singular vectors are not unique, so they have no gradient; pass full_matrices=False"
        )
    return SVDResult(_record(OpKind.SVD_U, a), _record(OpKind.SVDVALS, a), _record(OpKind.SVD_VH, a))


def svdvals(x: Any) -> Any:
    """The singular values, descending; gradient ``U diag(g) Vh``."""
    return _record(OpKind.SVDVALS, _matrices("svdvals", x, square=False))


def __getattr__(name: str) -> Any:
    """``tnp.linalg.outer`` and numpy 2's other array-API names (values/spellings.py); ``tnp.linalg.lstsq`` and
    other numpy.linalg functions without a recording: say so, and where the list is."""
    if name in spellings.LINALG:
        return spellings.LINALG[name]
    raise AttributeError(
        f"tapegrad.numpy.linalg has no {name!r}: numpy.linalg's {name} is not recorded by tapegrad; it records "
        f"{', '.join(NUMPY_NAMES + tuple(spellings.LINALG))} (docs/numpy.md)"
    )


# ---------------------------------------------------------------- norms (compositions of existing ops)


def _abs(x: Any) -> Any:
    return apply(OPS[OpKind.ABS], x)


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return apply(OPS[OpKind.SQRT], arrays.sum_over(x * x, axis, keepdims))
    if isinstance(ord, str):
        raise UnsupportedOpError(
            f"np.linalg.norm: ord={ord!r} is a matrix norm; a vector has 1, 2, inf, -inf, 0 or any other number"
        )
    if ord == np.inf:
        return arrays.max_over(_abs(x), axis, keepdims)
    if ord == -np.inf:
        return arrays.min_over(_abs(x), axis, keepdims)
    if ord == 0:
        return arrays.sum_over(not_equal(x, 0.0), axis, keepdims)
    if ord == 1:
        return arrays.sum_over(_abs(x), axis, keepdims)
    return arrays.sum_over(_abs(x) ** float(ord), axis, keepdims) ** (1.0 / float(ord))


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    ndim = np.ndim(arrays._data(x))
    rows, columns = axes
    if rows == columns:
        raise ShapeError(f"np.linalg.norm: the two axes of a matrix norm must differ, got {axes}")
    rest = [i for i in range(ndim) if i not in axes]
    m = arrays.transpose(x, (*rest, rows, columns))  # the matrices in the last two axes
    if ord in (None, "fro"):
        out = apply(OPS[OpKind.SQRT], arrays.sum_over(m * m, (-2, -1)))
    elif ord == "nuc":
        out = arrays.sum_over(svdvals(m), -1)
    elif ord in (2, -2):
        out = (arrays.max_over if ord == 2 else arrays.min_over)(svdvals(m), -1)
    elif ord in (1, -1, np.inf, -np.inf):
        sums = arrays.sum_over(_abs(m), -2 if ord in (1, -1) else -1)
        out = (arrays.max_over if ord > 0 else arrays.min_over)(sums, -1)
    else:
        raise UnsupportedOpError(
            f"np.linalg.norm: ord={ord!r} is not a matrix norm; use None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf"
        )
    if keepdims:
        shape = list(np.shape(arrays._data(x)))
        shape[rows] = shape[columns] = 1
        out = arrays.reshape(out, tuple(shape))
    return out


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ShapeError(f"np.linalg.norm: axis {a} is out of range for an array of {ndim} dimension(s)")
    return tuple(int(a) % ndim for a in axes)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """numpy's ``norm``: vector orders (None/2, 1, inf, -inf, 0, any number) along one axis, matrix orders
    (None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf) over two; ``ord=None`` with no axis is the 2-norm of all
    elements.  The 2-norm's gradient at zero is 0 (as PyTorch's)."""
    x = _operand(x)
    ndim = np.ndim(arrays._data(x))
    if axis is None:
        if ord is None:
            out = apply(OPS[OpKind.SQRT], arrays.sum_over(x * x))
            return arrays.reshape(out, (1,) * ndim) if keepdims else out
        if ndim not in (1, 2):
            raise ShapeError(
                f"np.linalg.norm(..., ord={ord!r}) of an array of {ndim} axes: give axis= (one axis "
                "for a vector norm, two for a matrix norm)"
            )
        axis = tuple(range(ndim))
    axes = _axes(axis, ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ShapeError(f"np.linalg.norm: axis must name one axis (a vector norm) or two (a matrix norm), got {axis!r}")


def vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """numpy 2's ``vector_norm``: over all elements by default, or over the axes given (flattened together)."""
    x = _operand(x)
    ndim = np.ndim(arrays._data(x))
    axes = tuple(range(ndim)) if axis is None else _axes(axis, ndim)
    if len(axes) > 1 or axis is None:
        rest = [i for i in range(ndim) if i not in axes]
        moved = arrays.transpose(x, (*rest, *axes))
        shape = np.shape(arrays._data(moved))
        flat = arrays.reshape(moved, (*shape[: len(rest)], -1))
        out = _vector_norm(flat, ord, (len(rest),), False)
        if keepdims:
            kept = [1 if i in axes else n for i, n in enumerate(np.shape(arrays._data(x)))]
            out = arrays.reshape(out, tuple(kept))
        return out
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    """numpy 2's ``matrix_norm`` over the last two axes."""
    x = _matrices("matrix_norm", x, square=False)
    ndim = np.ndim(arrays._data(x))
    return _matrix_norm(x, ord, (ndim - 2, ndim - 1), keepdims)

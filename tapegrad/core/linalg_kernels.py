"""Kernels of the linear-algebra ops: ``numpy.linalg`` over stacks of matrices, IEEE-style at singular input.

numpy raises ``LinAlgError`` where a matrix is singular (``inv``, ``solve``),
not positive definite (``cholesky``) or not finite (``eigh``, ``svd``, ``qr``
do not converge).  tapegrad's rule is that out-of-domain values are IEEE
numbers, never exceptions (``1 / 0`` is ``inf``, ``sqrt(-1)`` is ``nan``), so
these kernels give that one matrix of a stack ``nan`` and compute the others
as numpy does.  Like :mod:`tapegrad.core.kernels` they use only numpy, and
generated code copies their source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _each_matrix(function: Callable[..., Any], *operands: Any) -> Any:
    """``function`` on each matrix of broadcast stacks, with ``nan`` where numpy raises ``LinAlgError``.

    The fallback of the kernels below, taken only when the batched call
    failed: ``function`` returns an array (or a tuple of arrays, stacked
    in the same order).
    """
    batch = np.broadcast_shapes(*[np.shape(a)[:-2] for a in operands])
    stacks = [np.broadcast_to(a, batch + np.shape(a)[-2:]) for a in operands]
    results = []
    for position in np.ndindex(batch):
        try:
            results.append(function(*[s[position] for s in stacks]))
        except np.linalg.LinAlgError:
            results.append(None)
    good = next((r for r in results if r is not None), None)
    if good is None:  # every matrix failed: the shapes come from an identity of each operand's shape
        good = function(*[np.eye(np.shape(s)[-2], np.shape(s)[-1]) for s in stacks])
    parts = good if isinstance(good, tuple) else (good,)
    out = [np.empty(batch + np.shape(p)) for p in parts]
    for k, position in enumerate(np.ndindex(batch)):
        r = results[k]
        for o, p in zip(out, r if isinstance(r, tuple) else (r,)):
            o[position] = np.nan if r is None else p
    return tuple(out) if isinstance(good, tuple) else out[0]


def _det(x: Any) -> Any:
    """The determinant (numpy's, from the LU factorisation: 0.0 at an exactly singular matrix)."""
    return np.linalg.det(x)


def _logabsdet(x: Any) -> Any:
    """``log|det x|`` as ``slogdet`` computes it (``-inf`` at a singular matrix)."""
    return np.linalg.slogdet(x)[1]


def _slogdet_sign(x: Any) -> Any:
    """The sign of ``det x`` as ``slogdet`` gives it (0.0 at a singular matrix)."""
    return np.linalg.slogdet(x)[0]


def _batched(function: Callable[..., Any], *operands: Any) -> Any:
    """``function`` on stacks of matrices at once; matrix by matrix (nan where it fails) if numpy raises."""
    try:
        return function(*operands)
    except np.linalg.LinAlgError:
        return _each_matrix(function, *operands)


def _inv(x: Any) -> Any:
    """The inverse; ``nan`` for an exactly singular matrix of the stack."""
    return _batched(np.linalg.inv, x)


def _solve_one(a: Any, b: Any) -> Any:
    """``solve``; a singular ``a`` still solves ``a x = 0`` with ``x = 0`` (a zero adjoint sends zero)."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        if np.any(b):
            raise
        return np.zeros(np.shape(b))


def _solve(a: Any, b: Any) -> Any:
    """``solve(a, b)`` as numpy 2 defines it (``b`` a vector, or a stack of matrices).

    Where ``a`` is singular the solution is ``nan``, except for a zero ``b``,
    solved by zero: so the gradients that solve with an adjoint keep strong zeros.
    """
    if np.ndim(b) == 1:
        return _batched(_solve_one, a, b[:, None])[..., 0]
    return _batched(_solve_one, a, b)


def _cholesky(x: Any) -> Any:
    """The lower Cholesky factor (numpy reads the lower triangle); ``nan`` where ``x`` is not positive definite."""
    return _batched(np.linalg.cholesky, x)


def _eigvalsh(x: Any) -> Any:
    """numpy's eigvalsh (LAPACK without eigenvectors: the last bits may differ from ``eigh``'s values)."""
    return _batched(np.linalg.eigvalsh, x)


def _eigh_vectors(x: Any) -> Any:
    """The eigenvectors (columns) of symmetric matrices, from the lower triangle, as numpy's eigh."""
    return _batched(np.linalg.eigh, x)[1]


def _svd(x: Any) -> Any:
    """The reduced SVD ``(u, s, vh)``: ``u @ (s * vh)`` is ``x``, with ``k = min(m, n)`` singular values, descending."""
    return _batched(lambda a: np.linalg.svd(a, full_matrices=False), x)


def _svdvals(x: Any) -> Any:
    """numpy's ``svd(x, compute_uv=False)`` (without singular vectors: the last bits may differ from ``svd``'s)."""
    return _batched(lambda a: np.linalg.svd(a, compute_uv=False), x)


def _svd_u(x: Any) -> Any:
    return _svd(x)[0]


def _svd_vh(x: Any) -> Any:
    return _svd(x)[2]


def _qr_q(x: Any) -> Any:
    """The reduced QR factorisation's ``Q``; ``nan`` where LAPACK fails (a matrix holding inf or nan)."""
    return _batched(np.linalg.qr, x)[0]


def _qr_r(x: Any) -> Any:
    return _batched(np.linalg.qr, x)[1]


def _adjugate(x: Any) -> Any:
    """The adjugate ``det(x) * inv(x)``, computed from the SVD so that it stays finite at singular matrices.

    With ``x = u @ diag(s) @ vh``, the adjugate is ``det(u) det(vh) vh.T @
    diag(prod of the other singular values) @ u.T``: the products skip one
    value each (running products from both ends, no division), so a rank
    ``n - 1`` matrix has its nonzero adjugate, as the gradient of ``det``
    needs there.
    """
    u, s, vh = _svd(x)
    ones = np.ones(np.shape(s)[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.flip(np.concatenate([s[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1)
    sign = np.sign(np.linalg.det(u)) * np.sign(np.linalg.det(vh))
    v_scaled = np.swapaxes(vh, -1, -2) * (before * after)[..., None, :]
    return np.asarray(sign)[..., None, None] * np.matmul(v_scaled, np.swapaxes(u, -1, -2))

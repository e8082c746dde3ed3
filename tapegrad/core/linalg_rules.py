"""The derivative rules of the linear-algebra rows of the op table (``inv``, ``det``, ``cholesky``, ``eigh``...).

Like every rule of :mod:`tapegrad.core.ops`, each is written once with the
table's own functions (``m.smatmul``, ``m.transpose``, ``m.solve``,
``m.inv``...), so it runs over arrays and over recording Values: second
derivatives, gradient tapes and generated gradient code come from it.  The
formulas are the standard ones (Giles, "An extended collection of matrix
derivative results"; Murray, "Differentiation of the Cholesky
decomposition"; Townsend, "Differentiating the singular value
decomposition"), derived again here for stacks of real matrices:

* ``inv``: ``gA = -out^T g out^T``; ``solve``: ``gb = solve(A^T, g)``, ``gA = -gb x^T``;
* ``det``: ``g * adjugate(A)^T`` (finite at singular matrices); ``logabsdet``:
  ``g * inv(A)^T``; ``slogdet``'s sign is flat;
* ``cholesky``: ``sym(L^-T Phi(L^T gL) L^-1)``, Phi the lower triangle with half its diagonal;
* ``eigh``: ``V (diag(gw) + F o skew(V^T gV)) V^T`` with ``F_ij = 1 / (w_j - w_i)``;
* ``svd``: ``U (diag(gs) + ...) Vh`` (Townsend's formula, ``F_ij = 1 / (s_j^2 - s_i^2)``);
* ``qr`` (reduced): ``(gQ + Q copyutl(gR R^T - Q^T gQ)) R^-T``, wide matrices split into a square part.

``cholesky`` and ``eigh`` read only the lower triangle of their (symmetric)
operand; as PyTorch and JAX, their derivatives are those of the symmetric
matrix: the gradient is symmetric, and forward mode uses the symmetric
part of a tangent.  Strong zeros: every product with an adjoint or tangent
is ``smatmul``/``smul``/``sdiv``, so a zero adjoint sends zero even where
``F`` or ``inv(A)`` is not finite.

Multi-output factorisations are one row per output (``eigvalsh`` and
``eigh_vectors``, ``svdvals``/``svd_u``/``svd_vh``, ``qr_q``/``qr_r``), each
computing the factorisation and keeping its part: a tape record has one
result, the rows need no packing and unpacking records, and the optimiser's
common-subexpression pass merges the factorisations a gradient recomputes
with the ones the program made.  Each row's rule is the formula's part
linear in that output's adjoint; the parts add up to the whole formula.

Forward mode (:data:`TANGENTS`) is given per row, consistent with the
vector-Jacobian rule (``<g, tangent(t)> == <vjp(g), t>``, tested): unlike an
elementwise op, a matrix function's Jacobian-vector product cannot be read
off its vector-Jacobian rule at ``g = 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .shapes import Index, transpose_last

__all__ = ["TANGENTS"]


# ---------------------------------------------------------------- helpers over any domain


def _mT(m: Any, x: Any) -> Any:
    """The batched matrix transpose (the last two axes swapped)."""
    return m.transpose(x, transpose_last(np.ndim(x)))


def _last_two(x: Any, keepdims: bool) -> tuple[Any, bool]:
    """The attribute of a reduction over the last two axes (a batched inner product)."""
    ndim = np.ndim(x)
    return ((ndim - 2, ndim - 1), keepdims)


def _as_row(m: Any, v: Any) -> Any:
    """A stack of vectors ``(..., n)`` as rows ``(..., 1, n)`` (scaling a matrix's columns by broadcasting)."""
    return m.reshape(v, (*np.shape(v)[:-1], 1, np.shape(v)[-1]))


def _as_column(m: Any, v: Any) -> Any:
    return m.reshape(v, (*np.shape(v), 1))


def _as_matrix(m: Any, g: Any) -> Any:
    """A stack of numbers (a determinant's adjoint) as ``(..., 1, 1)``, to scale matrices."""
    return m.reshape(g, (*np.shape(g), 1, 1))


def _eye(n: int) -> np.ndarray:
    return np.eye(n)


def _strictly_lower(n: int) -> np.ndarray:
    return np.tril(np.ones((n, n)), -1)


def _upper(n: int) -> np.ndarray:
    return np.triu(np.ones((n, n)))


def _off_diagonal(m: Any, numerator: Any, gaps: Any) -> Any:
    """``numerator / gaps`` off the diagonal (strong: a zero numerator gives 0 at a zero gap), 0 on it."""
    return m.where(_eye(np.shape(gaps)[-1]), 0.0, m.sdiv(numerator, gaps))


def _gaps(m: Any, w: Any) -> Any:
    """``w_j - w_i`` at ``[..., i, j]``: the denominators of eigenvector derivatives."""
    return _as_row(m, w) - _as_column(m, w)


def _sym(m: Any, x: Any) -> Any:
    return 0.5 * (x + _mT(m, x))


def _add(a: Any, b: Any) -> Any:
    """``a + b`` where None stands for zero."""
    return b if a is None else a if b is None else a + b


def _columns(x: Any, start: int, stop: int | None) -> Index:
    return Index((slice(None),) * (np.ndim(x) - 1) + (slice(start, stop),))


# ---------------------------------------------------------------- determinants and inverses


def det_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (m.smul(_as_matrix(m, g), _mT(m, m.adjugate(x))),)


def _det_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    return m.sum(m.smul(t, _mT(m, m.adjugate(x))), _last_two(x, False))


def adjugate_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    # adj = det * inv: d adj = tr(adj dA) inv - inv dA adj, so gA = <g, inv> adj^T - inv^T g adj^T.
    inv = m.inv(x)
    scale = m.sum(m.smul(g, inv), _last_two(x, True))
    return (m.smul(scale, _mT(m, out)) - m.smatmul(m.smatmul(_mT(m, inv), g), _mT(m, out)),)


def _adjugate_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    inv = m.inv(x)
    trace = m.sum(m.smul(t, _mT(m, out)), _last_two(x, True))
    return m.smul(trace, inv) - m.smatmul(m.smatmul(inv, t), out)


def logabsdet_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (m.smul(_as_matrix(m, g), _mT(m, m.inv(x))),)


def _logabsdet_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    return m.sum(m.smul(t, _mT(m, m.inv(x))), _last_two(x, False))


def inv_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (-m.smatmul(m.smatmul(_mT(m, out), g), _mT(m, out)),)


def _inv_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    return -m.smatmul(m.smatmul(out, t), out)


def solve_vjp(m: Any, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # b a vector: numpy solves for it as one column, so the rule works on columns and drops the axis again.
    vector = np.ndim(b) == 1
    g2, x2 = (_as_column(m, g), _as_column(m, out)) if vector else (g, out)
    gb = m.solve(_mT(m, a), g2)
    ga = -m.smatmul(gb, _mT(m, x2))
    if vector:
        gb = m.reshape(gb, np.shape(g))
    return tuple(d if np.shape(d) == np.shape(s) else m.sum_to(d, np.shape(s)) for d, s in ((ga, a), (gb, b)))


def _solve_tangent(m: Any, out: Any, a: Any, b: Any, ta: Any, tb: Any) -> Any:
    # A x = b: A dx = db - dA x.
    vector = np.ndim(b) == 1
    x2 = _as_column(m, out) if vector else out
    rhs = _add(
        None if tb is None else (_as_column(m, tb) if vector else tb), None if ta is None else -m.smatmul(ta, x2)
    )
    dx = m.solve(a, rhs)
    return m.reshape(dx, np.shape(out)) if vector else dx


# ---------------------------------------------------------------- cholesky


def _phi(m: Any, x: Any) -> Any:
    """The lower triangle of ``x`` with its diagonal halved."""
    n = np.shape(x)[-1]
    return m.where(_strictly_lower(n), x, m.where(_eye(n), 0.5 * x, 0.0))


def cholesky_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    inv = m.inv(out)
    inner = _phi(m, m.smatmul(_mT(m, out), g))
    return (_sym(m, m.smatmul(m.smatmul(_mT(m, inv), inner), inv)),)


def _cholesky_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    inv = m.inv(out)
    return m.smatmul(out, _phi(m, m.smatmul(m.smatmul(inv, _sym(m, t)), _mT(m, inv))))


# ---------------------------------------------------------------- eigh


def eigvalsh_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    v = m.eigh_vectors(x)
    return (m.smatmul(m.smul(v, _as_row(m, g)), _mT(m, v)),)


def _eigvalsh_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    v = m.eigh_vectors(x)
    return m.sum(m.smul(v, m.smatmul(t, v)), ((np.ndim(x) - 2,), False))


def eigh_vectors_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    # The skew part of V^T gV over the gaps (symmetric): a symmetric gradient.  Repeated eigenvalues
    # give zero gaps, and inf or nan unless the skew part is zero there (as JAX).
    # _off_diagonal, not a division by all the gaps: the diagonal's zero gaps would send inf back through
    # the numerator's diagonal when this rule is differentiated again (and k - k^T makes that nan).
    k = m.smatmul(_mT(m, out), g)
    inner = _off_diagonal(m, 0.5 * (k - _mT(m, k)), _gaps(m, m.eigvalsh(x)))
    return (m.smatmul(m.smatmul(out, inner), _mT(m, out)),)


def _eigh_vectors_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    p = m.smatmul(m.smatmul(_mT(m, out), _sym(m, t)), out)
    return m.smatmul(out, _off_diagonal(m, p, _gaps(m, m.eigvalsh(x))))


# ---------------------------------------------------------------- svd (reduced)


def _square_gaps(m: Any, s: Any) -> Any:
    """``s_j^2 - s_i^2`` at ``[..., i, j]``."""
    row, column = _as_row(m, s), _as_column(m, s)
    return row * row - column * column


def svdvals_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (m.smatmul(m.smul(m.svd_u(x), _as_row(m, g)), m.svd_vh(x)),)


def _svdvals_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    product = m.smatmul(t, _mT(m, m.svd_vh(x)))
    return m.sum(m.smul(m.svd_u(x), product), ((np.ndim(x) - 2,), False))


def svd_u_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    s, vh = m.svdvals(x), m.svd_vh(x)
    k = _off_diagonal(m, m.smatmul(_mT(m, out), g), _square_gaps(m, s))
    ga = m.smatmul(m.smatmul(out, m.smul(k + _mT(m, k), _as_row(m, s))), vh)
    if np.shape(x)[-2] > np.shape(s)[-1]:  # tall: U's columns span part of the space
        rest = g - m.smatmul(out, m.smatmul(_mT(m, out), g))
        ga = ga + m.smatmul(m.sdiv(rest, _as_row(m, s)), vh)
    return (ga,)


def svd_vh_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    s, u = m.svdvals(x), m.svd_u(x)
    k = _off_diagonal(m, m.smatmul(out, _mT(m, g)), _square_gaps(m, s))
    ga = m.smatmul(u, m.smatmul(m.smul(_as_column(m, s), k + _mT(m, k)), out))
    if np.shape(x)[-1] > np.shape(s)[-1]:  # wide: V's columns span part of the space
        rest = g - m.smatmul(m.smatmul(g, _mT(m, out)), out)
        ga = ga + m.smatmul(m.sdiv(u, _as_row(m, s)), rest)
    return (ga,)


def _svd_u_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    s, vh = m.svdvals(x), m.svd_vh(x)
    tv = m.smatmul(t, _mT(m, vh))
    ps = m.smul(m.smatmul(_mT(m, out), tv), _as_row(m, s))
    du = m.smatmul(out, _off_diagonal(m, ps + _mT(m, ps), _square_gaps(m, s)))
    if np.shape(x)[-2] > np.shape(s)[-1]:
        du = du + m.sdiv(tv - m.smatmul(out, m.smatmul(_mT(m, out), tv)), _as_row(m, s))
    return du


def _svd_vh_tangent(m: Any, out: Any, x: Any, t: Any) -> Any:
    s, u = m.svdvals(x), m.svd_u(x)
    v = _mT(m, out)
    tu = m.smatmul(_mT(m, t), u)
    sp = m.smul(_as_column(m, s), m.smatmul(_mT(m, u), m.smatmul(t, v)))
    dv = m.smatmul(v, _off_diagonal(m, sp + _mT(m, sp), _square_gaps(m, s)))
    if np.shape(x)[-1] > np.shape(s)[-1]:
        dv = dv + m.sdiv(tu - m.smatmul(v, m.smatmul(out, tu)), _as_row(m, s))
    return _mT(m, dv)


# ---------------------------------------------------------------- qr (reduced)


def _right_solve(m: Any, b: Any, r: Any) -> Any:
    """``b @ inv(r)^T``, as ``solve(r, b^T)^T``."""
    return _mT(m, m.solve(r, _mT(m, b)))


def _qr_backward(m: Any, x: Any, q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """The gradient of a reduced QR factorisation for the adjoints ``gq``, ``gr`` (None: zero)."""
    rows, columns = np.shape(x)[-2:]
    if rows < columns:  # x = [X | Y]: Q, R1 factor the square X, R2 = Q^T Y
        y, r1 = m.getitem(x, _columns(x, rows, None)), m.getitem(r, _columns(r, 0, rows))
        gr1 = None if gr is None else m.getitem(gr, _columns(gr, 0, rows))
        gr2 = None if gr is None else m.getitem(gr, _columns(gr, rows, None))
        gq = gq if gr2 is None else _add(gq, m.smatmul(y, _mT(m, gr2)))
        gx = _qr_backward(m, m.getitem(x, _columns(x, 0, rows)), q, r1, gq, gr1)
        gy = m.smatmul(q, gr2) if gr2 is not None else m.smul(0.0, y)
        return m.concat(gx, gy, np.ndim(x) - 1)
    # M = gR R^T - Q^T gQ, mirrored from its upper triangle; gA = (gQ + Q M) R^-T.
    mixed = _add(None if gr is None else m.smatmul(gr, _mT(m, r)), None if gq is None else -m.smatmul(_mT(m, q), gq))
    mirrored = m.where(_upper(columns), mixed, _mT(m, mixed))
    return _right_solve(m, _add(gq, m.smatmul(q, mirrored)), r)


def qr_q_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (_qr_backward(m, x, out, m.qr_r(x), g, None),)


def qr_r_vjp(m: Any, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
    return (_qr_backward(m, x, m.qr_q(x), out, None, g),)


def _qr_tangents(m: Any, x: Any, q: Any, r: Any, t: Any) -> tuple[Any, Any]:
    """The tangents ``(dQ, dR)`` of a reduced QR factorisation."""
    rows, columns = np.shape(x)[-2:]
    if rows < columns:
        r1 = m.getitem(r, _columns(r, 0, rows))
        dq, dr1 = _qr_tangents(m, m.getitem(x, _columns(x, 0, rows)), q, r1, m.getitem(t, _columns(t, 0, rows)))
        y, ty = m.getitem(x, _columns(x, rows, None)), m.getitem(t, _columns(t, rows, None))
        dr2 = m.smatmul(_mT(m, dq), y) + m.smatmul(_mT(m, q), ty)
        return dq, m.concat(dr1, dr2, np.ndim(x) - 1)
    # X = Q^T dA R^-1 = C + dR R^-1 with C skew and dR R^-1 upper: C from X's strictly lower part.
    t_rinv = _right_solve(m, t, _mT(m, r))  # dA R^-1
    xx = m.smatmul(_mT(m, q), t_rinv)
    lower = m.where(_strictly_lower(columns), xx, 0.0)
    upper_part = xx - lower + _mT(m, lower)  # X - C
    return t_rinv - m.smatmul(q, upper_part), m.smatmul(upper_part, r)


# ---------------------------------------------------------------- forward mode

TANGENTS: dict[str, Callable[..., Any]] = {
    "det": _det_tangent,
    "adjugate": _adjugate_tangent,
    "logabsdet": _logabsdet_tangent,
    "inv": _inv_tangent,
    "solve": _solve_tangent,
    "cholesky": _cholesky_tangent,
    "eigvalsh": _eigvalsh_tangent,
    "eigh_vectors": _eigh_vectors_tangent,
    "svdvals": _svdvals_tangent,
    "svd_u": _svd_u_tangent,
    "svd_vh": _svd_vh_tangent,
    "qr_q": lambda m, out, x, t: _qr_tangents(m, x, out, m.qr_r(x), t)[0],
    "qr_r": lambda m, out, x, t: _qr_tangents(m, x, m.qr_q(x), out, t)[1],
}
"""Forward rules by op name: ``rule(m, out, *operands, *tangents)``, a tangent None where none flows."""

"""sympy formulas of the linear-algebra rows, for small matrices, and clear refusals of the rest.

Symbolic export runs an array op's sympy rule on numpy arrays of sympy
expressions.  ``det``, ``inv``, ``solve``, ``slogdet`` and ``cholesky`` have
closed forms (``sympy.Matrix.det``, ``adjugate``, ``cholesky``), written for
matrices up to :data:`SYMBOLIC_SIZE_LIMIT` on a side; eigenvalues, singular
values and QR factors are roots of polynomials in general, so their rows
refuse with :class:`UnsupportedOpError` saying to generate numpy code.
The rules take the sympy module as their first argument, so nothing here
imports sympy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SymbolicLimitError, UnsupportedOpError

__all__ = ["SYMBOLIC", "SYMBOLIC_SIZE_LIMIT", "no_formula"]


SYMBOLIC_SIZE_LIMIT = 4
"""The largest matrices (n x n) whose determinant, inverse or factor symbolic export writes: n! terms."""


def _matrices(sp: Any, x: Any, name: str) -> list[tuple[tuple[int, ...], Any]]:
    """The matrices of an object array, by batch position, as ``sympy.Matrix``; refused when too large."""
    x = np.asarray(x, dtype=object)
    if max(x.shape[-2:]) > SYMBOLIC_SIZE_LIMIT:
        raise SymbolicLimitError(
            f"{name} of {x.shape[-2]}x{x.shape[-1]} matrices: symbolic export writes it for matrices of at most "
            f"{SYMBOLIC_SIZE_LIMIT}x{SYMBOLIC_SIZE_LIMIT} (the formula grows as n!); generate numpy code instead"
        )
    return [(p, sp.Matrix(x[p].tolist())) for p in np.ndindex(x.shape[:-2])]


def _per_matrix(function: Callable[[Any, Any], Any], name: str) -> Callable[..., Any]:
    """A sympy rule applying ``function(sp, matrix)`` to each matrix of a stack (a number or a matrix each)."""

    def rule(sp: Any, x: Any) -> Any:
        results = [(p, function(sp, a)) for p, a in _matrices(sp, x, name)]
        first = results[0][1]
        shape = first.shape if isinstance(first, sp.MatrixBase) else ()
        out = np.empty(np.shape(x)[:-2] + shape, dtype=object)
        for p, r in results:
            out[p] = np.asarray(r.tolist(), dtype=object) if shape else r
        return out

    return rule


def symbolic_solve(sp: Any, a: Any, b: Any) -> Any:
    """``solve`` as ``adjugate(a) b / det(a)``, matrix by matrix."""
    b = np.asarray(b, dtype=object)
    columns = b[:, None] if b.ndim == 1 else b
    out = np.matmul(SYMBOLIC["inv"](sp, a), columns)
    return out[..., 0] if b.ndim == 1 else out


def no_formula(name: str) -> Callable[..., Any]:
    """The sympy rule of a factorisation sympy has no closed form for (in general)."""

    def refuse(sp: Any, *args: Any) -> Any:
        raise UnsupportedOpError(
            f"{name} has no formula symbolic export can write (its values are roots of a polynomial); "
            "export a tape without it, or generate numpy code (tape.compile('numpy'))"
        )

    return refuse


def _from_lower(sp: Any, a: Any) -> Any:
    """The symmetric matrix of ``a``'s lower triangle: what numpy's cholesky reads."""
    return sp.Matrix(a.rows, a.cols, lambda i, j: a[max(i, j), min(i, j)])


SYMBOLIC: dict[str, Callable[..., Any]] = {
    "det": _per_matrix(lambda sp, a: a.det(), "det"),
    "adjugate": _per_matrix(lambda sp, a: a.adjugate(), "adjugate"),
    "logabsdet": _per_matrix(lambda sp, a: sp.log(sp.Abs(a.det())), "slogdet"),
    "slogdet_sign": _per_matrix(lambda sp, a: sp.sign(a.det()), "slogdet"),
    "inv": _per_matrix(lambda sp, a: a.adjugate() / a.det(), "inv"),
    "cholesky": _per_matrix(lambda sp, a: _from_lower(sp, a).cholesky(hermitian=False), "cholesky"),
    "solve": symbolic_solve,
}
"""sympy rules by op name, for small matrices (:data:`SYMBOLIC_SIZE_LIMIT`)."""

"""Corpus: numpy's other spellings (values/spellings.py), which a user reaches for as often as the main names.

numpy 2's array-API functions in ``numpy.linalg`` and at the top level (``matrix_transpose``, ``vecdot``,
``matvec``, ``vecmat``), the split family, ``rollaxis``, ``diagflat``, ``rot90``, ``unstack``, ``copy`` and
``v.mT``.  ``vecdot`` is a product and a sum, which numpy's gufunc loop rounds differently: those cases
compare to ``VALUE_TOLERANCE``; ``matvec`` and ``vecmat`` are matrix products, numpy's bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .harness import case, rng

R = rng("spellings")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def _torch() -> Any:
    import torch  # the optional comparison

    return torch


LA = np.linalg

CASES = [
    case("linalg.outer", lambda a, b: LA.outer(a, b), r(3), r(2), torch=lambda a, b: _torch().outer(a, b)),
    case("linalg.trace of a stack", lambda a: LA.trace(a), r(2, 3, 3),
         torch=lambda a: a.diagonal(dim1=-2, dim2=-1).sum(-1)),
    case("linalg.trace offset", lambda a: LA.trace(a, offset=-1), r(3, 4)),
    case("linalg.diagonal", lambda a: LA.diagonal(a, offset=1), r(2, 3, 4),
         torch=lambda a: a.diagonal(1, dim1=-2, dim2=-1)),
    case("linalg.cross", lambda a, b: LA.cross(a, b), r(4, 3), r(3),
         torch=lambda a, b: _torch().linalg.cross(a, b.expand_as(a))),
    case("linalg.cross axis 0", lambda a, b: LA.cross(a, b, axis=0), r(3, 2), r(3, 2)),
    case("linalg.matmul", lambda a, b: LA.matmul(a, b), r(2, 2, 3), r(3, 2), torch=lambda a, b: a @ b),
    case("linalg.tensordot", lambda a, b: LA.tensordot(a, b, axes=1), r(2, 3), r(3, 2)),
    case("linalg.matrix_transpose", lambda a: LA.matrix_transpose(a), r(2, 3, 4), torch=lambda a: a.mT),
    case("linalg.vecdot", lambda a, b: LA.vecdot(a, b), r(2, 3), r(3), exact=False,
         torch=lambda a, b: _torch().linalg.vecdot(a, b)),
    case("linalg.vecdot axis 0", lambda a, b: LA.vecdot(a, b, axis=0), r(3, 2), r(3, 1), exact=False),
    case("np.vecdot", lambda a, b: np.vecdot(a, b), r(4, 3), r(4, 3), exact=False),
    case("np.matvec", lambda a, b: np.matvec(a, b), r(2, 3, 4), r(4)),
    case("np.vecmat", lambda a, b: np.vecmat(a, b), r(3), r(2, 3, 4)),
    case("np.matrix_transpose", lambda a: np.matrix_transpose(a), r(3, 2)),
    case("v.mT", lambda a: a.mT, r(2, 3, 4), torch=lambda a: a.mT),
    case("hsplit", lambda a: np.hsplit(a, 2), r(3, 4), torch=lambda a: _torch().hsplit(a, 2)),
    case("hsplit a vector at indices", lambda a: np.hsplit(a, [1, 3]), r(5)),
    case("vsplit", lambda a: np.vsplit(a, [1]), r(3, 2), torch=lambda a: _torch().vsplit(a, [1])),
    case("dsplit", lambda a: np.dsplit(a, 2), r(2, 1, 4), torch=lambda a: _torch().dsplit(a, 2)),
    case("unstack", lambda a: np.unstack(a), r(3, 2), torch=lambda a: _torch().unbind(a)),
    case("unstack axis -1", lambda a: np.unstack(a, axis=-1), r(2, 3), torch=lambda a: _torch().unbind(a, -1)),
    case("rollaxis", lambda a: np.rollaxis(a, 2), r(2, 3, 4)),
    case("rollaxis start", lambda a: np.rollaxis(a, 0, 3), r(2, 3, 4)),
    case("rollaxis negative", lambda a: np.rollaxis(a, -1, -2), r(2, 3, 4)),
    case("diagflat", lambda a: np.diagflat(a), r(2, 2), torch=lambda a: _torch().diagflat(a)),
    case("diagflat k=-1", lambda a: np.diagflat(a, -1), r(3), torch=lambda a: _torch().diagflat(a, -1)),
    case("rot90", lambda a: np.rot90(a), r(2, 3), torch=lambda a: _torch().rot90(a)),
    case("rot90 k=2", lambda a: np.rot90(a, 2), r(2, 3), torch=lambda a: _torch().rot90(a, 2)),
    case("rot90 k=-1 axes", lambda a: np.rot90(a, -1, axes=(1, 2)), r(2, 3, 4),
         torch=lambda a: _torch().rot90(a, -1, (1, 2))),
    case("rot90 k=4", lambda a: np.rot90(a, 4), r(2, 3)),
    case("matrix_power 2", lambda a: LA.matrix_power(a, 2), r(3, 3),
         torch=lambda a: _torch().linalg.matrix_power(a, 2)),
    case("matrix_power 5 of a stack", lambda a: LA.matrix_power(a, 5), 0.5 * r(2, 3, 3),
         torch=lambda a: _torch().linalg.matrix_power(a, 5)),
    case("matrix_power -2", lambda a: LA.matrix_power(a, -2), r(3, 3) + 3 * np.eye(3),
         torch=lambda a: _torch().linalg.matrix_power(a, -2)),
    case("multi_dot", lambda a, b, c: LA.multi_dot([a, b, c]), r(2, 3), r(3, 4), r(4, 1),
         torch=lambda a, b, c: _torch().linalg.multi_dot([a, b, c])),
    case("multi_dot vector ends", lambda a, b, c, d: LA.multi_dot([a, b, c, d]), r(3), r(3, 5), r(5, 2), r(2),
         torch=lambda a, b, c, d: _torch().linalg.multi_dot([a, b, c, d])),
    case("diff", lambda a: np.diff(a), r(3, 4), torch=lambda a: _torch().diff(a)),
    case("diff n=2 axis 0", lambda a: np.diff(a, 2, axis=0), r(4, 3), torch=lambda a: _torch().diff(a, 2, dim=0)),
    case("diff prepend and append", lambda a: np.diff(a, prepend=0.0, append=a[..., :1]), r(2, 3)),
    case("diff order past the length", lambda a: np.diff(a, 4), r(3)),
    case("ptp", lambda a: np.ptp(a, axis=1), r(3, 4)),
    case("ptp keepdims", lambda a: np.ptp(a, axis=0, keepdims=True), r(3, 4)),
    case("average", lambda a: np.average(a, axis=0), r(3, 2)),
    case("average weights along an axis", lambda a, w: np.average(a, axis=1, weights=w), r(3, 4), r(4) ** 2 + 0.5),
    case("average weights like a", lambda a, w: np.average(a, weights=w, returned=True), r(2, 3), r(2, 3) ** 2 + 0.5),
    case("cov", lambda a: np.cov(a), r(3, 6), torch=lambda a: _torch().cov(a)),
    case("cov rowvar=False bias", lambda a: np.cov(a, rowvar=False, bias=True), r(6, 2),
         torch=lambda a: _torch().cov(a.T, correction=0)),
    case("cov of x and y", lambda a, b: np.cov(a, b), r(5), r(5)),
    case("corrcoef", lambda a: np.corrcoef(a), r(3, 6), torch=lambda a: _torch().corrcoef(a)),
    case("corrcoef of x and y", lambda a, b: np.corrcoef(a, b)[0, 1], r(5), r(5)),
    case("cumulative_sum", lambda a: np.cumulative_sum(a, axis=1), r(2, 3), torch=lambda a: a.cumsum(1)),
    case("cumulative_sum include_initial", lambda a: np.cumulative_sum(a, axis=0, include_initial=True), r(3, 2)),
    case("cumulative_prod of a vector", lambda a: np.cumulative_prod(a, include_initial=True), r(4)),
    case("round then a smooth part", lambda a: np.round(3 * a) + np.around(a) + a**2, r(5)),
    case("np.astype float64", lambda a: np.astype(a, np.float64) * 2.0, r(3)),
    case("np.take axis", lambda a: np.take(a, [2, 0, -1], axis=1), r(2, 3),
         torch=lambda a: a[:, [2, 0, -1]]),
    case("np.take flat", lambda a: np.take(a, [[5, 0], [1, 1]]), r(2, 3)),
    case("v.take", lambda a: a.take([1, 1], axis=0), r(3, 2)),
    case("np.append flat", lambda a, b: np.append(a, b), r(2, 2), r(3)),
    case("np.append axis", lambda a, b: np.append(a, b, axis=0), r(2, 2), r(1, 2)),
    case("conj().T @ x", lambda a: a.conj().T @ np.conj(a) + np.real(a) * a.real, r(3, 3),
         torch=lambda a: a.T @ a + a * a),
    case("zeros_like accumulator", lambda a: np.zeros_like(a) + np.ones_like(a) * a + np.full_like(a, 2.0) * a, r(3)),
    case("np.copy", lambda a: np.copy(a) * 2.0, r(3)),
    case("v.copy()", lambda a: a.copy() + a, r(2, 2)),
]  # fmt: skip

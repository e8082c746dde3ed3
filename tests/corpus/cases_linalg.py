"""Corpus: ``numpy.linalg`` as JAX's linalg_test and PyTorch's OpInfos sample it.

Single matrices and stacks, tall and wide matrices, solve with vector and matrix right-hand sides (and a vector
broadcast against a stack), every norm order.  Symmetric inputs are built inside the function as a user builds
them (``x @ x.T + n I``), so every entry of the argument is free and central differences see the same function
as the gradient.  Losses of eigenvectors and singular vectors are squared: they do not depend on the signs
numpy picks.  eigh's eigenvalues and svd's singular values are ``eigvalsh``'s and ``svd(compute_uv=False)``'s,
which may differ from ``eigh``'s and ``svd``'s in the last bit: those cases compare to ``VALUE_TOLERANCE``; the
norms are compositions (sums, ``sqrt``, ``max``), compared likewise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .harness import case, rng

R = rng("linalg")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def well(*shape: int) -> np.ndarray:
    """A random matrix (or stack) far from singular: the identity times 3 plus noise."""
    return r(*shape) + 3.0 * np.eye(shape[-1])


def gram(x: Any) -> Any:
    """A symmetric positive definite matrix from any matrix or stack ``x`` (with numpy's functions only)."""
    n = x.shape[-2]
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def _torch() -> Any:
    import torch  # the optional comparison

    return torch


def tgram(x: Any) -> Any:
    n = x.shape[-2]
    return x @ x.mT + n * _torch().eye(n, dtype=x.dtype)


def la() -> Any:
    return _torch().linalg


LA = np.linalg

DECOMPOSITIONS = [
    case("det", lambda a: LA.det(a), well(3, 3), torch=lambda a: la().det(a)),
    case("det 1x1", lambda a: LA.det(a), r(1, 1) + 2.0, torch=lambda a: la().det(a)),
    case("det of a stack", lambda a: LA.det(a), well(2, 3, 3), torch=lambda a: la().det(a)),
    case("det of a 4-d stack", lambda a: LA.det(a), well(2, 2, 2, 2), torch=lambda a: la().det(a)),
    case("slogdet logabsdet", lambda a: LA.slogdet(a).logabsdet, well(3, 3), torch=lambda a: la().slogdet(a)[1]),
    case("slogdet tuple unpacked", lambda a: LA.slogdet(a)[0] * LA.slogdet(a)[1], well(2, 3, 3),
         torch=lambda a: la().slogdet(a)[0] * la().slogdet(a)[1]),
    case("slogdet negative determinant", lambda a: LA.slogdet(a), np.diag([-2.0, 1.5, 1.0]) + 0.1 * r(3, 3)),
    case("inv", lambda a: LA.inv(a), well(3, 3), torch=lambda a: la().inv(a)),
    case("inv of a stack", lambda a: LA.inv(a), well(2, 2, 2), torch=lambda a: la().inv(a)),
    case("inv times a", lambda a: LA.inv(a) @ a, well(3, 3)),
    case("solve vector", lambda a, b: LA.solve(a, b), well(3, 3), r(3), torch=lambda a, b: la().solve(a, b)),
    case("solve matrix", lambda a, b: LA.solve(a, b), well(3, 3), r(3, 2), torch=lambda a, b: la().solve(a, b)),
    case("solve stack", lambda a, b: LA.solve(a, b), well(2, 3, 3), r(2, 3, 2), torch=lambda a, b: la().solve(a, b)),
    case("solve vector against a stack", lambda a, b: LA.solve(a, b), well(2, 3, 3), r(3)),
    case("solve broadcast stack", lambda a, b: LA.solve(a, b), well(3, 3), r(2, 3, 1),
         torch=lambda a, b: la().solve(a, b)),
    case("cholesky", lambda x: LA.cholesky(gram(x)), r(3, 3), torch=lambda x: la().cholesky(tgram(x))),
    case("cholesky of a stack", lambda x: LA.cholesky(gram(x)), r(2, 3, 2), torch=lambda x: la().cholesky(tgram(x))),
    case("cholesky upper", lambda x: LA.cholesky(gram(x), upper=True), r(3, 3),
         torch=lambda x: la().cholesky(tgram(x), upper=True)),
    case("eigvalsh", lambda x: LA.eigvalsh(gram(x)), r(3, 3), torch=lambda x: la().eigvalsh(tgram(x))),
    case("eigh eigenvalues", lambda x: LA.eigh(gram(x)).eigenvalues, r(3, 3), exact=False,
         torch=lambda x: la().eigh(tgram(x))[0]),
    case("eigh eigenvectors squared", lambda x: LA.eigh(gram(x)).eigenvectors ** 2, r(3, 3),
         torch=lambda x: la().eigh(tgram(x))[1] ** 2),
    case("eigh reconstruction", lambda x: (lambda w, v: (v * w) @ v.T)(*LA.eigh(gram(x))), r(3, 3), exact=False),
    case("eigh of a stack", lambda x: LA.eigh(gram(x))[1] ** 2, r(2, 3, 3),
         torch=lambda x: la().eigh(tgram(x))[1] ** 2),
    # UPLO="U" is computed as the lower triangle of the transpose: LAPACK reduces it in another order, so the
    # eigenvalues differ from numpy's in the last bit (docs/numpy.md says so).
    case("eigh UPLO=U", lambda x: LA.eigh(gram(x), UPLO="U")[0], r(3, 3), exact=False,
         torch=lambda x: la().eigvalsh(tgram(x), UPLO="U")),
    case("qr Q and R tall", lambda a: LA.qr(a), r(4, 3), torch=lambda a: la().qr(a)),
    case("qr square", lambda a: LA.qr(a), well(3, 3), torch=lambda a: la().qr(a)),
    case("qr wide", lambda a: LA.qr(a), r(2, 4), torch=lambda a: la().qr(a)),
    case("qr of a stack", lambda a: LA.qr(a).R, r(2, 3, 2), torch=lambda a: la().qr(a)[1]),
    case("qr Q @ R", lambda a: (lambda q, rr: q @ rr)(*LA.qr(a)), r(4, 3), exact=False),
    case("qr mode r", lambda a: LA.qr(a, mode="r"), r(4, 3), torch=lambda a: la().qr(a)[1]),
    case("svd values", lambda a: LA.svd(a, compute_uv=False), r(4, 3), torch=lambda a: la().svdvals(a)),
    case("svdvals wide", lambda a: LA.svdvals(a), r(2, 4), torch=lambda a: la().svdvals(a)),
    case("svd S of the tuple", lambda a: LA.svd(a, full_matrices=False).S, r(3, 4), exact=False),
    case("svd U Vh squared tall", lambda a: [v ** 2 for v in LA.svd(a, full_matrices=False)[::2]], r(4, 3),
         torch=lambda a: [v ** 2 for v in la().svd(a, full_matrices=False)[::2]]),
    case("svd U Vh squared wide", lambda a: [v ** 2 for v in LA.svd(a, full_matrices=False)[::2]], r(2, 3),
         torch=lambda a: [v ** 2 for v in la().svd(a, full_matrices=False)[::2]]),
    case("svd square default full_matrices", lambda a: LA.svd(a).U ** 2, r(3, 3),
         torch=lambda a: la().svd(a)[0] ** 2),
    case("svd reconstruction", lambda a: (lambda u, s, vh: (u * s) @ vh)(*LA.svd(a, full_matrices=False)), r(4, 3),
         exact=False),
    case("svd of a stack", lambda a: LA.svd(a, compute_uv=False), r(2, 3, 2), torch=lambda a: la().svdvals(a)),
]  # fmt: skip


def _norm(ord: Any = None, axis: Any = None, keepdims: bool = False, shape: tuple[int, ...] = (3, 4)) -> Any:
    name = f"norm ord={ord} axis={axis}" + (" keepdims" if keepdims else "") + f" {shape}"
    return case(name, lambda x: LA.norm(x, ord, axis, keepdims), r(*shape), exact=False)


NORMS = [
    _norm(shape=(5,)), _norm(), _norm(shape=(2, 3, 2)), _norm(1, shape=(5,)), _norm(2, shape=(5,)),
    _norm(np.inf, shape=(5,)), _norm(-np.inf, shape=(5,)), _norm(3, shape=(5,)), _norm(0.5, shape=(5,)),
    _norm("fro"), _norm("nuc"), _norm(1), _norm(-1), _norm(2), _norm(-2), _norm(np.inf), _norm(-np.inf),
    _norm(None, 1), _norm(2, -1, True), _norm(1, 0), _norm(np.inf, 1, True), _norm("fro", (1, 2), shape=(2, 3, 2)),
    _norm(2, (0, 2), shape=(2, 2, 3)), _norm("nuc", (2, 1), True, shape=(2, 3, 2)),
    case("vector_norm axis tuple", lambda x: LA.vector_norm(x, ord=3, axis=(0, 2)), r(2, 3, 2),
         torch=lambda x: la().vector_norm(x, 3, dim=(0, 2))),
    case("vector_norm default", lambda x: LA.vector_norm(x), r(3, 4), torch=lambda x: la().vector_norm(x)),
    case("matrix_norm fro stack", lambda x: LA.matrix_norm(x), r(2, 3, 3), torch=lambda x: la().matrix_norm(x)),
    case("matrix_norm 2 keepdims", lambda x: LA.matrix_norm(x, ord=2, keepdims=True), r(2, 3, 2),
         torch=lambda x: la().matrix_norm(x, 2, keepdim=True)),
]  # fmt: skip

CASES = DECOMPOSITIONS + NORMS

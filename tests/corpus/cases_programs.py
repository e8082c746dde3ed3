"""Corpus: small programs a user writes with numpy and differentiates, each chaining several functions.

Each runs unchanged on arrays and on Values; the harness checks its value, its gradient against central
differences (and PyTorch where a torch version is given), and its replay and generated code on new inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .harness import case, rng

R = rng("programs")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def gaussian_log_density(mean: Any, root: Any, x: Any) -> Any:
    """log N(x; mean, cov) with cov = root root^T + I, through slogdet and solve."""
    n = x.shape[-1]
    cov = root @ root.T + np.eye(n)
    residual = x - mean
    sign, logdet = np.linalg.slogdet(cov)
    return -0.5 * (residual @ np.linalg.solve(cov, residual) + logdet + n * np.log(2 * np.pi))


def softmax(z: Any, axis: int = -1) -> Any:
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention(q: Any, k: Any, v: Any) -> Any:
    """Scaled dot-product attention over heads: (batch, heads, positions, features)."""
    scores = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(q.shape[-1])
    return np.einsum("bhqk,bhkd->bhqd", softmax(scores), v)


def charged_particle(x: Any, v: Any, field: Any) -> Any:
    """Ten explicit steps of dv/dt = v x B, dx/dt = v; the final position and kinetic energy."""
    dt = 0.05
    for _ in range(10):
        v = v + dt * np.cross(v, field)
        x = x + dt * v
    return x, 0.5 * np.sum(v**2, axis=-1)


def rotate(a: Any, points: Any) -> Any:
    """Points rotated by the orthogonal factor of a (a random rotation as users draw them)."""
    q, rr = np.linalg.qr(a)
    return points @ (q * np.sign(np.diagonal(rr))).T


def pca_explained(x: Any) -> Any:
    """The share of variance in the top two principal components, from the covariance's eigenvalues."""
    centred = x - np.mean(x, axis=0)
    w = np.linalg.eigvalsh(centred.T @ centred / (x.shape[0] - 1))
    return np.sum(np.sort(w)[-2:]) / np.sum(w)


def pca_reconstruction(x: Any) -> Any:
    """Squared error of the rank-2 reconstruction through the top right singular vectors."""
    centred = x - x.mean(axis=0)
    vh = np.linalg.svd(centred, full_matrices=False).Vh[:2]
    return np.sum((centred - centred @ vh.T @ vh) ** 2)


def heat_periodic(u: Any) -> Any:
    """Five explicit heat-equation steps on a periodic grid, the Laplacian written with np.roll."""
    for _ in range(5):
        u = u + 0.2 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return u


def heat_2d(u: Any) -> Any:
    """Two steps on a 2-D periodic grid: rolls along both axes, negative shifts included."""
    for _ in range(2):
        lap = np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, axis=1) + np.roll(u, -1, axis=1) - 4 * u
        u = u + 0.1 * lap
    return u


def stencil_edge(u: Any) -> Any:
    """A second difference with edge padding (zero flux), then a five-point smoothing via reflect padding."""
    p = np.pad(u, 1, mode="edge")
    second = p[2:] - 2 * p[1:-1] + p[:-2]
    q = np.pad(second, 2, mode="reflect")
    return (q[:-4] + 4 * q[1:-3] + 6 * q[2:-2] + 4 * q[3:-1] + q[4:]) / 16


def top_k_softmax(x: Any) -> Any:
    """Softmax over each row's three largest entries."""
    return softmax(np.sort(x, axis=1)[:, -3:])


def sliced_wasserstein(x: Any, y: Any, directions: Any) -> Any:
    """Squared 1-D Wasserstein distances of projections: sorted projections matched in order."""
    px, py = np.sort(x @ directions, axis=0), np.sort(y @ directions, axis=0)
    return np.mean((px - py) ** 2)


def ridge(x: Any, y: Any, lam: Any) -> Any:
    """The ridge-regression fit's residual: weights from the normal equations with np.linalg.solve."""
    w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)
    return np.sum((x @ w - y) ** 2)


def gp_marginal(points: Any, y: Any, log_scale: Any) -> Any:
    """A Gaussian process's negative log marginal likelihood through Cholesky and two triangular solves."""
    d = points[:, None, :] - points[None, :, :]
    k = np.exp(-0.5 * np.sum(d**2, axis=-1) / np.exp(2 * log_scale)) + 0.1 * np.eye(points.shape[0])
    chol = np.linalg.cholesky(k)
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diagonal(chol)))


def classifier(w: Any, b: Any, x: Any) -> Any:
    """Cross-entropy of a linear classifier, the labels picked with take_along_axis."""
    logits = np.tensordot(x, w, axes=1) + b
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    labels = np.array([[0], [2], [1], [2]])
    return -np.mean(np.take_along_axis(log_p, labels, axis=1))


def procrustes(a: Any, target: Any) -> Any:
    """The nearest orthogonal matrix (polar factor U Vh of an SVD) and its distance to a target."""
    u, s, vh = np.linalg.svd(a)
    return np.sum((u @ vh - target) ** 2)


def mesh_normals(vertices: Any) -> Any:
    """Unit normals and areas of two triangles from edge cross products, and the tetrahedron volume by det."""
    tris = np.stack([vertices[[0, 1, 2]], vertices[[0, 2, 3]]])
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    area = np.linalg.norm(n, axis=-1, keepdims=True)
    volume = np.linalg.det(np.stack([vertices[1] - vertices[0], vertices[2] - vertices[0], vertices[3] - vertices[0]]))
    return n / area, area, volume / 6


def mahalanobis(x: Any, root: Any) -> Any:
    """Batched squared Mahalanobis distances with einsum and inv."""
    precision = np.linalg.inv(root @ root.T + np.eye(root.shape[0]))
    return np.einsum("ni,ij,nj->n", x, precision, x)


def graph_smoothness(w: Any, x: Any) -> Any:
    """x^T L x for the Laplacian of the graph with symmetric weights built from the upper triangle."""
    upper = np.triu(w**2, k=1)
    weights = upper + upper.T
    laplacian = np.diag(np.sum(weights, axis=1)) - weights
    return x @ laplacian @ x


def kronecker_system(a: Any, b: Any, x: Any) -> Any:
    """(A kron B) x, and the same through the reshape identity; both kept so their gradients add."""
    return np.kron(a, b) @ x + np.ravel(a @ np.reshape(x, (2, 3)) @ b.T)


def power_trace(a: Any) -> Any:
    """trace(A^3) through a matmul chain and through einsum with a closed loop of letters."""
    return np.trace(a @ a @ a) + np.einsum("ij,jk,ki->", a, a, a)


def conv1d(x: Any, kernel: Any) -> Any:
    """'same' convolution of a signal by a three-tap kernel: zero padding and shifted slices, stacked."""
    p = np.pad(x, (1, 1))
    windows = np.stack([p[:-2], p[1:-1], p[2:]], axis=-1)
    return windows @ kernel


def batch_norm_layer(x: Any, gamma: Any, beta: Any) -> Any:
    """Batch normalisation over axis 0 (var with ddof=0, as frameworks' training mode)."""
    mean = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + 1e-5) + beta


def natural_spline_midpoints(y: Any) -> Any:
    """A natural cubic spline through equally spaced knots, evaluated halfway between them: the moments solve
    a tridiagonal system built with np.diag at k = -1, 0, 1, padded with zeros at the ends."""
    n = y.shape[0] - 2
    system = np.diag(np.full(n, 4.0)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    moments = np.pad(np.linalg.solve(system, 6.0 * (y[2:] - 2 * y[1:-1] + y[:-2])), 1)
    return 0.5 * (y[:-1] + y[1:]) - (moments[:-1] + moments[1:]) / 16


def kalman_step(mean: Any, cov_root: Any, observation: Any) -> Any:
    """One Kalman update with a 2-D observation of a 3-D state; the gain through solve of the innovation."""
    h = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]])
    cov = cov_root @ cov_root.T + np.eye(3)
    innovation_cov = h @ cov @ h.T + 0.1 * np.eye(2)
    gain = np.linalg.solve(innovation_cov, h @ cov).T
    new_mean = mean + gain @ (observation - h @ mean)
    new_cov = (np.eye(3) - gain @ h) @ cov
    return new_mean, np.linalg.slogdet(new_cov).logabsdet


def pca_by_cov(x: Any) -> Any:
    """The variance the top principal direction explains, from np.cov (observations in rows) and eigh."""
    w, v = np.linalg.eigh(np.cov(x, rowvar=False))
    scores = (x - np.average(x, axis=0)) @ v[:, -1]
    return np.var(scores, ddof=1) / np.sum(w), np.diff(w)


def total_variation(u: Any) -> Any:
    """A smoothed total-variation penalty of an image: differences along both axes with np.diff."""
    return np.sum(np.sqrt(np.diff(u, axis=0)[:, :-1] ** 2 + np.diff(u, axis=1)[:-1] ** 2 + 1e-3))


def _torch() -> Any:
    import torch  # the optional comparison

    return torch


def _torch_attention(q: Any, k: Any, v: Any) -> Any:
    torch = _torch()
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(q.shape[-1])
    return torch.einsum("bhqk,bhkd->bhqd", torch.softmax(scores, -1), v)


def _torch_gaussian(mean: Any, root: Any, x: Any) -> Any:
    torch = _torch()
    cov = root @ root.T + torch.eye(3, dtype=torch.float64)
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


def _torch_particle(x: Any, v: Any, field: Any) -> Any:
    torch = _torch()
    for _ in range(10):
        v = v + 0.05 * torch.linalg.cross(v, field.expand_as(v))
        x = x + 0.05 * v
    return x, 0.5 * (v**2).sum(-1)


SPD_ROOT = r(3, 3)

CASES = [
    case("gaussian log-density", gaussian_log_density, r(3), SPD_ROOT, r(3), exact=False, torch=_torch_gaussian),
    case("attention", attention, r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 4), torch=_torch_attention),
    case("charged particle", charged_particle, r(4, 3), r(4, 3), r(3), torch=_torch_particle),
    case("rotation by qr", rotate, r(3, 3), r(5, 3)),
    case("pca explained variance", pca_explained, r(6, 3)),
    case("pca reconstruction", pca_reconstruction, r(6, 4), exact=False),
    case("heat equation with roll", heat_periodic, r(8)),
    case("2-d heat equation with roll", heat_2d, r(4, 5)),
    case("stencil with pad edge and reflect", stencil_edge, r(7)),
    case("top-k softmax", top_k_softmax, r(3, 5)),
    case("sliced wasserstein", sliced_wasserstein, r(6, 2), r(6, 2) + 1.0, r(2, 3)),
    case("ridge regression", ridge, r(6, 3), r(6), 0.5),
    case("gaussian process marginal likelihood", gp_marginal, r(5, 2), r(5), 0.3),
    case("linear classifier cross-entropy", classifier, r(3, 3), r(3), r(4, 3)),
    case("procrustes", procrustes, r(3, 3) + 2 * np.eye(3), np.eye(3), exact=False),
    case("mesh normals, areas and volume", mesh_normals, r(4, 3) + np.eye(4, 3)),
    case("mahalanobis", mahalanobis, r(4, 3), r(3, 3)),
    case("graph laplacian smoothness", graph_smoothness, r(4, 4), r(4)),
    case("kronecker system", kronecker_system, r(2, 2), r(3, 3), r(6)),
    case("power trace", power_trace, r(3, 3)),
    case("convolution by pad and stack", conv1d, r(6), r(3)),
    case("batch normalisation", batch_norm_layer, r(5, 3), r(3), r(3), exact=False),
    case("natural cubic spline", natural_spline_midpoints, r(7)),
    case("kalman update", kalman_step, r(3), r(3, 3), r(2)),
    case("pca through np.cov", pca_by_cov, r(8, 3) * np.array([3.0, 1.0, 0.3]), exact=False),  # eigh eigenvalues
    case("total variation", total_variation, r(4, 5)),
]

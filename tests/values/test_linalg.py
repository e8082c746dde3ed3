"""numpy.linalg on Values: values against numpy, gradients against finite differences and PyTorch,
second order, forward mode, stacks of matrices against a loop, generated code and tape files.

The singular and degenerate inputs, and misuse, are specified in ``test_linalg_edges.py``.
Values: the same numpy call as numpy's, so bit for bit (``norm``, a composition, to 1e-12).
Gradients: central differences within ``support.FD_TOLERANCE`` of the largest entry, PyTorch's float64
gradients within 1e-10 relative.  Losses of eigenvectors and singular vectors are chosen not to depend on
their signs (which numpy picks), so finite differences see the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tapegrad.numpy as tnp
from support import assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value, io
from tapegrad.formats.codegen import to_source

RNG = np.random.default_rng(17)
A = RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)  # well conditioned
STACK = RNG.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)
B = RNG.normal(size=3)
BM = RNG.normal(size=(3, 2))
TALL = RNG.normal(size=(4, 3))
WIDE = RNG.normal(size=(2, 4))
WEIGHTS = RNG.normal(size=(4, 4))


def _spd(x: Any) -> Any:
    """A symmetric positive definite matrix made from any square ``x`` (so every entry of ``x`` is free)."""
    ndim = np.ndim(x)
    return 0.5 * (x + np.transpose(x, (*range(ndim - 2), ndim - 1, ndim - 2))) + 4.0 * np.eye(np.shape(x)[-1])


def _w(shape: tuple[int, ...]) -> np.ndarray:
    return WEIGHTS[: shape[-2], : shape[-1]]


# name -> (loss of numpy arrays written with np.linalg, its arguments); each loss reaches its op(s).
CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "det": (lambda a: np.linalg.det(a), (A,)),
    "slogdet": (lambda a: np.linalg.slogdet(a).logabsdet * np.linalg.slogdet(a).sign, (A,)),
    "inv": (lambda a: np.sum(np.linalg.inv(a) * _w((3, 3))), (A,)),
    "solve_vector": (lambda a, b: np.sum(np.linalg.solve(a, b) ** 2), (A, B)),
    "solve_matrix": (lambda a, b: np.sum(np.linalg.solve(a, b) * _w((3, 2))), (A, BM)),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(_spd(a)) * _w((3, 3))), (A,)),
    "eigvalsh": (lambda a: np.sum(np.linalg.eigvalsh(_spd(a)) ** 3), (A,)),
    "eigh": (lambda a: np.sum(np.linalg.eigh(_spd(a)).eigenvectors ** 4 * _w((3, 3))), (A,)),
    "svdvals_tall": (lambda a: np.sum(np.linalg.svd(a, compute_uv=False) ** 3), (TALL,)),
    "svd_u_tall": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False).U ** 2 * _w((4, 3))), (TALL,)),
    "svd_vh_tall": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False).Vh ** 2 * _w((3, 3))), (TALL,)),
    "svd_u_wide": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False).U ** 2 * _w((2, 2))), (WIDE,)),
    "svd_vh_wide": (lambda a: np.sum(np.linalg.svd(a, full_matrices=False).Vh ** 2 * _w((2, 4))), (WIDE,)),
    "qr_tall": (lambda a: np.sum(np.linalg.qr(a).Q * _w((4, 3))) + np.sum(np.linalg.qr(a).R ** 2), (TALL,)),
    "qr_wide": (lambda a: np.sum(np.linalg.qr(a).Q * _w((2, 2))) + np.sum(np.linalg.qr(a).R * _w((2, 4))), (WIDE,)),
    "qr_square": (lambda a: np.sum(np.linalg.qr(a).R * _w((3, 3))), (A,)),
    "norm_fro": (lambda a: np.linalg.norm(a), (A,)),
    "norm_2": (lambda a: np.linalg.norm(a, 2), (A,)),
    "norm_nuc": (lambda a: np.linalg.norm(a, "nuc"), (TALL,)),
    "norm_1_matrix": (lambda a: np.linalg.norm(a, 1), (A,)),
    "norm_vectors": (lambda a: np.sum(np.linalg.norm(a, 3, axis=0) + np.linalg.norm(a, np.inf, axis=1)), (A,)),
}
PARAMS = [pytest.param(name, id=name) for name in CASES]


def _loss(name: str) -> Callable[..., Any]:
    return CASES[name][0]


def _args(name: str) -> tuple[Any, ...]:
    return CASES[name][1]


@pytest.mark.parametrize("name", PARAMS)
def test_values_are_numpys_and_gradients_match_central_differences(name: str) -> None:
    f, args = CASES[name]
    value, grads = tapegrad.value_and_grad(f, argnums=tuple(range(len(args))))(*args)
    assert value == pytest.approx(f(*args), rel=1e-12, abs=1e-13)
    assert_close_to(grads, numerical_gradients(f, args))


def test_values_on_values_are_numpys_bit_for_bit() -> None:
    """The kernels make numpy's own calls, on single matrices and on stacks."""
    spd = _spd(STACK)
    checks = [
        (np.linalg.det, STACK), (np.linalg.inv, STACK), (np.linalg.cholesky, spd), (np.linalg.eigvalsh, spd),
        (lambda a: np.linalg.eigh(a).eigenvectors, spd), (lambda a: np.linalg.slogdet(a).logabsdet, STACK),
        (lambda a: np.linalg.slogdet(a).sign, STACK), (lambda a: np.linalg.svd(a, compute_uv=False), TALL),
        (lambda a: np.linalg.svd(a, full_matrices=False).U, TALL), (lambda a: np.linalg.svd(a).Vh, STACK),
        (lambda a: np.linalg.qr(a).Q, TALL), (lambda a: np.linalg.qr(a).R, WIDE),
        (lambda a: np.linalg.solve(a, B), STACK), (lambda a: np.linalg.solve(a, BM), STACK),
    ]  # fmt: skip
    for f, a in checks:
        np.testing.assert_array_equal(np.asarray(f(Value(a)).data), f(a))
        np.testing.assert_array_equal(np.asarray(tapegrad.trace(f, a)(a)), f(a))
    # eigh's eigenvalues are eigvalsh's, svd's S is svd(compute_uv=False)'s: LAPACK without vectors, which
    # may differ from numpy's eigh and svd in the last bits.
    np.testing.assert_allclose(np.linalg.eigh(Value(spd)).eigenvalues.data, np.linalg.eigh(spd).eigenvalues, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.svd(Value(STACK)).S.data, np.linalg.svd(STACK).S, rtol=1e-14)


def test_norms_agree_with_numpy() -> None:
    x = RNG.normal(size=(3, 4, 2))
    for ord, axis in [(None, None), (None, 1), (1, 0), (2, 2), (np.inf, 1), (-np.inf, 0), (0, 1), (0.5, 2), (3, 0),
                      ("fro", (0, 1)), ("nuc", (2, 0)), (1, (0, 2)), (-1, (1, 2)), (2, (0, 1)), (-2, (2, 1)),
                      (np.inf, (1, 0)), (-np.inf, (0, 1))]:  # fmt: skip
        for keepdims in (False, True):
            expected = np.linalg.norm(x, ord, axis, keepdims)
            actual = np.linalg.norm(Value(x), ord, axis, keepdims).data
            np.testing.assert_allclose(actual, expected, rtol=1e-12, err_msg=f"ord={ord} axis={axis}")
    np.testing.assert_allclose(
        np.linalg.vector_norm(Value(x), axis=(0, 2), ord=1).data,
        np.linalg.vector_norm(x, axis=(0, 2), ord=1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        np.linalg.matrix_norm(Value(x), ord="nuc", keepdims=True).data,
        np.linalg.matrix_norm(x, ord="nuc", keepdims=True),
        rtol=1e-12,
    )


def test_the_namespace_tapegrad_numpy_linalg() -> None:
    assert tnp.linalg.det is tnp.linalg.det and tnp.norm is tnp.linalg.norm
    assert tnp.linalg.det(A) == np.linalg.det(A)  # plain arrays compute
    grad = tapegrad.grad(lambda a: tnp.linalg.slogdet(a).logabsdet)(A)
    np.testing.assert_allclose(grad, np.linalg.inv(A).T, rtol=1e-12)
    assert {"np.linalg.det", "np.linalg.eigh", "np.linalg.solve", "np.linalg.svd"} <= set(tnp.SUPPORTED)


# ---------------------------------------------------------------- PyTorch


def _torch_loss(name: str, torch: Any) -> Callable[..., Any]:
    """The same losses written with torch.linalg (float64)."""
    la = torch.linalg

    def w(shape: tuple[int, ...]) -> Any:
        return torch.tensor(_w(shape))

    def spd(x: Any) -> Any:
        return 0.5 * (x + x.mT) + 4.0 * torch.eye(x.shape[-1], dtype=torch.float64)

    losses = {
        "det": lambda a: la.det(a),
        "slogdet": lambda a: la.slogdet(a)[1] * la.slogdet(a)[0],
        "inv": lambda a: (la.inv(a) * w((3, 3))).sum(),
        "solve_vector": lambda a, b: (la.solve(a, b) ** 2).sum(),
        "solve_matrix": lambda a, b: (la.solve(a, b) * w((3, 2))).sum(),
        "cholesky": lambda a: (la.cholesky(spd(a)) * w((3, 3))).sum(),
        "eigvalsh": lambda a: (la.eigvalsh(spd(a)) ** 3).sum(),
        "eigh": lambda a: (la.eigh(spd(a))[1] ** 4 * w((3, 3))).sum(),
        "svdvals_tall": lambda a: (la.svdvals(a) ** 3).sum(),
        "svd_u_tall": lambda a: (la.svd(a, full_matrices=False)[0] ** 2 * w((4, 3))).sum(),
        "svd_vh_tall": lambda a: (la.svd(a, full_matrices=False)[2] ** 2 * w((3, 3))).sum(),
        "svd_u_wide": lambda a: (la.svd(a, full_matrices=False)[0] ** 2 * w((2, 2))).sum(),
        "svd_vh_wide": lambda a: (la.svd(a, full_matrices=False)[2] ** 2 * w((2, 4))).sum(),
        "qr_tall": lambda a: (la.qr(a)[0] * w((4, 3))).sum() + (la.qr(a)[1] ** 2).sum(),
        "qr_wide": lambda a: (la.qr(a)[0] * w((2, 2))).sum() + (la.qr(a)[1] * w((2, 4))).sum(),
        "qr_square": lambda a: (la.qr(a)[1] * w((3, 3))).sum(),
        "norm_fro": lambda a: la.norm(a),
        "norm_2": lambda a: la.matrix_norm(a, 2),
        "norm_nuc": lambda a: la.matrix_norm(a, "nuc"),
        "norm_1_matrix": lambda a: la.matrix_norm(a, 1),
        "norm_vectors": lambda a: (la.vector_norm(a, 3, dim=0) + la.vector_norm(a, float("inf"), dim=1)).sum(),
    }
    return losses[name]


@pytest.mark.parametrize("name", PARAMS)
def test_gradients_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    args = _args(name)
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    _torch_loss(name, torch)(*tensors).backward()
    grads = tapegrad.grad(_loss(name), argnums=tuple(range(len(args))))(*args)
    for ours, theirs in zip(grads, tensors):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- second order, forward mode


def test_the_hessian_of_logdet_is_the_derivative_of_its_gradient() -> None:
    """d^2 log|det A| / dA_ij dA_kl = -inv(A)_li inv(A)_jk, and central differences of the gradient agree."""
    hessian = tapegrad.hessian(lambda a: np.linalg.slogdet(a).logabsdet)(A)
    inverse = np.linalg.inv(A)
    np.testing.assert_allclose(hessian, -np.einsum("li,jk->ijkl", inverse, inverse), rtol=1e-10, atol=1e-13)
    gradient = tapegrad.grad(lambda a: np.linalg.slogdet(a).logabsdet)
    for index in [(0, 1), (2, 2)]:
        step = np.zeros_like(A)
        step[index] = 1e-6
        difference = (gradient(A + step) - gradient(A - step)) / 2e-6
        np.testing.assert_allclose(hessian[(..., *index)], difference, atol=1e-7)


@pytest.mark.parametrize("name", ["det", "solve_vector", "cholesky", "eigh", "svd_u_tall", "qr_wide", "inv"])
def test_hessian_vector_products_match_differences_of_the_gradient(name: str) -> None:
    f, args = CASES[name]
    direction = [RNG.normal(size=np.shape(a)) for a in args]
    products = tapegrad.hvp(f, args, direction)
    gradient = tapegrad.grad(f, argnums=tuple(range(len(args))))
    h = 1e-5
    up = gradient(*[a + h * d for a, d in zip(args, direction)])
    down = gradient(*[a - h * d for a, d in zip(args, direction)])
    for product, u, d in zip(products, up, down):
        np.testing.assert_allclose(product, (u - d) / (2 * h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", PARAMS)
def test_forward_mode_matches_the_gradient(name: str) -> None:
    f, args = CASES[name]
    tangents = [RNG.normal(size=np.shape(a)) for a in args]
    value, tangent = tapegrad.jvp(f, args, tangents)
    grads = tapegrad.grad(f, argnums=tuple(range(len(args))))(*args)
    expected = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents))
    assert float(tangent) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_forward_mode_of_matrix_outputs_matches_finite_differences() -> None:
    """The tangent of each matrix-valued op, element by element (not only contracted with a gradient)."""
    t = RNG.normal(size=(3, 3))
    for f, a in [
        (np.linalg.inv, A),
        (lambda x: np.linalg.cholesky(_spd(x)), A),
        (np.linalg.det, STACK),
        (lambda x: np.linalg.qr(x).Q, TALL),
        (lambda x: np.linalg.svd(x, compute_uv=False), A),
        (lambda x: np.linalg.eigh(_spd(x)).eigenvectors ** 2, A),
        (lambda x: np.linalg.solve(x, BM), A),
    ]:
        direction = t if np.shape(a) == (3, 3) else RNG.normal(size=np.shape(a))
        _, tangent = tapegrad.jvp(f, (a,), (direction,))
        difference = (f(a + 1e-6 * direction) - f(a - 1e-6 * direction)) / 2e-6
        np.testing.assert_allclose(tangent, difference, atol=1e-7)


# ---------------------------------------------------------------- stacks, code, files


MATRIX_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "det": np.linalg.det,
    "logabsdet": lambda a: np.linalg.slogdet(a).logabsdet,
    "inv": lambda a: np.linalg.inv(a) * _w((3, 3)),
    "solve": lambda a: np.linalg.solve(a, BM) ** 2,
    "cholesky": lambda a: np.linalg.cholesky(_spd(a)) * _w((3, 3)),
    "eigvalsh": lambda a: np.linalg.eigvalsh(_spd(a)) ** 3,
    "eigh": lambda a: np.linalg.eigh(_spd(a)).eigenvectors ** 4 * _w((3, 3)),
    "svd": lambda a: np.linalg.svd(a).U ** 2 * _w((3, 3)) + np.linalg.svd(a).Vh ** 4 + np.linalg.svd(a).S[..., None],
    "qr": lambda a: np.linalg.qr(a).Q * _w((3, 3)) + np.linalg.qr(a).R ** 2,
}
"""Functions of a matrix that apply to a stack of them at once, one record per op for the whole stack."""


@pytest.mark.parametrize("name", list(MATRIX_FUNCTIONS))
def test_a_stack_of_matrices_is_a_loop_over_them(name: str) -> None:
    f = MATRIX_FUNCTIONS[name]
    value, batched = tapegrad.value_and_grad(lambda s: np.sum(f(s)))(STACK)
    loop = [tapegrad.value_and_grad(lambda m: np.sum(f(m)))(m) for m in STACK]
    assert value == pytest.approx(sum(v for v, _ in loop), rel=1e-13)
    np.testing.assert_allclose(batched, [g for _, g in loop], rtol=1e-12, atol=1e-14)
    tangent = RNG.normal(size=STACK.shape)
    _, batched_tangent = tapegrad.jvp(lambda s: np.sum(f(s)), (STACK,), (tangent,))
    loop_tangent = sum(float(tapegrad.jvp(lambda m: np.sum(f(m)), (m,), (t,))[1]) for m, t in zip(STACK, tangent))
    assert float(batched_tangent) == pytest.approx(loop_tangent, rel=1e-11)


def test_solve_broadcasts_a_vector_against_a_stack() -> None:
    def f(a: Any, b: Any) -> Any:
        return np.sum(np.linalg.solve(a, b) ** 2)

    ga, gb = tapegrad.grad(f, argnums=(0, 1))(STACK, B)
    loop = [tapegrad.grad(f, argnums=(0, 1))(m, B) for m in STACK]
    np.testing.assert_allclose(ga, [g[0] for g in loop], rtol=1e-12)
    np.testing.assert_allclose(gb, loop[0][1] + loop[1][1], rtol=1e-12)
    assert_close_to([ga, gb], numerical_gradients(f, [STACK, B]))


@pytest.mark.parametrize("name", PARAMS)
def test_generated_numpy_code_computes_the_interpreters_gradient(name: str) -> None:
    args = _args(name)
    tape = tapegrad.grad_tape(tapegrad.trace(_loss(name), *args))
    compiled = tape.compile("numpy")
    for ours, theirs in zip(compiled(*args), tape(*args)):
        np.testing.assert_array_equal(ours, theirs)
    if name not in ("norm_fro", "norm_1_matrix", "norm_vectors"):  # those are sums, abs and max
        assert "np.linalg." in to_source(tape, backend="numpy")  # the kernels, copied with their numpy.linalg calls


@pytest.mark.parametrize("name", PARAMS)
def test_tape_files_keep_linalg_records(name: str) -> None:
    args = _args(name)
    tape = tapegrad.grad_tape(tapegrad.trace(_loss(name), *args))
    loaded = io.loads(io.dumps(tape))
    assert [str(r.op) for r in loaded.records] == [str(r.op) for r in tape.records]
    for ours, theirs in zip(loaded(*args), tape(*args)):
        np.testing.assert_array_equal(ours, theirs)


def test_optimize_merges_the_factorisations_a_gradient_recomputes() -> None:
    """eigh's two rows each factorise; the gradient asks for both again, and the optimiser keeps one of each."""
    tape = tapegrad.grad_tape(tapegrad.trace(_loss("eigh"), A))
    small = tapegrad.optimize(tape)
    assert tape.stats()["eigvalsh"] >= 1 and small.stats()["eigvalsh"] == 1 and small.stats()["eigh_vectors"] == 1
    for ours, theirs in zip(small(A), tape(A)):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["eigh", "svd_u_tall", "cholesky"])
def test_reverse_over_reverse_second_derivatives_match_differences_of_the_gradient(name: str) -> None:
    """grad of (grad . direction): the backward rule differentiated by itself (hvp is forward over reverse).
    eigh's vector rule once divided the whole skew matrix by the gaps: nan on every entry here."""
    f, args = CASES[name]
    direction = [RNG.normal(size=np.shape(a)) for a in args]
    argnums = tuple(range(len(args)))
    gradient = tapegrad.grad(f, argnums=argnums)

    def directional(*xs: Any) -> Any:
        return sum(np.sum(g * d) for g, d in zip(gradient(*xs), direction))

    second = tapegrad.grad(directional, argnums=argnums)(*args)
    h = 1e-5
    up = gradient(*[a + h * d for a, d in zip(args, direction)])
    down = gradient(*[a - h * d for a, d in zip(args, direction)])
    for product, u, d in zip(second, up, down):
        assert np.all(np.isfinite(product))
        np.testing.assert_allclose(product, (u - d) / (2 * h), rtol=1e-5, atol=1e-6)

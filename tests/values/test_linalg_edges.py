"""numpy.linalg on Values at singular and degenerate inputs, strong zeros, misuse, and the formats that
refuse (sympy for factorisations, the math backend): the behaviour table of docs/numpy.md, as tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy

import tapegrad
from tapegrad import Value
from tapegrad.errors import ShapeError, SymbolicLimitError, UnsupportedOpError
from tapegrad.formats.symbolic import to_sympy

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])  # rank 1: det 0, adjugate [[4, -2], [-2, 1]]
STACK = np.stack([SINGULAR, np.array([[2.0, 1.0], [0.5, 3.0]])])


# ---------------------------------------------------------------- singular matrices


def test_det_at_a_singular_matrix_has_the_adjugate_as_gradient() -> None:
    """As PyTorch: the gradient of det is adjugate(A)^T, which is finite (and nonzero) at a rank n-1 matrix."""
    assert np.linalg.det(Value(SINGULAR)).data == 0.0
    np.testing.assert_allclose(tapegrad.grad(np.linalg.det)(SINGULAR), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)
    three = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])  # rank 2
    cofactors = np.array([[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0], [-3.0, 6.0, -3.0]])
    np.testing.assert_allclose(tapegrad.grad(np.linalg.det)(three), cofactors, atol=1e-12)


def test_det_has_no_finite_second_derivative_at_a_singular_matrix() -> None:
    """The adjugate's own rule goes through inv: nan at a singular matrix (documented)."""
    assert np.all(np.isnan(tapegrad.hessian(np.linalg.det)(SINGULAR)))
    regular = STACK[1]
    hessian = tapegrad.hessian(np.linalg.det)(regular)
    assert hessian[0, 0, 1, 1] == pytest.approx(1.0) and hessian[0, 1, 1, 0] == pytest.approx(-1.0)


def test_inv_and_solve_give_nan_for_the_singular_matrices_of_a_stack_only() -> None:
    inverse = np.linalg.inv(Value(STACK)).data
    assert np.all(np.isnan(inverse[0]))
    np.testing.assert_array_equal(inverse[1], np.linalg.inv(STACK[1]))
    x = np.linalg.solve(Value(STACK), np.array([1.0, 1.0])).data
    assert np.all(np.isnan(x[0])) and np.array_equal(x[1], np.linalg.solve(STACK[1], [1.0, 1.0]))
    assert np.all(np.isnan(tapegrad.grad(lambda a: np.linalg.inv(a).sum())(SINGULAR)))


def test_solve_with_a_zero_right_hand_side_is_zero_even_for_a_singular_matrix() -> None:
    np.testing.assert_array_equal(np.linalg.solve(Value(SINGULAR), np.zeros(2)).data, [0.0, 0.0])
    assert np.all(np.isnan(np.linalg.solve(Value(SINGULAR), np.ones((2, 3))).data))


def test_slogdet_at_a_singular_matrix_is_sign_zero_and_minus_infinity_with_a_nan_gradient() -> None:
    sign, logabsdet = np.linalg.slogdet(Value(SINGULAR))
    assert (sign.data, logabsdet.data) == (0.0, -np.inf)
    assert np.all(np.isnan(tapegrad.grad(lambda a: np.linalg.slogdet(a).logabsdet)(SINGULAR)))


def test_slogdets_sign_is_constant_for_gradients() -> None:
    a = np.array([[0.0, 1.0], [1.0, 0.0]])  # det -1
    grad = tapegrad.grad(lambda m: np.linalg.slogdet(m).sign * 3.0 + np.sum(m))(a)
    np.testing.assert_array_equal(grad, np.ones((2, 2)))


def test_cholesky_of_a_matrix_that_is_not_positive_definite_is_nan() -> None:
    stack = np.stack([-np.eye(2), 2.0 * np.eye(2)])
    factor = np.linalg.cholesky(Value(stack)).data
    assert np.all(np.isnan(factor[0]))
    np.testing.assert_array_equal(factor[1], np.sqrt(2.0) * np.eye(2))


def test_cholesky_reads_the_lower_triangle_and_its_gradient_is_symmetric() -> None:
    a = np.array([[4.0, 99.0], [1.0, 3.0]])  # the 99 is never read
    np.testing.assert_array_equal(np.linalg.cholesky(Value(a)).data, np.linalg.cholesky(a))
    grad = tapegrad.grad(lambda m: np.sum(np.linalg.cholesky(m) * np.array([[1.0, 0.0], [2.0, 3.0]])))(a)
    np.testing.assert_allclose(grad, grad.T, rtol=1e-15)
    upper = np.linalg.cholesky(Value(a.T), upper=True).data
    np.testing.assert_array_equal(upper, np.linalg.cholesky(a.T, upper=True))


def test_eigh_with_repeated_eigenvalues() -> None:
    """Eigenvalue gradients stay finite; eigenvector gradients are infinite (as JAX) unless nothing reaches them."""
    a = np.diag([1.0, 1.0, 2.0])
    w = np.arange(9.0).reshape(3, 3)
    values = tapegrad.grad(lambda m: np.sum(np.linalg.eigh(m).eigenvalues ** 2))(a)
    np.testing.assert_array_equal(values, np.diag([2.0, 2.0, 4.0]))
    vectors = tapegrad.grad(lambda m: np.sum(np.linalg.eigh(m).eigenvectors * w))(a)
    assert np.isinf(vectors[0, 1]) and np.isinf(vectors[1, 0])
    assert np.all(np.isfinite(vectors[2]))  # the distinct eigenvalue's pairs keep finite gaps
    strong = tapegrad.grad(lambda m: np.sum(np.linalg.eigh(m).eigenvalues) + 0.0 * np.sum(np.linalg.eigh(m)[1] * w))
    np.testing.assert_array_equal(strong(a), np.eye(3))  # a zero adjoint sends nothing, even over zero gaps


def test_zero_adjoints_send_nothing_through_every_linalg_rule() -> None:
    """Strong zeros: 0 * f(A) has gradient zero even where f's derivative is not finite."""
    repeated = np.eye(3)
    cases = [
        (lambda m: np.linalg.inv(m), SINGULAR), (lambda m: np.linalg.solve(m, np.ones(2)), SINGULAR),
        (lambda m: np.linalg.slogdet(m).logabsdet, SINGULAR), (lambda m: np.linalg.cholesky(m), -np.eye(2)),
        (lambda m: np.linalg.eigh(m).eigenvectors, repeated), (lambda m: np.linalg.svd(m).U, repeated),
        (lambda m: np.linalg.svd(m).Vh, repeated), (lambda m: np.linalg.qr(m).Q, SINGULAR),
    ]  # fmt: skip
    for f, a in cases:
        grad = tapegrad.grad(lambda m, f=f: np.sum(0.0 * f(m)) + np.sum(m))(a)
        np.testing.assert_array_equal(grad, np.ones_like(a))


def test_norms_at_zero_have_a_zero_gradient() -> None:
    np.testing.assert_array_equal(tapegrad.grad(np.linalg.norm)(np.zeros(3)), np.zeros(3))
    np.testing.assert_array_equal(tapegrad.grad(lambda x: np.linalg.norm(x, axis=1).sum())(np.zeros((2, 2))), 0.0)


# ---------------------------------------------------------------- misuse


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: np.linalg.inv(v[0]), "A vector is not a matrix"),
        (lambda v: np.linalg.det(v[:, :2]), "whose last two axes differ"),
        (lambda v: np.linalg.cholesky(v[:0, :0]), "an empty matrix"),
        (lambda v: np.linalg.solve(v, np.ones(4)), "b must be a vector of 3 numbers"),
        (lambda v: np.linalg.solve(v * np.ones((2, 1, 1)), np.ones((3, 3, 1))), "do not broadcast"),
        (lambda v: np.linalg.norm(v.reshape(3, 3, 1), 2), "give axis="),
        (lambda v: np.linalg.norm(v, axis=(0, 0)), "must differ"),
        (lambda v: np.linalg.norm(v, axis=(0, 1, 0)), r"one axis \(a vector norm\) or two"),
        (lambda v: np.linalg.norm(v, axis=2), "out of range"),
    ],
)
def test_bad_shapes_raise_shape_errors_saying_what_is_wrong(call: Any, message: str) -> None:
    v = Value(np.eye(3) + 1.0)
    with pytest.raises(ShapeError, match=message):
        call(v)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: np.linalg.svd(v[:2]), "pass full_matrices=False"),
        (lambda v: np.linalg.qr(v.T[:, :2], mode="complete"), "use mode='reduced'"),
        (lambda v: np.linalg.qr(v, mode="raw"), "use 'reduced'"),
        (lambda v: np.linalg.eigh(v, UPLO="X"), "UPLO must be 'L' or 'U'"),
        (lambda v: np.linalg.norm(v, "fro", axis=0), "is a matrix norm"),
        (lambda v: np.linalg.norm(v, 3), "is not a matrix norm"),
    ],
)
def test_unsupported_arguments_are_refused_by_name(call: Any, message: str) -> None:
    with pytest.raises(UnsupportedOpError, match=message):
        call(Value(np.eye(3) + 1.0))


def test_square_modes_that_equal_the_reduced_ones_are_accepted() -> None:
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    u, s, vh = np.linalg.svd(Value(a))  # full_matrices=True of a square matrix
    np.testing.assert_allclose((u.data * s.data) @ vh.data, a, rtol=1e-14)
    q, r = np.linalg.qr(Value(a), mode="complete")
    np.testing.assert_array_equal(q.data, np.linalg.qr(a, mode="complete").Q)
    np.testing.assert_array_equal(np.linalg.qr(Value(a), mode="r").data, np.linalg.qr(a, mode="r"))


# ---------------------------------------------------------------- formats that refuse or write formulas


def test_sympy_writes_det_inv_and_solve_of_small_matrices() -> None:
    tape = tapegrad.trace(
        lambda a, b: np.linalg.det(a) * np.sum(np.linalg.solve(a, b)), np.eye(2), np.ones(2), names=["a", "b"]
    )
    formula = to_sympy(tape)
    a00, a01, a10, a11, b0, b1 = sympy.symbols("a_0_0 a_0_1 a_1_0 a_1_1 b_0 b_1")
    expected = (a11 * b0 - a01 * b1) + (a00 * b1 - a10 * b0)  # det * (adj b / det), summed
    assert sympy.simplify(formula - expected) == 0
    inverse = to_sympy(tapegrad.trace(np.linalg.inv, 2.0 * np.eye(2), names=["a"]))
    assert sympy.simplify(inverse[0, 0] - a11 / (a00 * a11 - a01 * a10)) == 0


def test_sympy_refuses_large_determinants_and_factorisations_it_has_no_formula_for() -> None:
    with pytest.raises(SymbolicLimitError, match="at most 4x4"):
        to_sympy(tapegrad.trace(np.linalg.det, np.eye(5), names=["a"]))
    for f in (np.linalg.eigvalsh, lambda a: np.linalg.svd(a).U, lambda a: np.linalg.qr(a).R):
        with pytest.raises(UnsupportedOpError, match="has no formula symbolic export can write"):
            to_sympy(tapegrad.trace(f, np.eye(2), names=["a"]))


def test_the_math_backend_refuses_linalg_tapes_clearly() -> None:
    tape = tapegrad.trace(np.linalg.det, np.eye(2))
    with pytest.raises(UnsupportedOpError, match=r"uses array ops \(det\).*backend=\"numpy\""):
        tape.compile("math")


def test_tape_files_charge_factorisations_their_cubic_work_and_solves_their_broadcast_size() -> None:
    """A small file must not make the loader factorise large matrices or allocate a large solution."""
    from tapegrad.errors import TapeFormatError

    det = tapegrad.trace(np.linalg.det, np.eye(600))
    with pytest.raises(TapeFormatError, match="element operations"):
        tapegrad.io.loads(tapegrad.io.dumps(det), max_work=10**8)  # 600**3 > 1e8 > 600**2
    assert tapegrad.io.loads(tapegrad.io.dumps(det), max_work=10**9)(np.eye(600)) == 1.0
    wide = tapegrad.trace(np.linalg.solve, np.ones((1000, 2, 2)) + np.eye(2), np.ones((2, 1000)))
    with pytest.raises(TapeFormatError, match="more than 100,000 elements"):
        tapegrad.io.loads(tapegrad.io.dumps(wide), max_elements=100_000)  # operands 6,000, solution 2,000,000


def test_tape_files_charge_each_matrix_of_a_stack_for_the_matrix_by_matrix_fallback() -> None:
    """A 300-byte file once took 15 s to load: one nan matrix in a broadcast stack of two million 1x1 ones
    sends svdvals matrix by matrix (about 6 us each); each matrix is now charged MATRIX_WORK."""
    from tapegrad.errors import TapeFormatError
    from tapegrad.formats.io_arrays import MATRIX_WORK

    def f(x: Any) -> Any:
        return np.sum(np.linalg.svdvals(np.broadcast_to(x * np.nan, (2_000_000, 1, 1))))

    text = tapegrad.io.dumps(tapegrad.trace(f, np.ones((1, 1))))
    assert len(text) < 1000 and MATRIX_WORK * 2_000_000 > 2**30
    with pytest.raises(TapeFormatError, match="element operations"):
        tapegrad.io.loads(text)
    small = tapegrad.trace(lambda x: np.sum(np.linalg.svdvals(np.broadcast_to(x, (100, 2, 2)))), np.eye(2))
    assert tapegrad.io.loads(tapegrad.io.dumps(small))(np.eye(2)) == 200.0

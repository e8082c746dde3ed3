"""Array Values (issue 7): every op's value and gradient, and the examples of the issue, exactly.

Every array op, and every elementwise op applied to arrays with numpy
broadcasting (the cases of ``array_cases.py``), is checked the same way: its
value against numpy, and its gradient, by eager ``backward()`` and by
``tapegrad.grad``, against central finite differences of the numpy reference
in float64.  The tapes of each case (replay, ``tape.gradient``, ``grad_tape``
and its optimised form) must agree with the eager gradient bit for bit, and a
second-order check differentiates each recorded backward pass again, which
exercises the backward rules of the ops that only backward passes record
(``broadcast_to``, ``sum_to``, ``scatter``).

Random shapes (hypothesis) live in ``test_arrays_properties.py``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from support import FD_STEP, FD_TOLERANCE, assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value
from tapegrad.core.linalg_rules import TANGENTS as LINALG_TANGENTS
from tapegrad.core.ops import OPS, OpKind

from .array_cases import (
    ALL_CASES,
    CASE_PARAMS,
    ELEMENTWISE_CASES,
    FD2_TOLERANCE,
    Case,
    assert_identical,
    eager_gradients,
    reference_loss,
    weighted,
)

# ---------------------------------------------------------------- every op: values and gradients


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_value_matches_numpy(case: Case) -> None:
    xs = case.inputs()
    out = case.f(*[Value(x) for x in xs])
    expected = case.reference(*xs)
    assert isinstance(out, Value)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_backward_matches_finite_differences(case: Case) -> None:
    xs = case.inputs()
    grads = eager_gradients(case, xs)
    assert_close_to(grads, numerical_gradients(reference_loss(case), xs), FD_TOLERANCE)
    for g in grads:
        assert np.asarray(g).dtype == np.float64


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_grad_matches_finite_differences(case: Case) -> None:
    xs = case.inputs()
    grads = tapegrad.grad(case.loss(), argnums=tuple(range(len(xs))))(*xs)
    assert_close_to(grads, numerical_gradients(reference_loss(case), xs), FD_TOLERANCE)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_tapes_agree_with_backward_bit_for_bit(case: Case) -> None:
    """Replay, ``tape.gradient``, ``grad_tape`` and the optimised gradient tape compute what backward() does."""
    xs = case.inputs()
    loss = case.loss()
    eager = eager_gradients(case, xs)
    eager_value = loss(*[Value(x) for x in xs]).data
    tape = tapegrad.trace(loss, *xs)
    assert_identical([tape(*xs)], [eager_value])
    assert_identical(tape.gradient(*xs), eager)
    value, *grads = tapegrad.grad_tape(tape)(*xs)
    assert_identical([value, *grads], [eager_value, *eager])
    value, *grads = tapegrad.optimize(tapegrad.grad_tape(tape))(*xs)
    assert_identical([value, *grads], [eager_value, *eager])


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_second_derivatives_match_finite_differences_of_the_gradient(case: Case) -> None:
    """d/dx <grad f(x), v> by nested ``tapegrad.grad``: the recorded backward rules are differentiated in turn."""
    xs = case.inputs()
    n = len(xs)
    directions = case.inputs(seed=2)
    loss = case.loss()
    tape = tapegrad.trace(loss, *xs)

    def directional(*args: Any) -> Any:
        grads = tapegrad.grad(loss, argnums=tuple(range(n)))(*args)
        return sum(weighted(g, v) for g, v in zip(grads, directions))

    def directional_numbers(*args: np.ndarray) -> float:
        return float(sum(np.sum(np.asarray(g) * v) for g, v in zip(tape.gradient(*args), directions)))

    second = tapegrad.grad(directional, argnums=tuple(range(n)))(*xs)
    assert_close_to(second, numerical_gradients(directional_numbers, xs), FD2_TOLERANCE)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_jvp_matches_finite_differences_along_a_direction(case: Case) -> None:
    """Forward mode (``tapegrad.jvp``): the directional derivative, one tangent per input."""
    xs, directions = case.inputs(), case.inputs(seed=3)
    value, tangent = tapegrad.jvp(case.f, xs, directions)
    np.testing.assert_array_equal(value, case.f(*[Value(x) for x in xs]).data)
    up = case.reference(*[x + FD_STEP * t for x, t in zip(xs, directions)])
    down = case.reference(*[x - FD_STEP * t for x, t in zip(xs, directions)])
    assert_close_to([tangent], [np.asarray((up - down) / (2 * FD_STEP))], FD_TOLERANCE)


def _kinds_recorded_by(case: Case) -> set[OpKind]:
    """The ops on the case's tape and on its gradient tape (which the second-order test differentiates)."""
    xs = case.inputs()
    return set(tapegrad.trace(case.f, *xs).ops) | set(tapegrad.grad_tape(tapegrad.trace(case.loss(), *xs)).ops)


def test_every_differentiable_op_is_checked_here() -> None:
    """Adding an op to the table forces a case here: each differentiable op is recorded by some case.

    Ops recorded only by backward rules (``broadcast_to``, ``sum_to``,
    ``scatter``...) count when a case's gradient tape records them: the
    second-order test checks their rules against finite differences.
    """
    recorded: set[OpKind] = set()
    for case in ALL_CASES:
        recorded |= _kinds_recorded_by(case)
    array_ops = {op.kind for op in OPS if op.vjp is not None and not op.elementwise}
    array_ops -= {op.kind for op in OPS if op.name in LINALG_TANGENTS}  # numpy.linalg: tests/values/test_linalg.py
    assert array_ops <= recorded, f"no case records {sorted(str(k) for k in array_ops - recorded)}"
    # issue 16's elementwise ops (from tan on) are specified in tests/core/test_more_ops.py
    elementwise = {op.kind for op in OPS if op.vjp is not None and op.elementwise and op.kind < OpKind.TAN}
    assert elementwise <= recorded, f"no case records {sorted(str(k) for k in elementwise - recorded)}"
    forward_only = set()
    for case in ALL_CASES:
        forward_only |= set(tapegrad.trace(case.f, *case.inputs()).ops)
    assert array_ops <= forward_only, "each array op also has a first-order case of its own"


def test_elementwise_cases_broadcast_and_cover_size_one_and_empty_axes() -> None:
    shapes = [s for case in ELEMENTWISE_CASES for s in case.shapes]
    assert any(0 in s for s in shapes) and any(1 in s for s in shapes) and () in shapes
    assert sum(len({*case.shapes}) > 1 for case in ELEMENTWISE_CASES) >= 10


# ---------------------------------------------------------------- the examples of the issue, exactly


def test_an_embedding_lookup_adds_the_gradient_of_every_repeated_row() -> None:
    table = Value(np.arange(12.0).reshape(4, 3))
    ids = np.array([[1, 1], [3, 1]])
    rows = table[ids]
    assert rows.shape == (2, 2, 3)
    (rows * np.arange(1.0, 5.0).reshape(2, 2, 1)).sum().backward()
    np.testing.assert_array_equal(table.grad, [[0, 0, 0], [1 + 2 + 4] * 3, [0, 0, 0], [3, 3, 3]])


def test_picking_targets_with_arange_is_a_gather() -> None:
    logits = Value(np.arange(6.0).reshape(2, 3))
    picked = logits[np.arange(2), np.array([2, 0])]
    np.testing.assert_array_equal(picked.data, [2.0, 3.0])
    (picked * np.array([10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(logits.grad, [[0, 0, 10], [100, 0, 0]])


def test_cross_entropy_of_uniform_logits_is_log_of_the_class_count() -> None:
    logits = Value(np.zeros((4, 5)))
    loss = tapegrad.cross_entropy(logits, np.array([0, 1, 2, 4]))
    assert loss.shape == ()
    assert math.isclose(loss.data, math.log(5), rel_tol=1e-15)
    loss.backward()
    # softmax - onehot, over the batch size
    expected = np.full((4, 5), 0.2)
    expected[np.arange(4), [0, 1, 2, 4]] -= 1.0
    np.testing.assert_allclose(logits.grad, expected / 4, rtol=1e-15, atol=1e-17)


def test_softmax_rows_sum_to_one() -> None:
    # exp(x - logsumexp(x)): each probability within a few ulps, so their sum within 1e-14.
    x = Value(np.random.default_rng(3).normal(size=(4, 6)) * 10)
    np.testing.assert_allclose(x.softmax().data.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(x.log_softmax().exp().data, x.softmax().data)


@pytest.mark.parametrize("big", [1000.0, -1000.0, 1e300])
def test_logsumexp_is_stable_for_huge_logits(big: float, no_warnings: None) -> None:
    x = Value(np.array([[big, big, big - 1.0], [0.0, 1.0, 2.0]]))
    out = x.logsumexp(axis=1)
    assert math.isclose(out.data[0], big + math.log(2.0 + math.exp(-1.0)), rel_tol=1e-15)
    assert math.isclose(out.data[1], math.log(1 + math.e + math.e**2), rel_tol=1e-15)
    assert np.all(np.isfinite(tapegrad.softmax(x).data))
    out.sum().backward()
    assert np.all(np.isfinite(x.grad))
    if big != 1e300:  # at 1e300, big - 1 == big and log(3) is below big's ulp (see the xfail below)
        # exp(x - logsumexp(x)): x - logsumexp(x) is exact only to the ulp of 1000 (1.1e-13).
        soft_top = np.array([1.0, 1.0, math.exp(-1.0)]) / (2.0 + math.exp(-1.0))
        np.testing.assert_allclose(x.grad[0], soft_top, rtol=2e-13)
        np.testing.assert_allclose(tapegrad.softmax(x).data[0], soft_top, rtol=2e-13)
    loss = tapegrad.cross_entropy(Value(np.array([[big, 0.0], [0.0, big]])), np.array([0, 0]))
    assert math.isclose(loss.data, abs(big) / 2, rel_tol=1e-15)  # one row certain (loss 0), one impossible (|big|)


def test_softmax_of_equal_huge_logits_is_uniform() -> None:
    np.testing.assert_allclose(Value(np.array([1e16, 1e16])).softmax().data, [0.5, 0.5], rtol=1e-15)


def test_logsumexp_of_a_row_of_minus_infinity_is_minus_infinity() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Value(np.array([[-np.inf, -np.inf, -np.inf], [0.0, math.log(2.0), -np.inf]]))
        out = x.logsumexp(axis=1)
        assert out.data[0] == -np.inf
        assert math.isclose(out.data[1], math.log(3.0), rel_tol=1e-15)
        assert tapegrad.logsumexp(Value(np.full(4, -np.inf))).data == -np.inf
        (out * np.array([0.0, 1.0])).sum().backward()
        # A zero adjoint stops at the -inf row (strong zero, although exp(-inf - -inf) is nan there);
        # the finite row is unaffected by its neighbour, and its -inf logit gets no gradient.
        np.testing.assert_allclose(x.grad[1], [1 / 3, 2 / 3, 0.0], rtol=1e-15)
        np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])


def test_logsumexp_over_an_empty_axis_is_minus_infinity() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Value(np.zeros((2, 0))).logsumexp(axis=1)
    np.testing.assert_array_equal(out.data, [-np.inf, -np.inf])


def test_value_holds_arrays_as_the_contract_says() -> None:
    source = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v = Value(source)
    source[0, 0] = 99.0  # copied on construction
    assert v.data[0, 0] == 1.0
    assert (v.shape, v.ndim, v.size, v.dtype, len(v), v.T.shape) == ((2, 3), 2, 6, np.float64, 2, (3, 2))
    np.testing.assert_array_equal(v.grad, np.zeros((2, 3)))
    assert Value(np.array([1, 2])).dtype == np.float64
    assert Value(np.array([True, False])).dtype == np.float64
    assert Value(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Value([1.0, 2.0]).shape == (2,)
    assert type(Value(3.0).data) is float
    assert [row.data.tolist() for row in v] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    np.testing.assert_array_equal((v > 2.0).data, [[0, 0, 1], [1, 1, 1]])
    np.testing.assert_array_equal((v <= 2.0).data, [[1, 1, 0], [0, 0, 0]])

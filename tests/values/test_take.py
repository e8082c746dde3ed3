"""Indices held by a Value: a traced training step takes a new minibatch on every call.

Indexing with a numpy array records the indices as an attribute, fixed for
every replay; ``x[idx]`` with a Value ``idx`` (and ``cross_entropy`` with
Value targets) records ``take``, whose indices are an operand, so replays,
gradient tapes, generated code and tape files all take new ones.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad
from tapegrad import Value, io
from tapegrad.errors import UnsupportedOpError

RNG = np.random.default_rng(7)
C = RNG.normal(size=(27, 4))
W = RNG.normal(size=(12, 27))
BATCHES = [(RNG.integers(0, 27, size=(8, 3)), RNG.integers(0, 27, size=8)) for _ in range(3)]


def loss(C: object, W: object, X: object, Y: object) -> object:
    """A makemore-style step: embed three characters, one linear layer, cross-entropy."""
    return tapegrad.cross_entropy(C[X].reshape(8, 12) @ W, Y)  # type: ignore[index, attr-defined]


def eager(X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The step with the batch as numpy arrays (indices recorded as attributes), fresh parameters."""
    c, w = Value(C), Value(W)
    out = loss(c, w, X, Y)
    out.backward()  # type: ignore[attr-defined]
    return out.data, c.grad, w.grad  # type: ignore[attr-defined]


def test_the_tape_records_take_with_the_indices_as_inputs() -> None:
    tape = tapegrad.trace(loss, C, W, *BATCHES[0])
    assert tape.stats()["take"] == 3 and "getitem" not in tape.stats()  # embedding, target check, pick
    assert "%4: f64[8,3,4] = take %0 %2" in str(tape)


@pytest.mark.parametrize("k", range(3))
def test_one_tape_replays_every_minibatch_bit_for_bit(k: int) -> None:
    tape = tapegrad.trace(loss, C, W, *BATCHES[0])
    X, Y = BATCHES[k]
    value, grads = tape.value_and_gradient(C, W, X, Y)
    expected = eager(X, Y)
    assert value == expected[0]
    np.testing.assert_array_equal(grads[0], expected[1])
    np.testing.assert_array_equal(grads[1], expected[2])
    assert not grads[2].any() and not grads[3].any()  # indices get no gradient


def test_compiled_code_takes_each_minibatch() -> None:
    tape = tapegrad.trace(loss, C, W, *BATCHES[0])
    step = tapegrad.optimize(tapegrad.grad_tape(tape, wrt=("C", "W"))).compile("numpy")
    for X, Y in BATCHES:
        value, grad_c, grad_w = step(C, W, X, Y)  # integer arrays go straight in
        expected = eager(X, Y)
        assert value == pytest.approx(expected[0], rel=1e-15)
        np.testing.assert_allclose(grad_c, expected[1], rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(grad_w, expected[2], rtol=1e-14, atol=1e-16)


def test_repeated_rows_add_their_gradients() -> None:
    c = Value(np.zeros((3, 2)))
    (c[Value(np.array([2.0, 2.0, 0.0]))] * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(c.grad, [[5.0, 6.0], [0.0, 0.0], [4.0, 6.0]])


def test_a_tape_file_keeps_take_and_replays_new_batches() -> None:
    tape = tapegrad.trace(loss, C, W, *BATCHES[0])
    loaded = io.loads(io.dumps(tape))
    X, Y = BATCHES[2]
    assert loaded(C, W, X, Y) == tape(C, W, X, Y) == eager(X, Y)[0]


def test_second_order_and_forward_mode_go_through_take() -> None:
    idx = Value(np.array([1.0, 1.0, 0.0]))

    def f(x: object) -> object:
        return (x[idx] ** 3).sum()  # type: ignore[index]

    x = np.array([0.5, -2.0])
    # d/dx sum over picks of x^3 = 3 x^2 * count; second derivative 6 x * count
    np.testing.assert_allclose(tapegrad.grad(f)(x), [3 * 0.25, 3 * 4.0 * 2])
    np.testing.assert_allclose(tapegrad.hessian(f)(x), np.diag([6 * 0.5, 6 * -2.0 * 2]))
    _, tangent = tapegrad.jvp(f, (x,), (np.array([1.0, 0.0]),))
    assert tangent == pytest.approx(0.75)


def test_replaying_with_fractional_indices_is_refused() -> None:
    tape = tapegrad.trace(lambda x, i: x[i].sum(), np.arange(3.0), np.array([0, 2]))
    assert tape(np.arange(3.0), np.array([1, 1])) == 2.0
    with pytest.raises(ValueError, match=r"indices must be whole numbers in \[0, 3\)"):
        tape(np.arange(3.0), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"indices must be whole numbers in \[0, 3\); got -1"):
        tape(np.arange(3.0), np.array([-1, 1]))


def test_replaying_with_a_target_that_is_no_class_is_refused() -> None:
    """A target of 27 with 27 classes would pick the next row's first log-probability if it were not checked."""
    tape = tapegrad.trace(loss, C, W, *BATCHES[0])
    X, Y = BATCHES[1]
    bad = Y.copy()
    bad[0] = 27
    with pytest.raises(ValueError, match=r"indices must be whole numbers in \[0, 27\)"):
        tape(C, W, X, bad)
    step = tapegrad.optimize(tapegrad.grad_tape(tape, wrt=("C", "W"))).compile("numpy")
    with pytest.raises(ValueError, match=r"in \[0, 27\)"):
        step(C, W, X, bad)


def test_a_formula_cannot_index_by_a_symbol() -> None:
    tape = tapegrad.trace(lambda x, i: x[i].sum(), np.arange(3.0), np.array([0, 2]))
    with pytest.raises(UnsupportedOpError, match="cannot index by a symbol"):
        tape.to_sympy()

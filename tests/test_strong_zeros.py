"""Strong zeros in every mode (forward, second order, through matmul) and signed zeros in every engine.

Issue 14, items 9-12: reverse mode's strong zeros (an exactly-zero adjoint
propagates nothing, even through an inf or nan derivative) must hold in
forward mode, in second derivatives and through contractions, and every
engine must give the same bits, signed zeros included, by PyTorch's rule:
the first contribution to a gradient is the gradient, later ones are added,
an input nothing reaches gets +0.0.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad
import tapegrad.lab.closure
from tapegrad import Value, where
from tapegrad.core.kernels import _smatmul, _smul
from tapegrad.formats.codegen import compile_tape
from tapegrad.functional.transforms import gradient_tape


def bits(x: Any) -> bytes:
    """The bit pattern of a float, or of every element of an array (tells -0.0 from 0.0)."""
    return np.asarray(x, dtype=np.float64).tobytes() if isinstance(x, np.ndarray) else struct.pack("<d", x)


# ---------------------------------------------------------------- item 9: forward mode


def sqrt_where_positive(x: Any) -> Any:
    return where(x > 0, x.sqrt(), 0.0)


def tanh_of_exp(x: Any) -> Any:
    return x.exp().tanh()


@pytest.mark.parametrize(("f", "x"), [(sqrt_where_positive, -1.0), (tanh_of_exp, 1000.0)])
def test_forward_mode_keeps_the_strong_zeros_of_grad(f: Callable[[Any], Any], x: float) -> None:
    assert tapegrad.grad(f)(x) == 0.0
    assert tapegrad.jvp(f, (x,), (1.0,))[1] == 0.0  # was nan: an inf/nan tangent times a zero partial
    tape = tapegrad.trace(f, x)
    for jvp_tape in (tapegrad.jvp_tape(tape), tapegrad.optimize(tapegrad.jvp_tape(tape))):
        assert jvp_tape(x, 1.0)[1] == 0.0
        assert compile_tape(jvp_tape)(x, 1.0)[1] == 0.0
    batch = tapegrad.jvp_tape(tape)(np.array([x, x]), np.array([1.0, 1.0]))[1]
    assert list(batch) == [0.0, 0.0]


def test_a_zero_tangent_stops_an_infinite_partial() -> None:
    # d/dx of x * sqrt(y) at y = 0 is sqrt(0) = 0; sqrt'(0) = inf must not meet y's zero tangent as nan.
    f = lambda x, y: x * y.sqrt()  # noqa: E731
    assert tapegrad.jvp(f, (1.0, 0.0), (1.0, 0.0))[1] == 0.0
    assert tapegrad.grad(f, argnums=0)(1.0, 0.0) == 0.0


# ---------------------------------------------------------------- item 10: second order


def x_sqrt_x_where_positive(x: Any) -> Any:
    return where(x > 0, x * x.sqrt(), 0.0)


def test_second_derivatives_keep_strong_zeros() -> None:
    f = x_sqrt_x_where_positive  # constant 0 for x <= 0
    assert tapegrad.grad(f)(-1.0) == 0.0
    assert tapegrad.grad(tapegrad.grad(f))(-1.0) == 0.0  # was nan
    assert tapegrad.hessian(f)(-1.0) == 0.0
    assert tapegrad.hvp(f, (-1.0,), (1.0,)) == (0.0,)
    second = tapegrad.grad_tape(gradient_tape(tapegrad.trace(f, -1.0)))
    assert second(-1.0)[1] == 0.0
    assert tapegrad.optimize(second)(-1.0)[1] == 0.0
    # and where the function is not constant, the second derivative is still right: 0.75 / sqrt(x)
    assert tapegrad.grad(tapegrad.grad(f))(4.0) == 0.375
    assert tapegrad.hvp(f, (4.0,), (2.0,)) == (0.75,)


def test_strong_multiply_is_strong_on_both_sides() -> None:
    assert bits(_smul(0.0, math.inf)) == bits(0.0)
    assert bits(_smul(-0.0, math.nan)) == bits(-0.0)
    assert bits(_smul(math.inf, 0.0)) == bits(0.0)  # was nan: a zero partial stops an infinite adjoint
    assert bits(_smul(math.nan, -0.0)) == bits(-0.0)
    assert bits(_smul(-2.0, 0.0)) == bits(-0.0)  # a finite adjoint keeps the product and its sign
    assert _smul(math.inf, 2.0) == math.inf and math.isnan(_smul(math.nan, 2.0))
    smul = tapegrad.core.ops.OPS[tapegrad.core.ops.OpKind.SMUL]
    g, y = np.array([0.0, math.inf, math.nan, -2.0, 3.0]), np.array([math.inf, 0.0, -0.0, 0.0, 2.0])
    with np.errstate(all="ignore"):
        assert bits(smul.array(g, y)) == bits(np.array([0.0, 0.0, -0.0, -0.0, 6.0]))
        assert bits(smul.array(g, 0.0)) == bits(np.array([0.0, 0.0, 0.0, -0.0, 0.0]))


def test_optimizer_keeps_a_strong_product_with_an_infinite_constant() -> None:
    # smul(c, x) may become c * x only for a finite c: smul(inf, 0.0) is 0.0, inf * 0.0 is nan.
    smul = tapegrad.core.ops.OPS[tapegrad.core.ops.OpKind.SMUL]
    tape = tapegrad.trace(lambda x: tapegrad.values.value.apply(smul, math.inf, x), 1.0)
    assert tapegrad.optimize(tape)(0.0) == tape(0.0) == 0.0
    assert tapegrad.optimize(tape)(2.0) == math.inf


# ---------------------------------------------------------------- item 11: matmul

W = np.array([[1.0, math.inf], [1.0, 1.0]])


def first_entry_of_product(X: Any) -> Any:
    return (X @ W)[0, 0]


def test_matmul_gradient_is_what_the_scalar_program_gives() -> None:
    X = np.ones((2, 2))
    scalar = tapegrad.grad(lambda a, b: a * W[0, 0] + b * W[1, 0], argnums=(0, 1))(1.0, 1.0)
    expected = np.array([[scalar[0], scalar[1]], [0.0, 0.0]])
    assert expected.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    v = Value(X)
    first_entry_of_product(v).backward()
    tape = tapegrad.trace(first_entry_of_product, X)
    full = tapegrad.grad_tape(tape)
    got = {
        "eager": v.grad,
        "replay": tape.gradient(X)[0],
        "grad": tapegrad.grad(first_entry_of_product)(X),
        "grad_tape": full(X)[1],
        "optimize": tapegrad.optimize(full)(X)[1],
        "numpy code": compile_tape(tapegrad.optimize(full), "numpy")(X)[1],
    }
    for engine, gradient in got.items():
        assert bits(gradient) == bits(expected), engine


def test_matmul_forward_mode_and_gradient_with_respect_to_the_infinite_operand() -> None:
    X = np.array([[1.0, 0.0], [2.0, 3.0]])
    f = lambda w: (X @ w)[0, 0]  # noqa: E731  reads w[0, 0] and w[1, 0] (times 0)
    weights = np.array([[1.0, 2.0], [math.inf, 1.0]])
    # scalar program: 1 * w00 + 0 * w10, whose w10-derivative is 0 and whose w00-derivative is 1
    assert tapegrad.grad(f)(weights).tolist() == [[1.0, 0.0], [0.0, 0.0]]
    tangent = np.zeros((2, 2))
    tangent[0, 0] = 1.0
    assert tapegrad.jvp(f, (weights,), (tangent,))[1] == 1.0
    # (X @ W)[0, 1] is x00 * inf + x01 * 1: along x01 alone its tangent is 1 (x00's zero tangent meets the inf)
    tangent = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert tapegrad.jvp(lambda x: (x @ W)[0, 1], (np.ones((2, 2)),), (tangent,))[1] == 1.0
    assert tapegrad.jvp(lambda a, b: a * W[0, 1] + b * W[1, 1], (1.0, 1.0), (0.0, 1.0))[1] == 1.0


VALUES = np.array([0.0, -0.0, 1.0, -2.0, 3.5, 1e300, math.inf, -math.inf, math.nan])


def _reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The strong product element by element: finite terms summed by matmul, then inf and nan terms."""
    out = np.matmul(np.where(np.isfinite(x), x, 0.0), np.where(np.isfinite(y), y, 0.0))
    for index in np.ndindex(out.shape):
        *batch, i, k = index
        terms = [_smul(float(a), float(b)) for a, b in zip(x[(*batch, i)], y[..., k])]
        infinite = {t for t in terms if not math.isfinite(t)}
        if any(math.isnan(t) for t in infinite) or infinite == {math.inf, -math.inf}:
            out[index] = math.nan
        elif infinite:
            out[index] = out[index] + infinite.pop()
    return out


def test_strong_matmul_matches_strong_scalar_products() -> None:
    rng = np.random.default_rng(14)
    with np.errstate(all="ignore"):
        for _ in range(300):
            x, y = rng.choice(VALUES, size=(2, 3, 4)), rng.choice(VALUES, size=(4, 5))
            assert np.array_equal(_smatmul(x, y), _reference(x, y), equal_nan=True)
        x32 = np.array([[0.0, 1.0]], dtype=np.float32)
        assert _smatmul(x32, np.array([[np.inf], [2.0]], dtype=np.float32)).dtype == np.float32


def test_strong_matmul_costs_nothing_without_a_nan() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 20)), rng.normal(size=(20, 10))
    assert bits(_smatmul(x, y)) == bits(x @ y)
    y[3, 4] = math.inf
    x[x[:, 3] == 0.0, 3] = 1.0  # no zero meets the inf: still the plain product
    assert bits(_smatmul(x, y)) == bits(x @ y)


# ---------------------------------------------------------------- item 12: signed zeros


def relu_of_minus(x: Any, lib: Any = tapegrad) -> Any:
    return (-x).relu()


def times_minus_zero(x: Any, lib: Any = tapegrad) -> Any:
    return x * -0.0


def where_of_minus(x: Any, lib: Any = tapegrad) -> Any:
    return lib.where(x > 5.0, -x, 0.0)  # the branch not taken gets +0.0, and neg turns it into -0.0


def zero_times_minus(x: Any, lib: Any = tapegrad) -> Any:
    return lib.where(x > 5.0, x, 0.0) * -x  # x gets -0.0 through neg first, then +0.0 through where: +0.0


def every_engine(f: Callable[..., Any], x: float) -> dict[str, float]:
    """d f / dx at ``x`` from every engine, reverse and forward mode."""
    v, c = Value(x), tapegrad.lab.closure.Value(x)
    f(v).backward()
    f(c, tapegrad.lab.closure).backward()
    tape = tapegrad.trace(f, x)
    full = tapegrad.grad_tape(tape)
    with tapegrad.debug_nans():  # takes the generic loop instead of the float fast path
        generic = tape.gradient(x)[0]
    return {
        "eager": v.grad,
        "closure": c.grad,
        "tape.gradient": tape.gradient(x)[0],
        "generic loop": generic,
        "array replay": float(tape.gradient(np.array([x]))[0][0]),
        "grad": tapegrad.grad(f)(x),
        "grad_tape": full(x)[1],
        "optimize": tapegrad.optimize(full)(x)[1],
        "math code": compile_tape(tapegrad.optimize(full))(x)[1],
        "numpy code": float(compile_tape(tapegrad.optimize(full), "numpy")(np.array([x]))[1][0]),
        "jvp": tapegrad.jvp(f, (x,), (1.0,))[1],
        "jvp_tape optimized": tapegrad.optimize(tapegrad.jvp_tape(tape))(x, 1.0)[1],
        "jvp math code": compile_tape(tapegrad.optimize(tapegrad.jvp_tape(tape)))(x, 1.0)[1],
    }


@pytest.mark.parametrize(
    ("f", "expected"),
    [(relu_of_minus, -0.0), (times_minus_zero, -0.0), (where_of_minus, -0.0), (zero_times_minus, 0.0)],
)
def test_signed_zero_gradients_agree_bit_for_bit(f: Callable[..., Any], expected: float) -> None:
    for engine, gradient in every_engine(f, 1.0).items():
        assert bits(gradient) == bits(expected), f"{engine} gave {gradient!r}"


def test_an_input_nothing_reaches_has_gradient_plus_zero() -> None:
    tape = tapegrad.trace(lambda x, y: x * 2.0, 1.0, 3.0)
    assert bits(tape.gradient(1.0, 3.0)[1]) == bits(0.0)
    assert bits(tapegrad.grad_tape(tape)(1.0, 3.0)[2]) == bits(0.0)
    y = Value(3.0)
    assert bits(y.grad) == bits(0.0)


def test_eager_leaf_gradient_accumulates_after_the_first_contribution() -> None:
    x = Value(1.0)
    (x * -0.0).backward()
    assert bits(x.grad) == bits(-0.0)  # was +0.0: the leaf started at +0.0 and +0.0 + -0.0 is +0.0
    (x * 2.0).backward()
    assert x.grad == 2.0
    x.grad = 0.0  # an explicit zero is a value like any other (as PyTorch's zero_grad(set_to_none=False))
    (x * -0.0).backward()
    assert bits(x.grad) == bits(0.0)


def test_eager_gradient_through_linked_tapes_keeps_a_minus_zero() -> None:
    x = Value(1.0)
    h = -x  # recorded on one eager tape
    h.relu().backward()  # closes it: relu's zero adjoint reaches x as -0.0
    assert bits(x.grad) == bits(-0.0)
    x2 = Value(1.0)
    h2 = x2 * 3.0
    tapegrad.core.state.STATE.close_eager(h2._tape)  # the next op starts a new tape that links back to h2
    (h2 * -0.0).backward()
    assert bits(x2.grad) == bits(-0.0)


def test_a_zero_adjoint_sends_only_zeros_through_every_rule() -> None:
    """What the float fast path's one shortcut rests on: every elementwise rule is strong."""
    from tapegrad.core.interpret import FLOAT
    from tapegrad.core.ops import OPS

    edges = [0.0, -0.0, 1.0, -1.0, 0.5, math.inf, -math.inf, math.nan, 1e308]
    for op in OPS:
        if op.vjp is None or not op.elementwise:
            continue
        extra = (2.0,) if op.has_attr else ()
        for operands in itertools.product(edges, repeat=op.arity):
            out = op.scalar(*operands, *extra)
            for g in (0.0, -0.0):
                sent = [c for c in op.vjp(FLOAT.m, g, out, *operands, *extra) if c is not None]
                assert all(c == 0.0 for c in sent), (op.name, operands, g, sent)


def test_leaf_array_gradients_are_their_own_arrays() -> None:
    x, y = Value(np.array([1.0, 2.0])), Value(np.array([3.0, 4.0]))
    (x + y).sum().backward()  # add sends the same adjoint to both
    x.grad[0] = 5.0
    assert y.grad.tolist() == [1.0, 1.0]

"""The closure engine: micrograd's design on tapegrad's op table."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable

import pytest

from tapegrad.core.ops import OpKind
from tapegrad.errors import InputTypeError
from tapegrad.lab.closure import Value, maximum, minimum, where

# ---------------------------------------------------------------- micrograd's own examples


def test_micrograd_readme_example() -> None:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.data == pytest.approx(24.70408163265306, rel=1e-12)
    assert a.grad == pytest.approx(138.83381924198252, rel=1e-12)
    assert b.grad == pytest.approx(645.5772594752186, rel=1e-12)


def test_micrograd_sanity_check() -> None:
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0
    assert x.grad == 46.0


def test_graph_is_micrograds() -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c._prev == (a, b)
    assert str(c._op) == "mul"
    assert c._backward is not None


# ---------------------------------------------------------------- the rest of the API


def test_numbers_on_either_side() -> None:
    x = Value(3.0)
    results = [x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 6 / x, x**2, 2**x, -x, +x, abs(-x)]
    assert [r.data for r in results] == [4.0, 4.0, 2.0, -2.0, 6.0, 6.0, 1.5, 2.0, 9.0, 8.0, -3.0, 3.0, 3.0]


def test_value_exponent_is_pow_and_number_exponent_is_pow_const() -> None:
    x, y = Value(2.0), Value(3.0)
    assert (x**y)._op is OpKind.POW
    assert (x**3)._op is OpKind.POW_CONST
    z = x**y
    z.backward()
    assert z.data == 8.0
    assert x.grad == 12.0
    assert y.grad == pytest.approx(8.0 * math.log(2.0), rel=1e-15)


@pytest.mark.parametrize(
    ("method", "derivative"),
    [
        ("relu", lambda x: 1.0),
        ("tanh", lambda x: 1.0 - math.tanh(x) ** 2),
        ("exp", math.exp),
        ("log", lambda x: 1.0 / x),
        ("sigmoid", lambda x: math.exp(-x) / (1.0 + math.exp(-x)) ** 2),
        ("sin", math.cos),
        ("cos", lambda x: -math.sin(x)),
        ("sqrt", lambda x: 0.5 / math.sqrt(x)),
        ("abs", lambda x: 1.0),
    ],
)
def test_unary_methods_match_finite_differences(method: str, derivative: Callable[[float], float]) -> None:
    x = Value(0.7)
    y = getattr(x, method)()
    y.backward()
    h = 1e-6
    forward, backward = getattr(Value(0.7 + h), method)().data, getattr(Value(0.7 - h), method)().data
    assert x.grad == pytest.approx((forward - backward) / (2 * h), rel=1e-7)
    assert x.grad == pytest.approx(derivative(0.7), rel=1e-12)


def test_comparisons_give_one_or_zero_and_no_gradient() -> None:
    x = Value(1.0)
    results = [x > 0, x >= 1, x < 0, x <= 0.5, 2 > x]
    assert [r.data for r in results] == [1.0, 1.0, 0.0, 0.0, 1.0]
    results[0].backward()
    assert x.grad == 0.0


def test_where_maximum_minimum() -> None:
    x, y = Value(2.0), Value(5.0)
    out = where(x > y, x * 10, y * 100) + maximum(x, y) + minimum(x, 1.0)
    out.backward()
    assert out.data == 500.0 + 5.0 + 1.0
    assert (x.grad, y.grad) == (0.0, 101.0)


def test_maximum_tie_splits_the_gradient() -> None:
    x = Value(1.0)
    out = maximum(x, 1.0)
    out.backward()
    assert x.grad == 0.5


# ---------------------------------------------------------------- where it differs from micrograd


def test_repeated_backward_adds_fresh_gradients() -> None:
    x = Value(2.0)
    xx = x * x
    y = xx * x
    y.backward()
    assert (x.grad, xx.grad, y.grad) == (12.0, 2.0, 1.0)
    y.backward()
    assert (x.grad, xx.grad, y.grad) == (24.0, 4.0, 2.0)


def test_grad_can_be_zeroed_between_steps() -> None:
    x = Value(3.0)
    y = x * x
    y.backward()
    x.grad = 0.0
    y.backward()
    assert x.grad == 6.0


def test_strong_zero_through_where() -> None:
    x = Value(-1.0)
    y = where(x > 0, x.sqrt(), 0.0)
    y.backward()
    assert y.data == 0.0
    assert x.grad == 0.0  # not nan: the branch not taken sends nothing


def test_strong_zero_through_saturated_tanh() -> None:
    x = Value(1000.0)
    y = x.exp().tanh()
    y.backward()
    assert y.data == 1.0
    assert x.grad == 0.0  # tanh'(inf) = 0, and 0 * exp'(1000) = 0 * inf is never formed


def test_ieee_values_instead_of_exceptions() -> None:
    zero = Value(0.0)
    log0 = zero.log()
    log0.backward()
    assert log0.data == -math.inf
    assert zero.grad == math.inf
    assert (Value(1.0) / 0.0).data == math.inf
    assert (Value(-1.0) / Value(0.0)).data == -math.inf
    assert math.isnan(Value(-1.0).sqrt().data)
    assert math.isnan((Value(0.0) / 0.0).data)
    assert Value(1000.0).exp().data == math.inf


def test_integers_become_floats() -> None:
    assert Value(10).data == 10.0
    assert type(Value(10).data) is float
    assert (Value(10) ** 400).data == math.inf


@pytest.mark.parametrize("bad", ["a", None, 1j, [1.0]])
def test_bad_input_raises_input_type_error(bad: object) -> None:
    with pytest.raises(InputTypeError):
        Value(bad)


def test_bad_operand_raises_input_type_error() -> None:
    with pytest.raises(InputTypeError):
        Value(1.0) + "a"  # noqa: B018
    with pytest.raises(InputTypeError):
        Value(1.0) ** 1j  # noqa: B018


def test_million_step_chain_without_recursion() -> None:
    # The graph is 5 * 10**6 nodes, each a reference cycle.  The cyclic
    # collector would scan it again and again while it grows, which is the
    # cost this engine exists to show, not what this test checks.
    steps = 10**6
    x0 = Value(0.3)
    xs = [x0]
    gc.disable()
    try:
        x = x0
        for i in range(steps):
            x = (0.5 * x + 0.1).tanh()
            if i >= steps - 20:
                xs.append(x)
        x.backward()
        # d(x_n)/d(x_k) = prod over later steps of 0.5 * tanh'(...), computed by hand:
        expected = 1.0
        for k in range(len(xs) - 1, 1, -1):
            expected *= 0.5 * (1.0 - xs[k].data ** 2)
            assert xs[k - 1].grad == pytest.approx(expected, rel=1e-12)
        assert x0.grad == 0.0  # underflowed long before the bottom of the chain
        del x, xs
    finally:
        gc.enable()


def test_dead_graph_is_freed_only_by_the_cyclic_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        x = Value(1.0)
        for _ in range(100):
            x = (x * 2.0).tanh()
        del x
        assert gc.collect() >= 300  # the nodes outlived their last reference
    finally:
        gc.enable()


def test_mixing_with_a_tape_value_is_refused_clearly_both_ways() -> None:
    import tapegrad

    ours, theirs = Value(2.0), tapegrad.Value(3.0)
    for mixed, kind in [
        (lambda: ours + theirs, "tapegrad.Value"),
        (lambda: ours * theirs, "tapegrad.Value"),
        (lambda: ours**theirs, "tapegrad.Value"),
        (lambda: theirs + ours, "tapegrad.closure.Value"),
        (lambda: theirs * ours, "tapegrad.closure.Value"),
        (lambda: theirs**ours, "tapegrad.closure.Value"),
    ]:
        with pytest.raises(InputTypeError, match=rf"is a {kind}, which cannot join this computation") as error:
            mixed()
        message = str(error.value)
        assert "tapegrad.Value (the tape) and tapegrad.closure.Value (the closure engine) do not mix" in message
        assert "pass .data" in message

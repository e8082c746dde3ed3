"""Cheap exact forms of constant powers: the same bits in every engine, and close to C's pow.

``x ** c`` with ``c`` in {2, 3, 4, -1, -2, ±0.5, ±1.5} is products, a reciprocal or a square
root (``_pow_const``): the float rule, the numpy rule, the optimiser (which folds with the float
rule) and both code printers (which write the forms inline) must give identical bits at every
input, signed zeros, infinities, nan and subnormals included; gradients and second derivatives
too.  Squares, reciprocals and square roots are correctly rounded (IEEE); the others take two or
three roundings: within one ulp of C's pow (``x**3``, ``x**1.5``, ``x**-0.5``) or two (``x**4``,
``x**-2``, ``x**-1.5``).  ``x ** (k / 2)`` takes C's pow where ``x <= 0``.
"""

from __future__ import annotations

import math
import struct
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
import tapegrad.lab.closure
from tapegrad import Value, where
from tapegrad.core.interpret import ARRAY, FLOAT, backward, forward
from tapegrad.core.kernels import _pow, _pow_const, _pow_const_array
from tapegrad.formats.codegen import compile_tape, to_source

EXPONENTS = (2, 3, 4, -1, -2, 0.5, -0.5, 1.5, -1.5)
TINY = 5e-324
SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, TINY, -TINY, 2.2250738585072014e-308, 1e-310, 1.0, -1.0,
           2.0, -3.5, 0.1, 1e154, -1e154, 1.5e154, 1e-155, 1e-160, 1e200, -1e200, 1e308, -1e-308, 7.0, 0.3333,
           sys.float_info.max, -sys.float_info.max]  # fmt: skip


def bits(x: Any) -> bytes:
    """The bit pattern of a float, or of every element of an array (tells -0.0 from 0.0, keeps nan's sign)."""
    return np.asarray(x, dtype=np.float64).tobytes() if isinstance(x, np.ndarray) else struct.pack("<d", x)


def same(a: Any, b: Any) -> bool:
    """Equal bits, any nan counting as every other nan."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (a.view(np.int64) == b.view(np.int64))))


def power_tape(c: float) -> tapegrad.Tape:
    return tapegrad.trace(lambda x: x**c, 1.5)


def values_by_engine(c: float, x: float) -> dict[str, float]:
    """``x ** c`` from every engine that evaluates a power."""
    tape = power_tape(c)
    folded = tapegrad.optimize(tapegrad.trace(lambda: tapegrad.Value(x) ** c))  # a constant: folded
    with np.errstate(all="ignore"):  # the rules called directly, as the engines call them
        return _values_by_engine(tape, folded, c, x)


def _values_by_engine(tape: tapegrad.Tape, folded: tapegrad.Tape, c: float, x: float) -> dict[str, float]:
    return {
        "float rule": _pow_const(x, c),
        "numpy rule": float(_pow_const_array(np.array([x]), c)[0]),
        "numpy rule, 0-d": float(_pow_const_array(np.float64(x), c)),
        "eager": (Value(x) ** c).data,
        "closure": (tapegrad.lab.closure.Value(x) ** c).data,
        "tape": tape(x),
        "generic loop": forward(tape, [x], FLOAT)[-1],
        "array replay": float(forward(tape, [np.array([x])], ARRAY)[-1][0]),
        "folded": folded(),
        "math code": compile_tape(tape)(x),
        "numpy code": float(compile_tape(tape, "numpy")(np.array([x]))[0]),
        "numpy code on a float": float(compile_tape(tape, "numpy")(x)),
    }


@pytest.mark.parametrize("c", EXPONENTS)
def test_every_engine_gives_the_same_bits_at_special_values(c: float) -> None:
    for x in SPECIAL:
        results = values_by_engine(c, x)
        reference = results["float rule"]
        for engine, value in results.items():
            assert same(value, reference), f"{x!r} ** {c}: {engine} gave {value!r}, the float rule {reference!r}"


@pytest.mark.parametrize("c", EXPONENTS)
def test_special_values_are_those_of_c_pow(c: float) -> None:
    # Zeros, infinities, nan, negatives (nan for the half powers) and ones: exactly pow's answers.
    for x in [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, -2.0, 4.0]:
        assert same(_pow_const(x, c), _pow(x, float(c))), (x, c)


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many floats apart ``a`` and ``b`` are (both finite, the same sign)."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


@pytest.mark.parametrize(("c", "worst"), [(2, 1), (-1, 1), (0.5, 1), (-0.5, 1), (3, 1), (1.5, 1), (-2, 2), (4, 2),
                                          (-1.5, 2)])
def test_close_to_c_pow_on_normal_numbers(c: float, worst: int) -> None:
    # Squares, reciprocals and square roots are correctly rounded (IEEE), where glibc's pow is off by an ulp
    # now and then; a cube and an inverse square take two roundings.  Over random bases of every size.
    rng = np.random.default_rng(0)
    x = np.ldexp(rng.uniform(0.5, 1.0, 200_000), rng.integers(-100, 100, 200_000)) * rng.choice([-1.0, 1.0], 200_000)
    if c % 1.0:  # x ** (k / 2) of a negative x is nan
        x = np.abs(x)
    with np.errstate(all="ignore"):
        cheap, pow_ = _pow_const_array(x, c), np.float_power(x, float(c))
    assert int(ulps(cheap, pow_).max()) <= worst
    assert np.array_equal(cheap[:2000], [_pow_const(float(v), c) for v in x[:2000]])


@pytest.mark.parametrize("c", EXPONENTS)
def test_generated_code_writes_the_cheap_forms(c: float) -> None:
    tape = power_tape(c)
    numpy_source, math_source = to_source(tape, backend="numpy"), to_source(tape)
    body = numpy_source.split("def f(")[1]
    assert "float_power" not in body and "_pow_array" not in body
    written = {2: "np.square(x)", 3: "np.square(x) * x", 4: "np.square(np.square(x))", -1: "np.reciprocal(x)",
               -2: "np.square(np.reciprocal(x))", 0.5: "_pow_half_array(x, 0.5)",
               -0.5: "_pow_half_array(x, -0.5)", 1.5: "_pow_half_array(x, 1.5)", -1.5: "_pow_half_array(x, -1.5)"}
    assert f"t0 = {written[c]}" in numpy_source
    inline = {2: "x * x", 3: "x * x * x", 4: "_pow_const(x, 4.0)", -1: "_div(1.0, x)", -2: "_pow_const(x, -2.0)",
              0.5: "math.sqrt(x) if x > 0.0 else _pow(x, 0.5)",
              -0.5: "1.0 / math.sqrt(x) if x > 0.0 else _pow(x, -0.5)",
              1.5: "x * math.sqrt(x) if x > 0.0 else _pow(x, 1.5)", -1.5: "_pow_const(x, -1.5)"}
    assert f"t0 = {inline[c]}" in math_source


def test_float32_arrays_stay_float32() -> None:
    x = np.array([1.5, -0.0, 3.0], dtype=np.float32)
    for c in EXPONENTS:
        with np.errstate(all="ignore"):
            out = _pow_const_array(x, c)
            assert out.dtype == np.float32, c
            assert np.allclose(out, np.float_power(x, c).astype(np.float32), equal_nan=True, rtol=1e-6)


def test_a_general_exponent_is_still_c_pow() -> None:
    for x in SPECIAL:
        for c in (5, 2.5, -4, 0.25, 1, 0):
            assert same(_pow_const(x, c), _pow(x, float(c)))
            with np.errstate(all="ignore"):
                assert same(_pow_const_array(np.array([x]), c)[0], np.float_power(x, float(c)))


# ---------------------------------------------------------------- gradients


def gradients_by_engine(f: Any, x: float, closure_engine: bool = True) -> dict[str, float]:
    """d f / dx at ``x`` from every engine (the closure engine has no ``where``)."""
    v, closure = Value(x), tapegrad.lab.closure.Value(x if closure_engine else 1.0)
    f(v).backward()
    if closure_engine:
        f(closure).backward()
    tape = tapegrad.trace(f, x)
    full = tapegrad.grad_tape(tape)
    small = tapegrad.optimize(full)
    values = forward(tape, [x], FLOAT)  # the generic loops, not the float fast path
    generic = backward(tape, values, {tape.output_slots[0]: 1.0}, FLOAT)[tape.input_slots[0]]
    return {
        "eager": v.grad,
        "closure": closure.grad,
        "tape.gradient": tape.gradient(x)[0],
        "generic loop": generic,
        "array replay": float(tape.gradient(np.array([x]))[0][0]),
        "grad_tape": full(x)[1],
        "optimize": small(x)[1],
        "math code": compile_tape(small)(x)[1],
        "numpy code": float(compile_tape(small, "numpy")(np.array([x]))[1][0]),
        "jvp": tapegrad.jvp(f, (x,), (1.0,))[1],
    }


@pytest.mark.parametrize("c", EXPONENTS)
def test_gradients_agree_bit_for_bit_at_special_values(c: float) -> None:
    for x in SPECIAL:
        results = gradients_by_engine(lambda v: v**c, x)
        reference = results["eager"]
        for engine, value in results.items():
            assert same(value, reference), f"d/dx {x!r} ** {c}: {engine} gave {value!r}, eager {reference!r}"


@pytest.mark.parametrize(("c", "derivative"), [
    (2, lambda x: 2.0 * x), (3, lambda x: 3.0 * (x * x)), (-1, lambda x: -1.0 * (1.0 / x) ** 2),
    (0.5, lambda x: 0.5 / math.sqrt(x)), (-0.5, lambda x: -0.5 * x**-1.5), (-2, lambda x: -2.0 * x**-3),
    (4, lambda x: 4.0 * x**3), (1.5, lambda x: 1.5 * math.sqrt(x)),
    (-1.5, lambda x: -1.5 * x**-2.5),
])  # fmt: skip
def test_gradients_are_the_calculus_book_ones(c: float, derivative: Any) -> None:
    for x in [0.3, 1.0, 2.5, 7.0]:
        assert tapegrad.grad(lambda v: v**c)(x) == pytest.approx(derivative(x), rel=1e-15)


def test_gradient_of_a_square_keeps_the_sign_of_zero() -> None:
    assert bits(tapegrad.grad(lambda v: v**2)(-0.0)) == bits(-0.0)  # 2 * -0.0
    assert bits(tapegrad.grad(lambda v: v**2)(0.0)) == bits(0.0)


@pytest.mark.parametrize("c", [0.5, -0.5, -1, -2, 1.5, -1.5])
def test_strong_zeros_stop_the_infinite_derivative_at_zero(c: float) -> None:
    # where(x > 0, x ** c, 0) at x <= 0: the branch not taken has derivative inf or nan there, and sends nothing.
    def f(v: Any) -> Any:
        return where(v > 0.0, v**c, 0.0)

    for x in [0.0, -0.0, -1.0, -math.inf]:
        for engine, value in gradients_by_engine(f, x, closure_engine=False).items():
            # Forward mode's zero may be -0.0 here (as before these forms): its sign rule is not reverse mode's.
            assert value == 0.0 if engine == "jvp" else bits(value) == bits(0.0), f"{engine} at {x!r} gave {value!r}"


@pytest.mark.parametrize("c", EXPONENTS)
def test_second_derivatives_agree_between_engines(c: float) -> None:
    def d2(engine: str, x: float) -> float:
        inner = tapegrad.grad_tape(tapegrad.trace(lambda v: v**c, 1.5))
        outer = tapegrad.grad_tape(tapegrad.trace(lambda v: inner(v)[1], 1.5))
        if engine == "optimize":
            return tapegrad.optimize(outer)(x)[1]
        if engine == "math code":
            return compile_tape(tapegrad.optimize(outer))(x)[1]
        if engine == "numpy code":
            return float(compile_tape(tapegrad.optimize(outer), "numpy")(np.array([x]))[1][0])
        return outer(x)[1]

    for x in [0.0, -0.0, 1e-160, 0.5, 2.0, -3.0, math.inf, -math.inf, math.nan, 1e200]:
        reference = d2("tape", x)
        for engine in ("optimize", "math code", "numpy code"):
            assert same(d2(engine, x), reference), (engine, x)
    # and the values: c (c - 1) x ** (c - 2)
    assert d2("tape", 2.0) == pytest.approx(c * (c - 1) * 2.0 ** (c - 2), rel=1e-15)


@settings(max_examples=300, deadline=None)
@given(c=st.sampled_from(EXPONENTS), x=st.floats(allow_nan=True, allow_infinity=True))
def test_random_bases_agree_bit_for_bit(c: float, x: float) -> None:
    results = values_by_engine(c, x)
    assert all(same(v, results["float rule"]) for v in results.values()), results

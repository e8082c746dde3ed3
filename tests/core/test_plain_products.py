"""Strong products written as plain ones where a factor is a positive constant: the same bits.

``smul(g, c)`` is ``g`` where ``g == 0`` and ``c`` where ``c == 0`` and ``g`` is not finite, else
``g * c``.  For a constant ``c`` whose numbers are all positive and finite, ``g * c`` gives the same
bits at every ``g`` (a zero ``g`` keeps its sign: ``-0.0 * 2.0`` is ``-0.0``); for a negative ``c``
it would not (``0.0 * -2.0`` is ``-0.0``, ``smul(0.0, -2.0)`` is ``0.0``).  Likewise ``sdiv(g, c)``
and ``g / c`` for a positive ``c``, infinity included.  The optimiser rewrites these, also where
the constant is computed from constants (``sqrt(2 * pi)``, kept unfolded for symbolic export).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad.core.kernels import _sdiv, _sdiv_array, _smul, _smul_array
from tapegrad.core.ops import OpKind
from tapegrad.core.passes import optimize
from tapegrad.formats.codegen import compile_tape

SPECIAL = [0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 1e308, -1e308, math.inf, -math.inf, math.nan, 0.1, -3.0]


def bits(x: Any) -> bytes:
    return struct.pack("<d", x)


def same(a: float, b: float) -> bool:
    return (a != a and b != b) or bits(a) == bits(b)


@settings(max_examples=500, deadline=None)
@given(g=st.floats(), c=st.floats(min_value=5e-324, max_value=1.7976931348623157e308))
def test_a_strong_product_by_a_positive_finite_number_is_the_plain_product(g: float, c: float) -> None:
    assert same(_smul(g, c), g * c)
    with np.errstate(all="ignore"):
        assert same(float(_smul_array(np.array([g]), c)[0]), g * c)


@settings(max_examples=500, deadline=None)
@given(g=st.floats(), c=st.floats(min_value=5e-324, allow_infinity=True))
def test_a_strong_quotient_by_a_positive_number_is_the_plain_quotient(g: float, c: float) -> None:
    assert same(_sdiv(g, c), g / c)
    with np.errstate(all="ignore"):
        assert same(float(_sdiv_array(np.array([g]), c)[0]), g / c)


def test_a_negative_zero_or_infinite_factor_is_not_plain() -> None:
    assert bits(_smul(0.0, -2.0)) != bits(0.0 * -2.0)  # the sign of a zero adjoint
    assert same(_smul(math.inf, 0.0), 0.0) and math.isnan(math.inf * 0.0)
    assert same(_smul(0.0, math.inf), 0.0) and math.isnan(0.0 * math.inf)


def test_optimiser_writes_products_by_positive_constants_plainly() -> None:
    small = optimize(tapegrad.grad_tape(tapegrad.parse("0.5 * m * v**2", ["m", "v"])))
    # d/dm: v**2 * 0.5 is a plain product; d/dv: (0.5 * m) * (2 * v) stays strong (m may be 0 where v is inf).
    assert list(small.ops).count(OpKind.SMUL) == 1
    # d/dx of (x / sqrt(2 pi)) * y is sdiv(y, sqrt(2 pi)): a quotient by a positive number fixed by constants.
    tape = tapegrad.parse("(x / sqrt(2 * pi)) * y", ["x", "y"])
    assert OpKind.SDIV in tapegrad.grad_tape(tape).ops
    small = optimize(tapegrad.grad_tape(tape))
    assert OpKind.SDIV not in small.ops
    for y in SPECIAL:
        assert same(small(1.0, y)[1], tapegrad.grad_tape(tape)(1.0, y)[1])


@pytest.mark.parametrize("c", [-2.0, 0.0, -0.0, math.inf, -math.inf, math.nan])
def test_optimiser_keeps_strong_products_by_other_constants(c: float) -> None:
    # d/dx of x * c * y is smul(y, c): plain only for a positive finite c.
    def strong_products(c: float) -> int:
        return list(optimize(tapegrad.grad_tape(tapegrad.trace(lambda x, y: x * c * y, 1.0, 1.0))).ops).count(
            OpKind.SMUL
        )

    assert strong_products(c) == strong_products(2.0) + 1
    tape = tapegrad.grad_tape(tapegrad.trace(lambda x, y: x * c * y, 1.0, 1.0))
    for y in SPECIAL:
        assert same(optimize(tape)(1.0, y)[1], tape(1.0, y)[1])


FORMULAS = [
    ("0.5 * m * v**2", ["m", "v"]),
    ("exp(-(x - mu)**2 / (2 * s**2)) / (s * sqrt(2 * pi))", ["x", "mu", "s"]),
    ("k * q1 * q2 / r**2", ["k", "q1", "q2", "r"]),
    ("2 * pi * sqrt(L / g)", ["L", "g"]),
    ("x / 3 + y * 0.25 + sqrt(x) / (2 * pi)", ["x", "y"]),
]


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, len(FORMULAS) - 1), data=st.data())
def test_optimised_gradients_give_the_bits_of_the_strong_ones(index: int, data: Any) -> None:
    text, names = FORMULAS[index]
    full = tapegrad.grad_tape(tapegrad.parse(text, names))
    small = optimize(full)
    point = [data.draw(st.one_of(st.sampled_from(SPECIAL), st.floats())) for _ in names]
    arrays = [np.array([p]) for p in point]
    with np.errstate(all="ignore"):
        on_floats = full(*point)  # math's exp and log
        on_arrays = [float(v[0]) for v in full(*arrays)]  # numpy's, within an ulp of math's
        numpy_code = compile_tape(small, "numpy")
        engines = {"optimize": (small(*point), on_floats), "math code": (compile_tape(small)(*point), on_floats),
                   "numpy code": (numpy_code(*point), on_arrays),
                   "numpy code on arrays": ([v[0] for v in numpy_code(*arrays)], on_arrays)}  # fmt: skip
    for engine, (got, expected) in engines.items():
        assert all(same(float(a), float(b)) for a, b in zip(got, expected)), (engine, point, got, expected)


@pytest.mark.parametrize("c", [0.5, 2.0, 1e-300, 1e300])
def test_positive_constant_array_factors_are_plain_too(c: float) -> None:
    tape = tapegrad.trace(lambda x: (x * np.full(3, c)).sum(), np.ones(3))
    small = optimize(tapegrad.grad_tape(tape))
    assert OpKind.SMUL not in small.ops
    for x in ([0.0, -0.0, math.inf], [math.nan, -1.0, 5e-324]):
        got, want = small(np.array(x))[1], tapegrad.grad_tape(tape)(np.array(x))[1]
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()

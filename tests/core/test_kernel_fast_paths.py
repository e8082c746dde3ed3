"""The fast paths of the array kernels the jitted moons step spends its time in give the general path's bits.

``_sum_to`` reduces one leading axis at once, ``_smul_array`` computes its
zero mask once, ``_relu_array`` adds its ``0.0`` in place: each is checked
against what it replaced (or the scalar rule, element by element) on values
that include signed zeros, infinities and nan.
"""

from __future__ import annotations

import numpy as np
import pytest

from tapegrad.core.kernels import _relu, _relu_array, _smul, _smul_array, _sum_to

SPECIAL = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 5e-324, -1e308, 1e308])


def bits(x: object) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def special_array(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        return rng.choice(SPECIAL, size=shape) * rng.choice([1.0, 0.5, 3.0], size=shape)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    ("xshape", "shape"), [((100, 16), (16,)), ((100, 1), (1,)), ((7, 3, 4), (3, 4)), ((5, 1), (1,))]
)
def test_sum_to_one_leading_axis_is_numpys_reduction(
    seed: int, xshape: tuple[int, ...], shape: tuple[int, ...]
) -> None:
    x = special_array(xshape, seed)
    with np.errstate(all="ignore"):
        want = np.add.reduce(x, axis=(0,))
        got = _sum_to(x, shape)
    assert got.shape == shape
    assert bits(got) == bits(want)


def test_sum_to_keeps_the_general_path_for_other_shapes() -> None:
    x = np.arange(12.0).reshape(3, 4)
    assert bits(_sum_to(x, (1, 4))) == bits(x.sum(axis=0, keepdims=True))  # no leading axis dropped
    assert bits(_sum_to(x, (3, 1))) == bits(x.sum(axis=1, keepdims=True))
    assert bits(_sum_to(np.ones((2, 3, 4)), (4,))) == bits(np.full(4, 6.0))  # two leading axes
    big = np.ones((5000, 2))
    assert bits(_sum_to(big, (2,))) == bits(np.full(2, 5000.0))  # the matrix-vector product above 4096 elements
    ints = np.ones((3, 2), dtype=np.int64)
    assert _sum_to(ints, (2,)).tolist() == [3, 3]


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("gshape", "yshape"), [((100, 1), (100, 1)), ((6, 4), (4,)), ((5,), (1,)), ((3, 2), (3, 2))])
def test_smul_array_is_the_scalar_rule_elementwise(seed: int, gshape: tuple[int, ...], yshape: tuple[int, ...]) -> None:
    g, y = special_array(gshape, seed), special_array(yshape, seed + 1000)
    with np.errstate(all="ignore"):
        got = _smul_array(g, y)
        gb, yb = np.broadcast_arrays(g, y)
        want = np.array([_smul(float(a), float(b)) for a, b in zip(gb.ravel(), yb.ravel())]).reshape(gb.shape)
    assert bits(got) == bits(want)


def test_smul_array_without_zeros_is_the_plain_product() -> None:
    g, y = np.array([1.5, -np.inf, np.nan]), np.array([-2.0, 3.0, 1.0])
    with np.errstate(all="ignore"):
        assert bits(_smul_array(g, y)) == bits(g * y)


@pytest.mark.parametrize("seed", range(10))
def test_relu_array_is_the_scalar_rule_elementwise(seed: int) -> None:
    x = special_array((9, 4), seed)
    got = _relu_array(x)
    assert got is not x
    assert bits(got) == bits(np.array([_relu(float(v)) for v in x.ravel()]).reshape(x.shape))
    assert bits(_relu_array(-0.0)) == bits(0.0)  # a float (numpy code called with floats) stays a number
    assert bits(_relu_array(np.float64(np.nan))) == bits(np.nan)

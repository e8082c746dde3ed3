"""SGD's step and zero_grad read and write a leaf Value's fields directly: the same numbers as the checked path.

The jitted moons step spends a tenth of its time in the optimiser; for a
leaf Value outside any trace, ``step()`` and ``zero_grad()`` skip the
property checks.  Every result is compared bit for bit with the update
written out (``p.data - lr * g``, with weight decay and momentum as PyTorch
words them), on values that include signed zeros, infinities and nan.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad
from tapegrad.errors import ConcretizationError
from tapegrad.nn import SGD

SPECIAL = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 5e-324, 1e308])


def bits(x: object) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def special(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    with np.errstate(over="ignore"):
        return rng.choice(SPECIAL, size=shape) * rng.uniform(-2, 2, size=shape)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(("weight_decay", "momentum"), [(0.0, 0.0), (0.01, 0.0), (0.0, 0.9), (0.1, 0.5)])
def test_sgd_steps_are_the_written_out_update(seed: int, weight_decay: float, momentum: float) -> None:
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (), (1,)]
    start = [special(s, rng) if s else float(rng.choice(SPECIAL)) for s in shapes]
    params = [tapegrad.Value(np.array(x) if isinstance(x, np.ndarray) else x) for x in start]
    optimizer = SGD(params, lr=0.3, weight_decay=weight_decay, momentum=momentum)
    want = [np.array(x, dtype=np.float64) for x in start]
    buffers: list = [None] * len(params)
    with np.errstate(all="ignore"):
        for _ in range(3):
            grads = [special(np.shape(x), rng) if np.shape(x) else float(rng.choice(SPECIAL)) for x in start]
            old = [p.data for p in params]
            for p, g in zip(params, grads):
                p.grad = g
            optimizer.step()
            for i, g in enumerate(grads):
                d = g + weight_decay * want[i] if weight_decay else g
                if momentum:
                    d = buffers[i] = d if buffers[i] is None else momentum * buffers[i] + d
                want[i] = want[i] - 0.3 * d
            for p, w, before in zip(params, want, old):
                assert bits(p.data) == bits(w)
                assert p.data is not before  # a new object: the old array is never written
    assert type(params[2].data) is float


def test_zero_grad_gives_fresh_zeros_of_the_parameters_kind() -> None:
    params = [tapegrad.Value(np.ones((2, 3), dtype=np.float32)), tapegrad.Value(2.0)]
    optimizer = SGD(params, lr=0.1)
    held = np.full((2, 3), 7.0, dtype=np.float32)
    params[0].grad = held
    optimizer.zero_grad()
    g = params[0].grad
    assert g is not held and held.tolist() == [[7.0] * 3] * 2  # the old gradient array is not written
    assert g.dtype == np.float32 and g.shape == (2, 3) and not g.any()
    assert params[1].grad == 0.0 and type(params[1].grad) is float
    params[0].grad = np.ones((2, 3), dtype=np.float32)
    optimizer.step()
    assert params[0].data.dtype == np.float32  # a float32 model stays float32
    assert bits(params[0].data) == bits(np.full((2, 3), np.float32(1.0) - np.float32(0.1)))


def test_a_float64_update_of_a_float32_parameter_is_cast_back() -> None:
    p = tapegrad.Value(np.ones(3, dtype=np.float32))
    optimizer = SGD([p], lr=0.5)
    p.grad = np.array([1.0, 2.0, 3.0])  # float64 gradient
    optimizer.step()
    assert p.data.dtype == np.float32 and p.data.tolist() == [0.5, 0.0, -0.5]


def test_the_optimiser_inside_a_jitted_function_is_still_refused() -> None:
    w = tapegrad.Value(np.ones(3))
    optimizer = SGD([w], lr=0.1)

    @tapegrad.jit
    def bad(x: np.ndarray) -> object:
        loss = (w * x).sum()
        loss.backward()
        optimizer.step()
        return loss

    with pytest.raises(ConcretizationError, match="optimizer.step"):
        bad(np.ones(3))

    @tapegrad.jit
    def also_bad(x: np.ndarray) -> object:
        optimizer.zero_grad()
        return (w * x).sum()

    with pytest.raises(ConcretizationError, match="inside a function tapegrad.jit is tracing"):
        also_bad(np.ones(3))

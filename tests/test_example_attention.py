"""examples/attention.py: the einsum attention block's gradient matches references, and it learns."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import tapegrad
from tapegrad.core.ops import OpKind
from tests.test_examples import load


@pytest.fixture(scope="module")
def attention() -> ModuleType:
    return load("attention")


def test_the_gradient_matches_central_differences_and_torch(attention: ModuleType) -> None:
    check = attention.check_gradients(seed=3)
    assert check.finite_differences < 1e-6
    if check.torch is not None:
        assert check.torch < 1e-12


def test_the_block_is_recorded_as_einsums_and_runs_as_numpy(attention: ModuleType) -> None:
    x, weights = attention.init()
    values = [weights[name] for name in attention.WEIGHTS]
    tape = tapegrad.trace(lambda *w: attention.attention(x, *w), *values)
    assert tape.ops.count(OpKind.EINSUM) == 5
    expected = attention.attention(x, *values)  # the same function on plain numpy arrays
    assert expected.shape == (attention.TOKENS, attention.WIDTH)
    np.testing.assert_array_equal(tape(*values), expected)


def test_fitting_lowers_the_loss(attention: ModuleType) -> None:
    losses = attention.fit(15)
    assert losses[-1] < 0.05 * losses[0]


def test_main_prints_the_checks_and_the_fit(attention: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert attention.main(["--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "gradient vs central differences" in out and "final: loss" in out

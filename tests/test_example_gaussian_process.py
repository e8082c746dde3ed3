"""examples/gaussian_process.py: the marginal likelihood falls, its gradient (through cholesky, solve and
slogdet) matches central differences, and its value is the textbook formula."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from support import assert_close_to, numerical_gradients
from test_examples import load

import tapegrad


@pytest.fixture(scope="module")
def gp() -> ModuleType:
    return load("gaussian_process")


def test_fitting_lowers_the_negative_log_likelihood_and_finds_the_noise(gp: ModuleType) -> None:
    result = gp.fit(150)
    assert result.losses[-1] < result.losses[0] - 20.0
    assert result.losses[-1] <= min(result.losses[:100])  # still improving at the end (Adam need not be monotone)
    noise = float(np.exp(result.log_params[2]))
    assert 0.05 < noise < 0.2  # the data's noise is 0.1


def test_the_gradient_at_the_start_matches_central_differences(gp: ModuleType) -> None:
    x, y = gp.make_data()
    grad = tapegrad.grad(gp.nll)(gp.START, x, y)
    assert_close_to([grad], numerical_gradients(lambda p: float(gp.nll(p, x, y)), [gp.START]))


def test_the_likelihood_is_the_closed_form_one(gp: ModuleType) -> None:
    """cholesky/solve/slogdet on the tape give the textbook formula computed with plain numpy."""
    x, y = gp.make_data()
    k = gp.kernel(x, x, gp.START) + np.exp(2.0 * gp.START[2]) * np.eye(len(x))
    expected = 0.5 * y @ np.linalg.solve(k, y) + 0.5 * np.log(np.linalg.det(k)) + 0.5 * len(x) * np.log(2 * np.pi)
    assert float(gp.nll(tapegrad.Value(gp.START), x, y).data) == pytest.approx(expected, rel=1e-12)


def test_main_prints_the_fit_and_plots_when_asked(
    gp: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gp.main(["--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "negative log marginal likelihood" in out and "fitted: lengthscale" in out
    pytest.importorskip("matplotlib")
    path = tmp_path / "gp.png"
    assert gp.main(["--steps", "5", "--plot", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"

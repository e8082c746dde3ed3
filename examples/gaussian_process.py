"""Gaussian-process regression: fit kernel hyperparameters by the gradient of the marginal likelihood.

Thirty noisy samples of ``sin(3x) + x/2`` on ``[-2, 2]``; the model is a GP
with an RBF kernel, ``k(x, x') = sf**2 exp(-(x - x')**2 / (2 ell**2))``, and
Gaussian noise of variance ``sn**2``.  The three hyperparameters are fitted
in log space (so they stay positive) by minimising the negative log marginal
likelihood

    NLL = 1/2 y^T K^-1 y + 1/2 log det K + n/2 log(2 pi),   K = k(X, X) + sn**2 I,

written with ``np.linalg`` as any numpy user would: the data term through
the Cholesky factor (``z = solve(L, y)``, ``y^T K^-1 y = z . z``), the
complexity term with ``slogdet``.  ``tapegrad.grad`` differentiates it
through ``cholesky``, ``solve`` and ``slogdet``; :class:`tapegrad.nn.Adam`
takes the steps.  Run it::

    python examples/gaussian_process.py                      # 200 Adam steps
    python examples/gaussian_process.py --plot gp.png        # and a plot (needs matplotlib)

Import :func:`fit` to run it from tests.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

import tapegrad
from tapegrad import Value
from tapegrad.nn import Adam

SEED = 0
START = np.log([0.3, 0.5, 0.5])  # log of (lengthscale, signal std, noise std): a poor first guess


def make_data(n: int = 30, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of ``sin(3x) + x/2`` on [-2, 2] with noise of standard deviation 0.1."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, n))
    return x, np.sin(3.0 * x) + 0.5 * x + 0.1 * rng.normal(size=n)


def kernel(a: np.ndarray, b: np.ndarray, log_params: Any) -> Any:
    """The RBF kernel matrix between points ``a`` and ``b`` (Values in, Value out while tracing)."""
    ell, sf = np.exp(log_params[0]), np.exp(log_params[1])
    squared = (a[:, None] - b[None, :]) ** 2  # constants: the inputs are data, not parameters
    return sf**2 * np.exp(-0.5 * squared / ell**2)


def nll(log_params: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """The negative log marginal likelihood of ``y`` under the GP with these (log) hyperparameters."""
    noise = np.exp(2.0 * log_params[2])
    k = kernel(x, x, log_params) + noise * np.eye(len(x))
    z = np.linalg.solve(np.linalg.cholesky(k), y)  # L z = y, so y^T K^-1 y = z . z
    return 0.5 * np.sum(z * z) + 0.5 * np.linalg.slogdet(k).logabsdet + 0.5 * len(x) * math.log(2.0 * math.pi)


def posterior(log_params: np.ndarray, x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[Any, Any]:
    """The posterior mean and standard deviation of the latent function at ``grid`` (plain numpy)."""
    k = kernel(x, x, log_params) + np.exp(2.0 * log_params[2]) * np.eye(len(x))
    cross = kernel(grid, x, log_params)
    mean = cross @ np.linalg.solve(k, y)
    variance = np.exp(2.0 * log_params[1]) - np.sum(cross * np.linalg.solve(k, cross.T).T, axis=1)
    return mean, np.sqrt(np.maximum(variance, 0.0))


class Fit(NamedTuple):
    """A fitting run: the data, the fitted log hyperparameters and the loss at every step."""

    x: np.ndarray
    y: np.ndarray
    log_params: np.ndarray
    losses: list[float]


def fit(steps: int = 200, lr: float = 0.05, seed: int = SEED) -> Fit:
    """Minimise :func:`nll` over the log hyperparameters by Adam on ``tapegrad.value_and_grad``."""
    x, y = make_data(seed=seed)
    theta = Value(START.copy())
    optimizer = Adam([theta], lr=lr)
    value_and_grad = tapegrad.value_and_grad(nll)
    losses = []
    for _ in range(steps):
        loss, theta.grad = value_and_grad(theta.data, x, y)
        losses.append(float(loss))
        optimizer.step()
    losses.append(float(nll(theta.data, x, y)))
    return Fit(x, y, np.asarray(theta.data), losses)


def plot(result: Fit, path: str) -> None:
    """Save the data, posterior mean and a two-standard-deviation band to ``path``."""
    import matplotlib  # deferred: an optional extra, needed only for --plot

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    grid = np.linspace(-2.5, 2.5, 200)
    mean, std = posterior(result.log_params, result.x, result.y, grid)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.fill_between(grid, mean - 2 * std, mean + 2 * std, alpha=0.3, label="mean ± 2 std")
    axes.plot(grid, mean, label="posterior mean")
    axes.plot(result.x, result.y, "k.", label="data")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--plot", metavar="PATH", help="save a plot of the posterior (needs matplotlib)")
    args = parser.parse_args(argv)
    result = fit(args.steps)
    ell, sf, sn = np.exp(result.log_params)
    print(f"negative log marginal likelihood: {result.losses[0]:.3f} -> {result.losses[-1]:.3f}")
    print(f"fitted: lengthscale {ell:.3f}, signal std {sf:.3f}, noise std {sn:.3f} (data noise: 0.100)")
    if args.plot:
        try:
            plot(result, args.plot)
        except ImportError:
            print("--plot needs matplotlib (pip install matplotlib); no plot written")
            return 1
        print(f"plot saved to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

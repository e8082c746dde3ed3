"""micrograd's moons demo as matrix ops: the same model and training, a batch at a time.

``examples/moons.py`` runs micrograd's demo one scalar at a time: every
neuron of every example is its own handful of records.  Here the model is
:class:`tapegrad.nn.batched.MLP`, so each step records about twenty array
ops for all 100 points; the data, the model's shape (``MLP(2, [16, 16, 1])``),
the loss (SVM max-margin, ``relu(1 - y * score).mean()``, plus ``1e-4`` times
the sum of squared weights), the optimiser (SGD with micrograd's schedule,
``lr = 1.0 - 0.9 * k / 100``) and the initial weights (uniform in [-1, 1],
the scale that schedule was tuned for; drawn by numpy, so not micrograd's
numbers) are the demo's.  Run it::

    python examples/moons_batched.py              # 100 steps
    python examples/moons_batched.py --steps 20
    python examples/moons_batched.py --jit        # the same step compiled by @tapegrad.jit

With ``--jit`` the step function, unchanged, runs under :func:`tapegrad.jit`:
traced once, the model's parameters lifted to inputs of generated numpy
code, and the gradients of its ``backward()`` added to their ``.grad`` after
every call, so the optimiser outside sees them as in the eager run (the
losses are the same, bit for bit).

Import :func:`train` to run it from tests and benchmarks.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import tapegrad
from tapegrad.nn import SGD
from tapegrad.nn.batched import MLP

# examples/ is not a package: make moons.py, beside this file, importable for its data.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from moons import SEED, make_moons  # noqa: E402

ALPHA = 1e-4  # the weight of the L2 regularisation, micrograd's


class History(NamedTuple):
    """What a training run leaves behind: the loss and accuracy of every step, and the model."""

    model: MLP
    X: np.ndarray
    y: np.ndarray
    losses: list[float]
    accuracies: list[float]
    seconds: float


def train(steps: int = 100, seed: int = SEED, n: int = 100, verbose: bool = False, jit: bool = False) -> History:
    """Train ``MLP(2, [16, 16, 1])`` on ``n`` moons points (full batch); return the history.

    ``seed`` draws both the data and the initial weights; ``jit`` runs the
    step function under ``@tapegrad.jit``.
    """
    X, y = make_moons(n, noise=0.1, seed=seed)
    generator = np.random.default_rng(seed)
    model = MLP(2, [16, 16, 1], rng=generator)
    for layer in model.layers:
        # micrograd's Neuron draws uniform [-1, 1], not Kaiming's narrower range; with its lr of 1.0
        # this reaches 100% from almost every seed.
        layer.weight.data = generator.uniform(-1, 1, size=layer.weight.shape)
    parameters = model.parameters()
    optimizer = SGD(parameters, lr=1.0)
    loss_history: list[float] = []
    accuracy_history: list[float] = []
    start = time.perf_counter()

    def step(X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """Forward (the whole batch as one array of scores) and backward: the parameters' .grad."""
        scores = model(X).reshape(n)
        data_loss = (1 - y * scores).relu().mean()
        reg_loss = ALPHA * sum((p * p).sum() for p in parameters)
        total_loss = data_loss + reg_loss
        total_loss.backward()
        return total_loss, scores

    if jit:
        step = tapegrad.jit(step)  # the same as decorating it with @tapegrad.jit
    for k in range(steps):
        optimizer.zero_grad()
        total_loss, scores = step(X, y)  # Values when eager, numbers and arrays when jitted
        # SGD with a decaying learning rate
        optimizer.lr = 1.0 - 0.9 * k / 100
        optimizer.step()

        scores = scores.data if isinstance(scores, tapegrad.Value) else scores
        loss_history.append(float(total_loss))
        accuracy_history.append(float(np.mean((y > 0) == (scores > 0))))
        if verbose:
            print(f"step {k} loss {loss_history[-1]:.6f}, accuracy {accuracy_history[-1] * 100:.1f}%")
    seconds = time.perf_counter() - start
    return History(model, X, y, loss_history, accuracy_history, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train micrograd's two-moons MLP as matrix ops on tapegrad.")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (default 100)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the data and the weights (default {SEED})")
    parser.add_argument("--points", type=int, default=100, help="how many moons points (default 100)")
    parser.add_argument("--jit", action="store_true", help="run the step function under @tapegrad.jit")
    args = parser.parse_args(argv)

    history = train(args.steps, seed=args.seed, n=args.points, verbose=True, jit=args.jit)
    loss, accuracy = history.losses[-1], history.accuracies[-1]
    per_step = history.seconds / max(args.steps, 1) * 1000
    print(
        f"final: loss {loss:.6f}, accuracy {accuracy * 100:.1f}% after {args.steps} steps "
        f"(seed {args.seed}, {history.seconds * 1000:.0f} ms, {per_step:.2f} ms/step)"
    )
    if args.steps >= 100 and args.points == 100 and accuracy < 1.0:
        print(f"expected 100% training accuracy after {args.steps} steps, got {accuracy * 100:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

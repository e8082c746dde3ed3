"""micrograd's demo on tapegrad: an MLP learns to separate two moons.

The data, the model, the loss and the optimiser are those of micrograd's
``demo.ipynb`` (SVM max-margin loss with L2 regularisation, 100 steps of SGD
with a decaying learning rate), so with the same seed the numbers it prints
are micrograd's own.  Run it::

    python examples/moons.py                    # 100 steps on the tape engine
    python examples/moons.py --engine closure   # the same on tapegrad.closure
    python examples/moons.py --steps 20 --out /tmp/moons.png

Import :func:`train` to run the loop from tests and benchmarks.  With
matplotlib installed it saves the decision boundary and the loss curve.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

import tapegrad
from tapegrad.nn import MLP

# micrograd's demo seeds numpy and random with 1337; with it, training reaches 100% accuracy.
SEED = 1337


def make_moons(n: int = 100, noise: float = 0.1, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: points ``X`` of shape (n, 2), labels ``y`` in {-1, +1}.

    Draws the same points as scikit-learn's ``make_moons(n, noise=noise,
    random_state=seed)`` (the order of random draws is the same), so there is
    no need to install scikit-learn for a demo.
    """
    generator = np.random.RandomState(seed)
    n_out = n // 2
    n_in = n - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)), np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    labels = np.hstack([np.zeros(n_out), np.ones(n_in)])
    order = np.arange(n)
    generator.shuffle(order)
    X, labels = X[order], labels[order]
    X = X + generator.normal(scale=noise, size=X.shape)
    return X, labels * 2 - 1


class History(NamedTuple):
    """What a training run leaves behind: the loss and accuracy of every step, and the model."""

    model: MLP
    X: np.ndarray
    y: np.ndarray
    losses: list[float]
    accuracies: list[float]
    seconds: float


def train(
    steps: int = 100,
    seed: int = SEED,
    value_type: type[Any] = tapegrad.Value,
    verbose: bool = False,
) -> History:
    """Train ``MLP(2, [16, 16, 1])`` on 100 moons points; return the history.

    ``seed`` draws both the data and the initial weights.  ``value_type`` is
    the engine: ``tapegrad.Value`` or any class with the same API.
    """
    X, y = make_moons(100, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed, value_type=value_type)
    loss_history: list[float] = []
    accuracy_history: list[float] = []
    rows = X.tolist()
    labels = y.tolist()
    start = time.perf_counter()
    for k in range(steps):
        # forward: the whole batch
        inputs = [list(map(value_type, row)) for row in rows]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(labels, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(labels, scores, strict=True)]
        acc = sum(accuracy) / len(accuracy)

        # backward, then SGD with a decaying learning rate
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad

        loss_history.append(total_loss.data)
        accuracy_history.append(acc)
        if verbose:
            print(f"step {k} loss {total_loss.data:.6f}, accuracy {acc * 100:.1f}%")
    seconds = time.perf_counter() - start
    return History(model, X, y, loss_history, accuracy_history, seconds)


def decision_scores(model: MLP, xx: np.ndarray, yy: np.ndarray, value_type: type[Any]) -> np.ndarray:
    """The model's score at every grid point.

    On the tape engine the model is traced once and the tape replayed on the
    whole grid as numpy arrays; other engines evaluate point by point.
    """
    if value_type is tapegrad.Value:
        tape = tapegrad.trace(lambda x0, x1: model([x0, x1]), 0.0, 0.0)
        return np.asarray(tape(xx, yy))
    points = zip(xx.ravel().tolist(), yy.ravel().tolist(), strict=True)
    scores = [model([value_type(a), value_type(b)]).data for a, b in points]
    return np.array(scores).reshape(xx.shape)


def plot(history: History, path: str, value_type: type[Any]) -> bool:
    """Save the decision boundary and the loss curve to ``path``; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    X, y = history.X, history.y
    h = 0.05 if value_type is tapegrad.Value else 0.25
    xx, yy = np.meshgrid(
        np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h), np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, h)
    )
    scores = decision_scores(history.model, xx, yy, value_type)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.contourf(xx, yy, scores > 0, cmap=plt.cm.Spectral, alpha=0.8)
    left.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral, edgecolors="k")
    left.set_title("decision boundary")
    right.plot(history.losses, label="loss")
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_title(f"loss (final {history.losses[-1]:.4f}), accuracy {history.accuracies[-1] * 100:.0f}%")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def engine(name: str) -> type[Any]:
    """The Value class of engine ``name``: ``tape`` (tapegrad.Value) or ``closure``."""
    if name == "tape":
        return tapegrad.Value
    try:
        from tapegrad.lab.closure import Value as ClosureValue
    except ImportError as error:
        raise SystemExit(f"--engine closure needs tapegrad.closure, which could not be imported: {error}") from None
    return ClosureValue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train micrograd's two-moons MLP on tapegrad.")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (default 100)")
    parser.add_argument("--engine", choices=["tape", "closure"], default="tape", help="which Value engine to train on")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the data and the weights (default {SEED})")
    parser.add_argument("--out", default="moons.png", help="where to save the plot (default moons.png)")
    args = parser.parse_args(argv)

    value_type = engine(args.engine)
    history = train(args.steps, seed=args.seed, value_type=value_type, verbose=True)
    loss, accuracy = history.losses[-1], history.accuracies[-1]
    print(
        f"final: loss {loss:.6f}, accuracy {accuracy * 100:.1f}% after {args.steps} steps "
        f"({args.engine} engine, seed {args.seed}, {history.seconds:.1f} s)"
    )
    if plot(history, args.out, value_type):
        print(f"saved {args.out}")
    else:
        print("matplotlib is not installed: skipping the plot (pip install 'tapegrad[plot]')")
    if args.steps >= 100 and accuracy < 1.0:
        print(f"expected 100% training accuracy after {args.steps} steps, got {accuracy * 100:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A character-level language model for names, in the style of makemore part 2 (Bengio et al. 2003).

The model reads the last three characters of a name and predicts the next:
each character is looked up in a learned embedding (27 tokens, 10 numbers
each), the three embeddings are concatenated into 30 numbers, a tanh layer
of 200 units reads them, and a linear layer gives 27 logits; the loss is the
cross-entropy of the true next character.  ``.`` (token 0) marks both the
start and the end of a name.  Training takes minibatches of 32 examples with
SGD and a learning rate that drops tenfold halfway, as in the lecture; then
the model writes new names one character at a time, sampling from the
softmax of its logits.  Run it::

    python examples/makemore_mlp.py                  # about 10 s on a laptop CPU
    python examples/makemore_mlp.py --steps 2000 --seed 1
    python examples/makemore_mlp.py --jit            # the training step under @tapegrad.jit

Import :func:`train` to run a short version from tests.

The data, ``examples/data/names.txt`` (5,163 first names, lowercase, one a
line), are the US Census Bureau's 1990 lists of male and female first names
(public domain), merged and deduplicated, as shipped in the files
``dist.male.first`` and ``dist.female.first`` of the PyPI package ``names``
0.3.0 (MIT license).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

import tapegrad
from tapegrad.nn import SGD, Embedding, Linear, Module

NAMES = Path(__file__).resolve().parent / "data" / "names.txt"
CHARS = ".abcdefghijklmnopqrstuvwxyz"  # "." is token 0: the start and the end of a name
BLOCK_SIZE = 3  # characters of context
SEED = 2147483647  # makemore's generator seed


def load_names(path: Path = NAMES) -> list[str]:
    """The names of ``path``, one a line, lowercase a-z only."""
    names = path.read_text(encoding="utf-8").split()
    for name in names:
        if not (name.isascii() and name.isalpha() and name.islower()):
            raise ValueError(f"{path} holds {name!r}; expected lowercase names of a-z only")
    return names


def build_dataset(names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every (context, next character) pair of ``names``: X of shape (N, 3), Y of shape (N,), token ids.

    ``emma`` gives ``... -> e``, ``..e -> m``, ``.em -> m``, ``emm -> a``, ``mma -> .``.
    """
    contexts: list[list[int]] = []
    targets: list[int] = []
    for name in names:
        context = [0] * BLOCK_SIZE
        for ch in name + ".":
            token = CHARS.index(ch)
            contexts.append(context)
            targets.append(token)
            context = context[1:] + [token]
    return np.array(contexts, dtype=np.int64).reshape(-1, BLOCK_SIZE), np.array(targets, dtype=np.int64)


class CharMLP(Module):
    """Embedding -> concatenation of the context -> tanh hidden layer -> logits of the next character."""

    def __init__(self, embedding_dim: int = 10, hidden: int = 200, *, rng: np.random.Generator) -> None:
        self.embedding = Embedding(len(CHARS), embedding_dim, rng=rng)
        self.hidden = Linear(BLOCK_SIZE * embedding_dim, hidden, gain=5 / 3, rng=rng)  # tanh's Kaiming gain
        # A small gain makes the first predictions nearly uniform (loss log 27 = 3.3) rather
        # than confidently wrong: makemore part 3's fix for the initial loss.
        self.output = Linear(hidden, len(CHARS), gain=0.1, rng=rng)

    def __call__(self, contexts: np.ndarray) -> Any:
        """Logits of shape (N, 27) for int contexts of shape (N, 3)."""
        emb = self.embedding(contexts)  # (N, 3, 10)
        h = self.hidden(emb.reshape(len(contexts), -1)).tanh()  # (N, 200)
        return self.output(h)

    def parameters(self) -> list[Any]:
        return self.embedding.parameters() + self.hidden.parameters() + self.output.parameters()


@tapegrad.no_grad()
def loss_on(model: CharMLP, X: np.ndarray, Y: np.ndarray) -> float:
    """The mean cross-entropy of ``model`` on a whole split (no gradient is asked, so nothing is recorded)."""
    return float(tapegrad.cross_entropy(model(X), Y).data)


@tapegrad.no_grad()
def sample(model: CharMLP, count: int, rng: np.random.Generator, max_length: int = 30) -> list[str]:
    """``count`` new names: start from ``...``, draw each next character from the softmax of the logits."""
    names = []
    for _ in range(count):
        context = [0] * BLOCK_SIZE
        out: list[str] = []
        while len(out) < max_length:
            probs = model(np.array([context])).softmax().data[0]
            token = int(rng.choice(len(CHARS), p=probs / probs.sum()))  # renormalised against rounding
            if token == 0:
                break
            out.append(CHARS[token])
            context = context[1:] + [token]
        names.append("".join(out))
    return names


class Result(TypedDict):
    """What :func:`train` returns."""

    model: CharMLP
    losses: list[float]  # the minibatch loss of every step
    train_loss: float
    dev_loss: float
    samples: list[str]
    seconds: float  # training time, without evaluation and sampling


def train(
    steps: int = 20_000,
    seed: int = SEED,
    batch_size: int = 32,
    lr: float = 0.1,
    num_samples: int = 10,
    verbose: bool = False,
    jit: bool = False,
) -> Result:
    """Train on 80% of the names (shuffled with ``seed``); report the loss on them and on the next 10% (dev).

    The learning rate is ``lr`` for the first half of the steps, then ``lr / 10``.  ``jit`` runs the
    step function (forward and backward) under ``@tapegrad.jit``: traced once, the minibatch and the
    parameters inputs of generated numpy code.
    """
    rng = np.random.default_rng(seed)
    names = load_names()
    order = rng.permutation(len(names))
    names = [names[i] for i in order]
    n_train, n_dev = int(0.8 * len(names)), int(0.9 * len(names))
    X_train, Y_train = build_dataset(names[:n_train])
    X_dev, Y_dev = build_dataset(names[n_train:n_dev])

    model = CharMLP(rng=rng)
    optimizer = SGD(model.parameters(), lr=lr)
    losses: list[float] = []

    def forward_backward(contexts: np.ndarray, targets: np.ndarray) -> Any:
        loss = tapegrad.cross_entropy(model(contexts), targets)
        loss.backward()
        return loss

    if jit:
        forward_backward = tapegrad.jit(forward_backward)
    start = time.perf_counter()
    for step in range(steps):
        batch = rng.integers(0, len(X_train), size=batch_size)
        optimizer.zero_grad()
        loss = forward_backward(X_train[batch], Y_train[batch])
        optimizer.lr = lr if step < steps // 2 else lr / 10
        optimizer.step()
        losses.append(float(loss))
        if verbose and (step % 2000 == 0 or step == steps - 1):
            # One minibatch's loss is noisy: show the mean of the last ones, and the dev loss.
            recent, dev = np.mean(losses[-1000:]), loss_on(model, X_dev, Y_dev)
            print(f"step {step:6d}/{steps}: loss {recent:.4f} (mean of the last 1000 minibatches), dev {dev:.4f}")
    seconds = time.perf_counter() - start
    return Result(
        model=model,
        losses=losses,
        train_loss=loss_on(model, X_train, Y_train),
        dev_loss=loss_on(model, X_dev, Y_dev),
        samples=sample(model, num_samples, rng),
        seconds=seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a makemore-style character MLP on names with tapegrad.")
    parser.add_argument("--steps", type=int, default=20_000, help="minibatch SGD steps (default 20000)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the split, the weights and the batches")
    parser.add_argument("--samples", type=int, default=10, help="how many names to sample at the end (default 10)")
    parser.add_argument("--jit", action="store_true", help="run the training step under @tapegrad.jit")
    args = parser.parse_args(argv)

    result = train(args.steps, seed=args.seed, num_samples=args.samples, verbose=True, jit=args.jit)
    print(
        f"trained {args.steps} steps in {result['seconds']:.1f} s "
        f"({result['seconds'] / max(args.steps, 1) * 1000:.2f} ms/step); "
        f"train loss {result['train_loss']:.4f}, dev loss {result['dev_loss']:.4f} "
        f"(uniform guessing: {np.log(len(CHARS)):.4f})"
    )
    print("samples:", *result["samples"], sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

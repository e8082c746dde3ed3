"""A self-attention block written with ``np.einsum``, differentiated by tapegrad.

The block is the one of a transformer layer, multi-head, in plain numpy:
queries, keys and values are projections of the input sequence, each query
attends to every key through a softmax of scaled dot products, and the heads'
outputs are projected back::

    q = einsum("td,hde->hte", x, Wq)            # per head: (tokens, head size)
    scores = einsum("hqe,hke->hqk", q, k) / sqrt(head size)
    out = einsum("hqk,hke,hef->qf", softmax(scores), v, Wo)

The same function runs on numpy arrays and on tapegrad Values; tapegrad
records each einsum as one op, so :func:`tapegrad.grad` gives the gradient
with respect to every weight.  The script checks it against central
differences (and PyTorch's autograd in float64 when torch is installed), then
takes a few gradient steps fitting the block to a target map.  Run it::

    python examples/attention.py
    python examples/attention.py --steps 50

Import :func:`attention`, :func:`check_gradients` and :func:`fit` to run it from tests.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

import tapegrad

TOKENS, WIDTH, HEADS, HEAD_SIZE = 5, 8, 2, 4
WEIGHTS = ("Wq", "Wk", "Wv", "Wo")


def softmax(scores: Any) -> Any:
    """Along the last axis, shifted by the row maximum so exp cannot overflow (the shift changes nothing else)."""
    shifted = scores - np.max(scores, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def attention(x: Any, Wq: Any, Wk: Any, Wv: Any, Wo: Any) -> Any:
    """Multi-head self-attention of the sequence ``x`` (tokens, width): an array of the same shape."""
    q = np.einsum("td,hde->hte", x, Wq)
    k = np.einsum("td,hde->hte", x, Wk)
    v = np.einsum("td,hde->hte", x, Wv)
    scores = np.einsum("hqe,hke->hqk", q, k) / np.sqrt(Wq.shape[-1])
    return np.einsum("hqk,hke,hef->qf", softmax(scores), v, Wo)


def init(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A random input sequence and weights (scaled by 1/sqrt(fan-in))."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(TOKENS, WIDTH))
    shapes = {"Wq": (HEADS, WIDTH, HEAD_SIZE), "Wk": (HEADS, WIDTH, HEAD_SIZE), "Wv": (HEADS, WIDTH, HEAD_SIZE),
              "Wo": (HEADS, HEAD_SIZE, WIDTH)}
    weights = {name: rng.normal(size=shape) / np.sqrt(shape[1]) for name, shape in shapes.items()}
    return x, weights


def loss(x: Any, target: np.ndarray, *weights: Any) -> Any:
    """The mean squared distance of the block's output from ``target``."""
    return np.mean((attention(x, *weights) - target) ** 2)


def _central_differences(f: Any, weights: list[np.ndarray], step: float = 1e-6) -> list[np.ndarray]:
    grads = []
    for k, w in enumerate(weights):
        grad = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            up, down = [a.copy() for a in weights], [a.copy() for a in weights]
            up[k][index] += step
            down[k][index] -= step
            grad[index] = (f(*up) - f(*down)) / (2 * step)
        grads.append(grad)
    return grads


def _torch_gradients(x: np.ndarray, target: np.ndarray, weights: list[np.ndarray]) -> list[np.ndarray] | None:
    """The same loss through PyTorch's float64 autograd, or None without torch."""
    try:
        import torch  # an optional check: the example needs only numpy and tapegrad
    except ImportError:
        return None
    xt, tt = torch.tensor(x), torch.tensor(target)
    Wq, Wk, Wv, Wo = (torch.tensor(w, requires_grad=True) for w in weights)
    q, k, v = (torch.einsum("td,hde->hte", xt, W) for W in (Wq, Wk, Wv))
    scores = torch.einsum("hqe,hke->hqk", q, k) / HEAD_SIZE**0.5
    out = torch.einsum("hqk,hke,hef->qf", torch.softmax(scores, dim=-1), v, Wo)
    ((out - tt) ** 2).mean().backward()
    return [W.grad.numpy() for W in (Wq, Wk, Wv, Wo)]


class Check(NamedTuple):
    """How far tapegrad's gradient is from central differences and from PyTorch (None: not installed)."""

    finite_differences: float
    torch: float | None


def check_gradients(seed: int = 0) -> Check:
    """The largest relative difference of tapegrad's gradient from the two references."""
    x, weights = init(seed)
    target = np.random.default_rng(seed + 1).normal(size=(TOKENS, WIDTH))
    values = [weights[name] for name in WEIGHTS]
    grads = tapegrad.grad(lambda *w: loss(x, target, *w), argnums=(0, 1, 2, 3))(*values)
    differences = _central_differences(lambda *w: float(loss(x, target, *w)), values)

    def distance(reference: list[np.ndarray]) -> float:
        return max(float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-300)) for g, r in zip(grads, reference))

    by_torch = _torch_gradients(x, target, values)
    return Check(distance(differences), None if by_torch is None else distance(by_torch))


def fit(steps: int, seed: int = 0, learning_rate: float = 0.5, verbose: bool = False) -> list[float]:
    """Gradient descent on the weights toward a target the block can reach (another block's output)."""
    x, weights = init(seed)
    _, teacher = init(seed + 2)
    target = attention(x, *[teacher[name] for name in WEIGHTS])
    values = [weights[name] for name in WEIGHTS]
    step = tapegrad.value_and_grad(lambda *w: loss(x, target, *w), argnums=(0, 1, 2, 3))
    losses = []
    for k in range(steps):
        value, grads = step(*values)
        losses.append(float(value))
        values = [w - learning_rate * g for w, g in zip(values, grads)]
        if verbose and (k % 10 == 0 or k == steps - 1):
            print(f"step {k} loss {float(value):.6f}")
    return losses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A self-attention block with np.einsum, differentiated by tapegrad.")
    parser.add_argument("--steps", type=int, default=30, help="gradient steps of the fit (default 30)")
    args = parser.parse_args(argv)
    check = check_gradients()
    print(f"gradient vs central differences: max relative difference {check.finite_differences:.1e}")
    if check.torch is not None:
        print(f"gradient vs PyTorch (float64):   max relative difference {check.torch:.1e}")
    losses = fit(args.steps, verbose=True)
    if losses:
        print(f"final: loss {losses[-1]:.6f} after {args.steps} steps (from {losses[0]:.6f})")
    return 0 if check.finite_differences < 1e-6 and (check.torch is None or check.torch < 1e-12) else 1


if __name__ == "__main__":
    raise SystemExit(main())

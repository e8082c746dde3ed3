"""Batched layers: micrograd's MLP as matrix ops on array Values.

micrograd computes one neuron for one example at a time; these layers hold a
whole weight matrix in one :class:`~tapegrad.Value` and push a whole batch
through it with ``@``, so a forward pass is a handful of records however many
examples and neurons there are.  The backward pass is the same tape
interpreter, with arrays in the slots::

    >>> model = MLP(2, [16, 16, 1], seed=1337)
    >>> scores = model(np.zeros((100, 2)))      # shape (100, 1)
    >>> scores.sum().backward()
    >>> model.layers[0].weight.grad.shape
    (2, 16)

Weights come from a :class:`numpy.random.Generator`: ``seed=`` builds one,
``rng=`` shares one (a model hands its generator down to its layers, so the
same seed builds the same model); with neither, numpy picks fresh entropy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConflictingArgumentsError, InputTypeError, ShapeError, UnknownNameError
from ..values.value import Value
from . import Module

__all__ = ["Linear", "MLP", "Embedding"]

ACTIVATIONS = ("relu", "tanh")

# Kaiming gains: the factor that keeps the activations' scale from layer to layer
# for each nonlinearity (He et al. 2015; 5/3 is PyTorch's value for tanh).
GAINS = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3.0, "linear": 1.0}


def _generator(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    """The one generator a model draws all its weights from, so that a seed reproduces the model."""
    if seed is not None and rng is not None:
        raise ConflictingArgumentsError("give seed= or rng=, not both: a seed builds its own numpy Generator")
    if rng is not None:
        return rng
    return np.random.default_rng(seed)


def _check_size(what: str, n: Any) -> int:
    """``n`` as a positive int, or a ValueError naming the argument: a layer of 0 units is a typo."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


class Linear(Module):
    """``x @ W + b`` for a batch ``x`` of shape (..., nin): one matrix product instead of nout neurons.

    ``W`` has shape (nin, nout), so row ``j`` of micrograd's layer is column
    ``j`` here.  Weights are uniform in ``[-bound, bound]`` with
    ``bound = gain * sqrt(3 / nin)`` (Kaiming uniform: variance ``gain² / nin``,
    so the output has the scale of the input whatever ``nin`` is); ``gain``
    defaults to ReLU's sqrt(2).  The bias starts at 0, as in micrograd.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        *,
        gain: float = GAINS["relu"],
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.nin = _check_size("Linear's nin", nin)
        self.nout = _check_size("Linear's nout", nout)
        if not (isinstance(gain, (int, float)) and gain >= 0):
            raise ValueError(f"Linear's gain must be a number >= 0, got {gain!r}")
        generator = _generator(seed, rng)
        bound = gain * math.sqrt(3.0 / self.nin)
        self.weight = Value(generator.uniform(-bound, bound, size=(self.nin, self.nout)), name="weight")
        self.bias = Value(np.zeros(self.nout), name="bias") if bias else None

    def __call__(self, x: Any) -> Value:
        if not isinstance(x, Value):
            x = np.asarray(x)
        shape = x.shape
        if len(shape) == 0 or shape[-1] != self.nin:
            # Say which layer: the matmul's own ShapeError could not.
            raise ShapeError(f"{self!r} takes inputs of shape (..., {self.nin}), got shape {shape}")
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out

    def parameters(self) -> list[Any]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Linear({self.nin}, {self.nout}{'' if self.bias is not None else ', bias=False'})"


class MLP(Module):
    """micrograd's MLP as matrix ops: ``Linear`` layers with ``activation`` between them, the last one linear.

    ``MLP(2, [16, 16, 1])`` has the same 337 parameters as the scalar
    ``tapegrad.nn.MLP(2, [16, 16, 1])``, and with the same weights computes the
    same scores, a batch at a time.  Each layer's init gain suits what follows
    it (ReLU's or tanh's for hidden layers, 1 for the last).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise UnknownNameError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {activation!r}")
        if len(nouts) == 0:
            raise ValueError("MLP needs at least one layer size in nouts, e.g. MLP(2, [16, 16, 1])")
        generator = _generator(seed, rng)
        self.activation = activation
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Linear(sizes[i], sizes[i + 1], gain=GAINS["linear" if i == last else activation], rng=generator)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Any) -> Value:
        *hidden, last = self.layers
        for layer in hidden:
            x = layer(x).relu() if self.activation == "relu" else layer(x).tanh()
        return last(x)

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP({self.activation}) of [{', '.join(map(repr, self.layers))}]"


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector of token ``i``.

    ``embedding(idx)`` for an int array ``idx`` of any shape gives shape
    ``idx.shape + (dim,)``; it is indexing, ``weight[idx]``, so its backward
    pass adds each row's gradient into the rows looked up (several times for
    a repeated token).  Rows start standard normal, as in makemore.
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.num_embeddings = _check_size("Embedding's num_embeddings", num_embeddings)
        self.dim = _check_size("Embedding's dim", dim)
        generator = _generator(seed, rng)
        self.weight = Value(generator.standard_normal((self.num_embeddings, self.dim)), name="embedding")

    def __call__(self, idx: Any) -> Value:
        if isinstance(idx, Value):  # the ids of a traced minibatch (tapegrad.jit): every run checks them
            return self.weight[idx]  # (whole numbers in range: the take kernel's ValueError says which)
        idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":
            raise InputTypeError(
                f"{self!r} looks up integer token ids, got an array of dtype {idx.dtype}; "
                "convert with idx.astype(int) if the numbers are whole"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise ShapeError(f"{self!r} got token id {bad}; ids must be in [0, {self.num_embeddings})")
        return self.weight[idx]

    def parameters(self) -> list[Any]:
        return [self.weight]

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.dim})"

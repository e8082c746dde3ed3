"""Neural networks from Values: micrograd's ``Module``, ``Neuron``, ``Layer`` and ``MLP``.

The classes are micrograd's, line for line, so its lecture and demo run
unchanged::

    >>> model = MLP(2, [16, 16, 1], seed=1337)
    >>> score = model([Value(0.5), Value(-1.0)])
    >>> score.backward()

Two additions, both optional:

* ``seed`` (an int) or ``rng`` (a :class:`random.Random`) makes a model
  reproducible without touching the global ``random`` state; an MLP hands one
  generator down to every neuron, so the same seed builds the same model.
  With neither, weights come from the global ``random`` module, exactly as in
  micrograd: after ``random.seed(1337)`` both libraries build the same MLP.
* ``value_type`` picks the scalar class the parameters are made of (default
  :class:`tapegrad.Value`), so one model definition runs on another engine
  with the same API, such as ``tapegrad.closure.Value``, for benchmarks.

The array versions live in two submodules, both re-exported here:

* :mod:`tapegrad.nn.batched`: ``Linear``, ``Embedding`` and a batched ``MLP``,
  as matrix ops on array Values (import that one as
  ``tapegrad.nn.batched.MLP``: ``MLP`` here stays micrograd's);
* :mod:`tapegrad.nn.optim`: the ``SGD`` and ``Adam`` optimisers, for scalar
  and array parameters alike.

:func:`functional_call` (:mod:`tapegrad.nn.functional`) runs a model with
other parameters, as a function of them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import ConflictingArgumentsError, ShapeError
from ..values.value import Value

__all__ = ["Module", "Neuron", "Layer", "MLP", "Linear", "Embedding", "SGD", "Adam", "functional_call"]


class RandomSource(Protocol):
    """Where weights come from: a ``random.Random``, or the ``random`` module itself."""

    def uniform(self, a: float, b: float) -> float: ...


def _generator(seed: int | None, rng: RandomSource | None) -> RandomSource:
    """The generator a model draws its weights from.

    Kept as one object so that a whole model drawn from it is reproducible;
    the global ``random`` module when neither is given, as micrograd does.
    """
    if seed is not None and rng is not None:
        raise ConflictingArgumentsError("give seed= or rng=, not both: a seed builds its own random.Random")
    if rng is not None:
        return rng
    if seed is not None:
        return random.Random(seed)
    return random


class Module:
    """Something with parameters: ``zero_grad()`` resets what ``backward()`` added."""

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0, since ``backward()`` accumulates."""
        for p in self.parameters():
            p.grad = 0

    def parameters(self) -> list[Any]:
        """The Values an optimiser updates, in a fixed order."""
        return []


def _check_inputs(x: Any, nin: int, who: object) -> None:
    """``x`` is a sequence of ``nin`` inputs: micrograd's ``zip`` silently drops extra inputs (or weights).

    ``who`` names the caller when printed; a Neuron passes itself, since formatting its name on
    every call cost about 1 ms of a moons step (3,300 neuron calls).
    """
    try:
        count = len(x)
    except TypeError:
        raise ShapeError(f"{who} takes a list of {nin} inputs, got {type(x).__name__} {x!r:.60}") from None
    if count != nin:
        raise ShapeError(f"{who} takes {nin} inputs, got {count}; one number (or Value) per input")


class Neuron(Module):
    """``relu(w . x + b)``, or ``w . x + b`` when ``nonlin`` is false.

    Weights start uniform in [-1, 1] and the bias at 0, as in micrograd.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        seed: int | None = None,
        rng: RandomSource | None = None,
        value_type: type[Any] = Value,
    ) -> None:
        generator = _generator(seed, rng)
        self.w = [value_type(generator.uniform(-1, 1)) for _ in range(nin)]
        self.b = value_type(0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Any]) -> Any:
        _check_inputs(x, len(self.w), self)
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Any]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; one output is returned bare, as in micrograd."""

    def __init__(
        self,
        nin: int,
        nout: int,
        nonlin: bool = True,
        *,
        seed: int | None = None,
        rng: RandomSource | None = None,
        value_type: type[Any] = Value,
    ) -> None:
        generator = _generator(seed, rng)
        self.neurons = [Neuron(nin, nonlin, rng=generator, value_type=value_type) for _ in range(nout)]

    def __call__(self, x: Sequence[Any]) -> Any:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Any]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ReLU layers, then a linear last layer.

    ``MLP(2, [16, 16, 1])`` maps 2 inputs to one score through two hidden
    layers of 16 (337 parameters).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        seed: int | None = None,
        rng: RandomSource | None = None,
        value_type: type[Any] = Value,
    ) -> None:
        generator = _generator(seed, rng)
        sz = [nin] + list(nouts)
        self.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1, rng=generator, value_type=value_type)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Any]) -> Any:
        if self.layers and self.layers[0].neurons:  # said here, where the user called, not by the first neuron
            _check_inputs(x, len(self.layers[0].neurons[0].w), f"MLP({len(self.layers[0].neurons[0].w)}, ...)")
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# Last, because the batched layers subclass Module, defined above.
from .batched import Embedding, Linear  # noqa: E402
from .functional import functional_call  # noqa: E402
from .optim import SGD, Adam  # noqa: E402

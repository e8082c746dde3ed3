"""Arrays on the tape: one training step against hand-written numpy, PyTorch and micrograd, in one run.

Measures one training step (forward, backward and the SGD update) of two
models, every engine on the same parameters, data and loss:

* ``moons100`` and ``moons10k``: micrograd's demo MLP 2 -> 16 -> 16 -> 1
  (relu, 337 parameters) on 100 and on 10,000 two-moons points, SVM
  max-margin loss ``relu(1 - y * score).mean() + 1e-4 * sum(p ** 2)``;
* ``makemore``: the character-level MLP of makemore part 2 (block size 3,
  embedding 27 x 10, 200 tanh hidden units, 27 logits, cross-entropy) on
  minibatches of 32 contexts from ``examples/data/names.txt`` (random
  contexts if that file is missing).

Engines: five tapegrad rows, all public API: eager ``Value`` ops written
the way a user writes them; the same with ``tapegrad.nn.batched`` layers and
``tapegrad.nn.optim.SGD``; the loss traced once with ``tapegrad.trace`` and
replayed by ``tape.value_and_gradient``; that tape's gradient tape
compiled to numpy source by hand; and the ``nn`` step's eager code (loss and
``backward()``) under ``@tapegrad.jit``, the optimiser outside.  Against them: a hand-written numpy forward and
backward (the practical limit), PyTorch on the CPU (when installed) and
micrograd 0.1.0 (100 moons points only: it has no tanh, and takes about a
second a step).  The targets are judged on the fastest tapegrad row.

Before timing, every engine takes one step from the same parameters and its
loss and gradients are compared with the hand-written numpy ones (relative
difference: max |a - b| / max |b| per parameter); the table prints the
largest.  Timing: ``time.perf_counter`` around each step, every step from
the initial parameters (reset outside the timer), warm-up steps first, the
garbage collector enabled (micrograd's real cost is in it), and for the fast
engines the best of three medians (noise on a shared machine only ever adds
time).  Peak memory is the most one step holds at once, as tracemalloc sees
it: numpy reports its buffers to it, PyTorch's allocator does not.  Then the
targets of issue 7, met or MISSED.

Run:  python benchmarks/bench_arrays.py [--quick] [--only moons100 moons10k makemore] [--threads 1] [--keep-heap]
      python benchmarks/bench_arrays.py --profile moons100   # where the tapegrad eager step's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import importlib.util
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import add_docs_flag, best_ms, figures, load_average, peak_mb, table, verdict, versions, writes_docs

import tapegrad

try:
    import micrograd.engine as micrograd_engine
    import micrograd.nn as micrograd_nn
except ImportError:  # the bench extra is not installed
    micrograd_engine = micrograd_nn = None

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "examples" / "data" / "names.txt"
SEED = 1337
MOONS_LAYERS = (2, 16, 16, 1)
ALPHA = 1e-4  # the L2 weight of micrograd's demo
MOONS_RATE = 0.1
BLOCK, EMBED, HIDDEN, VOCAB, BATCH = 3, 10, 200, 27, 32
MAKEMORE_RATE = 0.1
TOLERANCE = 1e-12  # relative, for float64 engines
HEADER = ["workload", "engine", "ms per step", "steps/s", "time / numpy", "micrograd / time", "peak MB", "agreement"]


# ---------------------------------------------------------------- workloads


@dataclass
class Workload:
    """A model's initial parameters and the batches its steps run on (one per step, cycled)."""

    key: str
    title: str
    kind: str  # "moons" or "makemore"
    names: list[str]
    params: list[np.ndarray]
    batches: list[tuple[np.ndarray, np.ndarray]]
    rate: float
    source: str = ""


def make_moons(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The demo's two moons (``examples/moons.py``): points (n, 2) and labels in {-1, +1}."""
    spec = importlib.util.spec_from_file_location("moons_example", ROOT / "examples" / "moons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_moons(n, noise=0.1, seed=SEED)


def moons_workload(points: int) -> Workload:
    """Full-batch steps on ``points`` moons; labels as a column so ``y * score`` lines up with the (n, 1) scores."""
    X, y = make_moons(points)
    rng = np.random.default_rng(SEED)
    names, params = [], []
    for i, (fan_in, fan_out) in enumerate(zip(MOONS_LAYERS, MOONS_LAYERS[1:]), start=1):
        names += [f"W{i}", f"b{i}"]
        params += [rng.uniform(-1, 1, (fan_in, fan_out)), rng.uniform(-1, 1, fan_out)]  # micrograd's init
    title = f"W1 moons, {points:,} points"
    return Workload(f"moons{points // 1000}k" if points >= 1000 else f"moons{points}", title, "moons", names, params,
                    [(np.ascontiguousarray(X), y.reshape(-1, 1).astype(np.float64))], MOONS_RATE)


def names_dataset(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """makemore's (context, next character) pairs from the names file, or random ones of that shape."""
    if NAMES.exists():
        words = NAMES.read_text().split()
        chars = sorted(set("".join(words)))
        index = {c: i + 1 for i, c in enumerate(chars)}  # 0 is '.', start and end of a name
        contexts, targets = [], []
        for word in words:
            context = [0] * BLOCK
            for c in word + ".":
                j = index.get(c, 0)
                contexts.append(context)
                targets.append(j)
                context = context[1:] + [j]
        source = f"{len(words):,} names from examples/data/names.txt, {len(targets):,} examples"
        return np.array(contexts, dtype=np.intp), np.array(targets, dtype=np.intp), source
    n = 30_000
    source = "random contexts (examples/data/names.txt is missing)"
    return rng.integers(0, VOCAB, (n, BLOCK)), rng.integers(0, VOCAB, n), source


def makemore_workload(batches: int = 64) -> Workload:
    rng = np.random.default_rng(SEED)
    X, Y, source = names_dataset(rng)
    params = [
        rng.standard_normal((VOCAB, EMBED)),
        rng.standard_normal((BLOCK * EMBED, HIDDEN)) * (5 / 3) / (BLOCK * EMBED) ** 0.5,
        rng.standard_normal(HIDDEN) * 0.01,
        rng.standard_normal((HIDDEN, VOCAB)) * 0.01,
        np.zeros(VOCAB),
    ]
    picks = [rng.integers(0, len(Y), BATCH) for _ in range(batches)]
    title = f"W2 makemore MLP, batch {BATCH}"
    return Workload("makemore", title, "makemore", ["C", "W1", "b1", "W2", "b2"], params,
                    [(X[ix], Y[ix]) for ix in picks], MAKEMORE_RATE, f"makemore data: {source}")


# ---------------------------------------------------------------- engines
#
# Each engine owns a copy of the workload's parameters.  ``step(batch)`` runs
# one training step and returns the loss before the update; ``gradients()``
# returns that step's gradients, in the workload's parameter order; and
# ``reset()`` puts the initial parameters back.  The timing loop resets before
# every step (outside the timer), so every timed step does the same work: left
# to train, the moons model soon classifies every point with margin, the hinge
# adjoint becomes all zeros, and an engine that skips zero adjoints would then
# be timed on a step that is not the one the others do.


class HandNumpy:
    """The forward and backward pass written out in numpy: the practical limit."""

    name = "hand-written numpy"

    def __init__(self, work: Workload) -> None:
        self.params = [p.copy() for p in work.params]
        self.initial = work.params
        self.rate = work.rate
        self.grads: list[np.ndarray] = []
        self.ones = np.ones(0)
        self.step = self.moons_step if work.kind == "moons" else self.makemore_step

    def gradients(self) -> list[np.ndarray]:
        return self.grads

    def reset(self) -> None:
        for p, q in zip(self.params, self.initial):
            p[...] = q

    def update(self) -> None:
        for p, g in zip(self.params, self.grads):
            p -= self.rate * g

    def column_sums(self, d: np.ndarray) -> np.ndarray:
        """``d.sum(axis=0)`` as a matrix-vector product: BLAS is ten times faster at 10,000 rows."""
        if len(self.ones) != len(d):
            self.ones = np.ones(len(d))
        return self.ones @ d

    def moons_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        X, y = batch
        W1, b1, W2, b2, W3, b3 = self.params
        n = len(y)
        h1 = X @ W1
        h1 += b1
        np.maximum(h1, 0.0, out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, 0.0, out=h2)
        margin = h2 @ W3
        margin += b3
        margin *= y
        np.subtract(1.0, margin, out=margin)
        np.maximum(margin, 0.0, out=margin)
        loss = float(margin.sum()) / n + ALPHA * sum(float(np.vdot(p, p)) for p in self.params)
        # d loss / d score is -y / n where the margin is active, 0 elsewhere
        d_score = (margin > 0.0) * y
        d_score *= -1.0 / n
        d_h2 = (h2 > 0.0) * W3.T
        d_h2 *= d_score
        d_h1 = d_h2 @ W2.T
        d_h1 *= h1 > 0.0
        self.grads = [
            X.T @ d_h1,
            self.column_sums(d_h1),
            h1.T @ d_h2,
            self.column_sums(d_h2),
            h2.T @ d_score,
            d_score.sum(axis=0),
        ]
        for p, g in zip(self.params, self.grads):
            g += (2 * ALPHA) * p
        self.update()
        return loss

    def makemore_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        contexts, targets = batch
        C, W1, b1, W2, b2 = self.params
        n = len(targets)
        rows = np.arange(n)
        x = C[contexts].reshape(n, BLOCK * EMBED)
        h = x @ W1
        h += b1
        np.tanh(h, out=h)
        logits = h @ W2
        logits += b2
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        total = probs.sum(axis=1, keepdims=True)
        loss = float(np.log(total).sum() - logits[rows, targets].sum()) / n
        probs /= total
        probs[rows, targets] -= 1.0
        d_logits = probs
        d_logits /= n
        d_h = d_logits @ W2.T
        d_h *= 1.0 - h * h
        d_x = d_h @ W1.T
        # scatter-add of the embedding rows: a one-hot matmul beats np.add.at at this size
        one_hot = np.zeros((contexts.size, VOCAB))
        one_hot[np.arange(contexts.size), contexts.ravel()] = 1.0
        d_C = one_hot.T @ d_x.reshape(-1, EMBED)
        self.grads = [d_C, x.T @ d_h, d_h.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)]
        self.update()
        return loss


class TapegradEager:
    """tapegrad array Values, written as a user writes them: eager ops, ``backward()``, update by assignment."""

    name = "tapegrad eager (Value ops)"

    def __init__(self, work: Workload) -> None:
        self.params = [tapegrad.Value(p) for p in work.params]
        self.initial = work.params
        self.rate = work.rate
        self.step = self.moons_step if work.kind == "moons" else self.makemore_step

    def gradients(self) -> list[np.ndarray]:
        return [np.asarray(p.grad) for p in self.params]

    def reset(self) -> None:
        for p, q in zip(self.params, self.initial):
            p.data = q  # safe to share: updates assign new arrays and never write into the old one

    def train(self, loss: Any) -> float:
        for p in self.params:
            p.grad = 0
        loss.backward()
        for p in self.params:
            p.data = p.data - self.rate * p.grad
        return float(loss.data)

    def moons_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        return self.train(moons_loss(self.params, *batch))

    def makemore_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        return self.train(makemore_loss(self.params, *batch))


def moons_loss(params: Sequence[Any], X: np.ndarray, y: np.ndarray) -> Any:
    """The SVM max-margin loss of the moons MLP, for tapegrad Values."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = (X @ W1 + b1).relu()
    h2 = (h1 @ W2 + b2).relu()
    scores = h2 @ W3 + b3
    data_loss = (1 - scores * y).relu().mean()
    return data_loss + ALPHA * sum((p * p).sum() for p in params)


def makemore_loss(params: Sequence[Any], contexts: np.ndarray, targets: np.ndarray) -> Any:
    """makemore's MLP: embed the contexts, one tanh layer, cross-entropy of the next character."""
    C, W1, b1, W2, b2 = params
    emb = C[contexts].reshape(len(targets), BLOCK * EMBED)
    h = (emb @ W1 + b1).tanh()
    logits = h @ W2 + b2
    return tapegrad.cross_entropy(logits, targets)


class TapegradNN(TapegradEager):
    """The same steps with ``tapegrad.nn.batched`` layers and ``tapegrad.nn.optim.SGD``."""

    name = "tapegrad nn (batched layers + optim.SGD)"

    def __init__(self, work: Workload) -> None:
        from tapegrad.nn import batched, optim

        if work.kind == "moons":
            self.model = batched.MLP(MOONS_LAYERS[0], list(MOONS_LAYERS[1:]), seed=SEED)
            for layer, W, b in zip(self.model.layers, work.params[0::2], work.params[1::2]):
                layer.weight.data, layer.bias.data = W.copy(), b.copy()
            self.params = self.model.parameters()
            self.step = self.moons_step
        else:
            self.embedding = batched.Embedding(VOCAB, EMBED, seed=SEED)
            self.hidden = batched.Linear(BLOCK * EMBED, HIDDEN, seed=SEED)
            self.out = batched.Linear(HIDDEN, VOCAB, seed=SEED)
            C, W1, b1, W2, b2 = work.params
            self.embedding.weight.data = C.copy()
            self.hidden.weight.data, self.hidden.bias.data = W1.copy(), b1.copy()
            self.out.weight.data, self.out.bias.data = W2.copy(), b2.copy()
            self.params = [self.embedding.weight, *self.hidden.parameters(), *self.out.parameters()]
            self.step = self.makemore_step
        self.initial = work.params
        self.optimizer = optim.SGD(self.params, lr=work.rate)

    def train(self, loss: Any) -> float:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.data)

    def moons_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        X, y = batch
        data_loss = (1 - self.model(X) * y).relu().mean()
        return self.train(data_loss + ALPHA * sum((p * p).sum() for p in self.params))

    def makemore_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        contexts, targets = batch
        h = self.hidden(self.embedding(contexts).reshape(len(targets), BLOCK * EMBED)).tanh()
        return self.train(tapegrad.cross_entropy(self.out(h), targets))


class TapegradReplay:
    """The loss traced once as a function of the parameters, and each step a replay of its value and gradient.

    The moons data are constants of the tape (every step sees the same full
    batch).  makemore's minibatch changes every step, so its contexts and
    targets are inputs of the tape: indexing with a Value records ``take``,
    whose indices are an operand, not a recorded attribute.
    """

    name = "tapegrad replay (trace once, tape.value_and_gradient)"

    def __init__(self, work: Workload) -> None:
        self.kind = work.kind
        self.initial = work.params
        self.params = list(work.params)
        self.rate = work.rate
        self.grads: list[np.ndarray] = []
        if work.kind == "moons":
            self.batch = work.batches[0]
            X, y = self.batch
            self.tape = tapegrad.trace(lambda *params: moons_loss(params, X, y), *work.params)
        else:
            self.tape = tapegrad.trace(makemore_batch_loss, *work.params, *work.batches[0])
        self.run = self.tape.value_and_gradient

    def gradients(self) -> list[np.ndarray]:
        return self.grads

    def reset(self) -> None:
        self.params = list(self.initial)

    def step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        if self.kind == "moons":
            assert batch is self.batch, "the moons data are constants of the traced tape"
            value, grads = self.run(*self.params)
        else:
            value, grads = self.run(*self.params, *batch)
        self.grads = list(grads[: len(self.params)])
        self.params = [p - self.rate * g for p, g in zip(self.params, self.grads)]
        return float(value)


class TapegradCompiled(TapegradReplay):
    """The traced loss's gradient tape, optimised and compiled to numpy source: one generated function per step."""

    name = "tapegrad compiled (grad_tape, optimize, compile('numpy'))"

    def __init__(self, work: Workload) -> None:
        super().__init__(work)
        compiled = tapegrad.optimize(tapegrad.grad_tape(self.tape)).compile("numpy")

        def run(*args: Any) -> tuple[Any, tuple[Any, ...]]:
            value, *grads = compiled(*args)
            return value, tuple(grads)

        self.run = run


class TapegradJit(TapegradNN):
    """:class:`TapegradNN`'s step as a user writes it eagerly, with its loss and ``backward()`` under ``@tapegrad.jit``.

    The function body is the eager code; the jit traces it once, lifts the
    model's parameters (captured Values) to inputs of the generated code,
    and adds the gradients its ``backward()`` computed to their ``.grad``
    after each call; ``zero_grad`` and the optimiser's step stay outside.
    """

    name = "tapegrad jit (the nn step under @tapegrad.jit)"

    def __init__(self, work: Workload) -> None:
        super().__init__(work)
        eager = self.moons_loss_step if work.kind == "moons" else self.makemore_loss_step
        self.loss_step = tapegrad.jit(eager)
        self.step = self.jit_step

    def moons_loss_step(self, X: Any, y: Any) -> Any:
        data_loss = (1 - self.model(X) * y).relu().mean()
        loss = data_loss + ALPHA * sum((p * p).sum() for p in self.params)
        loss.backward()
        return loss

    def makemore_loss_step(self, contexts: Any, targets: Any) -> Any:
        h = self.hidden(self.embedding(contexts).reshape(len(targets), BLOCK * EMBED)).tanh()
        loss = tapegrad.cross_entropy(self.out(h), targets)
        loss.backward()
        return loss

    def jit_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        self.optimizer.zero_grad()
        loss = self.loss_step(*batch)
        self.optimizer.step()
        return float(loss)


def jit_overhead_us(work: Workload, repeats: int) -> tuple[float, float]:
    """(microseconds of one jitted call, of the generated code it runs): their difference is the jit's own cost
    (argument signature, program lookup, captured Values read, gradients added to ``.grad``)."""
    engine = TapegradJit(work)
    batch = work.batches[0]
    engine.step(batch)
    program = engine.loss_step.programs[0]
    captured = [v._data for v in program.captured]
    call = best_ms(repeats, engine.loss_step, *batch) * 1e3
    code = best_ms(repeats, program.run, *batch, *captured) * 1e3
    return call, code


def makemore_batch_loss(C: Any, W1: Any, b1: Any, W2: Any, b2: Any, contexts: Any, targets: Any) -> Any:
    """:func:`makemore_loss` with the minibatch as arguments, so that a traced tape takes a new one each step."""
    return makemore_loss((C, W1, b1, W2, b2), contexts, targets)


class Torch:
    """PyTorch's eager autograd on the CPU, float64, as its tutorials write the step."""

    name = "PyTorch CPU"

    def __init__(self, work: Workload) -> None:
        import torch

        self.torch = torch
        self.params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in work.params]
        self.initial = [torch.from_numpy(p) for p in work.params]
        self.rate = work.rate
        self.step = self.moons_step if work.kind == "moons" else self.makemore_step

    def gradients(self) -> list[np.ndarray]:
        return [p.grad.numpy() for p in self.params]

    def reset(self) -> None:
        with self.torch.no_grad():
            for p, q in zip(self.params, self.initial):
                p.copy_(q)

    def train(self, loss: Any) -> float:
        for p in self.params:
            p.grad = None
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= self.rate * p.grad
        return loss.item()

    def moons_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        torch = self.torch
        X, y = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        W1, b1, W2, b2, W3, b3 = self.params
        h1 = torch.relu(X @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        scores = h2 @ W3 + b3
        loss = torch.relu(1 - y * scores).mean() + ALPHA * sum((p * p).sum() for p in self.params)
        return self.train(loss)

    def makemore_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        torch = self.torch
        contexts, targets = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
        C, W1, b1, W2, b2 = self.params
        h = torch.tanh(C[contexts].view(len(targets), BLOCK * EMBED) @ W1 + b1)
        loss = torch.nn.functional.cross_entropy(h @ W2 + b2, targets)
        return self.train(loss)


class Micrograd:
    """micrograd 0.1.0's demo step: one scalar Value per number, forward, backward, SGD."""

    name = "micrograd 0.1.0"

    def __init__(self, work: Workload) -> None:
        assert micrograd_nn is not None and micrograd_engine is not None
        self.model = micrograd_nn.MLP(MOONS_LAYERS[0], list(MOONS_LAYERS[1:]))
        self.initial = work.params
        self.rate = work.rate
        self.reset()

    def reset(self) -> None:
        for layer, W, b in zip(self.model.layers, self.initial[0::2], self.initial[1::2]):
            for j, neuron in enumerate(layer.neurons):
                for i, w in enumerate(neuron.w):
                    w.data = float(W[i, j])
                neuron.b.data = float(b[j])

    def gradients(self) -> list[np.ndarray]:
        grads: list[np.ndarray] = []
        for layer in self.model.layers:
            grads.append(np.array([[w.grad for w in n.w] for n in layer.neurons]).T)
            grads.append(np.array([n.b.grad for n in layer.neurons]))
        return grads

    def step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        Value = micrograd_engine.Value
        X, y = batch
        model = self.model
        inputs = [list(map(Value, row)) for row in X.tolist()]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y.ravel().tolist(), scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= self.rate * p.grad
        return total.data


def engines_for(work: Workload) -> list[tuple[str, Callable[[Workload], Any] | None, str]]:
    """(row name, engine factory or None, why it is missing) for a workload, the reference first."""
    rows: list[tuple[str, Callable[[Workload], Any] | None, str]] = [(HandNumpy.name, HandNumpy, "")]
    rows.append((TapegradEager.name, TapegradEager, ""))
    if importlib.util.find_spec("tapegrad.nn.batched") and importlib.util.find_spec("tapegrad.nn.optim"):
        rows.append((TapegradNN.name, TapegradNN, ""))
    else:
        rows.append((TapegradNN.name, None, "tapegrad.nn.batched or tapegrad.nn.optim is missing"))
    rows.append((TapegradReplay.name, TapegradReplay, ""))
    rows.append((TapegradCompiled.name, TapegradCompiled, ""))
    rows.append((TapegradJit.name, TapegradJit, ""))
    try:
        import torch  # noqa: F401

        rows.append((Torch.name, Torch, ""))
    except ImportError:
        rows.append((Torch.name, None, "not installed (pip install torch)"))
    if work.key == "moons100":
        missing = "" if micrograd_nn is not None else "not installed (pip install micrograd==0.1.0)"
        rows.append((Micrograd.name, Micrograd if micrograd_nn is not None else None, missing))
    return rows


# ---------------------------------------------------------------- measuring


def relative_difference(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    """The largest, over parameters, of max |got - want| / max |want|."""
    worst = 0.0
    for a, b in zip(got, want):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        worst = max(worst, float(np.max(np.abs(a - b))) / (scale or 1.0) if b.size else 0.0)
    return worst


def median_step_ms(engine: Any, batches: Sequence[Any], repeats: int, start: int = 0) -> float:
    """The median of ``repeats`` steps from the initial parameters, in milliseconds, cycling through the batches."""
    times = []
    step, reset = engine.step, engine.reset
    for r in range(start, start + repeats):
        batch = batches[r % len(batches)]
        reset()
        begin = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1e3


def step_peak_mb(engine: Any, batch: Any) -> float:
    """The most memory one step from the initial parameters holds at once, in MB, as tracemalloc sees it."""
    engine.reset()
    return peak_mb(engine.step, batch)


@dataclass
class Result:
    workload: Workload
    engine: str
    ms: float | None = None
    peak: str = ""
    loss_diff: float = 0.0
    grad_diff: float = 0.0
    note: str = ""


def measure(work: Workload, name: str, factory: Callable[[Workload], Any], reference: tuple[float, list[np.ndarray]],
            quick: bool) -> Result:
    """Check one engine's first step against the reference, then time and weigh its steps."""
    engine = factory(work)
    loss = engine.step(work.batches[0])
    want_loss, want_grads = reference
    result = Result(work, name)
    result.loss_diff = abs(loss - want_loss) / abs(want_loss)
    result.grad_diff = relative_difference(engine.gradients(), want_grads)
    slow = name == Micrograd.name
    # warm up, then size the repeats so a median takes about a second (a tenth with --quick)
    begin = time.perf_counter()
    for i in range(1 if slow else 3):
        engine.reset()
        engine.step(work.batches[(1 + i) % len(work.batches)])
    one = (time.perf_counter() - begin) / (1 if slow else 3)
    if slow:
        result.ms = median_step_ms(engine, work.batches, 1 if quick else 5)
    else:
        repeats = int(min(2000, max(7, (0.1 if quick else 1.0) / one)))
        gc.collect()
        result.ms = min(median_step_ms(engine, work.batches, repeats, start=k * repeats)
                        for k in range(1 if quick else 3))
    result.peak = "not traced" if name == Torch.name else f"{step_peak_mb(engine, work.batches[0]):,.2f}"
    return result


def run_workload(work: Workload, quick: bool) -> list[Result]:
    reference_engine = HandNumpy(work)
    reference = (reference_engine.step(work.batches[0]), reference_engine.gradients())
    results = []
    for name, factory, missing in engines_for(work):
        if factory is None:
            results.append(Result(work, name, note=missing))
            continue
        try:
            results.append(measure(work, name, factory, reference, quick))
        except Exception as error:  # an engine that fails is a row, not the end of the run
            results.append(Result(work, name, note=f"failed: {type(error).__name__}: {error}"[:160]))
        print(f"  measured {work.key}: {name}", file=sys.stderr, flush=True)
    return results


def rows_of(results: Sequence[Result]) -> list[list[str]]:
    numpy_ms = next(r.ms for r in results if r.engine == HandNumpy.name)
    micrograd_ms = next((r.ms for r in results if r.engine == Micrograd.name), None)
    rows = []
    for r in results:
        if r.ms is None:
            rows.append([r.workload.title, r.engine, "", "", "", "", "", r.note])
            continue
        agreement = f"loss {r.loss_diff:.0e}, grads {r.grad_diff:.0e}"
        if r.engine != HandNumpy.name:
            agreement += " (ok)" if max(r.loss_diff, r.grad_diff) <= TOLERANCE else " (**DIFFERENT**)"
        else:
            agreement = "reference"
        rows.append([
            r.workload.title,
            f"**{r.engine}**" if r.engine.startswith("tapegrad") else r.engine,
            f"{r.ms:,.3f}",
            f"{1e3 / r.ms:,.0f}",
            f"{r.ms / numpy_ms:.2f}x",
            f"{micrograd_ms / r.ms:,.0f}x" if micrograd_ms else "",
            r.peak,
            agreement,
        ])
    return rows


def best_tapegrad(results: Sequence[Result]) -> Result | None:
    """The fastest tapegrad row that agrees with the reference (every tapegrad row is public API)."""
    timed = [r for r in results if r.engine.startswith("tapegrad") and r.ms is not None
             and max(r.loss_diff, r.grad_diff) <= TOLERANCE]
    return min(timed, key=lambda r: r.ms or 0.0, default=None)


def targets(by_workload: dict[str, list[Result]]) -> list[str]:
    lines = []
    for key in ("moons100", "moons10k", "makemore"):
        results = by_workload.get(key)
        if results is None:
            continue
        title = results[0].workload.title
        numpy_ms = next(r.ms for r in results if r.engine == HandNumpy.name) or 0.0
        best = best_tapegrad(results)
        if best is None or best.ms is None:
            lines.append(f"{title}: no tapegrad row ran and agreed, **MISSED**")
            continue
        ratio = best.ms / numpy_ms
        eager = next((r.ms for r in results if r.engine == TapegradEager.name), None)
        aside = f" (eager Value ops: {eager / numpy_ms:.2f}x)" if eager and best.engine != TapegradEager.name else ""
        if key == "makemore":
            lines.append(f"{title}: {best.engine} takes {ratio:.2f}x hand-written numpy{aside} (reported, no target)")
        else:
            lines.append(f"{title}: {best.engine} within 2x of hand-written numpy: {ratio:.2f}x{aside}, "
                         f"**{verdict(ratio <= 2.0)}**")
        if key == "moons100":
            lines += jit_targets(title, results, numpy_ms)
            micrograd_ms = next((r.ms for r in results if r.engine == Micrograd.name), None)
            if micrograd_ms is None:
                lines.append(f"{title}: >= 1000x faster than micrograd: micrograd not measured")
            else:
                speedup = micrograd_ms / best.ms
                lines.append(f"{title}: {best.engine} >= 1000x faster than micrograd: {speedup:,.0f}x, "
                             f"**{verdict(speedup >= 1000)}**")
    return lines


def jit_targets(title: str, results: Sequence[Result], numpy_ms: float) -> list[str]:
    """Issue 18's target: the eager nn step under ``@tapegrad.jit`` within 1.5x hand numpy, faster than PyTorch."""
    jitted = next((r for r in results if r.engine == TapegradJit.name), None)
    if jitted is None or jitted.ms is None or max(jitted.loss_diff, jitted.grad_diff) > TOLERANCE:
        return [f"{title}: the nn step under @tapegrad.jit did not run or agree, **MISSED**"]
    ratio = jitted.ms / numpy_ms
    lines = [f"{title}: the nn step under @tapegrad.jit within 1.5x of hand-written numpy: {ratio:.2f}x, "
             f"**{verdict(ratio <= 1.5)}**"]
    torch_ms = next((r.ms for r in results if r.engine == Torch.name), None)
    if torch_ms is None:
        lines.append(f"{title}: the jitted step faster than PyTorch: PyTorch not measured")
    else:
        lines.append(f"{title}: the jitted step faster than PyTorch: {torch_ms / jitted.ms:.2f}x PyTorch's speed, "
                     f"**{verdict(jitted.ms < torch_ms)}**")
    return lines


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "moons100": lambda: moons_workload(100),
    "moons10k": lambda: moons_workload(10_000),
    "makemore": makemore_workload,
}


# ---------------------------------------------------------------- profile


def phases(key: str, steps: int) -> str:
    """The tapegrad eager step in phases (median microseconds, no profiler), per record, against hand-written numpy."""
    work = WORKLOADS[key]()
    engine = TapegradEager(work)
    loss_of = moons_loss if work.kind == "moons" else makemore_loss
    times: dict[str, list[float]] = {"record the forward pass": [], "zero grads + backward()": [], "SGD update": []}
    loss = None
    for i in range(steps):
        engine.reset()
        batch = work.batches[i % len(work.batches)]
        start = time.perf_counter()
        loss = loss_of(engine.params, *batch)
        recorded = time.perf_counter()
        for p in engine.params:
            p.grad = 0
        loss.backward()
        swept = time.perf_counter()
        for p in engine.params:
            p.data = p.data - engine.rate * p.grad
        done = time.perf_counter()
        for name, seconds in zip(times, (recorded - start, swept - recorded, done - swept)):
            times[name].append(seconds)
    tape = loss._tape  # type: ignore[union-attr]
    kinds: dict[str, int] = {}
    for kind in tape.ops:
        kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    reference = HandNumpy(work)
    numpy_us = median_step_ms(reference, work.batches, steps) * 1e3
    rows = [[name, f"{statistics.median(t) * 1e6:,.1f}", f"{statistics.median(t) * 1e6 / len(tape.ops):,.2f}"]
            for name, t in times.items()]
    total = sum(statistics.median(t) for t in times.values()) * 1e6
    rows.append(["total", f"{total:,.1f}", f"{total / len(tape.ops):,.2f}"])
    rows.append(["hand-written numpy step, for scale", f"{numpy_us:,.1f}", ""])
    census = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda item: -item[1]))
    title = f"### Phases: tapegrad eager, {work.title}: {len(tape.ops)} records per step ({census})"
    return f"{title}\n\n" + table(["phase", "median us per step", "us per record"], rows)


def profile(key: str, steps: int, top: int = 25) -> str:
    """cProfile of ``steps`` tapegrad eager steps: where a step's time goes, per function, in microseconds."""
    work = WORKLOADS[key]()
    engine = TapegradEager(work)
    for i in range(5):
        engine.step(work.batches[i % len(work.batches)])
    profiler = cProfile.Profile()
    for i in range(steps):
        engine.reset()
        profiler.enable()
        engine.step(work.batches[i % len(work.batches)])
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    entries = []
    total = 0.0
    for (filename, line, function), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        where = f"{Path(filename).name}:{line}({function})" if line else function
        entries.append((tottime, cumtime, calls, where))
    entries.sort(reverse=True)
    rows = [
        [where, f"{calls / steps:,.1f}", f"{tottime / steps * 1e6:,.1f}", f"{cumtime / steps * 1e6:,.1f}",
         f"{tottime / total:.0%}"]
        for tottime, cumtime, calls, where in entries[:top]
    ]
    header = ["function", "calls per step", "own us per step", "cumulative us per step", "share of own time"]
    title = (f"### Profile: tapegrad eager, {work.title}, {steps} steps "
             f"({total / steps * 1e6:,.0f} us per step under cProfile, which inflates Python calls most)")
    groups: dict[str, list[float]] = {}
    for tottime, _, calls, where in entries:
        group = profile_group(where)
        groups.setdefault(group, [0.0, 0.0])
        groups[group][0] += tottime
        groups[group][1] += calls
    by_group = [
        [group, f"{calls / steps:,.1f}", f"{tottime / steps * 1e6:,.1f}", f"{tottime / total:.0%}"]
        for group, (tottime, calls) in sorted(groups.items(), key=lambda item: -item[1][0])
    ]
    return (f"{title}\n\nOwn time by where the code lives:\n\n"
            + table(["where", "calls per step", "own us per step", "share"], by_group)
            + "\n\nThe most expensive functions:\n\n" + table(header, rows))


def profile_group(where: str) -> str:
    """Which part of the stack a profiled function belongs to."""
    if where.startswith("<method") or where.startswith("<built-in"):
        return "numpy and Python built-ins (C)"
    module = where.split(":")[0]
    if module in ("value.py", "tape.py", "arrays.py", "shapes.py", "state.py"):
        return f"tapegrad recording ({module})"
    if module in ("interpret.py", "replay.py", "ops.py"):
        return f"tapegrad backward and rules ({module})"
    if module.startswith("bench_arrays"):
        return "this benchmark's step"
    return f"numpy's Python layer ({module})" if "_" in module or module in ("fromnumeric.py", "numeric.py") \
        else module


def set_threads(n: int) -> str:
    """Give numpy's BLAS (OpenBLAS) and PyTorch ``n`` threads each; say what was set.

    One thread each by default: every engine then has the same share of the
    machine, and other work on a 2-core machine cannot make a library's
    worker threads spin (under load, two-thread BLAS and PyTorch steps took
    5 to 500 times longer).  OpenBLAS is reached through the library numpy
    ships, with ctypes, as numpy has no call for it.
    """
    blas = "BLAS threads unchanged (no OpenBLAS found)"
    libs = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*.so*"))
    for lib in libs:
        handle = ctypes.CDLL(str(lib))
        for prefix in ("scipy_openblas", "openblas"):
            setter = getattr(handle, f"{prefix}_set_num_threads64_", None) or getattr(
                handle, f"{prefix}_set_num_threads", None)
            getter = getattr(handle, f"{prefix}_get_num_threads64_", None) or getattr(
                handle, f"{prefix}_get_num_threads", None)
            if setter is not None and getter is not None:
                setter(n)
                blas = f"OpenBLAS {getter()} thread(s)"
                break
    try:
        import torch

        torch.set_num_threads(n)
        return f"{blas}, PyTorch {torch.get_num_threads()} thread(s)"
    except ImportError:
        return blas


def keep_heap() -> None:
    """Keep freed memory in the process (glibc ``mallopt``) instead of returning it to the OS after every step.

    By default glibc gives the top of the heap back when a step frees its
    arrays, and the next step faults the pages in again: at 10,000 moons
    points that is about 40% of a numpy step.  This shows the cost without it.
    """
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_trim_threshold, 1 << 30)
    libc.mallopt(m_mmap_threshold, 1 << 25)  # glibc's largest allowed value, 32 MB


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="run only these workloads")
    parser.add_argument("--profile", choices=list(WORKLOADS), help="profile the tapegrad eager step instead")
    parser.add_argument("--steps", type=int, default=2000, help="steps to profile (default 2000)")
    parser.add_argument("--keep-heap", action="store_true", help="stop glibc handing freed memory back to the OS")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for numpy's BLAS and PyTorch (default 1; 0 keeps the libraries' defaults)")
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    if args.keep_heap:
        keep_heap()
    threads = set_threads(args.threads) if args.threads > 0 else "libraries' default threads"
    if args.profile:
        print(phases(args.profile, args.steps), end="\n\n")
        print(profile(args.profile, args.steps))
        return 0
    with figures("bench_arrays", writes_docs(args), argv):
        run(args, threads)
    return 0


def run(args: argparse.Namespace, threads: str) -> None:
    print(
        f"{versions('numpy', 'torch')}; {threads}; {load_average()}; "
        "float64, gc enabled, medians (best of three for all but micrograd)"
        + (", glibc heap kept (--keep-heap)" if args.keep_heap else "")
        + "\n"
    )
    by_workload = {}
    for key, make in WORKLOADS.items():
        if args.only is None or key in args.only:
            by_workload[key] = run_workload(make(), args.quick)
    rows = [row for results in by_workload.values() for row in rows_of(results)]
    print("### One training step (forward + backward + SGD update)\n")
    print(table(HEADER, rows), end="\n\n")
    print(f"Agreement: relative difference of the first step's loss and gradients from hand-written numpy; "
          f"ok means <= {TOLERANCE:.0e}. The targets are judged on the fastest tapegrad row that agrees.")
    for key in by_workload:
        if by_workload[key][0].workload.source:
            print(by_workload[key][0].workload.source)
    print()
    for line in targets(by_workload):
        print(f"- {line}")
    if "moons100" in by_workload:
        call, code = jit_overhead_us(by_workload["moons100"][0].workload, 200 if args.quick else 2000)
        print(f"\nThe jit's own cost per call, moons100: {call:,.1f} us per jitted call, {code:,.1f} us of it in the "
              f"generated code: {call - code:,.1f} us of signature, lookup, captured Values and .grad updates.")
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    raise SystemExit(main())

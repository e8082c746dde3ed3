"""Closure engines against the tape, on identical work, in one run.

Prints four markdown tables:

1. one training step of micrograd's moons MLP (about 65,000 scalar ops):
   micrograd (when installed), ``tapegrad.closure``, tapegrad eager (record +
   backward) and tapegrad replay (``value_and_gradient`` of the loss traced
   once as a function of the 337 parameters); ms per step and ratio to micrograd;
2. the gradient of a random straight-line program of 10^3 ops over 10
   inputs, against a plain hand-written reverse sweep over a Python list of
   the same records;
3. a chain ``x = tanh(0.5*x + 0.1)`` of depth 10^3 ... 10^6, each engine in a
   fresh process: seconds, or the error raised;
4. memory per recorded op (tracemalloc), against micrograd's per Value.

Run:  python benchmarks/bench_engines.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import math
import statistics
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import add_docs_flag, figures, load_average, median_ms, table, verdict, versions, writes_docs

import tapegrad
from tapegrad import closure
from tapegrad.lab.report import run_chain
from tapegrad.lab.testing import random_program
from tapegrad.nn import MLP

try:
    import micrograd.engine as micrograd_engine
except ImportError:  # the bench extra is not installed
    micrograd_engine = None

ROOT = Path(__file__).resolve().parent.parent


def load_moons() -> Any:
    spec = importlib.util.spec_from_file_location("moons_example", ROOT / "examples" / "moons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["moons_example"] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- 1. moons step


def moons_step(model: MLP, rows: list[list[float]], labels: list[float], value_type: type, k: int) -> float:
    """micrograd's demo step: forward over all points, SVM loss + L2, backward, SGD."""
    inputs = [list(map(value_type, row)) for row in rows]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= rate * p.grad
    return total.data


def set_parameters(model: MLP, theta: Sequence[Any]) -> None:
    """Make ``theta`` (in ``parameters()`` order) the model's parameters."""
    it = iter(theta)
    for layer in model.layers:
        for neuron in layer.neurons:
            neuron.w = [next(it) for _ in neuron.w]
            neuron.b = next(it)


def moons_loss_tape(model: MLP, rows: list[list[float]], labels: list[float]) -> tapegrad.Tape:
    """The step's loss traced once, as a function of the model's 337 parameters."""
    params = model.parameters()

    def loss(*theta: Any) -> Any:
        set_parameters(model, theta)
        scores = [model(row) for row in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(t * t for t in theta)

    try:
        return tapegrad.trace(loss, *[p.data for p in params])
    finally:
        set_parameters(model, params)


MOONS_TARGET = 0.05
"""Issue 18, item 6: the eager step (record + backward) at most this fraction of micrograd's step."""


def bench_moons(quick: bool) -> str:
    """Every engine's step, interleaved round by round, so that the load of a shared machine falls on all alike."""
    moons = load_moons()
    X, y = moons.make_moons(100, noise=0.1, seed=moons.SEED)
    rows, labels = X.tolist(), y.tolist()
    engines: list[tuple[str, type | None]] = [
        ("micrograd 0.1.0", micrograd_engine.Value if micrograd_engine else None),
        ("tapegrad.closure", closure.Value),
        ("tapegrad eager (record + backward)", tapegrad.Value),
    ]
    steps: dict[str, tuple[Callable[[], Any], int] | None] = {}
    for name, value_type in engines:
        if value_type is None:
            steps[name] = None
            continue
        model = MLP(2, [16, 16, 1], seed=moons.SEED, value_type=value_type)
        moons_step(model, rows, labels, value_type, 0)  # warm up
        repeats = 1 if name.startswith("micrograd") or "closure" in name else 3 if quick else 5
        steps[name] = (lambda m=model, v=value_type: moons_step(m, rows, labels, v, 1), repeats)

    model = MLP(2, [16, 16, 1], seed=moons.SEED)
    tape = moons_loss_tape(model, rows, labels)
    theta = [p.data for p in model.parameters()]

    def replay_step() -> None:
        _, grads = tape.value_and_gradient(*theta)
        for i, g in enumerate(grads):
            theta[i] -= 0.5 * g

    steps[f"tapegrad replay (value_and_gradient of a {len(tape):,}-record tape)"] = (replay_step, 3 if quick else 5)
    start_load = load_average()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(3 if quick else 5):  # rounds: each engine once per round
        for name, step in steps.items():
            if step is not None:
                samples[name].append(median_ms(step[1], step[0]))
    results = [(name, statistics.median(samples[name]) if samples[name] else None) for name in steps]
    base = results[0][1]
    out = []
    for name, ms_value in results:
        if ms_value is None:
            out.append((name, "not installed (pip install micrograd)", ""))
            continue
        ratio = f"{ms_value / base:.3f}x" if base else "n/a"
        out.append((name, f"{ms_value:,.1f}", ratio))
    eager_ops = _moons_ops(rows, labels, moons)
    title = f"W1: one moons training step (MLP(2, [16, 16, 1]), 100 points, {eager_ops:,} records per eager step)"
    text = f"### {title}\n\n" + table(["engine", "ms per step", "ratio to micrograd"], out)
    eager = results[2][1]
    if base and eager:
        ratio = eager / base
        text += (
            f"\n\nTarget (issue 18): the eager step at most {MOONS_TARGET}x micrograd's, in the same run: "
            f"{ratio:.3f}x, {verdict(ratio <= MOONS_TARGET)}. Medians of {len(samples[results[0][0]])} "
            f"interleaved rounds; {start_load} at the start, {load_average()} at the end."
        )
    return text


def _moons_ops(rows: list[list[float]], labels: list[float], moons: Any) -> int:
    model = MLP(2, [16, 16, 1], seed=moons.SEED)
    inputs = [list(map(tapegrad.Value, row)) for row in rows]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
    total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    return len(total._tape)  # type: ignore[union-attr]


# ---------------------------------------------------------------- 2. straight-line program


def hand_written_sweep(ops: list[tuple[int, tuple[int, ...], Any]], xs: Sequence[float]) -> list[float]:
    """The practical limit of a Python interpreter: forward and reverse over a plain list."""
    from tapegrad.core.ops import OpKind as K

    add, sub, mul, div = int(K.ADD), int(K.SUB), int(K.MUL), int(K.DIV)
    exp, log, tanh, sin, inp, const = int(K.EXP), int(K.LOG), int(K.TANH), int(K.SIN), int(K.INPUT), int(K.CONST)
    v = [0.0] * len(ops)
    it = iter(xs)
    for i, (k, a, c) in enumerate(ops):
        if k == inp:
            v[i] = next(it)
        elif k == const:
            v[i] = float(c)
        elif k == add:
            v[i] = v[a[0]] + v[a[1]]
        elif k == sub:
            v[i] = v[a[0]] - v[a[1]]
        elif k == mul:
            v[i] = v[a[0]] * v[a[1]]
        elif k == div:
            v[i] = v[a[0]] / v[a[1]]
        elif k == exp:
            v[i] = math.exp(v[a[0]])
        elif k == log:
            v[i] = math.log(v[a[0]])
        elif k == tanh:
            v[i] = math.tanh(v[a[0]])
        elif k == sin:
            v[i] = math.sin(v[a[0]])
    g = [0.0] * len(ops)
    g[-1] = 1.0
    for i in range(len(ops) - 1, -1, -1):
        gi = g[i]
        if gi == 0.0:
            continue
        k, a, c = ops[i]
        if k == add:
            g[a[0]] += gi
            g[a[1]] += gi
        elif k == sub:
            g[a[0]] += gi
            g[a[1]] -= gi
        elif k == mul:
            g[a[0]] += gi * v[a[1]]
            g[a[1]] += gi * v[a[0]]
        elif k == div:
            g[a[0]] += gi / v[a[1]]
            g[a[1]] -= gi * v[i] / v[a[1]]
        elif k == exp:
            g[a[0]] += gi * v[i]
        elif k == log:
            g[a[0]] += gi / v[a[0]]
        elif k == tanh:
            g[a[0]] += gi * (1 - v[i] * v[i])
        elif k == sin:
            g[a[0]] += gi * math.cos(v[a[0]])
    return g


def record_and_backward(f: Callable[..., Any], value_type: type, xs: Sequence[float]) -> None:
    f(*[value_type(x) for x in xs]).backward()


def bench_program(quick: bool, sizes: Sequence[int]) -> str:
    rows = []
    xs = [0.1 * (i + 1) for i in range(10)]
    for n in sizes:
        f = random_program(n, inputs=10, seed=0)
        tape = tapegrad.trace(f, *xs)
        ops = [(int(k), a, tape.attrs.get(i)) for i, (k, a) in enumerate(zip(tape.ops, tape.args))]
        hand = hand_written_sweep(ops, xs)
        replayed = tape.gradient(*xs)
        agree = max(abs(hand[s] - g) / max(1.0, abs(g)) for s, g in zip(tape.input_slots, replayed))
        repeats = 5 if quick else max(5, 30_000 // n)
        hand_ms = min(median_ms(repeats, hand_written_sweep, ops, xs) for _ in range(3))
        replay_ms = min(median_ms(repeats, tape.gradient, *xs) for _ in range(3))
        eager_ms = median_ms(repeats, record_and_backward, f, tapegrad.Value, xs)
        closure_ms = median_ms(repeats, record_and_backward, f, closure.Value, xs)
        rows.append(
            (
                f"{n:,} ({len(tape):,} records)",
                f"{hand_ms:.3f}",
                f"{replay_ms:.3f}",
                f"**{replay_ms / hand_ms:.2f}x**",
                f"{eager_ms:.3f}",
                f"{closure_ms:.3f}",
                f"{agree:.0e}",
            )
        )
    header = [
        "ops",
        "hand-written sweep ms",
        "tape replay ms",
        "replay / sweep",
        "tape eager ms",
        "closure ms",
        "max rel. diff",
    ]
    note = "micrograd 0.1.0 has no tanh, exp, sin or log, so it cannot run these programs."
    return "### W2: gradient of a random straight-line program, 10 inputs\n\n" + table(header, rows) + f"\n\n{note}"


# ---------------------------------------------------------------- 3. deep chains (one process each)

def chain_cell(engine: str, depth: int) -> str:
    """Seconds for forward + backward of the chain in a fresh process (``tapegrad.report.run_chain``), or what broke."""
    seconds = run_chain(engine, depth, timeout=600, forward=True)
    return f"{seconds:.3f} s" if isinstance(seconds, float) else seconds


def bench_chains(quick: bool) -> str:
    depths = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    engines = [("micrograd 0.1.0 (relu chain)", "micrograd")] if micrograd_engine else []
    engines += [("tapegrad.closure", "closure"), ("tapegrad eager", "tape eager"), ("tapegrad replay", "tape replay")]
    rows = [[name] + [chain_cell(engine, d) for d in depths] for name, engine in engines]
    header = ["engine"] + [f"depth {d:,}" for d in depths]
    title = "### Deep chain x = tanh(0.5 x + 0.1): forward + backward (replay: gradient of the traced chain)"
    return f"{title}\n\n" + table(header, rows)


# ---------------------------------------------------------------- 4. memory


def memory_per_op(value_type: type, n: int) -> tuple[float, int]:
    """Bytes held per node of a live graph of ``n`` micrograd-compatible ops."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    xs = [value_type(0.1 * (i + 1)) for i in range(10)]
    r = xs[0]
    for i in range(n):
        y = xs[i % 10]
        r = (r * y + 0.5).relu() if i % 3 == 0 else r * 0.9 + y
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    if value_type is tapegrad.Value:
        count = len(r._tape)
    else:
        seen: set[int] = set()
        stack = [r]
        while stack:
            v = stack.pop()
            if id(v) not in seen:
                seen.add(id(v))
                stack.extend(v._prev)
        count = len(seen)
    return held / count, count


def bench_memory(quick: bool) -> str:
    n = 20_000 if quick else 100_000
    engines: list[tuple[str, type | None]] = [
        ("micrograd 0.1.0 (per Value)", micrograd_engine.Value if micrograd_engine else None),
        ("tapegrad.closure (per Value)", closure.Value),
        ("tapegrad tape (per record)", tapegrad.Value),
    ]
    rows = []
    base = None
    for name, value_type in engines:
        if value_type is None:
            rows.append((name, "not installed", "", "", ""))
            continue
        per_op, count = memory_per_op(value_type, n)
        base = base or per_op
        rows.append((name, f"{count:,}", f"{per_op:.0f}", f"{per_op / base:.2f}x", f"{per_op * count / 1e6:.1f}"))
    header = ["engine", "nodes or records", "bytes each", "ratio to first", "MB for the whole graph"]
    return f"### Memory of a live graph of {n:,} ops (+, *, relu)\n\n" + table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a smoke test)")
    parser.add_argument("--only", choices=["moons", "program", "chains", "memory"], help="run one section")
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    with figures("bench_engines", writes_docs(args), argv):
        run(args)
    return 0


def run(args: argparse.Namespace) -> None:
    print(f"{versions()}, gc enabled, medians\n")
    sections = {
        "moons": lambda: bench_moons(args.quick),
        "program": lambda: bench_program(args.quick, [100, 1000] if args.quick else [100, 1000, 10_000]),
        "chains": lambda: bench_chains(args.quick),
        "memory": lambda: bench_memory(args.quick),
    }
    for name, section in sections.items():
        if args.only in (None, name):
            print(section(), end="\n\n", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

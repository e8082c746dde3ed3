"""The closure-vs-tape report: one run, numbers and pictures together.

:func:`write_report` measures the engines side by side and writes
``report.md`` with its tables plus three PNG plots made from the same
numbers, so the README never shows a picture that disagrees with its table:

* time per op against graph size (closure, tape eager, tape replay,
  compiled code, micrograd when installed), on ``+ * relu`` programs, the
  only ops micrograd 0.1.0 has, so every engine runs the same work;
* memory per op held by a live graph (tracemalloc);
* the backward pass of a deep chain ``x = tanh(0.5*x + 0.1)``, each engine
  in a fresh process, naming the error where a design breaks.

>>> write_report("docs/report")          # doctest: +SKIP
PosixPath('docs/report/report.md')
"""

from __future__ import annotations

import gc
import json
import math
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from ..core.passes import optimize
from ..core.state import STATE
from ..errors import InputTypeError, MissingToolError
from ..functional.tracing import trace
from ..functional.transforms import grad_tape
from ..values.value import Value
from . import closure
from .compare import best_seconds, run_engine

__all__ = ["write_report"]

INPUTS = 10
CHAIN_TIMEOUT = 120.0
"""Seconds one deep-chain process may take before it is reported as a timeout."""

Cell = float | str  # a measurement, or why there is none (an error name, "timeout")


def _micrograd_value() -> type | None:
    """micrograd's Value when the bench extra is installed (it is optional)."""
    try:
        from micrograd.engine import Value as MicrogradValue
    except ImportError:
        return None
    return MicrogradValue


def relu_program(n: int, inputs: int = INPUTS) -> Callable[..., Any]:
    """``n`` operations cycling ``*``, ``+``, ``relu``: one graph node per op, values bounded.

    Only ops micrograd 0.1.0 has, so all engines (micrograd too) run the same
    program; the second operand of ``*`` and ``+`` cycles through the inputs.
    """

    def program(*xs: Any) -> Any:
        r = xs[0]
        for i in range(n):
            if i % 3 == 0:
                r = r * xs[i % inputs]
            elif i % 3 == 1:
                r = r + xs[i % inputs]
            else:
                r = r.relu()
        return r

    return program


def _inputs() -> list[float]:
    """Inputs near 1, so the product of the ``*`` operands neither underflows nor overflows.

    A gradient that underflows to 0.0 would let tapegrad's eager sweep skip
    records with a zero adjoint, and the timing would measure the skipping.
    """
    return [0.955 + 0.01 * i for i in range(INPUTS)]


@contextmanager
def _recursion_limit(limit: int) -> Iterator[None]:
    """micrograd sorts its graph recursively; lift Python's limit so it can be timed at all depths."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class _Progress:
    """tqdm when it is installed, else a plain ``[3/12] closure, 1000 ops`` counter on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled, self.bar = total, 0, enabled, None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc="tapegrad report", file=sys.stderr)

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(label)
            self.bar.update(1)
        else:
            print(f"[{self.done}/{self.total}] {label}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _engines() -> list[tuple[str, type]]:
    """The Value-style engines: (name, Value class)."""
    engines: list[tuple[str, type]] = [("closure", closure.Value), ("tape eager", Value)]
    micrograd = _micrograd_value()
    if micrograd is not None:
        engines.append(("micrograd", micrograd))
    return engines


def measure_time(depths: Sequence[int], progress: _Progress) -> dict[str, list[float]]:
    """Microseconds per op of one gradient, per engine, for each graph size."""
    xs = _inputs()
    results: dict[str, list[float]] = {}
    for depth in depths:
        f = relu_program(depth)
        tape = trace(f, *xs)
        compiled = optimize(grad_tape(tape)).compile()
        runs: list[tuple[str, Callable[[], Any]]] = [
            (name, partial(run_engine, value_type, f, xs)) for name, value_type in _engines()
        ]
        runs += [("tape replay", partial(tape.gradient, *xs)), ("compiled", partial(compiled, *xs))]
        for name, run in runs:
            with _recursion_limit(3 * depth + 1000):
                seconds = best_seconds(run, repeats=max(3, 20_000 // depth))  # ~20,000 ops of work
            results.setdefault(name, []).append(seconds / depth * 1e6)
            progress.step(f"time: {name}, {depth} ops")
    _close_eager_tape()
    return results


def _bytes_held(value_type: type, f: Callable[..., Any], xs: Sequence[float]) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    out = f(*[value_type(x) for x in xs])
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del out
    _close_eager_tape()
    return int(held)


def measure_memory(depths: Sequence[int], progress: _Progress) -> dict[str, list[float]]:
    """Bytes a live graph holds per op (leaves included), per engine, for each graph size."""
    xs = _inputs()
    names = {"tape eager": "tape"}
    results: dict[str, list[float]] = {}
    for depth in depths:
        f = relu_program(depth)
        for name, value_type in _engines():
            label = names.get(name, name)
            results.setdefault(label, []).append(_bytes_held(value_type, f, xs) / depth)
            progress.step(f"memory: {label}, {depth} ops")
    return results


def _close_eager_tape() -> None:
    """Leave no open eager tape behind, so measurements do not share one."""
    if STATE.eager is not None:
        STATE.close_eager(STATE.eager)


_CHAIN_SCRIPT = """
import json, sys, time
engine, depth, forward = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "forward"
try:
    if engine in ("tape replay", "compiled"):
        import tapegrad
        def chain(x):
            for _ in range(depth):
                x = (0.5 * x + 0.1).tanh()
            return x
        tape = tapegrad.trace(chain, 0.3)
        run = tape.gradient
        if engine == "compiled":
            run = tapegrad.optimize(tapegrad.grad_tape(tape)).compile()
        start = time.perf_counter()
        run(0.3)
    else:
        if engine == "micrograd":
            from micrograd.engine import Value
            step = lambda x: (0.5 * x + 0.1).relu()   # micrograd 0.1.0 has no tanh
        else:
            from tapegrad.closure import Value as ClosureValue
            from tapegrad import Value as TapeValue
            Value = ClosureValue if engine == "closure" else TapeValue
            step = lambda x: (0.5 * x + 0.1).tanh()
        start = time.perf_counter()
        y = Value(0.3)
        for _ in range(depth):
            y = step(y)
        if not forward:
            start = time.perf_counter()
        y.backward()
    print(json.dumps({"seconds": time.perf_counter() - start}))
except BaseException as error:
    print(json.dumps({"error": type(error).__name__}))
"""


def run_chain(engine: str, depth: int, timeout: float = CHAIN_TIMEOUT, forward: bool = False) -> Cell:
    """Seconds for the chain's backward pass in a fresh process, or the name of what broke.

    A fresh process each, so a crash, a deep recursion or a leftover graph
    of one engine cannot affect another's number.  With ``forward`` the
    eager engines' time includes building the chain (``bench_engines``
    reports forward + backward); replay and compiled time the gradient alone.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHAIN_SCRIPT, engine, str(depth), "forward" if forward else "backward"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"timeout (> {timeout:.0f} s)"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return f"crash (exit {done.returncode})"
    result = json.loads(lines[-1])
    return float(result["seconds"]) if "seconds" in result else str(result["error"])


def _chain_engines() -> list[str]:
    names = ["closure", "tape eager", "tape replay", "compiled"]
    return names + (["micrograd"] if _micrograd_value() is not None else [])


def measure_chains(depths: Sequence[int], progress: _Progress) -> dict[str, list[Cell]]:
    """Backward seconds (or the error's name) per engine for each chain depth."""
    results: dict[str, list[Cell]] = {}
    for name in _chain_engines():
        for depth in depths:
            results.setdefault(name, []).append(run_chain(name, depth))
            progress.step(f"deep chain: {name}, depth {depth}")
    return results


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend; it is an optional extra."""
    try:
        import matplotlib
    except ImportError:
        raise MissingToolError(
            "the report's plots need matplotlib, which is not installed: pip install 'tapegrad[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot(
    plt: Any,
    path: Path,
    xs: Sequence[int],
    series: dict[str, list[Cell]],
    labels: tuple[str, str, str],
    log_y: bool,
) -> None:
    """One line per engine; a point that failed is marked at the top with the error's name."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    for name, cells in series.items():
        good = [(x, c) for x, c in zip(xs, cells) if isinstance(c, float)]
        line = axes.plot([x for x, _ in good], [c for _, c in good], marker="o", label=name)[0]
        for x, c in zip(xs, cells):
            if isinstance(c, str):
                color, at_top = line.get_color(), axes.get_xaxis_transform()
                axes.plot([x], [0.97], marker="x", color=color, transform=at_top)
                axes.annotate(c, (x, 0.93), xycoords=at_top, fontsize=7, color=color, ha="center")
    axes.set_xscale("log")
    if log_y:
        axes.set_yscale("log")
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.set_title(labels[2])
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _number(value: Cell) -> str:
    """Three significant digits, never in exponent form (tables are read, not parsed)."""
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if value >= 100 else f"{value:.{max(2, 2 - math.floor(math.log10(value)))}f}"


def _table(column: str, xs: Sequence[int], series: Mapping[str, Sequence[Cell]]) -> str:
    lines = [f"| engine | {' | '.join(f'{column} {x}' for x in xs)} |", "|---" * (len(xs) + 1) + "|"]
    lines += [f"| {name} | {' | '.join(_number(c) for c in cells)} |" for name, cells in series.items()]
    return "\n".join(lines)


def write_report(
    directory: str | Path,
    depths: Sequence[int] = (10, 100, 1000, 10_000),
    chain_depths: Sequence[int] = (10**3, 10**4, 10**5),
    progress: bool = True,
) -> Path:
    """Measure every engine once and write ``report.md`` plus its three plots; returns the report's path.

    Numbers and plots come from the same measurements.  Needs matplotlib
    (``pip install 'tapegrad[plot]'``); micrograd joins when installed.
    """
    if any(d < 1 for d in [*depths, *chain_depths]):
        raise InputTypeError(f"graph sizes must be at least 1, got {list(depths)} and {list(chain_depths)}")
    plt = _pyplot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    engines = len(_engines())
    total = len(depths) * (engines + 2) + len(depths) * engines + len(chain_depths) * len(_chain_engines())
    counter = _Progress(total, progress)
    start = time.perf_counter()
    try:
        times = measure_time(depths, counter)
        memory = measure_memory(depths, counter)
        chains = measure_chains(chain_depths, counter)
    finally:
        counter.close()
    elapsed = time.perf_counter() - start

    def cells(series: dict[str, list[float]]) -> dict[str, list[Cell]]:
        return {name: list(values) for name, values in series.items()}

    size = "graph size (ops)"
    _plot(plt, directory / "time_per_op.png", depths, cells(times), (size, "µs per op", "Gradient time per op"), True)
    memory_labels = (size, "bytes per op", "Memory of a live graph")
    _plot(plt, directory / "memory_per_op.png", depths, cells(memory), memory_labels, False)
    chain_labels = ("chain depth", "seconds", "Backward of a deep chain x = tanh(0.5 x + 0.1)")
    _plot(plt, directory / "deep_chain.png", chain_depths, chains, chain_labels, True)
    path = directory / "report.md"
    path.write_text(_markdown(depths, chain_depths, times, memory, chains, elapsed), encoding="utf-8")
    return path


def _markdown(
    depths: Sequence[int],
    chain_depths: Sequence[int],
    times: dict[str, list[float]],
    memory: dict[str, list[float]],
    chains: dict[str, list[Cell]],
    elapsed: float,
) -> str:
    from .._version import __version__

    micrograd = "micrograd 0.1.0 is included" if "micrograd" in times else "micrograd is not installed"
    return f"""# Closure engine against the tape

tapegrad {__version__}, Python {platform.python_version()}, {platform.machine()}; measured in one run of
{elapsed:.0f} s by `tapegrad.report.write_report`. The tables and the plots come from the same numbers;
{micrograd}.

## Time per op

One gradient of a program of *n* ops cycling `*`, `+`, `relu` over 10 inputs near 1 (the ops micrograd has, so every
engine runs the same program), best of several runs, in microseconds per op. *closure*, *tape eager* and
*micrograd* build the graph and run `backward()`; *tape replay* is `tape.gradient` of the traced program
(forward replay + reverse sweep); *compiled* calls `optimize(grad_tape(tape)).compile()`. micrograd sorts its
graph recursively, so its row is timed with Python's recursion limit raised.

![time per op](time_per_op.png)

{_table("ops", depths, times)}

## Memory per op

Bytes a live graph of *n* ops holds (tracemalloc), divided by *n*: Value objects with their closures and sets
for the closure engines, records on a tape for tapegrad.

![memory per op](memory_per_op.png)

{_table("ops", depths, memory)}

## Backward of a deep chain

`x = tanh(0.5*x + 0.1)` repeated *depth* times (micrograd, without tanh: `relu`), each engine in a fresh
process; seconds for the backward pass alone (*tape replay*: forward replay + reverse sweep; *compiled*: a
call of the compiled gradient), or the error where the design breaks. Recursive graph walks stop near
Python's recursion limit of 1,000 frames; tapegrad's sweeps are loops. Note: each step multiplies the
gradient by at most 0.5, so it underflows to 0.0 near depth 1,000; tapegrad's eager sweep skips records whose
adjoint is zero, so its time at the larger depths measures that skipping, not a full sweep.

![deep chain](deep_chain.png)

{_table("depth", chain_depths, chains)}
"""

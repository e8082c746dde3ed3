"""Blocked, multi-core numpy code (tapegrad.formats.blocked) against PyTorch and the other batch engines.

W3 of the peers page: the gradient of the 30-op and the 1,000-op random
program (10 inputs) at 10^5 points.  One run measures, interleaved (each
round runs every engine once, in turn, so that a change in the machine's
load hits them all alike), with the median over the rounds:

- PyTorch batched autograd, ``torch.set_num_threads(workers)``;
- the hand-written vectorised numpy reverse sweep (``bench_codegen.numpy_sweep``);
- sympy ``lambdify`` of ``diff`` + ``cse`` (30 ops; it cannot build 1,000);
- tapegrad's unblocked numpy code (``to_source(..., backend="numpy")``);
- tapegrad's blocked code on 1 worker and on all workers (``Tape.compile("numpy")``);
- tapegrad replay on arrays (``tape.gradient``);
- numexpr (when installed) evaluating the same statements, single-use
  temporaries inlined, on all workers: measured to decide whether the blocked
  code should use it (it is not used: its exp, log and tanh differ from
  numpy's in the last bit; the row says by how much).

Every engine's gradients are checked against the interpreter on the first
1,000 points.  ``--blocks`` instead sweeps the block size (how the default
``BLOCK`` was chosen).

Run:  python benchmarks/bench_blocked.py [--quick] [--blocks]
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import bench_codegen as base
import numpy as np
from common import add_docs_flag, figures, load_average, table, verdict, versions, writes_docs

import tapegrad
from tapegrad.formats import codegen
from tapegrad.formats.blocked import BLOCK

HEADER = ["workload", "engine", "ms per call", "points/s", "over PyTorch", "notes"]
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def interleaved(engines: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per engine, the engines taking turns within each round."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, run in engines.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def thread_capacity(threads: int = WORKERS) -> float:
    """How much faster ``threads`` threads run ``np.sin`` over 64k-point arrays than one thread: what the machine gives.

    numpy releases the GIL in the loop, so an idle machine gives about ``threads``x;
    a machine busy with other jobs gives less, and so would every threaded engine.
    """
    x, work = np.linspace(0.0, 1.0, 65536), 240

    def run(count: int) -> None:
        out = np.empty_like(x)
        for _ in range(count):
            np.sin(x, out=out)

    def timed_threads(n: int) -> float:
        pool = [threading.Thread(target=run, args=(work // n,)) for _ in range(n)]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.perf_counter() - start

    return statistics.median(timed_threads(1) for _ in range(3)) / statistics.median(
        timed_threads(threads) for _ in range(3)
    )


# ---------------------------------------------------------------- numexpr, for the record


_NUMEXPR_CALLS = {"np.sin": "sin", "np.cos": "cos", "np.exp": "exp", "np.log": "log", "np.tanh": "tanh"}


def numexpr_gradient(grads: tapegrad.Tape) -> Callable[..., Any] | None:
    """The numpy statements of ``grads`` as numexpr expressions (single-use temporaries inlined), or None.

    ``_smul_array(g, y)`` becomes ``where(g == 0, g, where((y == 0) & (g - g != 0), y, g * y))``
    and ``_sdiv_array(g, y)`` ``where(g == 0, g, g / y)``: the strong zeros, as numexpr words them.
    """
    try:
        import numexpr
    except ImportError:
        return None
    function = codegen._Function(grads, "numpy")
    uses: dict[str, int] = {}
    for _, _, reads in function.statements:
        for name in reads:
            uses[name] = uses.get(name, 0) + 1
    outputs = function.outputs()
    expressions: dict[str, str] = {}
    steps: list[tuple[str, str]] = []
    for target, code, reads in function.statements:
        text = _numexpr_text(ast.parse(code, mode="eval").body, expressions)
        names = {n for n in reads if n not in expressions} | {
            n for r in reads if r in expressions for n in _names(expressions[r])
        }
        if uses.get(target, 0) == 1 and target not in outputs and len(names) < 24 and len(text) < 2000:
            expressions[target] = text  # inlined where it is read
        else:
            steps.append((target, text))
    numexpr.set_num_threads(WORKERS)

    def gradient(*xs: np.ndarray) -> list[Any]:
        env: dict[str, Any] = dict(zip(function.params, xs))
        for target, text in steps:
            env[target] = numexpr.evaluate(text, local_dict=env)
        return [env.get(o, float(o) if o[0].isdigit() or o[0] == "-" else None) for o in outputs]

    return gradient


def _names(text: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)} - {
        "where",
        *_NUMEXPR_CALLS.values(),
    }


def _numexpr_text(node: ast.expr, expressions: dict[str, str]) -> str:
    if isinstance(node, ast.Name):
        return f"({expressions[node.id]})" if node.id in expressions else node.id
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.UnaryOp):
        return f"(-{_numexpr_text(node.operand, expressions)})"
    if isinstance(node, ast.BinOp):
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        return f"({_numexpr_text(node.left, expressions)} {symbol} {_numexpr_text(node.right, expressions)})"
    assert isinstance(node, ast.Call), ast.dump(node)
    function = ast.unparse(node.func)
    args = [_numexpr_text(a, expressions) for a in node.args]
    if function == "_smul_array":
        g, y = args
        return f"where({g} == 0, {g}, where(({y} == 0) & ({g} - {g} != 0), {y}, {g} * {y}))"
    if function == "_sdiv_array":
        g, y = args
        return f"where({g} == 0, {g}, {g} / {y})"
    if function == "np.divide":
        return f"({args[0]} / {args[1]})"
    return f"{_NUMEXPR_CALLS[function]}({', '.join(args)})"


# ---------------------------------------------------------------- the engines


def bench_program(n: int, points: int, rounds: int) -> tuple[list[list[str]], dict[str, float]]:
    """Rows for the ``n``-op program at ``points`` points, and points/s per engine."""
    tape = base.program_tape(n)
    grads = base.gradient_tape(tape)
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-2.0, 2.0, points) for _ in range(base.INPUTS)]
    check = 1000
    want = [np.asarray(g) for g in tape.gradient(*[x[:check] for x in xs])]
    unblocked = codegen.compile_source(codegen.to_source(grads, "f", "numpy"), "f", "<bench unblocked>")
    blocked_one = grads.compile("numpy", workers=1)
    blocked_all = grads.compile("numpy", workers=WORKERS)
    records = base.plain_records(tape)
    engines: dict[str, tuple[str, Callable[[], Any] | None, str]] = {}
    try:
        import torch

        torch_f = base.torch_gradient(n)

        def torch_on(threads: int) -> Any:
            torch.set_num_threads(threads)
            return torch_f(*xs)

        engines["torch"] = (f"PyTorch batched autograd ({WORKERS} threads)", lambda: torch_on(WORKERS), "")
        engines["torch1"] = ("PyTorch batched autograd (1 thread)", lambda: torch_on(1), "")
    except ImportError:
        engines["torch"] = ("PyTorch batched autograd", None, "not installed")
        engines["torch1"] = ("PyTorch batched autograd (1 thread)", None, "not installed")
    engines["sweep"] = ("hand-written numpy reverse sweep", lambda: base.numpy_sweep(records, xs), "")
    if n <= 30:
        sympy_f, built = base.sympy_gradient(n)
        engines["sympy"] = ("sympy lambdify of diff + cse", lambda: sympy_f(*xs), f"diff + cse {built:.1f} s")
    engines["unblocked"] = ("tapegrad numpy code, unblocked", lambda: unblocked(*xs), "")
    engines["blocked1"] = ("**tapegrad blocked, 1 worker**", lambda: blocked_one(*xs), f"block {BLOCK}")
    engines["blocked"] = (f"**tapegrad blocked, {WORKERS} workers**", lambda: blocked_all(*xs), f"block {BLOCK}")
    engines["replay"] = ("tapegrad replay on arrays", lambda: tape.gradient(*xs), "")
    numexpr_f = numexpr_gradient(grads)
    engines["numexpr"] = (
        f"numexpr, same statements ({WORKERS} threads), not used",
        None if numexpr_f is None else lambda: numexpr_f(*xs),
        "" if numexpr_f is not None else "not installed",
    )

    notes: dict[str, str] = {}
    reference = unblocked(*xs)
    for key, (_, run, note) in engines.items():
        if run is None:
            notes[key] = note
            continue
        result = run()
        grads_of = base.gradients_of(
            {"torch": "torch", "torch1": "torch", "sweep": "sweep"}.get(key, "other"), result, tape, points
        )
        if key in ("replay",):
            grads_of = [np.broadcast_to(np.asarray(g, dtype=float), (points,)) for g in result]
        error = base.largest_difference([g[:check] for g in grads_of], want)
        detail = f"max rel. diff from the interpreter {error:.0e}"
        if key in ("blocked1", "blocked", "numexpr"):
            same = all(
                np.array_equal(a, np.broadcast_to(b, np.shape(a)), equal_nan=True) for a, b in zip(reference, result)
            )
            detail += "; bit for bit the unblocked code's" if same else "; NOT bit for bit the unblocked code's"
        notes[key] = f"{note}; {detail}" if note else detail
    timed = {key: run for key, (_, run, _) in engines.items() if run is not None}
    seconds = interleaved(timed, rounds)
    rates = {key: points / s for key, s in seconds.items()}
    workload = f"{n:,} ops ({len(grads):,} gradient records), {points:,} points"
    rows = []
    for key, (label, run, _) in engines.items():
        if run is None:
            rows.append([workload, label, "", "", "", notes[key]])
            continue
        over = f"{rates[key] / rates['torch']:.2f}x" if "torch" in rates else ""
        rows.append([workload, label, f"{seconds[key] * 1e3:,.1f}", f"{rates[key]:,.0f}", over, notes[key]])
    return rows, rates


def run_engines(args: argparse.Namespace) -> None:
    points = 20_000 if args.quick else 100_000
    print(f"{versions('numpy', 'torch', 'numexpr')}; {WORKERS} workers; block {BLOCK}")
    print(f"load average before: {load_average()}")
    print(f"{WORKERS} threads of plain numpy (np.sin) ran {thread_capacity():.2f}x one thread on this machine now\n")
    rows, targets = [], []
    for n in (30, 1000):
        rounds = 3 if args.quick else (15 if n == 30 else 5)
        program_rows, rates = bench_program(n, points, rounds)
        rows += program_rows
        if "torch" in rates:
            torch_best = max(rates["torch"], rates["torch1"])  # on a busy machine, PyTorch's threads can only lose
            over = rates["blocked"] / torch_best
            targets.append(
                f"{n:,} ops: blocked ({WORKERS} workers, the default) >= PyTorch (the faster of {WORKERS} threads "
                f"and 1): {over:.2f}x, **{verdict(over >= 1)}**"
            )
            single = rates["blocked1"] / rates["torch1"]
            targets.append(f"{n:,} ops: blocked (1 worker) over PyTorch (1 thread): {single:.2f}x")
        targets.append(
            f"{n:,} ops: blocked ({WORKERS} workers) over unblocked: {rates['blocked'] / rates['unblocked']:.2f}x; "
            f"{WORKERS} workers over 1: {rates['blocked'] / rates['blocked1']:.2f}x"
        )
    print(table(HEADER, rows))
    print(f"\nload average after: {load_average()}; {WORKERS} threads of plain numpy: {thread_capacity():.2f}x one")
    if os.getloadavg()[0] > WORKERS:
        print(
            "\nThe machine was busy (load average above its core count): threads of every engine competed with "
            "other jobs, and PyTorch's (OpenMP) more than most; trust the 1-worker ratios over the others."
        )
    print("\nTargets (issue 18, item 3):\n")
    print("\n".join(f"- {t}" for t in targets))


# ---------------------------------------------------------------- choosing the block size


def run_blocks(args: argparse.Namespace) -> None:
    """Points/s of the blocked code per block size, both programs, 1 and all workers, interleaved."""
    points = 20_000 if args.quick else 100_000
    sizes = [512, 1024, 2048, 4096, 8192, 16384, 32768]
    print(f"{versions('numpy')}; load average before: {load_average()}\n")
    rows = []
    for n in (30, 1000):
        grads = base.gradient_tape(base.program_tape(n))
        rng = np.random.default_rng(0)
        xs = [rng.uniform(-2.0, 2.0, points) for _ in range(base.INPUTS)]
        unblocked = codegen.compile_source(codegen.to_source(grads, "f", "numpy"), "f", "<bench unblocked>")
        engines: dict[str, Callable[[], Any]] = {"unblocked": lambda f=unblocked, xs=xs: f(*xs)}
        for size in sizes:
            for workers in sorted({1, WORKERS}):
                f = grads.compile("numpy", block=size, workers=workers)
                engines[f"{size} {workers}"] = lambda f=f, xs=xs: f(*xs)
        seconds = interleaved(engines, 3 if args.quick else (9 if n == 30 else 3))
        for key, s in seconds.items():
            size, _, workers = key.partition(" ")
            rows.append([f"{n:,} ops", size, workers or "", f"{points / s:,.0f}", f"{seconds['unblocked'] / s:.2f}x"])
    print(table(["program", "block", "workers", "points/s", "over unblocked"], rows))
    print(f"\nload average after: {load_average()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2*10^4 points, fewer rounds")
    parser.add_argument("--blocks", action="store_true", help="sweep the block size instead")
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    with figures("bench_blocked", writes_docs(args) and not args.blocks, argv):
        (run_blocks if args.blocks else run_engines)(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

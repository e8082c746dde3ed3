"""Symbolic gradients at scale: tapegrad's cse export against the usual sympy route.

Random straight-line programs over 10 inputs (``tapegrad.testing``; each op's
first operand is the previous result, so every op is live and the depth is
the length).  Prints two markdown tables, all measured in one run:

1. ``tapegrad.symbolic.gradient(tape, cse=True)`` at 10^2 ... 10^5 ops:
   seconds (trace + gradient export), size (``sympy.count_ops`` summed over
   the replacements and the expressions), size per forward record, and the
   largest relative error of the cse form, evaluated by ``sympy.lambdify``,
   against ``tape.gradient`` at random points;
2. the usual sympy route at 10 ... 50 ops: build the program's output in
   sympy, ``sympy.diff`` per input, ``sympy.cse`` of the list, each case in a
   fresh process with a 60 s limit; also built unevaluated
   (``evaluate=False``) at 10 and 20 ops.  Side by side with tapegrad at the
   same size: time, cse size, speedup and correctness of both.

Run:  python benchmarks/bench_symbolic.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import sympy as sp
from common import add_docs_flag, figures, median_ms, run_json, table, timed, verdict, versions, writes_docs

import tapegrad
import tapegrad.symbolic
from tapegrad.lab.testing import random_program, random_steps

INPUTS = 10
SEED = 0
LIMIT = 60.0  # seconds for one case of the sympy route
TOLERANCE = 1e-9  # largest relative error counted as correct
POINTS = 3  # random points each gradient is checked at


def random_points(count: int = POINTS, seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-2, 2) for _ in range(INPUTS)] for _ in range(count)]


def input_symbols() -> list[sp.Symbol]:
    """The symbols tapegrad names a traced program's inputs (``xs0`` ... ``xs9``)."""
    return list(sp.symbols(f"xs0:{INPUTS}"))


def cse_size(replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any]) -> int:
    """``count_ops`` of a cse form, one expression at a time (never one giant expression)."""
    return sum(sp.count_ops(e) for _, e in replacements) + sum(sp.count_ops(e) for e in exprs)


def evaluate_cse(
    replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any], points: Sequence[Sequence[float]]
) -> list[list[float]]:
    """A cse form at each point, as floats: one ``lambdify`` assigning the replacements in order."""
    f = sp.lambdify(input_symbols(), list(exprs), modules="math", cse=lambda e: (replacements, e), docstring_limit=0)
    return [[float(v) for v in f(*p)] for p in points]


def relative_error(got: Sequence[Sequence[float]], want: Sequence[Sequence[float]]) -> float:
    """The largest componentwise relative error (absolute where the exact value is 0)."""
    worst = 0.0
    for row_got, row_want in zip(got, want, strict=True):
        for a, b in zip(row_got, row_want, strict=True):
            error = abs(a - b) / abs(b) if b != 0 else abs(a)
            worst = max(worst, error if error == error else math.inf)
    return worst


def correctness(error: float) -> str:
    return f"correct ({error:.0e})" if error <= TOLERANCE else f"**WRONG** (rel. error {error:.3g})"


def program_tape(n: int) -> tapegrad.Tape:
    return tapegrad.trace(random_program(n, INPUTS, SEED), *[0.1 * (i + 1) for i in range(INPUTS)])


def reference(tape: tapegrad.Tape, points: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(tape.gradient(*p)) for p in points]


def tapegrad_gradient(n: int) -> tuple[tapegrad.Tape, Any, float, float]:
    """Trace the ``n``-op program and export its gradient in cse form, from a cold sympy cache."""
    sp.core.cache.clear_cache()
    tape, traced = timed(program_tape, n)
    form, exported = timed(tapegrad.symbolic.gradient, tape, cse=True)
    return tape, form, traced, exported


# ---------------------------------------------------------------- 1. tapegrad at scale


def bench_scale(sizes: Sequence[int]) -> str:
    points = random_points()
    rows, per_record, records_list, sizes_list, seconds = [], [], [], [], {}
    errors = []
    for n in sizes:
        tape, (replacements, exprs), trace_s, export_s = tapegrad_gradient(n)
        size = cse_size(replacements, exprs)
        start = time.perf_counter()
        error = relative_error(evaluate_cse(replacements, exprs, points), reference(tape, points))
        check_s = time.perf_counter() - start
        seconds[n] = trace_s + export_s
        per_record.append(size / len(tape))
        records_list.append(len(tape))
        sizes_list.append(size)
        errors.append(error)
        rows.append(
            (
                f"{n:,}",
                f"{len(tape):,}",
                f"{len(replacements):,}",
                f"{trace_s:.3f}",
                f"{export_s:.3f}",
                f"**{trace_s + export_s:.3f}**",
                f"{size:,}",
                f"{size / len(tape):.3f}",
                correctness(error),
                f"{check_s:.1f}",
            )
        )
        print(f"  scale: {n:,} ops done", file=sys.stderr, flush=True)
    header = [
        "ops",
        "forward records",
        "replacements",
        "trace s",
        "gradient export s",
        "total s",
        "cse size (count_ops)",
        "size / record",
        f"vs tape.gradient ({POINTS} points)",
        "check s (lambdify)",
    ]
    logs = [(math.log(r), math.log(s)) for r, s in zip(records_list, sizes_list)]
    mean_r = statistics.fmean(x for x, _ in logs)
    mean_s = statistics.fmean(y for _, y in logs)
    slope = sum((x - mean_r) * (y - mean_s) for x, y in logs) / sum((x - mean_r) ** 2 for x, _ in logs)
    spread = max(per_record) / min(per_record)
    targets = []
    if 10_000 in seconds:
        s = seconds[10_000]
        targets.append(f"- 10^4 ops in under 10 s: {s:.2f} s, **{verdict(s < 10)}**")
    linear = slope <= 1.05 and spread <= 1.25
    targets.append(
        f"- size linear in the tape: size ~ records^{slope:.3f} (least squares on logs, target exponent <= 1.05), "
        f"size per record varies {spread:.2f}x across sizes (target <= 1.25x): **{verdict(linear)}**"
    )
    targets.append(
        f"- correct to {TOLERANCE:g} relative at every size: **{verdict(all(e <= TOLERANCE for e in errors))}**"
    )
    title = "### tapegrad's symbolic gradient in cse form, random programs over 10 inputs"
    return f"{title}\n\n" + table(header, rows) + "\n\nTargets:\n" + "\n".join(targets)


# ---------------------------------------------------------------- 2. the usual sympy route


def sympy_program(n: int, evaluate: bool) -> Any:
    """The output of ``random_program(n, 10, SEED)`` built directly in sympy (as ``testing._step``)."""
    e = evaluate
    one = sp.Integer(1)
    xs = input_symbols()
    r: Any = xs[0]
    for code, j in random_steps(n, INPUTS, SEED):
        y = xs[j]
        if code == "+":
            r = sp.Add(r, y, evaluate=e)
        elif code == "-":
            r = sp.Add(r, sp.Mul(-1, y, evaluate=e), evaluate=e)
        elif code == "*":
            r = sp.Mul(r, y, evaluate=e)
        elif code == "/":
            r = sp.Mul(r, sp.Pow(sp.Add(one, sp.Mul(y, y, evaluate=e), evaluate=e), -1, evaluate=e), evaluate=e)
        elif code == "t":
            r = sp.tanh(r, evaluate=e)
        elif code == "e":
            r = sp.exp(sp.tanh(r, evaluate=e), evaluate=e)
        elif code == "s":
            r = sp.sin(r, evaluate=e)
        else:
            r = sp.log(sp.Add(one, sp.Mul(r, r, evaluate=e), evaluate=e), evaluate=e)
    return r


class OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` inside sympy swallows it."""


def _out_of_time(signum: int, frame: Any) -> None:
    raise OutOfTime


def sympy_route_case(n: int, evaluate: bool) -> dict[str, Any]:
    """Run in a fresh process: the timed route, then its values at the check points (untimed)."""
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.setitimer(signal.ITIMER_REAL, LIMIT)
    try:
        start = time.perf_counter()
        f = sympy_program(n, evaluate)
        grads = [sp.diff(f, x) for x in input_symbols()]
        replacements, exprs = sp.cse(grads)
        seconds = time.perf_counter() - start
    except OutOfTime:
        return {"timeout": True}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    points = random_points()
    xs = input_symbols()
    value = sp.lambdify(xs, f, modules="math", docstring_limit=0)
    diff_alone = sp.lambdify(xs, grads, modules="math", cse=False, docstring_limit=0)
    return {
        "seconds": seconds,
        "size": cse_size(replacements, exprs),
        "cse": evaluate_cse(replacements, exprs, points),
        "diff": [[float(v) for v in diff_alone(*p)] for p in points],
        "value": [float(value(*p)) for p in points],
    }


def run_sympy_route(n: int, evaluate: bool) -> dict[str, Any]:
    mode = "evaluated" if evaluate else "unevaluated"
    # The child stops the route itself after LIMIT s; this limit only guards imports and checks.
    return run_json([__file__, "--sympy-route", str(n), mode], timeout=LIMIT + 120)


def bench_sympy_route(cases: Sequence[tuple[int, bool]]) -> str:
    points = random_points()
    rows = []
    targets_30: list[str] = []
    sizes_ok, tapegrad_ok = [], []
    cse_wrong: list[str] = []  # cases where diff was right and sympy.cse's reduction is not
    for n, evaluate in cases:
        tape, (replacements, exprs), _, _ = tapegrad_gradient(n)
        ours_s = median_ms(5, tapegrad_gradient, n) / 1e3
        ours_size = cse_size(replacements, exprs)
        want = reference(tape, points)
        ours_error = relative_error(evaluate_cse(replacements, exprs, points), want)
        tapegrad_ok.append(ours_error <= TOLERANCE)
        theirs = run_sympy_route(n, evaluate)
        mode = "evaluated" if evaluate else "unevaluated"
        print(f"  sympy route: {n} ops {mode} done", file=sys.stderr, flush=True)
        ours = [f"{ours_s * 1e3:.1f}", f"{ours_size:,}", correctness(ours_error)]
        if "seconds" not in theirs:
            if theirs.get("timeout"):
                at_least = LIMIT / ours_s
                rows.append([f"{n}", mode, f"> {LIMIT:.0f} s", "", "", ""] + ours + [f"**> {at_least:,.0f}x**", ""])
                if n == 30 and evaluate:
                    fast = verdict(at_least >= 100)
                    targets_30.append(
                        f"- at least 100x faster at 30 ops: > {at_least:,.0f}x (sympy timed out), **{fast}**"
                    )
            else:
                rows.append([f"{n}", mode, f"failed: {theirs['failed']}", "", "", ""] + ours + ["", ""])
            continue
        value_error = relative_error([theirs["value"]], [[tape(*p) for p in points]])
        if value_error > TOLERANCE:
            raise RuntimeError(f"sympy_program({n}) does not compute random_program({n}): {value_error:.3g}")
        cse_error, diff_error = relative_error(theirs["cse"], want), relative_error(theirs["diff"], want)
        if cse_error > TOLERANCE and diff_error <= TOLERANCE:
            cse_wrong.append(f"{n} ops {mode}")
        speedup = theirs["seconds"] / ours_s
        size_ratio = ours_size / theirs["size"]
        sizes_ok.append(size_ratio <= 1)
        rows.append(
            [
                f"{n}",
                mode,
                f"{theirs['seconds']:.3f}",
                f"{theirs['size']:,}",
                correctness(cse_error),
                correctness(diff_error),
            ]
            + ours
            + [f"**{speedup:,.0f}x**", f"{size_ratio:.2f}"]
        )
        if n == 30 and evaluate:
            fast = verdict(speedup >= 100)
            targets_30.append(f"- at least 100x faster than the sympy route at 30 ops: {speedup:,.0f}x, **{fast}**")
    header = [
        "ops",
        "sympy built",
        "sympy route s (build + diff + cse)",
        "sympy cse size",
        "sympy cse form",
        "sympy diff alone (no cse)",
        "tapegrad ms (trace + export)",
        "tapegrad cse size",
        "tapegrad cse form",
        "speedup",
        "size tapegrad / sympy",
    ]
    targets = targets_30 or ["- at least 100x faster at 30 ops: not measured (no evaluated 30-op case)"]
    smaller = f"**{verdict(all(sizes_ok))}**" if sizes_ok else "not measured (sympy finished no case)"
    targets.append(f"- a cse form no larger than sympy's wherever sympy finished: {smaller}")
    targets.append(f"- tapegrad's cse form correct at every size: **{verdict(all(tapegrad_ok))}**")
    title = (
        f"### The usual sympy route (build, `sympy.diff` per input, `sympy.cse`; fresh process, {LIMIT:.0f} s limit) "
        "against tapegrad"
    )
    note = (
        f"Correctness: the largest componentwise relative error against `tape.gradient` at {POINTS} random points "
        f"in [-2, 2]^10 (correct means <= {TOLERANCE:g}); the cse forms are evaluated by `sympy.lambdify` with the "
        'replacements assigned in order, and "diff alone" is the list of `sympy.diff` results before `sympy.cse`. '
        "tapegrad's time is the median of 5 runs, each from a cold sympy cache; the sympy route runs once in a "
        "fresh process (import excluded)."
    )
    if cse_wrong:
        note += (
            f" At {', '.join(cse_wrong)}, `sympy.diff` is right and the reduction returned by `sympy.cse` is not: "
            "sympy's cse mishandles unevaluated products with a repeated factor such as `y*y`."
        )
    return f"{title}\n\n" + table(header, rows) + "\n\nTargets:\n" + "\n".join(targets) + f"\n\n{note}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 10^5-op program and the 50-op sympy case")
    parser.add_argument("--sympy-route", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    if args.sympy_route:
        n, mode = args.sympy_route
        print(json.dumps(sympy_route_case(int(n), mode == "evaluated")))
        return 0
    with figures("bench_symbolic", writes_docs(args), argv):
        print(f"{versions('sympy')}\n")
        sizes = [100, 1000, 10_000] if args.quick else [100, 1000, 10_000, 100_000]
        print(bench_scale(sizes), end="\n\n", flush=True)
        cases = [(10, True), (20, True), (30, True)] + ([] if args.quick else [(50, True)]) + [(10, False), (20, False)]
        print(bench_sympy_route(cases), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

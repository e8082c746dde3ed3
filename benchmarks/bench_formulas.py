"""Gradients of textbook formulas at 10^4 points: tapegrad's generated numpy code against sympy's lambdify.

For each formula of the corpus (``benchmarks/formulas.py``: mechanics, relativity, electromagnetism,
thermodynamics, optics, quantum physics, statistics and finance; at least 50), both routes compute the
value and every partial derivative at the same 10^4 random points inside the formula's domain:

- tapegrad: ``tapegrad.parse`` -> ``grad_tape`` -> ``optimize`` -> ``compile("numpy")``;
- sympy: the same formula as a sympy expression (``tape.to_sympy()``), ``sympy.diff`` with respect to
  each variable, and ``sympy.lambdify(..., modules="numpy", cse=True)`` of the value and the partials
  (the outputs tapegrad's function returns).  The last column times sympy without the value.

Both must agree to 1e-12 relative to each output's largest magnitude.  Prints one row per formula (microseconds per
call, the best of three medians; the ratio tapegrad / lambdify) and the geometric mean of the
ratios, with the load average: the machine is shared, so compare ratios, which both routes suffer
alike.  Target: a geometric mean of at most 1.0.

Run:  python benchmarks/bench_formulas.py [--quick] [--write-docs]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from common import add_docs_flag, best_ms, figures, load_average, table, verdict, versions, writes_docs
from formulas import FORMULAS, Formula

import tapegrad

POINTS = 10_000
TOLERANCE = 1e-12  # largest difference between the two routes, relative to the output's largest magnitude
TARGET = 1.0  # tapegrad's time over lambdify's, geometric mean


@dataclass(frozen=True)
class Routes:
    """One formula's two compiled functions, and the points they run at."""

    formula: Formula
    tapegrad: Callable[..., Any]
    lambdified: Callable[..., Any]
    partials_only: Callable[..., Any]
    points: list[np.ndarray]


def points_for(formula: Formula, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` random points inside the formula's domain, one array per variable."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, count) for _, low, high in formula.domains]


def build(formula: Formula, count: int) -> Routes:
    """Both routes for ``formula``: tapegrad's compiled gradient tape, and sympy's diff + lambdify."""
    tape = tapegrad.parse(formula.expression, formula.variables, name="formula")
    compiled = tapegrad.optimize(tapegrad.grad_tape(tape)).compile("numpy")
    symbols = [sp.Symbol(name) for name in formula.variables]
    expr = tape.to_sympy(symbols)
    partials = [sp.diff(expr, s) for s in symbols]
    lambdified = sp.lambdify(symbols, [expr, *partials], modules="numpy", cse=True, docstring_limit=0)
    partials_only = sp.lambdify(symbols, partials, modules="numpy", cse=True, docstring_limit=0)
    return Routes(formula, compiled, lambdified, partials_only, points_for(formula, count))


def largest_difference(routes: Routes) -> float:
    """The largest difference between the two routes' outputs, relative to each output's largest magnitude.

    Measured against the output's scale over all points, not point by point: where a formula cancels
    (``1 / sqrt(1 - v**2) - 1`` at small ``v``, Black-Scholes' d2 near 0) both routes lose the same
    digits, in different roundings, and a pointwise relative difference would measure the cancellation.
    """
    with np.errstate(all="ignore"):
        ours = routes.tapegrad(*routes.points)
        theirs = routes.lambdified(*routes.points)
    worst = 0.0
    for a, b in zip(ours, theirs, strict=True):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        scale = max(float(np.max(np.abs(b))), 1e-300)
        difference = float(np.max(np.abs(a - b))) / scale
        worst = max(worst, difference if difference == difference else math.inf)
    return worst


@dataclass(frozen=True)
class Row:
    name: str
    tapegrad_us: float
    lambdify_us: float
    partials_us: float
    difference: float

    @property
    def ratio(self) -> float:
        return self.tapegrad_us / self.lambdify_us


def measure(routes: Routes, repeats: int) -> Row:
    """Both routes timed in turn, at the same points (microseconds per call)."""
    points = routes.points
    with np.errstate(all="ignore"):  # sympy's code has no errstate of its own; tapegrad's sets it itself
        ours = best_ms(repeats, routes.tapegrad, *points) * 1e3
        theirs = best_ms(repeats, routes.lambdified, *points) * 1e3
        partials = best_ms(repeats, routes.partials_only, *points) * 1e3
    return Row(routes.formula.name, ours, theirs, partials, largest_difference(routes))


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def report(rows: Sequence[Row], count: int) -> str:
    """The table of rows and the summary lines under it."""
    cells = [
        (r.name, f"{r.tapegrad_us:.1f}", f"{r.lambdify_us:.1f}", f"{r.ratio:.2f}", f"{r.partials_us:.1f}",
         f"{r.difference:.1e}")
        for r in rows
    ]  # fmt: skip
    header = ["formula", "tapegrad µs", "lambdify µs", "ratio", "lambdify, partials only µs", "largest difference"]
    mean = geometric_mean([r.ratio for r in rows])
    partial_mean = geometric_mean([r.tapegrad_us / r.partials_us for r in rows])
    agree = all(r.difference <= TOLERANCE for r in rows)
    lines = [
        table(header, cells),
        "",
        f"{len(rows)} formulas at {count:,} points; value and all partials by both routes.",
        f"Geometric mean of tapegrad / lambdify: {mean:.2f} (target <= {TARGET}: {verdict(mean <= TARGET)}); "
        f"against lambdify of the partials alone: {partial_mean:.2f}.",
        f"All outputs agree to {TOLERANCE:g} of their largest magnitude: {verdict(agree)}.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 points, ten formulas, fewer repeats (a smoke test)")
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    count, repeats = (1_000, 5) if args.quick else (POINTS, 30)
    corpus = FORMULAS[:10] if args.quick else FORMULAS
    with figures("bench_formulas", writes_docs(args), argv):
        print(f"# Gradients of {len(corpus)} textbook formulas: generated numpy code vs sympy lambdify")
        print()
        print(f"{versions('numpy', 'sympy')}; {load_average()} at the start")
        print()
        rows = [measure(build(formula, count), repeats) for formula in corpus]
        print(report(rows, count))
        print()
        print(f"{load_average()} at the end")
    return 0 if all(r.difference <= TOLERANCE for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

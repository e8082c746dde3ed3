"""benchmarks/bench_formulas.py and its corpus: every formula's gradient is right, and a quick run works.

No timing is asserted.  The corpus is checked against sympy's own derivatives (``sympy.diff`` of the
formula, evaluated by ``lambdify``), at points inside each formula's domain, for tapegrad's
interpreter and its generated numpy code; and a ``--quick`` run prints its table and verdicts.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import tapegrad

ROOT = Path(__file__).resolve().parent.parent


def load(name: str) -> Any:
    """Import a benchmark module as running the script does: with ``benchmarks/`` on ``sys.path``."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.append(folder)
    return importlib.import_module(name)


bench = load("bench_formulas")
corpus = load("formulas")


def test_the_corpus_has_fifty_distinct_formulas_with_domains() -> None:
    names = [f.name for f in corpus.FORMULAS]
    assert len(names) >= 50 and len(set(names)) == len(names)
    for formula in corpus.FORMULAS:
        assert formula.domains and all(low < high for _, low, high in formula.domains), formula.name
        assert tapegrad.parse(formula.expression, formula.variables).inputs == tuple(formula.variables)


@pytest.mark.parametrize("formula", corpus.FORMULAS, ids=lambda f: f.name)
def test_gradients_match_sympys_derivatives(formula: Any) -> None:
    tape = tapegrad.parse(formula.expression, formula.variables)
    symbols = [sp.Symbol(name) for name in formula.variables]
    expr = tape.to_sympy(symbols)
    partials = sp.lambdify(symbols, [sp.diff(expr, s) for s in symbols], modules="math")
    full = tapegrad.grad_tape(tape)
    points = bench.points_for(formula, 5, seed=1)
    generated = tapegrad.optimize(full).compile("numpy")(*points)
    replayed = full(*points)  # the interpreter on arrays: numpy's exp and log, as generated code uses
    assert all(np.array_equal(g, r) for g, r in zip(generated, replayed, strict=True))
    for k in range(5):
        point = [float(p[k]) for p in points]
        want = [float(d) for d in partials(*point)]
        got = tape.gradient(*point)  # on floats: math's exp and log, within an ulp of numpy's
        assert all(math.isfinite(w) for w in want), (formula.name, point)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (formula.name, point)
        assert [float(g[k]) for g in generated[1:]] == pytest.approx(got, rel=1e-14, abs=1e-300)


def test_a_quick_run_prints_the_table_and_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--no-write-docs"]) == 0
    out = capsys.readouterr().out
    assert "| kinetic energy |" in out and "load average" in out
    assert "Geometric mean of tapegrad / lambdify:" in out
    assert "agree to 1e-12 of their largest magnitude: met" in out


def test_largest_difference_is_relative_to_the_outputs_scale() -> None:
    formula = corpus.FORMULAS[0]
    routes = bench.build(formula, 100)
    assert bench.largest_difference(routes) <= bench.TOLERANCE
    wrong = bench.Routes(formula, lambda *xs: [np.ones(100), *routes.tapegrad(*xs)[1:]], routes.lambdified,
                         routes.partials_only, routes.points)  # fmt: skip
    assert bench.largest_difference(wrong) > 1e-3


def test_geometric_mean() -> None:
    assert bench.geometric_mean([0.5, 2.0]) == pytest.approx(1.0)
    assert bench.geometric_mean([4.0]) == pytest.approx(4.0)

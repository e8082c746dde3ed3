"""benchmarks/bench_arrays.py: every engine's training step computes the same loss and gradients.

A smoke test of the benchmark's workloads at tiny sizes (no timing is
asserted): hand-written numpy is the reference, and tapegrad, PyTorch and
micrograd (each when importable) must agree with it to 1e-12.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_bench() -> Any:
    """Import the script as running it does: with ``benchmarks/`` on ``sys.path``, where ``import common`` looks."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.append(folder)
    return importlib.import_module("bench_arrays")


bench = load_bench()


def tiny_workloads() -> list[Any]:
    return [bench.moons_workload(12), bench.makemore_workload(batches=2)]


def available_engines(work: Any) -> list[tuple[str, Any]]:
    engines = [(name, factory) for name, factory, _ in bench.engines_for(work) if factory is not None]
    if bench.micrograd_nn is not None and work.kind == "moons":
        engines.append((bench.Micrograd.name, bench.Micrograd))
    return engines


@pytest.mark.parametrize("work", tiny_workloads(), ids=lambda w: w.kind)
def test_every_engine_agrees_with_hand_written_numpy(work: Any) -> None:
    reference = bench.HandNumpy(work)
    want_loss = reference.step(work.batches[0])
    want_grads = reference.gradients()
    assert np.isfinite(want_loss) and want_loss > 0
    assert [g.shape for g in want_grads] == [p.shape for p in work.params]
    names = []
    for name, factory in available_engines(work):
        engine = factory(work)
        loss = engine.step(work.batches[0])
        assert abs(loss - want_loss) <= 1e-12 * abs(want_loss), name
        assert bench.relative_difference(engine.gradients(), want_grads) <= 1e-12, name
        names.append(name)
    assert bench.TapegradEager.name in names


def loss_at(work: Any, params: list[np.ndarray]) -> float:
    """The hand-written loss of the first batch at ``params``."""
    return bench.HandNumpy(bench.Workload(**{**vars(work), "params": params})).step(work.batches[0])


@pytest.mark.parametrize("work", tiny_workloads(), ids=lambda w: w.kind)
def test_hand_written_gradients_match_finite_differences(work: Any) -> None:
    """The reference itself is right: its gradient against central differences, at two entries per parameter."""
    reference = bench.HandNumpy(work)
    reference.step(work.batches[0])
    h = 1e-6
    for k, p in enumerate(work.params):
        for index in [(0,) * p.ndim, tuple(s - 1 for s in p.shape)]:
            plus, minus = [q.copy() for q in work.params], [q.copy() for q in work.params]
            plus[k][index] += h
            minus[k][index] -= h
            numeric = (loss_at(work, plus) - loss_at(work, minus)) / (2 * h)
            assert reference.gradients()[k][index] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_a_quick_run_prints_agreement_and_verdicts() -> None:
    work = bench.moons_workload(12)
    work.key = "moons100"  # judged like the real workload, at a tiny size
    results = bench.run_workload(work, quick=True)
    rows = bench.rows_of(results)
    assert rows[0][-1] == "reference"
    assert all(row[-1].endswith("(ok)") for row in rows[1:] if row[2])
    lines = bench.targets({"moons100": results})
    assert any("within 2x of hand-written numpy" in line for line in lines)
    assert all(line.endswith(("**met**", "**MISSED**")) or "not measured" in line for line in lines)

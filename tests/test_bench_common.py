"""benchmarks/common.py: what the five benchmarks share, and the figures page a full run writes.

No timing is asserted: the tests check what the helpers call, print, return and write.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad.lab.report import run_chain

BENCHMARKS = str(Path(__file__).resolve().parent.parent / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.append(BENCHMARKS)  # as running a benchmark script does, so that ``import common`` finds it
common: Any = importlib.import_module("common")


def test_table_is_markdown_with_one_line_per_row() -> None:
    text = common.table(["a", "b"], [(1, "x"), [2.5, ""]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2.5 |  |"]


def test_verdict_words() -> None:
    assert (common.verdict(True), common.verdict(False)) == ("met", "MISSED")


def test_median_and_best_call_the_run_repeats_times_each() -> None:
    calls: list[int] = []
    assert common.median_ms(5, calls.append, 7) >= 0.0
    assert calls == [7] * 5
    calls.clear()
    common.best_ms(4, calls.append, 1)
    assert len(calls) == 4 * 3  # the best of three medians
    calls.clear()
    common.best_ms(2, calls.append, 1, medians=1)
    assert len(calls) == 2


def test_timed_returns_the_result_and_a_duration() -> None:
    result, seconds = common.timed(sorted, [3, 1, 2], reverse=True)
    assert result == [3, 2, 1]
    assert seconds >= 0.0


def test_peak_mb_sees_a_numpy_buffer_and_stops_tracing() -> None:
    import tracemalloc

    assert 8.0 <= common.peak_mb(np.ones, 1_000_000) < 20.0  # 8 MB of float64
    assert not tracemalloc.is_tracing()


def test_versions_name_tapegrad_the_libraries_and_python() -> None:
    text = common.versions("numpy", "no_such_module_for_tapegrad")
    assert text.startswith(f"tapegrad {tapegrad.__version__}, numpy {np.__version__}, ")
    assert "no_such_module_for_tapegrad not installed, Python 3." in text


def test_load_average_names_the_cores() -> None:
    assert common.load_average().startswith("load average ")
    assert common.load_average().endswith(" cores")


def test_run_json_returns_the_last_json_line() -> None:
    result = common.run_json(["-c", "print('noise'); print('{\"seconds\": 1.5}')"], timeout=60)
    assert result == {"seconds": 1.5}


def test_run_json_reports_a_crash_by_its_last_stderr_line() -> None:
    result = common.run_json(["-c", "raise MemoryError('too big')"], timeout=60)
    assert result == {"failed": "MemoryError: too big"}
    assert common.run_json(["-c", "import sys; sys.exit(3)"], timeout=60) == {"failed": "exit 3"}


def test_run_json_stops_a_child_past_its_time_limit() -> None:
    result = common.run_json(["-c", "import time; time.sleep(60)"], timeout=1)
    assert result == {"failed": "> 1 s", "timeout": True}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only")
    common.add_docs_flag(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv, writes",
    [
        ((), True),
        (("--quick",), False),
        (("--only", "moons"), False),
        (("--no-write-docs",), False),
        (("--quick", "--write-docs"), True),
    ],
)
def test_a_full_run_writes_its_page_and_a_partial_one_does_not(argv: tuple[str, ...], writes: bool) -> None:
    assert common.writes_docs(parse(*argv)) is writes


def test_figures_prints_and_writes_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(common, "DOCS", tmp_path / "docs" / "benchmarks")
    with common.figures("bench_demo", True, ["--flag"]):
        print("### Demo\n\n| a |\n|---|\n| 1 |")
    assert "### Demo" in capsys.readouterr().out  # still printed as it came
    page = (tmp_path / "docs" / "benchmarks" / "bench_demo.md").read_text()
    lines = page.splitlines()
    assert lines[0] == "# bench_demo: figures from the last full run"
    assert lines[2].startswith("Written by `python benchmarks/bench_demo.py --flag` on ")
    assert f"numpy {np.__version__}" in page and "load average" in page and "at the end" in page
    assert page.endswith("### Demo\n\n| a |\n|---|\n| 1 |\n")


def test_a_forced_partial_run_says_so_in_its_title(tmp_path: Path) -> None:
    path = common.write_figures("bench_demo", "| a |", argv=["--quick", "--write-docs"], docs=tmp_path)
    assert path == tmp_path / "bench_demo.md"
    assert path.read_text().splitlines()[0] == "# bench_demo: figures from a partial run (--quick)"


def test_figures_without_write_leaves_the_docs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "DOCS", tmp_path)
    with common.figures("bench_demo", False):
        print("x")
    assert list(tmp_path.iterdir()) == []


def test_deep_chain_can_include_the_forward_pass() -> None:
    # bench_engines reports forward + backward through the library's runner, not a copy of it
    assert isinstance(run_chain("tape eager", 100, timeout=120, forward=True), float)
    assert isinstance(run_chain("closure", 100, timeout=120, forward=False), float)

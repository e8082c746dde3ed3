"""What the benchmarks share: timing, peak memory, markdown tables, verdicts, the run's header,
a child process with a time limit, and the figures page each full run writes into ``docs/benchmarks/``.

The benchmarks are scripts (``python benchmarks/bench_engines.py``); Python puts a script's own folder
on ``sys.path``, so ``import common`` finds this file.  Tests that load a benchmark put ``benchmarks/``
on ``sys.path`` the same way (``tests/test_bench_arrays.py``).

A full run (no ``--quick``, no ``--only``) writes ``docs/benchmarks/<name>.md``: what it printed, under
the date, the machine, the versions and the load average, so the figures in the docs are always a
script's own output and never copied by hand.  ``--no-write-docs`` keeps the page as it is;
``--write-docs`` writes it from a partial or quick run too.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks"
LABELS = {"torch": "PyTorch"}  # how a library is named in a header, where its module name is not it


# ---------------------------------------------------------------- timing and memory


def timed(run: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``run(*args, **kwargs)`` once: what it returned and the seconds it took (for costs paid once, as building)."""
    start = time.perf_counter()
    result = run(*args, **kwargs)
    return result, time.perf_counter() - start


def median_ms(repeats: int, run: Callable[..., Any], *args: Any) -> float:
    """The median time of ``run(*args)`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def best_ms(repeats: int, run: Callable[..., Any], *args: Any, medians: int = 3) -> float:
    """The best of ``medians`` medians: the machine is shared, and noise only ever adds time."""
    return min(median_ms(repeats, run, *args) for _ in range(medians))


def peak_mb(run: Callable[..., Any], *args: Any) -> float:
    """The most memory one call of ``run(*args)`` holds at once, in MB, as tracemalloc sees it.

    numpy reports its buffers to tracemalloc; C++ libraries (PyTorch, CasADi) do not.
    """
    gc.collect()
    tracemalloc.start()
    try:
        run(*args)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- what the tables say


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table: the header, then one line per row (cells printed with ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    """How a target reads: met, or MISSED in capitals so a reader cannot overlook it."""
    return "met" if ok else "MISSED"


def load_average() -> str:
    """The one-minute load average and the core count: on a shared machine, what the figures competed with."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def versions(*modules: str) -> str:
    """``tapegrad 0.1.0, numpy 2.1.0, Python 3.11.4``: tapegrad, then ``modules`` (or "not installed"), then Python."""
    parts = []
    for name in ("tapegrad", *modules):
        label = LABELS.get(name, name)
        try:
            parts.append(f"{label} {importlib.import_module(name).__version__}")
        except ImportError:
            parts.append(f"{label} not installed")
    return ", ".join(parts + [f"Python {platform.python_version()}"])


def machine() -> str:
    """The operating system, processor and core count, for the figures page."""
    model = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {model}, {os.cpu_count()} cores"


# ---------------------------------------------------------------- a child process


def run_json(arguments: Sequence[str], timeout: float) -> dict[str, Any]:
    """``python *arguments`` in a fresh process: the JSON object it prints last, or why there is none.

    A fresh process each, so a crash, a deep recursion or the memory one case
    leaves behind cannot touch another's figure.  A failure is a dict too:
    ``{"failed": "> 60 s", "timeout": True}`` past ``timeout`` seconds, else
    ``{"failed": <the last line of its stderr, or "exit N">}``.
    """
    try:
        done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"> {timeout:.0f} s", "timeout": True}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"failed": tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# ---------------------------------------------------------------- the figures page


def add_docs_flag(parser: argparse.ArgumentParser) -> None:
    """``--write-docs`` / ``--no-write-docs``; without either, a full run writes its page and a partial one does not."""
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the printed figures into docs/benchmarks/ (default: on for a full run, off with --quick or --only)",
    )


def writes_docs(args: argparse.Namespace) -> bool:
    """Whether this run writes its page: as asked, else only when it is full (no ``--quick``, no ``--only``)."""
    if args.write_docs is not None:
        return bool(args.write_docs)
    return not getattr(args, "quick", False) and not getattr(args, "only", None)


def write_figures(
    name: str,
    markdown: str,
    *,
    started: float | None = None,
    argv: Sequence[str] | None = None,
    docs: Path | None = None,
) -> Path:
    """Write ``docs/<name>.md``: ``markdown`` (what the run printed) under when, where and with what it ran.

    ``argv`` is the run's command line after the script (``sys.argv[1:]`` when None); ``started`` the load
    average when it began; ``docs`` the folder (``docs/benchmarks/`` when None).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python", f"benchmarks/{name}.py", *arguments])
    partial = [a for a in arguments if a.split("=")[0] in ("--quick", "--only")]
    run = f"a partial run ({', '.join(partial)})" if partial else "the last full run"
    header = [
        f"# {name}: figures from {run}",
        "",
        f"Written by `{command}` "
        f"on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; rerun the script to update this page, "
        "do not edit it by hand.",
        "",
        f"- machine: {machine()}",
        f"- {versions('numpy')}",
        f"- load average {'' if started is None else f'{started:.2f} at the start, '}"
        f"{os.getloadavg()[0]:.2f} at the end, on {os.cpu_count()} cores",
        "",
    ]
    folder = DOCS if docs is None else docs
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text("\n".join(header) + "\n" + markdown.rstrip() + "\n")
    return path


class _Tee(io.StringIO):
    """Keeps what is printed and passes it on to the real stdout as it comes."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.out.flush()


@contextmanager
def figures(name: str, write: bool, argv: Sequence[str] | None = None) -> Iterator[None]:
    """Print as usual inside; when ``write`` and the block finishes, the printed text becomes ``docs/<name>.md``."""
    started = os.getloadavg()[0]
    tee = _Tee(sys.stdout)
    with redirect_stdout(tee):
        yield
    if write:
        path = write_figures(name, tee.getvalue(), started=started, argv=argv)
        print(f"figures written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)

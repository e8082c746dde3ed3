"""The cheap-gradient figure: how big a recorded gradient is, and how fast it is made.

For the moons MLP loss (one sample and 100), random straight-line programs
of 10^2 ... 10^5 ops and a 4-deep nest of tanh derivatives, prints the
records of the forward tape, of the raw gradient tape (``grad_tape``) and of
the optimised one (``optimize``), the ratio optimised / forward (theory: a
small constant), the time to build and to optimise, and whether the
optimised tape agrees bit for bit with the raw one at random inputs.

Run:  python benchmarks/bench_transforms.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import struct
from collections.abc import Callable, Sequence
from typing import Any

import bench_engines  # the moons data and loss, shared with the engine benchmark
from common import add_docs_flag, figures, table, timed, verdict, versions, writes_docs

import tapegrad
from tapegrad.lab.testing import random_program
from tapegrad.nn import MLP


def bits(x: float) -> int:
    return -1 if x != x else int(struct.unpack("<q", struct.pack("<d", x))[0])


def agree(raw: tapegrad.Tape, small: tapegrad.Tape, points: int = 5, seed: int = 0) -> str:
    rng = random.Random(seed)
    for _ in range(points):
        args = [rng.uniform(-2, 2) for _ in raw.inputs]
        a, b = raw(*args), small(*args)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        if [bits(v) for v in a] != [bits(v) for v in b]:
            return "DIFFERS"
    return "bit-for-bit"


def measure(name: str, build: Callable[[], tapegrad.Tape], target: float | None) -> list[Any]:
    forward = build()
    raw, built = timed(tapegrad.grad_tape, forward)
    small, optimised = timed(tapegrad.optimize, raw)
    ratio = len(small) / len(forward)
    judged = "" if target is None else f" (target <= {target:g}x: {verdict(ratio <= target)})"
    return [
        name,
        f"{len(forward):,}",
        f"{len(raw):,}",
        f"{len(small):,}",
        f"{ratio:.2f}x{judged}",
        f"{built:.3f}",
        f"{optimised:.3f}",
        agree(raw, small),
    ]


def moons_tape(points: int) -> tapegrad.Tape:
    moons = bench_engines.load_moons()
    X, y = moons.make_moons(100, noise=0.1, seed=moons.SEED)
    model = MLP(2, [16, 16, 1], seed=moons.SEED)
    return bench_engines.moons_loss_tape(model, X.tolist()[:points], y.tolist()[:points])


def program_tape(n: int) -> tapegrad.Tape:
    return tapegrad.trace(random_program(n, inputs=10, seed=0), *[0.1 * (i + 1) for i in range(10)])


def tanh_nest() -> list[Any]:
    """d^4/dx^4 tanh by nesting grad, recorded as one tape, raw and optimised."""
    d = tapegrad.grad
    raw, built = timed(tapegrad.trace, d(d(d(d(lambda x: x.tanh())))), 0.3)
    small, optimised = timed(tapegrad.optimize, raw)
    forward = tapegrad.trace(lambda x: x.tanh(), 0.3)
    return [
        "4-deep nest of tanh derivatives (raw = the nested trace)",
        f"{len(forward):,}",
        f"{len(raw):,}",
        f"{len(small):,}",
        f"{len(small) / len(forward):.1f}x",
        f"{built:.3f}",
        f"{optimised:.3f}",
        agree(raw, small),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 10^5-op program")
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    with figures("bench_transforms", writes_docs(args), argv):
        run(args.quick)
    return 0


def run(quick: bool) -> None:
    print(f"{versions()}\n")
    rows = [
        measure("moons MLP loss, 1 sample (value and gradient)", lambda: moons_tape(1), 3.0),
        measure("moons MLP loss, 100 samples (value and gradient)", lambda: moons_tape(100), 3.0),
    ]
    sizes = [100, 1000, 10_000] if quick else [100, 1000, 10_000, 100_000]
    for n in sizes:
        rows.append(measure(f"random program, {n:,} ops", lambda n=n: program_tape(n), 5.0))
    rows.append(tanh_nest())
    header = ["tape", "forward", "raw grad", "optimised grad", "optimised / forward", "build s", "optimise s", "agree"]
    print(table(header, rows))


if __name__ == "__main__":
    raise SystemExit(main())

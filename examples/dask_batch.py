"""A gradient at ten million points: generated numpy code, run by dask in chunks.

tapegrad's numpy backend writes the gradient as plain numpy ufunc calls and
``np.where``, so the very same generated function accepts dask arrays: called
on them it builds a lazy, chunked graph instead of computing, and dask runs
that graph chunk by chunk on all cores (or on a cluster, or out of core).
This example traces a small function of two inputs, compiles its gradient,
evaluates it over 10^7 random points in chunks of 10^6 behind a progress
bar, and checks a few points against tapegrad's interpreter::

    python examples/dask_batch.py                        # 10^7 points
    python examples/dask_batch.py --points 1000000 --chunk 250000
    python examples/dask_batch.py --show-source          # print the generated gradient too

Only reductions (the mean value, the mean and largest gradient norm) and the
spot-check points come back from dask, so the 10^7 gradients never need to
be in memory at once.  Needs ``dask[array]`` (in the test extra).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad
from tapegrad.formats.codegen import to_source

# numpy's array exp, log, tanh, sin may differ from math's in the last bit, so allow a few ulps.
TOLERANCE = 1e-14


def f(x: Any, y: Any) -> Any:
    """A smooth function of two inputs (any Value-like x and y)."""
    return (x * y).tanh() + (1 + x * x).log() * y.sin() - 0.1 * (x - y).exp()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a compiled tapegrad gradient over many points with dask.")
    parser.add_argument("--points", type=int, default=10_000_000, help="how many points (default 10^7)")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="points per dask chunk (default 10^6)")
    parser.add_argument("--checks", type=int, default=5, help="points checked against the interpreter (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    parser.add_argument("--show-source", action="store_true", help="print the generated gradient function")
    args = parser.parse_args(argv)
    try:
        import dask
        import dask.array as da
        from dask.diagnostics import ProgressBar
    except ImportError:  # dask is an optional extra
        raise SystemExit(
            "this example needs dask: pip install 'dask[array]' (or the test extra, 'tapegrad[test]')"
        ) from None

    tape = tapegrad.trace(f, 0.5, -0.5)
    gradient_tape = tapegrad.optimize(tapegrad.grad_tape(tape))
    gradient = gradient_tape.compile("numpy")  # returns (f, df/dx, df/dy)
    if args.show_source:
        print(to_source(gradient_tape, "f_value_and_grad", "numpy"))

    rng = da.random.default_rng(args.seed)
    x = rng.uniform(-2.0, 2.0, size=args.points, chunks=args.chunk)
    y = rng.uniform(-2.0, 2.0, size=args.points, chunks=args.chunk)
    value, dx, dy = gradient(x, y)  # dask arrays: nothing is computed yet
    norm = da.sqrt(dx * dx + dy * dy)
    spots = np.unique(np.linspace(0, args.points - 1, args.checks).astype(int))
    print(
        f"gradient of f(x, y) = tanh(x*y) + log(1 + x^2)*sin(y) - 0.1*exp(x - y) at {args.points:,} points, "
        f"{x.numblocks[0]} chunks of up to {args.chunk:,}, {len(gradient_tape)} records in the gradient tape"
    )
    start = time.perf_counter()
    with ProgressBar():
        mean_value, mean_norm, largest, steepest, *spot_values = dask.compute(
            value.mean(), norm.mean(), norm.max(), norm.argmax(), x[spots], y[spots], value[spots], dx[spots], dy[spots]
        )
    seconds = time.perf_counter() - start
    print(f"{args.points / seconds:,.0f} points/s ({seconds:.2f} s, dask's threaded scheduler)")
    print(f"mean f = {mean_value:.6f}, mean |grad f| = {mean_norm:.6f}, largest |grad f| = {largest:.6f}")
    at = int(steepest)
    xs, ys = dask.compute(x[at], y[at])
    print(f"steepest at point {at:,}: (x, y) = ({float(xs):.6f}, {float(ys):.6f})")

    print("\nspot check against tapegrad's interpreter (tape.value_and_gradient at each point):")
    worst = 0.0
    for k, (xk, yk, vk, dxk, dyk) in enumerate(zip(*spot_values)):
        want_value, (want_dx, want_dy) = tape.value_and_gradient(float(xk), float(yk))
        error = max(
            abs(got - want) / max(1.0, abs(want)) for got, want in zip((vk, dxk, dyk), (want_value, want_dx, want_dy))
        )
        worst = max(worst, error)
        print(
            f"  point {spots[k]:>10,}: x={xk: .6f} y={yk: .6f}  f={vk: .9f}  "
            f"grad=({dxk: .9f}, {dyk: .9f})  rel. diff {error:.0e}"
        )
    ok = worst <= TOLERANCE
    print(f"largest relative difference {worst:.0e} (tolerance {TOLERANCE:g}): {'agree' if ok else 'DISAGREE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

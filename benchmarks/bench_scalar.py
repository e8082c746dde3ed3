"""Scalar tapes at C speed: the C backend against CasADi's SX virtual machine, in one run.

1. W1, the moons MLP value-and-gradient step (100 points, 337 parameters,
   about 65,000 forward records, 185k records in the optimised gradient
   tape): micrograd, tapegrad replay, the compiled math backend, the C
   backend (``compile("c")``), CasADi's SX Function (its virtual machine) and,
   with ``--casadi-gcc``, CasADi's generated C compiled by gcc -O1 (about a
   minute to compile, so not run by default);
2. build and compile time of a gradient tape of 2 x 10^5 records (a random
   program of 44,700 ops), in a fresh process: grad_tape + optimize, the
   encoding for the C machine, and the machine's compilation (once per
   tapegrad version and compiler; later runs load it from the cache).

Run:  python benchmarks/bench_scalar.py [--quick] [--casadi-gcc]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_codegen  # the moons loss over CasADi symbols, the compiled step, the random programs
import bench_engines  # the moons data, loss tape and micrograd's step
import numpy as np
from common import (
    add_docs_flag,
    best_ms,
    figures,
    load_average,
    median_ms,
    run_json,
    table,
    timed,
    verdict,
    versions,
    writes_docs,
)

from tapegrad.formats import cbuild
from tapegrad.formats.cvm import encode
from tapegrad.nn import MLP

micrograd_engine = bench_codegen.micrograd_engine  # None without the bench extra

HEADER = ["method", "ms per step", "vs CasADi SX VM", "build", "notes"]
BIG_OPS = 44_700  # a random program whose optimised gradient tape has about 2 x 10^5 records


def casadi_gcc(function: Any) -> tuple[Any, float]:
    """CasADi's generated C for ``function``, compiled with gcc -O1 (as its docs suggest), and the seconds it took."""
    import casadi

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "moons_casadi.c"
        function.generate(str(source.name), {"with_header": False})
        shutil.move(source.name, source)
        library = Path(directory) / "moons_casadi.so"
        subprocess.run(["gcc", "-O1", "-fPIC", "-shared", str(source), "-o", str(library)], check=True)
        compiled = casadi.external(function.name(), str(library))
    return compiled, time.perf_counter() - start


def bench_moons(quick: bool, with_gcc: bool) -> tuple[list[list[str]], list[str]]:
    moons, model, rows, labels, tape, theta = bench_codegen.moons_problem()
    value, grads = tape.value_and_gradient(*theta)
    want = [value, *grads]
    grads_tape, optimised = timed(bench_codegen.gradient_tape, tape)
    rate = 1.0 - 0.9 * 1 / 100
    repeats = 10 if quick else 50
    results: list[tuple[str, float | None, str, str]] = []  # (method, ms, build, notes)

    def error_of(got: Sequence[float]) -> str:
        worst = max(abs(a - b) for a, b in zip(got, want))
        return "bit for bit with the interpreter" if list(got) == list(want) else f"max abs diff {worst:.0e}"

    if micrograd_engine is None:
        results.append(("micrograd 0.1.0", None, "", "not installed (pip install micrograd)"))
    else:
        engine_model = MLP(2, [16, 16, 1], seed=moons.SEED, value_type=micrograd_engine.Value)
        ms = median_ms(3, bench_engines.moons_step, engine_model, rows, labels, micrograd_engine.Value, 1)
        results.append(("micrograd 0.1.0 (forward + backward + SGD)", ms, "", "gc enabled"))
    ms = median_ms(3, bench_codegen.replay_step, tape, list(theta), rate)
    results.append(("tapegrad replay (tape.value_and_gradient)", ms, "", ""))
    math_f, math_built = timed(grads_tape.compile)
    ms = best_ms(repeats, bench_codegen.compiled_step, math_f, list(theta), rate)
    results.append(("tapegrad compiled, math backend", ms, f"{optimised + math_built:.1f} s",
                    f"{len(grads_tape):,} records; " + error_of(math_f(*theta))))  # fmt: skip
    cbuild._LOADED.clear()
    with tempfile.TemporaryDirectory() as cache:  # a cold cache: the machine's compilation is in the build time
        machine = Path(cache) / "machine.so"
        _, machine_seconds = timed(cbuild.build_machine, machine)
    c_f, encoded = timed(grads_tape.compile, "c")
    c_ms = best_ms(repeats, bench_codegen.compiled_step, c_f, list(theta), rate)
    notes = (
        f"{len(c_f.program.code):,} instructions, {c_f.program.slots:,} work slots; optimise {optimised:.1f} s "
        f"+ encode {encoded:.2f} s + compile the machine {machine_seconds:.2f} s (once); {error_of(c_f(*theta))}"
    )
    results.append(("**tapegrad compiled, C backend**", c_ms, f"{optimised + encoded + machine_seconds:.1f} s", notes))

    casadi_f, built = timed(bench_codegen.casadi_function, model, rows, labels)
    casadi_ms = None
    if casadi_f is None:
        results.append(("CasADi SX Function (its virtual machine)", None, "", "not installed (pip install casadi)"))
    else:
        import casadi

        value, grads = casadi_f(np.array(theta))
        got = [float(value), *grads.full().ravel()]
        casadi_ms = best_ms(repeats, bench_codegen.casadi_step, casadi_f, np.array(theta), rate)
        results.append(("CasADi SX Function (its virtual machine)", casadi_ms, f"{built:.1f} s",
                        f"casadi {casadi.__version__}, {casadi_f.n_instructions():,} instructions, "
                        f"{casadi_f.sz_w():,} work slots; {error_of(got)}"))  # fmt: skip
        if with_gcc:
            compiled, seconds = casadi_gcc(casadi_f)
            ms = best_ms(repeats, bench_codegen.casadi_step, compiled, np.array(theta), rate)
            results.append(("CasADi + gcc -O1 (generated C)", ms, f"{built + seconds:.1f} s", "codegen + gcc"))
        else:
            results.append(
                ("CasADi + gcc -O1 (generated C)", None, "", "skipped (about a minute of gcc): --casadi-gcc")
            )

    lines = []
    for method, ms, build, notes in results:
        if ms is None:
            lines.append([method, "", "", build, notes])
            continue
        ratio = f"{casadi_ms / ms:.3g}x" if casadi_ms else ""
        lines.append([method, f"{ms:,.3f}", ratio, build, notes])
    if casadi_ms is None:
        return lines, ["W1: C backend at least as fast as CasADi's SX VM: casadi not installed, not measured"]
    speedup = casadi_ms / c_ms
    return lines, [f"W1: C backend at least as fast as CasADi's SX virtual machine: {speedup:.2f}x its speed, "
                   f"**{verdict(speedup >= 1.0)}**"]  # fmt: skip


def big_case(ops: int) -> dict[str, Any]:
    """In a fresh process: trace a random program, build its gradient tape, encode it, compile the machine."""
    tape, traced = timed(bench_codegen.program_tape, ops)
    grads_tape, optimised = timed(bench_codegen.gradient_tape, tape)
    cbuild._LOADED.clear()
    with tempfile.TemporaryDirectory() as cache:
        _, machine = timed(cbuild.build_machine, Path(cache) / "machine.so")
    program, encoded = timed(encode, grads_tape)
    f = grads_tape.compile("c")
    start = time.perf_counter()
    got = f(*bench_codegen.XS)
    run = time.perf_counter() - start
    want = grads_tape(*bench_codegen.XS)
    return {"records": len(grads_tape), "trace": traced, "optimise": optimised, "encode": encoded,
            "machine": machine, "run": run, "exact": list(got) == list(want), "slots": program.slots}  # fmt: skip


def bench_big() -> tuple[list[list[str]], list[str]]:
    case = run_json([__file__, "--big-case", str(BIG_OPS)], timeout=600)
    if "failed" in case:
        return [["2 x 10^5-record gradient tape", "", "", "", case["failed"]]], []
    total = case["optimise"] + case["encode"] + case["machine"]
    notes = (
        f"{case['records']:,} records: grad_tape + optimize {case['optimise']:.2f} s, encode {case['encode']:.2f} s, "
        f"compile the machine {case['machine']:.2f} s (once per version, then cached); one run "
        f"{case['run'] * 1e3:.2f} ms; {'bit for bit' if case['exact'] else 'NOT bit for bit'} with replay"
    )
    row = [f"build + compile, {case['records']:,}-record gradient tape (C backend)", "", "", f"{total:.1f} s", notes]
    return [row], [f"build + compile of 2 x 10^5 records within 10 s: {total:.1f} s, **{verdict(total <= 10)}**"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--casadi-gcc", action="store_true", help="also compile CasADi's generated C with gcc")
    parser.add_argument("--big-case", type=int, help=argparse.SUPPRESS)  # the 2 x 10^5-record build, in a child
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    if args.big_case is not None:
        print(json.dumps(big_case(args.big_case)))
        return 0
    with figures("bench_scalar", writes_docs(args), argv):
        print(f"{versions('numpy', 'casadi')}, gc enabled; {load_average()}")
        print("ms per step: best of three medians (micrograd and replay: one median of 3)\n")
        rows, targets = bench_moons(args.quick, args.casadi_gcc)
        big_rows, big_targets = bench_big()
        print("### W1 moons step (value and gradient of 337 parameters), and a 2 x 10^5-record build\n")
        print(table(HEADER, rows + big_rows))
        print("\nTargets (issue 18, item 4):\n")
        print("\n".join(f"- {t}" for t in targets + big_targets))
        print(f"\n{load_average()} at the end of the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

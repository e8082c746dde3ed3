"""Generated code against the engines it should beat, in one run.

Prints one markdown table, every row measured in this run, then the targets
of issue 6 with met or MISSED:

1. W1, the moons MLP loss (100 points, the 337 parameters as inputs, about
   65,000 forward records): one training step with the compiled math-backend
   value-and-gradient (``optimize(grad_tape(tape)).compile()`` on 337 floats),
   against micrograd's step, tapegrad eager, tapegrad replay and CasADi's SX
   virtual machine on the same loss (when ``casadi`` is installed);
2. W2, the gradient of a random straight-line program of 10^3 ops over 10
   inputs at one point: compiled math backend against the hand-written
   reverse sweep over a Python list (``bench_engines.hand_written_sweep``);
3. W3, the same gradient at 10^5 points: the compiled numpy backend against a
   hand-written vectorised numpy reverse sweep and PyTorch's batched autograd
   (when installed), and at 30 ops also against ``sympy.lambdify`` of
   ``diff`` + ``cse``; points per second and peak memory of one call;
4. codegen + compile time and source size of gradient tapes of about 10^3,
   10^4, 10^5 and 10^6 records, each in a fresh process, to show whether the
   cost per record stays flat.

Peak memory is what one call allocates (tracemalloc; numpy reports its
buffers to it, C++ libraries do not), and for codegen the peak resident
size of the whole process.

Run:  python benchmarks/bench_codegen.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_engines  # the moons data, loss and step, the scalar sweep
import numpy as np
from common import (
    add_docs_flag,
    best_ms,
    figures,
    median_ms,
    peak_mb,
    run_json,
    table,
    timed,
    verdict,
    versions,
    writes_docs,
)

import tapegrad
from tapegrad.core.ops import OpKind
from tapegrad.lab.testing import random_program, random_steps
from tapegrad.nn import MLP

try:
    import micrograd.engine as micrograd_engine
except ImportError:  # the bench extra is not installed
    micrograd_engine = None

INPUTS = 10
XS = [0.1 * (i + 1) for i in range(INPUTS)]  # the point the programs are traced (and W2 differentiated) at
HEADER = ["workload", "method", "ms per call", "rate", "speedup", "peak memory MB", "notes"]
# Records of the optimised gradient tape per op of a random program (measured: 4.47).
RECORDS_PER_OP = 4.47
SYMPY_LIMIT = "not attempted: sympy's diff + cse does not finish in 60 s at 50 ops (bench_symbolic)"


def program_tape(n: int) -> tapegrad.Tape:
    return tapegrad.trace(random_program(n, inputs=INPUTS, seed=0), *XS)


def gradient_tape(tape: tapegrad.Tape) -> tapegrad.Tape:
    """What users compile for a gradient: the optimised gradient tape (value first, then one entry per input)."""
    return tapegrad.optimize(tapegrad.grad_tape(tape))


def plain_records(tape: tapegrad.Tape) -> list[tuple[int, tuple[int, ...], Any]]:
    """The records as the hand-written sweeps take them: (op number, operand slots, attribute)."""
    return [(int(k), a, tape.attrs.get(i)) for i, (k, a) in enumerate(zip(tape.ops, tape.args))]


# ---------------------------------------------------------------- 1. the moons step


class CasadiScalar:
    """A CasADi SX expression with the part of Value's API the moons loss uses.

    ``relu`` is ``fmax(x, 0)``; everything else is SX arithmetic, so running
    the loss over these builds CasADi's graph of the same ~65,000 operations.
    """

    __slots__ = ("sx",)

    def __init__(self, sx: Any) -> None:
        self.sx = sx

    def __add__(self, other: Any) -> CasadiScalar:
        return CasadiScalar(self.sx + (other.sx if isinstance(other, CasadiScalar) else other))

    def __mul__(self, other: Any) -> CasadiScalar:
        return CasadiScalar(self.sx * (other.sx if isinstance(other, CasadiScalar) else other))

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self) -> CasadiScalar:
        return CasadiScalar(-self.sx)

    def relu(self) -> CasadiScalar:
        import casadi

        return CasadiScalar(casadi.fmax(self.sx, 0))


def moons_loss(model: MLP, rows: list[list[float]], labels: list[float], theta: Sequence[Any]) -> Any:
    """The loss of ``bench_engines.moons_loss_tape`` with ``theta`` as the parameters, over any scalar type."""
    params = model.parameters()
    bench_engines.set_parameters(model, theta)
    try:
        scores = [model(row) for row in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(t * t for t in theta)
    finally:
        bench_engines.set_parameters(model, params)


def casadi_function(model: MLP, rows: list[list[float]], labels: list[float]) -> Any:
    """The loss and its gradient as a CasADi SX Function of the 337 parameters, or None without casadi."""
    try:
        import casadi
    except ImportError:
        return None
    symbols = casadi.SX.sym("theta", len(model.parameters()))
    loss = moons_loss(model, rows, labels, [CasadiScalar(symbols[i]) for i in range(symbols.numel())]).sx
    return casadi.Function("moons_loss", [symbols], [loss, casadi.gradient(loss, symbols)])


def compiled_step(f: Callable[..., Any], theta: list[float], rate: float) -> float:
    """One SGD step with the generated value-and-gradient function."""
    value, *grads = f(*theta)
    for i, g in enumerate(grads):
        theta[i] -= rate * g
    return value


def replay_step(tape: tapegrad.Tape, theta: list[float], rate: float) -> float:
    value, grads = tape.value_and_gradient(*theta)
    for i, g in enumerate(grads):
        theta[i] -= rate * g
    return value


def casadi_step(f: Any, theta: np.ndarray, rate: float) -> float:
    value, grads = f(theta)
    theta -= rate * grads.full().ravel()
    return float(value)


def moons_problem() -> tuple[Any, MLP, list[list[float]], list[float], tapegrad.Tape, list[float]]:
    """The W1 setup: the moons module, the model, its 100 points and labels, the loss tape and the parameters."""
    moons = bench_engines.load_moons()
    X, y = moons.make_moons(100, noise=0.1, seed=moons.SEED)
    rows, labels = X.tolist(), y.tolist()
    model = MLP(2, [16, 16, 1], seed=moons.SEED)
    tape = bench_engines.moons_loss_tape(model, rows, labels)
    return moons, model, rows, labels, tape, [p.data for p in model.parameters()]


def bench_moons(quick: bool) -> tuple[list[list[str]], list[str]]:
    moons, model, rows, labels, tape, theta = moons_problem()
    want_value, want_grads = tape.value_and_gradient(*theta)
    grads_tape, optimised = timed(gradient_tape, tape)
    f, compiled = timed(grads_tape.compile)
    rate = 1.0 - 0.9 * 1 / 100  # micrograd's learning rate at step 1, as bench_engines.moons_step(..., k=1)

    workload = f"W1 moons step ({len(tape):,} forward records, 337 inputs)"
    results: list[tuple[str, float | None, float | None, str]] = []  # (method, ms, peak MB, notes)
    for name, value_type in [
        ("micrograd 0.1.0 (forward + backward + SGD)", micrograd_engine.Value if micrograd_engine else None),
        ("tapegrad eager (record + backward + SGD)", tapegrad.Value),
    ]:
        if value_type is None:
            results.append((name, None, None, "not installed (pip install micrograd)"))
            continue
        engine_model = MLP(2, [16, 16, 1], seed=moons.SEED, value_type=value_type)
        first = bench_engines.moons_step(engine_model, rows, labels, value_type, 0)  # warm up, at theta
        repeats = 3 if quick or value_type is not tapegrad.Value else 5
        ms = median_ms(repeats, bench_engines.moons_step, engine_model, rows, labels, value_type, 1)
        memory = peak_mb(bench_engines.moons_step, engine_model, rows, labels, value_type, 1)
        results.append((name, ms, memory, f"loss at theta differs from the tape's by {abs(first - want_value):.0e}"))

    replay_theta = list(theta)
    ms = median_ms(3 if quick else 5, replay_step, tape, replay_theta, rate)
    results.append(("tapegrad replay (value_and_gradient of the tape)", ms, peak_mb(replay_step, tape, theta, 0.0), ""))

    value, *grads = f(*theta)
    error = max(abs(value - want_value), *(abs(a - b) for a, b in zip(grads, want_grads)))
    compiled_theta = list(theta)
    ms = ms_of_compiled = best_ms(10 if quick else 50, compiled_step, f, compiled_theta, rate)
    notes = (
        f"{len(grads_tape):,}-record gradient tape: optimise {optimised:.1f} s, codegen + compile {compiled:.1f} s; "
        f"max abs diff from the interpreter {error:.0e}"
    )
    results.append(("**tapegrad compiled, math backend**", ms, peak_mb(compiled_step, f, theta, 0.0), notes))

    casadi_f, built = timed(casadi_function, model, rows, labels)
    if casadi_f is None:
        results.append(("CasADi SX Function", None, None, "not installed (pip install casadi)"))
    else:
        import casadi

        value, grads = casadi_f(np.array(theta))
        error = max(abs(float(value) - want_value), float(np.max(np.abs(grads.full().ravel() - want_grads))))
        casadi_theta = np.array(theta)
        ms = best_ms(10 if quick else 50, casadi_step, casadi_f, casadi_theta, rate)
        notes = (
            f"casadi {getattr(casadi, '__version__', '')}, {casadi_f.n_instructions():,} instructions, "
            f"built in {built:.1f} s; "
            f"max abs diff from the interpreter {error:.0e}; its C++ heap is not traced"
        )
        memory = peak_mb(casadi_step, casadi_f, np.array(theta), 0.0)
        results.append(("CasADi SX Function (its virtual machine)", ms, memory, notes))

    base = results[0][1]
    rows_out = []
    for method, ms_value, held, notes in results:
        if ms_value is None:
            rows_out.append([workload, method, "", "", "", "", notes])
            continue
        speedup = f"{base / ms_value:,.1f}x" if base else "n/a"
        peak = f"{held:,.1f}" if held is not None else ""
        rows_out.append([workload, method, f"{ms_value:,.3f}", f"{1e3 / ms_value:,.1f} steps/s", speedup, peak, notes])
    if base:
        over = base / ms_of_compiled
        targets = [f"W1: compiled math backend >= 50x micrograd's step: {over:,.0f}x, **{verdict(over >= 50)}**"]
    else:
        targets = ["W1: compiled math backend >= 50x micrograd's step: micrograd not installed, not measured"]
    return rows_out, targets


# ---------------------------------------------------------------- 2. one point


def bench_point(quick: bool, n: int = 1000) -> tuple[list[list[str]], list[str]]:
    tape = program_tape(n)
    records = plain_records(tape)
    grads_tape = gradient_tape(tape)
    f = grads_tape.compile()
    hand = bench_engines.hand_written_sweep(records, XS)
    _, *compiled = f(*XS)
    error = max(abs(hand[s] - g) / max(1.0, abs(g)) for s, g in zip(tape.input_slots, compiled))
    repeats = 20 if quick else 300
    sweep_ms = best_ms(repeats, bench_engines.hand_written_sweep, records, XS)
    replay_ms = best_ms(repeats, tape.gradient, *XS)
    compiled_ms = best_ms(repeats, f, *XS)
    workload = f"W2 one point ({n:,} ops, {len(tape):,} records)"
    rows = []
    for method, ms, run, args, notes in [
        ("hand-written reverse sweep over a list", sweep_ms, bench_engines.hand_written_sweep, (records, XS), ""),
        ("tapegrad replay (tape.gradient)", replay_ms, tape.gradient, XS, ""),
        (
            "**tapegrad compiled, math backend**",
            compiled_ms,
            f,
            XS,
            f"{len(grads_tape):,}-record gradient tape; max rel. diff from the sweep {error:.0e}",
        ),
    ]:
        memory = peak_mb(run, *args)
        rows.append(
            [
                workload,
                method,
                f"{ms:.4f}",
                f"{1e3 / ms:,.0f} gradients/s",
                f"{sweep_ms / ms:.2f}x",
                f"{memory:.2f}",
                notes,
            ]
        )
    speedup = sweep_ms / compiled_ms
    return rows, [
        f"W2: compiled math backend >= 2x the hand-written sweep: {speedup:.2f}x, **{verdict(speedup >= 2)}**"
    ]


# ---------------------------------------------------------------- 3. many points


def numpy_sweep(records: list[tuple[int, tuple[int, ...], Any]], xs: Sequence[np.ndarray]) -> list[Any]:
    """``bench_engines.hand_written_sweep`` over arrays: the same records and formulas, one numpy call each.

    Forward keeps every value (the reverse sweep reads them); an adjoint is
    ``None`` until something flows into it and is dropped once its record is
    done.  Returns the adjoint of every slot (``None``: zero).
    """
    add, sub, mul, div = int(OpKind.ADD), int(OpKind.SUB), int(OpKind.MUL), int(OpKind.DIV)
    exp, log, tanh, sin = int(OpKind.EXP), int(OpKind.LOG), int(OpKind.TANH), int(OpKind.SIN)
    inp, const = int(OpKind.INPUT), int(OpKind.CONST)
    v: list[Any] = [None] * len(records)
    it = iter(xs)
    for i, (k, a, c) in enumerate(records):
        if k == inp:
            v[i] = next(it)
        elif k == const:
            v[i] = float(c)
        elif k == add:
            v[i] = v[a[0]] + v[a[1]]
        elif k == sub:
            v[i] = v[a[0]] - v[a[1]]
        elif k == mul:
            v[i] = v[a[0]] * v[a[1]]
        elif k == div:
            v[i] = v[a[0]] / v[a[1]]
        elif k == exp:
            v[i] = np.exp(v[a[0]])
        elif k == log:
            v[i] = np.log(v[a[0]])
        elif k == tanh:
            v[i] = np.tanh(v[a[0]])
        elif k == sin:
            v[i] = np.sin(v[a[0]])
    g: list[Any] = [None] * len(records)
    g[-1] = np.ones_like(v[-1])

    def accumulate(slot: int, adjoint: Any) -> None:
        g[slot] = adjoint if g[slot] is None else g[slot] + adjoint

    for i in range(len(records) - 1, -1, -1):
        gi = g[i]
        k, a, c = records[i]
        if gi is None or k == inp or k == const:
            continue
        g[i] = None
        if k == add:
            accumulate(a[0], gi)
            accumulate(a[1], gi)
        elif k == sub:
            accumulate(a[0], gi)
            accumulate(a[1], -gi)
        elif k == mul:
            accumulate(a[0], gi * v[a[1]])
            accumulate(a[1], gi * v[a[0]])
        elif k == div:
            accumulate(a[0], gi / v[a[1]])
            accumulate(a[1], -(gi * v[i] / v[a[1]]))
        elif k == exp:
            accumulate(a[0], gi * v[i])
        elif k == log:
            accumulate(a[0], gi / v[a[0]])
        elif k == tanh:
            accumulate(a[0], gi * (1 - v[i] * v[i]))
        elif k == sin:
            accumulate(a[0], gi * np.cos(v[a[0]]))
    return g


def torch_gradient(n: int) -> Callable[..., Any] | None:
    """PyTorch's batched autograd of the ``n``-op program (every point's gradient at once), or None."""
    try:
        import torch
    except ImportError:
        return None
    program = random_program(n, inputs=INPUTS, seed=0)

    def gradient(*xs: np.ndarray) -> tuple[Any, ...]:
        leaves = [torch.from_numpy(x).requires_grad_() for x in xs]
        out = program(*leaves)
        return (out, *torch.autograd.grad(out.sum(), leaves, allow_unused=True))

    return gradient


def sympy_program(n: int) -> tuple[list[Any], Any]:
    """The output of ``random_program(n, 10, 0)`` built in sympy (automatic evaluation on), and its symbols."""
    import sympy as sp

    xs = list(sp.symbols(f"xs0:{INPUTS}"))
    r = xs[0]
    for code, j in random_steps(n, INPUTS, 0):
        y = xs[j]
        if code == "+":
            r = r + y
        elif code == "-":
            r = r - y
        elif code == "*":
            r = r * y
        elif code == "/":
            r = r / (1 + y * y)
        elif code == "t":
            r = sp.tanh(r)
        elif code == "e":
            r = sp.exp(sp.tanh(r))
        elif code == "s":
            r = sp.sin(r)
        else:
            r = sp.log(1 + r * r)
    return xs, r


def sympy_gradient(n: int) -> tuple[Callable[..., Any], float]:
    """``sympy.lambdify`` (numpy) of the value and ``diff`` per input after ``cse``; and the build seconds."""
    import sympy as sp

    start = time.perf_counter()
    xs, f = sympy_program(n)
    replacements, reduced = sp.cse([f] + [sp.diff(f, x) for x in xs])
    built = time.perf_counter() - start
    function = sp.lambdify(xs, reduced, modules="numpy", cse=lambda exprs: (replacements, exprs), docstring_limit=0)
    return function, built


def gradients_of(method: str, result: Any, tape: tapegrad.Tape, points: int) -> list[np.ndarray]:
    """The ``INPUTS`` gradient arrays in a method's result, broadcast to ``points`` points."""
    if method == "sweep":
        grads = [result[s] if result[s] is not None else 0.0 for s in tape.input_slots]
    elif method == "torch":
        grads = [g.detach().numpy() if g is not None else 0.0 for g in result[1:]]
    else:
        grads = list(result[1:])
    return [np.broadcast_to(np.asarray(g, dtype=float), (points,)) for g in grads]


def largest_difference(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    return max(float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) for a, b in zip(got, want))


def bench_batch(quick: bool, n: int, points: int, with_sympy: bool) -> tuple[list[list[str]], float, float, float]:
    """Rows for the ``n``-op program at ``points`` points; and points/s of tapegrad, the numpy sweep and sympy."""
    tape = program_tape(n)
    records = plain_records(tape)
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-2.0, 2.0, points) for _ in range(INPUTS)]
    check = 1000  # the first points, checked against the interpreter over arrays
    want = [np.asarray(g) for g in tape.gradient(*[x[:check] for x in xs])]
    generated = gradient_tape(tape).compile("numpy")

    methods: list[tuple[str, str, Callable[..., Any] | None, Sequence[Any], str]] = []
    if with_sympy:
        sympy_f, built = sympy_gradient(n)
        methods.append(("sympy", "sympy.lambdify (numpy) of diff + cse", sympy_f, xs, f"diff + cse took {built:.2f} s"))
    methods.append(("sweep", "hand-written vectorised numpy reverse sweep", numpy_sweep, (records, xs), ""))
    methods.append(("torch", "PyTorch batched autograd", torch_gradient(n), xs, ""))
    methods.append(("tapegrad", "**tapegrad compiled, numpy backend**", generated, xs, ""))
    if not with_sympy:
        methods.append(("sympy", "sympy.lambdify (numpy) of diff + cse", None, xs, ""))

    workload = f"W3 {points:,} points ({n:,} ops, {len(tape):,} records)"
    repeats = 3 if quick else (5 if n >= 1000 else 20)
    rows, rates = [], {}
    base_ms = None
    for key, method, run, args, notes in methods:
        if run is None:
            reason = "not installed (pip install torch)" if key == "torch" else SYMPY_LIMIT
            rows.append([workload, method, "", "", "", "", reason])
            continue
        error = largest_difference([g[:check] for g in gradients_of(key, run(*args), tape, points)], want)
        # a 10^3-op call takes seconds: one median is enough there
        ms = best_ms(repeats, run, *args) if n < 1000 else median_ms(repeats, run, *args)
        memory = "not traced" if key == "torch" else f"{peak_mb(run, *args):,.0f}"
        base_ms = base_ms or ms
        rates[key] = points / ms * 1e3
        detail = f"max rel. diff from the interpreter {error:.0e}"
        rows.append(
            [
                workload,
                method,
                f"{ms:,.1f}",
                f"{rates[key]:,.0f} points/s",
                f"{base_ms / ms:.2f}x",
                memory,
                f"{notes}; {detail}" if notes else detail,
            ]
        )
    return rows, rates["tapegrad"], rates["sweep"], rates.get("sympy", math.nan)


def bench_batches(quick: bool) -> tuple[list[list[str]], list[str]]:
    points = 20_000 if quick else 100_000
    rows, tapegrad_1000, sweep_1000, _ = bench_batch(quick, 1000, points, with_sympy=False)
    rows_30, tapegrad_30, _, sympy_30 = bench_batch(quick, 30, points, with_sympy=True)
    faster = tapegrad_1000 / sweep_1000
    over_sympy = tapegrad_30 / sympy_30
    targets = [
        f"W3: numpy backend faster than the hand-written numpy sweep at 1,000 ops: {faster:.2f}x, "
        f"**{verdict(faster > 1)}**",
        f"W3: numpy backend >= 1.5x sympy's lambdify at 30 ops: {over_sympy:.2f}x, **{verdict(over_sympy >= 1.5)}**",
    ]
    return rows + rows_30, targets


# ---------------------------------------------------------------- 4. codegen and compile time (one process each)


def codegen_case(n: int) -> dict[str, Any]:
    """Run in a fresh process: build the ``n``-op program's gradient tape, then time its source and compilation."""
    from tapegrad.formats.codegen import compile_source, identifiers, tape_hash, to_source

    tape = program_tape(n)
    grads_tape = gradient_tape(tape)
    (name,) = identifiers([grads_tape.name if grads_tape.name.isidentifier() else "f"])
    source, generated = timed(to_source, grads_tape, name, "math")  # what Tape.compile does, step by step
    f, compiled = timed(compile_source, source, name, f"<tapegrad math {tape_hash(grads_tape)}>")
    _, *got = f(*XS)
    want = tape.gradient(*XS)
    return {
        "ops": n,
        "records": len(grads_tape),
        "codegen": generated,
        "compile": compiled,
        "bytes": len(source.encode()),
        "lines": source.count("\n"),
        "error": max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(got, want)),
        "rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident size in MB (``VmHWM``: unlike ``ru_maxrss``, not inherited over fork + exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux
        return math.nan
    kilobytes = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "nan")
    return float(kilobytes) / 1e3


def bench_codegen(quick: bool) -> tuple[list[list[str]], list[str]]:
    sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    rows, per_record, at_1e5 = [], {}, None
    for size in sizes:
        n = round(size / RECORDS_PER_OP)
        workload = f"codegen, gradient tape of ~{size:,} records ({n:,} ops)"
        case = run_json([__file__, "--codegen-case", str(n)], timeout=1800)
        if "failed" in case:
            rows.append([workload, "to_source + compile (math)", "", "", "", "", case["failed"]])
            continue
        total = case["codegen"] + case["compile"]
        per_record[size] = total / case["records"]
        at_1e5 = total if size == 10**5 else at_1e5
        notes = (
            f"{case['records']:,} records: codegen {case['codegen']:.2f} s + compile {case['compile']:.2f} s; "
            f"source {case['bytes'] / 1e6:,.1f} MB ({case['bytes'] / case['records']:.0f} bytes per record, "
            f"{case['lines']:,} lines); max rel. diff from the interpreter {case['error']:.0e}"
        )
        rows.append(
            [
                workload,
                "to_source + compile (math)",
                f"{total * 1e3:,.0f}",
                f"{per_record[size] * 1e6:.1f} µs per record",
                "",
                f"{case['rss_mb']:,.0f} (process peak RSS)",
                notes,
            ]
        )
    targets = []
    if at_1e5 is not None:
        targets.append(
            f"codegen: 10^5 records generate and compile in under 3 s: {at_1e5:.2f} s, **{verdict(at_1e5 < 3)}**"
        )
    if 10**4 in per_record and len(per_record) > 1:
        largest = max(per_record)
        growth = per_record[largest] / per_record[10**4]
        targets.append(
            f"codegen: linear, time per record at {largest:,} records within 2x of that at 10,000: "
            f"{growth:.2f}x, **{verdict(growth <= 2)}**"
        )
    return rows, targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 2*10^4 points, no 10^6-record codegen")
    parser.add_argument("--only", choices=["moons", "point", "batch", "codegen"], help="run one section")
    parser.add_argument("--codegen-case", type=int, help=argparse.SUPPRESS)  # one codegen size, in a child process
    add_docs_flag(parser)
    args = parser.parse_args(argv)
    if args.codegen_case is not None:
        print(json.dumps(codegen_case(args.codegen_case)))
        return 0
    with figures("bench_codegen", writes_docs(args), argv):
        run(args)
    return 0


def run(args: argparse.Namespace) -> None:
    print(f"{versions('numpy')}, gc enabled")
    print("ms per call: medians (best of three for short calls); speedup: over the first row of its workload\n")
    sections = {
        "moons": lambda: bench_moons(args.quick),
        "point": lambda: bench_point(args.quick),
        "batch": lambda: bench_batches(args.quick),
        "codegen": lambda: bench_codegen(args.quick),
    }
    rows, targets = [], []
    for name, section in sections.items():
        if args.only in (None, name):
            section_rows, section_targets = section()
            rows += section_rows
            targets += section_targets
    print("### Generated code (tapegrad.codegen) against the engines it should beat\n")
    print(table(HEADER, rows))
    print("\nTargets (issue 6):\n")
    print("\n".join(f"- {t}" for t in targets))


if __name__ == "__main__":
    raise SystemExit(main())

"""Blocked numpy code (tapegrad.formats.blocked): the same numbers as the unblocked code, on any number of threads.

A tape of numbers compiled with ``backend="numpy"`` runs a batch of float64
arrays of one shape, from ``2 * block`` points, in blocks over threads; every
other call runs the unblocked code.  Both must give the same bits (signed zeros,
infinities, strong zeros included; a nan where it gives a nan, of either sign:
see ``same_bits``) as ``to_source(..., backend="numpy")`` and as the
interpreter, at sizes around the block boundaries.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import load_module

import tapegrad
from tapegrad.core import kernels
from tapegrad.errors import InputTypeError
from tapegrad.formats.blocked import BLOCK, THRESHOLD, blocked_source
from tapegrad.formats.codegen import compile_source, to_source
from tapegrad.lab.testing import random_program

from .programs import BINARY, INF, NAN, UNARY, Step, branchy, every_op, gradient_tape, mlp, run, steps

BLOCK_SIZE = 8  # small blocks, so that a few dozen points cross several block boundaries
SIZES = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE - 1, 2 * BLOCK_SIZE, 2 * BLOCK_SIZE + 1, 77]
OPERATIONS = [*UNARY, *BINARY, "pow_const", "where", "select"]
CONSTANTS_AND_EDGES = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -3.5, 1e-300, 1e300, 5e-324, 709.0, 710.0, INF, -INF, NAN]


def unblocked(tape: tapegrad.Tape) -> Callable[..., Any]:
    """The numpy backend's function as ``to_source`` writes it: the reference the blocked code must equal."""
    return compile_source(to_source(tape, "f", "numpy"), "f", f"<unblocked {id(tape)}>")


def counting_blocks(f: Callable[..., Any]) -> list[int]:
    """Count the calls of ``f`` that ran in blocks (its module's runner returned results, not None)."""
    runner = f.__globals__["_run_blocks"]
    blocked: list[int] = []

    def counted(*args: Any) -> Any:
        results = runner(*args)
        blocked.append(results is not None)
        return results

    f.__globals__["_run_blocks"] = counted
    return blocked


def same_bits(expected: Any, got: Any) -> bool:
    """The same type, dtype, shape and bytes, signed zeros included; a nan matches a nan of any sign.

    numpy's own loops give the sign of ``-nan + nan`` by position (its vector
    body returns the first operand's nan, the scalar tail the second's), so
    no split of a batch can promise a nan's sign bit; every other bit it can.
    """
    e, g = np.asarray(expected), np.asarray(got)
    if type(expected) is not type(got) or e.dtype != g.dtype or e.shape != g.shape:
        return False
    nan = np.isnan(e)
    return np.array_equal(nan, np.isnan(g)) and e[~nan].tobytes() == g[~nan].tobytes()


def assert_identical(expected: Any, got: Any, what: str) -> None:
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(expected) == len(got), what
    for k, (e, g) in enumerate(zip(expected, got)):
        assert same_bits(e, g), f"{what}: output {k} is {g!r}, expected {e!r}"


def trace_program(program: list[Step], count: int) -> tapegrad.Tape:
    def program_function(*xs: Any) -> Any:
        return run(program, xs)

    return tapegrad.trace(program_function, *[0.5 + k for k in range(count)], names=[f"x{k}" for k in range(count)])


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Step], list[np.ndarray]]:
    """A program over 1-3 inputs and a batch of a size around the block boundaries, edge values mixed in."""
    count = draw(st.integers(1, 3))
    step = steps(OPERATIONS, CONSTANTS_AND_EDGES, [0, 1, 2, 3, -1, 0.5, 1.5, -0.5, 1 / 3])
    program = draw(st.lists(step, min_size=1, max_size=10))
    size = draw(st.sampled_from(SIZES))
    numbers = st.one_of(st.sampled_from(CONSTANTS_AND_EDGES), st.floats(-4.0, 4.0))
    pool = draw(st.lists(numbers, min_size=1, max_size=12))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    columns = [np.array([pool[i] for i in rng.integers(0, len(pool), size)], dtype=np.float64) for _ in range(count)]
    return program, columns


# ---------------------------------------------------------------- the same bits


@settings(max_examples=150, deadline=None, report_multiple_bugs=False)
@given(cases(), st.sampled_from([1, 2, 3]))
def test_blocked_code_equals_the_unblocked_code_and_the_interpreter(
    case: tuple[list[Step], list[np.ndarray]], workers: int
) -> None:
    program, columns = case
    tape = trace_program(program, len(columns))
    for t in (tape, gradient_tape(tape)):
        f = t.compile("numpy", block=BLOCK_SIZE, workers=workers)
        blocked = counting_blocks(f)
        got = f(*columns)
        assert_identical(unblocked(t)(*columns), got, f"blocked against unblocked at {len(columns[0])} points")
        assert blocked == [len(columns[0]) >= 2 * BLOCK_SIZE]
        replayed = t(*columns)
        for e, g in zip(
            replayed if isinstance(replayed, tuple) else (replayed,), got if isinstance(got, tuple) else (got,)
        ):
            want = np.broadcast_to(np.asarray(e, dtype=np.float64), g.shape)
            assert np.array_equal(want, g, equal_nan=True), "blocked against the interpreter"
            assert np.array_equal(np.signbit(want) | np.isnan(want), np.signbit(g) | np.isnan(g)), "signed zeros"


def test_every_op_at_edge_values_in_blocks() -> None:
    """Every op of the table (with the gradient's smul, sdiv, comparisons), nan, infinities, signed zeros."""
    tape = tapegrad.trace(every_op, 1.5, 2.0, 0.5)
    grads = gradient_tape(tape)
    edges = np.array(CONSTANTS_AND_EDGES)
    a, b = (np.resize(np.roll(edges, k), 5 * BLOCK_SIZE + 3) for k in range(2))
    c = np.resize(np.array([0.5, 1.0, 2.0, 1e300, 5e-324, INF]), a.size)  # every_op's guard: c > 0
    for t in (tape, grads):
        f = t.compile("numpy", block=BLOCK_SIZE, workers=2)
        blocked = counting_blocks(f)
        assert_identical(unblocked(t)(a, b, c), f(a, b, c), t.name)
        assert blocked == [True]


def test_strong_zeros_survive_infinite_local_derivatives_in_blocks() -> None:
    """d/dx of where(x > 0, sqrt(x), 0) at x = 0: the infinite derivative of sqrt meets a zero adjoint."""
    tape = tapegrad.trace(lambda x: tapegrad.where(x > 0.0, x.sqrt(), 0.0 * x), 1.0)
    x = np.resize(np.array([0.0, -0.0, 1.0, 4.0, -1.0]), 6 * BLOCK_SIZE)
    value, grad = gradient_tape(tape).compile("numpy", block=BLOCK_SIZE)(x)
    assert not np.isnan(grad).any()
    assert_identical(unblocked(gradient_tape(tape))(x), (value, grad), "strong zeros")


def test_one_worker_and_two_give_the_same_bits_on_the_30_op_program() -> None:
    program = random_program(30, inputs=10, seed=0)
    grads = gradient_tape(tapegrad.trace(program, *[0.1 * (k + 1) for k in range(10)]))
    rng = np.random.default_rng(1)
    xs = [rng.uniform(-2.0, 2.0, 3 * BLOCK + 17) for _ in range(10)]
    one, two = grads.compile("numpy", workers=1), grads.compile("numpy", workers=2)
    assert_identical(one(*xs), two(*xs), "workers=1 against workers=2")
    assert_identical(unblocked(grads)(*xs), two(*xs), "workers=2 against the unblocked code")


# ---------------------------------------------------------------- when the unblocked code runs


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda x: (x, 2.0), id="scalar-and-array"),
        pytest.param(lambda x: (x, x[:1]), id="broadcast-of-size-1"),
        pytest.param(lambda x: (x.reshape(-1, 1), x.reshape(1, -1)[:, :7]), id="outer-broadcast"),
        pytest.param(lambda x: (x.astype(np.float32), x.astype(np.float32)), id="float32"),
        pytest.param(lambda x: (x[::2], x[1::2]), id="strided"),
        pytest.param(lambda x: (x[: THRESHOLD // 4], x[: THRESHOLD // 4]), id="small-batch"),
        pytest.param(lambda x: (x.reshape(4, -1), x.reshape(4, -1)), id="2-d-batch"),
    ],
)
def test_other_calls_run_the_unblocked_code(make: Callable[[np.ndarray], tuple[Any, ...]]) -> None:
    """Mixed shapes, other dtypes, strided arrays and small batches: the unblocked code, so the same results."""
    tape = gradient_tape(tapegrad.trace(lambda x, y: (x * y).tanh() + x.exp() / y, 0.5, 2.0))
    x = np.random.default_rng(2).normal(size=4 * BLOCK)
    args = make(x)
    f = tape.compile("numpy")
    blocked = counting_blocks(f)
    assert_identical(unblocked(tape)(*args), f(*args), "fallback")
    contiguous = all(type(a) is np.ndarray and a.dtype == np.float64 and a.flags.c_contiguous for a in args)
    same_shape = len({np.shape(a) for a in args}) == 1
    assert blocked == [contiguous and same_shape and np.size(args[0]) >= THRESHOLD]


def test_array_tapes_are_never_blocked() -> None:
    """Ops of array tapes reduce and mix points (matmul, mean): their code is the unblocked code."""
    shapes = [(3, 5), (5,), (5, 4), (4,), (4,)]
    tape = tapegrad.trace(mlp, *[np.ones(s) for s in shapes])
    source = blocked_source(gradient_tape(tape), "f")
    assert "_f_block" not in source and "threading" not in source
    assert source == to_source(gradient_tape(tape), "f", "numpy")


def test_a_guard_fails_in_a_block_as_in_the_unblocked_code() -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    x = np.ones(5 * BLOCK_SIZE)
    x[3 * BLOCK_SIZE + 1] = -1.0
    f = tape.compile("numpy", block=BLOCK_SIZE, workers=2)
    with pytest.raises(ValueError, match=re.escape("inputs take another branch than the one recorded: x > 0")):
        f(x, x)
    with pytest.raises(ValueError, match=re.escape("inputs take another branch than the one recorded: x > 0")):
        unblocked(tape)(x, x)


# ---------------------------------------------------------------- the source


def test_block_source_reuses_buffers_and_writes_one_statement_per_line() -> None:
    program = random_program(30, inputs=10, seed=0)
    grads = gradient_tape(tapegrad.trace(program, *[0.1 * (k + 1) for k in range(10)]))
    source = blocked_source(grads, "f")
    block = source[source.index("def _f_block(") : source.index("\ndef f(")]
    statements = [line.strip() for line in block.splitlines() if re.match(r" +t[0-9]+ = ", line)]
    rows = int(re.search(r"_run_blocks\(_f_block, \(.*\), 11, ([0-9]+), 16384, None, 32768\)", source).group(1))
    assert len(statements) > 100
    assert rows < len(statements) / 3  # rows are reused once their values are dead
    assert "t2 = np.multiply(t1, t1, out=_b[0])" in statements  # t0's row, free after its last read
    assert any(s.startswith("t") and "_smul_array(" in s and "out=_b[" in s for s in statements)
    assert "def f(xs0, xs1, xs2, xs3, xs4, xs5, xs6, xs7, xs8, xs9):" in source


def test_kernels_write_into_a_buffer_with_the_same_bits() -> None:
    edges = np.array(CONSTANTS_AND_EDGES)
    g, y = np.meshgrid(edges, edges)
    g, y = g.ravel(), y.ravel()
    for kernel in (kernels._smul_array, kernels._sdiv_array):
        with np.errstate(all="ignore"):
            out = np.empty_like(g)
            assert kernel(g, y, out=out) is out
            assert same_bits(kernel(g, y), out), kernel.__name__


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    "options, message",
    [
        ({"workers": 0}, "workers must be between 1 and 256, got 0; None uses the default"),
        ({"workers": 257}, "workers must be between 1 and 256, got 257; None uses the default"),
        ({"block": -1}, "block must be at least 1, got -1; None uses the default"),
        ({"block": 0}, "block must be at least 1, got 0; None uses the default"),
        ({"workers": 1.5}, "workers must be a whole number or None, got float 1.5"),
        ({"block": "4096"}, "block must be a whole number or None, got str '4096'"),
        ({"workers": True}, "workers must be a whole number or None, got bool True"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    tape = tapegrad.trace(lambda x: x.sin(), 1.0)
    with pytest.raises(InputTypeError, match=re.escape(message)):
        tape.compile("numpy", **options)


def test_options_of_the_math_backend_are_refused() -> None:
    tape = tapegrad.trace(lambda x: x.sin(), 1.0)
    with pytest.raises(
        InputTypeError, match=re.escape("workers and block are options of the numpy backend, not of backend 'math'")
    ):
        tape.compile("math", workers=2)
    with pytest.raises(InputTypeError, match=re.escape('blocked=True is an option of backend="numpy"')):
        tapegrad.export(tape, "never_written.py", blocked=True)


def test_each_option_compiles_its_own_function() -> None:
    tape = tapegrad.trace(lambda x: x.sin(), 1.0)
    assert tape.compile("numpy") is tape.compile("numpy")
    assert tape.compile("numpy", workers=1) is not tape.compile("numpy")


# ---------------------------------------------------------------- export

_exports = itertools.count()

RUN_WITHOUT_TAPEGRAD = """
import sys, runpy
import numpy as np
sys.modules["tapegrad"] = None  # the module must not need it
module = runpy.run_path(sys.argv[1])
x = np.linspace(-3.0, 3.0, int(sys.argv[2]))
value, grads = module["f_value_and_grad"](x, np.cos(x))
np.save(sys.argv[3], np.stack([value, *grads]))
"""


def test_exported_blocked_module_runs_without_tapegrad_and_agrees(tmp_path: Path) -> None:
    def f(x: Any, y: Any) -> Any:
        return (x * y).tanh() + x.exp() / (1.0 + y * y)

    tape = tapegrad.trace(f, 0.5, 2.0)
    path = tapegrad.export(tape, tmp_path / "blocked_f.py", "f", backend="numpy", blocked=True)
    source = path.read_text()
    assert "import tapegrad" not in source and "from tapegrad" not in source
    assert "def _f_value_and_grad_block(x, y, _out, _b):" in source
    points = 3 * BLOCK + 5
    subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TAPEGRAD, str(path), str(points), str(tmp_path / "got.npy")],
        check=True,
        timeout=120,
    )
    got = np.load(tmp_path / "got.npy")
    x = np.linspace(-3.0, 3.0, points)
    plain = load_module(tapegrad.export(tape, tmp_path / f"plain_{next(_exports)}.py", "f", backend="numpy"))
    value, grads = plain.f_value_and_grad(x, np.cos(x))
    assert same_bits(np.stack([value, *grads]), got)
    want_value, want_grads = tape.value_and_gradient(x, np.cos(x))
    assert np.array_equal(want_value, got[0]) and all(np.array_equal(w, g) for w, g in zip(want_grads, got[1:]))


def test_exported_array_tape_keeps_its_batch_axes_when_blocked_is_asked(tmp_path: Path) -> None:
    """An array tape is never blocked; ``blocked=True`` still writes its ``batch_axes`` mapping."""
    W, x = np.ones((2, 3)), np.ones(3)
    tape = tapegrad.trace(lambda w, x: (w @ x).tanh().sum(), W, x)
    path = tapegrad.export(tape, tmp_path / "mapped.py", "f", backend="numpy", batch_axes=1, blocked=True)
    assert "_f_block" not in path.read_text()
    module = load_module(path)
    xs = np.stack([x, 2 * x])
    assert np.array_equal(module.f(W, xs), np.array([tape(W, x), tape(W, 2 * x)]))


def test_a_thread_that_cannot_start_stops_the_call_and_every_started_thread_is_joined(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    f = tapegrad.trace(lambda x: (x * 2.0).sin(), 1.0).compile("numpy", workers=4, block=1000)
    points = np.linspace(0.0, 1.0, 40_000)
    started: list[threading.Thread] = []
    start = threading.Thread.start

    def start_one_then_fail(self: threading.Thread) -> None:
        if started:
            raise RuntimeError("can't start new thread")
        started.append(self)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", start_one_then_fail)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        f(points)
    assert started and not started[0].is_alive()  # joined before the error reached the caller
    monkeypatch.undo()
    assert np.array_equal(f(points), np.sin(points * 2.0))

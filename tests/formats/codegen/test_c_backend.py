"""The C backend (``tape.compile("c")``): the same numbers as the interpreter, and clear errors.

Specification: every scalar op of the table, run by the C machine, gives
the interpreter's float bit for bit (signed zeros included, any nan for a
nan) at ordinary and special values, except ``hypot`` (CPython computes it
itself; the C library may differ by an ulp: within 1e-15 relative);
gradients keep strong zeros; random programs and the moons MLP step agree
with the interpreter; without a compiler, or when it fails, a tapegrad error
says what to do; the machine is compiled once and found again in its cache;
no text a user typed reaches the C source.  Skipped without a C compiler.
"""

from __future__ import annotations

import itertools
import math
import os
import stat
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import tapegrad
from tapegrad.core.ops import OPS, op_named
from tapegrad.errors import (
    ArgumentCountError,
    CompileError,
    CompilerNotFoundError,
    InputTypeError,
    MissingToolError,
    UnsupportedOpError,
)
from tapegrad.formats import cbuild
from tapegrad.formats.cprinter import LIBM_WITHIN_AN_ULP, c_literal
from tapegrad.formats.cvm import encode, machine_source
from tapegrad.values.value import apply

from .programs import INF, NAN, Step, assert_same, gradient_tape, same
from .test_codegen_agreement import EDGE_INPUTS, EXPONENTS, cases, trace_program

try:
    cbuild.find_compiler()
except CompilerNotFoundError as missing:
    pytest.skip(f"no C compiler: {missing}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
SCALAR_OPS = [pytest.param(op, id=op.name) for op in OPS if op.scalar is not None and not op.has_attr]


def identical(expected: float, got: float) -> bool:
    """The same bits, except that any nan equals any nan."""
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    return expected == got and math.copysign(1.0, expected) == math.copysign(1.0, got)


# ---------------------------------------------------------------- every op, every pair of special values


@pytest.mark.parametrize("op", SCALAR_OPS)
def test_every_scalar_op_gives_the_interpreters_bits_at_special_values(op: Any) -> None:
    tape = tapegrad.trace(lambda *xs: apply(op, *xs), *[0.5] * op.arity)
    points = list(itertools.product(EDGE_INPUTS, repeat=op.arity))
    f = tape.compile("c")
    got = f.batch(np.array(points))[:, 0]
    for point, value in zip(points, got):
        expected = op.scalar(*point)
        if op.name in LIBM_WITHIN_AN_ULP:
            assert same(expected, value), f"{op.name}{point}: {value!r}, expected {expected!r}"
        else:
            assert identical(expected, value), f"{op.name}{point}: {value!r}, expected {expected!r}"
    assert identical(f(*points[-1]), got[-1])  # one point at a time: the same machine


@pytest.mark.parametrize("exponent", [*EXPONENTS, 4.0, -1.5, 2.5, -3.0])  # every cheap form, and pow past them
def test_constant_powers_give_the_interpreters_bits(exponent: float) -> None:
    tape = tapegrad.trace(lambda x: x**exponent, 1.5)
    got = tape.compile("c").batch(np.array([[x] for x in EDGE_INPUTS]))[:, 0]
    for x, value in zip(EDGE_INPUTS, got):
        assert identical(tape(x), value), f"{x!r} ** {exponent!r}: {value!r}, expected {tape(x)!r}"


def test_ordinary_values_of_the_library_functions_are_bit_for_bit() -> None:
    """Away from special values too: 2,000 random arguments per op (within 1e-15 for hypot)."""
    rng = np.random.default_rng(0)
    for op in (op for op in OPS if op.scalar is not None and not op.has_attr):
        points = rng.uniform(-3.0, 3.0, (2000, op.arity)) * 10.0 ** rng.integers(-3, 3, (2000, op.arity))
        got = tapegrad.trace(lambda *xs, op=op: apply(op, *xs), *[0.5] * op.arity).compile("c").batch(points)
        check = same if op.name in LIBM_WITHIN_AN_ULP else identical
        bad = [p for p, v in zip(points.tolist(), got[:, 0]) if not check(op.scalar(*p), v)]
        assert not bad, f"{op.name} differs at {len(bad)} points, e.g. {bad[:3]}"


def test_literals_read_back_exactly() -> None:
    constants = [0.1, 1 / 3, -3.5, 5e-324, 1e308, -0.0, 2.2250738585072014e-308, INF, -INF]
    tape = tapegrad.trace(lambda x: [x * c for c in constants], 1.0)
    assert_same([float(c) for c in constants], tape.compile("c")(1.0), "constants times one")
    assert c_literal(-1.0) == "(-1.0)" and c_literal(NAN) == "NAN" and c_literal(-INF) == "(-INFINITY)"


# ---------------------------------------------------------------- strong zeros and gradients


def test_strong_zeros_survive_in_compiled_gradients() -> None:
    """A zero adjoint stops an inf or nan local derivative, and a zero derivative stops an inf adjoint."""
    smul, sdiv = op_named("smul"), op_named("sdiv")
    f = tapegrad.trace(lambda g, y: [apply(smul, g, y), apply(sdiv, g, y)], 1.0, 1.0).compile("c")
    assert f(0.0, INF) == [0.0, 0.0] and f(0.0, NAN) == [0.0, 0.0]
    assert math.copysign(1.0, f(-0.0, NAN)[0]) == -1.0
    assert f(INF, 0.0)[0] == 0.0 and math.isnan(f(INF, 0.5 * NAN)[0])
    # d/dx of relu(x) * log(y) at x = -1: relu's zero adjoint meets log's inf derivative at y = 0.
    tape = tapegrad.trace(lambda x, y: x.relu() * y.log(), -1.0, 0.0)
    c_grad = gradient_tape(tape).compile("c")
    assert_same(tape.value_and_gradient(-1.0, 0.0)[1], c_grad(-1.0, 0.0)[1:], "strong zeros")
    assert c_grad(-1.0, 0.0)[1:] == (0.0, 0.0)


@settings(max_examples=300, deadline=None, report_multiple_bugs=False)
@given(cases())
def test_random_programs_agree_with_the_interpreter(case: tuple[list[Step], list[list[float]]]) -> None:
    program, points = case
    tape = trace_program(program, points[0])
    grads = gradient_tape(tape)
    f, f_grad = tape.compile("c"), grads.compile("c")
    for point in points:
        assert_same([tape(*point)], [f(*point)], f"value at {point}")
        expected_value, expected_grads = tape.value_and_gradient(*point)
        assert_same([expected_value, *expected_grads], f_grad(*point), f"gradient at {point}")
    assert_same([v for p in points for v in grads(*p)], f_grad.batch(np.array(points)).ravel().tolist(), "batch")


def test_the_moons_mlp_step_is_bit_for_bit() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_engines
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    moons = bench_engines.load_moons()
    X, y = moons.make_moons(30, noise=0.1, seed=moons.SEED)
    model = tapegrad.nn.MLP(2, [16, 16, 1], seed=moons.SEED)
    tape = bench_engines.moons_loss_tape(model, X.tolist(), y.tolist())
    theta = [p.data for p in model.parameters()]
    value, grads = tape.value_and_gradient(*theta)
    got = gradient_tape(tape).compile("c")(*theta)
    assert list(got) == [value, *grads]  # exactly: the values and the 337 gradients


# ---------------------------------------------------------------- calling


def test_calls_return_what_the_tape_returns_and_check_their_inputs() -> None:
    assert tapegrad.trace(lambda x: x * 2.0, 1.0).compile("c")(np.float64(3)) == 6.0
    pair = tapegrad.trace(lambda x, y: (x + y, x * y), 1.0, 2.0).compile("c")
    assert pair(2, 3) == (5.0, 6.0)
    with pytest.raises(ArgumentCountError, match="takes 2 inputs"):
        pair(1.0)
    for text in ("x", "1.5", b"2"):
        with pytest.raises(InputTypeError, match="real numbers"):
            pair(1.0, text)
    assert pair(np.array(2.0), np.int64(3)) == (5.0, 6.0)
    with pytest.raises(InputTypeError, match=r"shape \(n, 2\)"):
        pair.batch(np.ones((3, 3)))


def test_a_guard_on_another_branch_raises_as_the_math_backend_does() -> None:
    tape = tapegrad.trace(lambda x: x * 2.0 if x > 0 else -x, 1.0)
    f, math_f = tape.compile("c"), tape.compile("math")
    assert f(3.0) == 6.0
    with pytest.raises(ValueError) as c_error:
        f(-3.0)
    with pytest.raises(ValueError) as math_error:
        math_f(-3.0)
    assert str(c_error.value) == str(math_error.value)
    assert "another branch" in str(c_error.value)


def test_array_tapes_are_refused_with_the_backend_to_use() -> None:
    tape = tapegrad.trace(lambda w: (w * 2.0).sum(), np.ones(3))
    refusal = r'the c backend \(C doubles\) cannot compute; generate it with backend="numpy"'
    with pytest.raises(UnsupportedOpError, match=refusal):
        tape.compile("c")


# ---------------------------------------------------------------- the compiler and the cache


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new cache directory, and no machine loaded yet."""
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cbuild, "_LOADED", {})
    return tmp_path / "cache"


def test_no_compiler_on_path_is_a_clear_error(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(fresh.parent / "empty"))
    tape = tapegrad.trace(lambda x: x * 2.0, 1.0)
    with pytest.raises(CompilerNotFoundError, match="no cc, gcc or clang on PATH") as error:
        tape.compile("c")
    assert "apt install gcc" in str(error.value) and 'tape.compile("math")' in str(error.value)
    assert isinstance(error.value, MissingToolError)


def test_a_cc_that_names_nothing_is_a_clear_error(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "/nowhere/cc -m64")
    with pytest.raises(CompilerNotFoundError, match=r"CC='/nowhere/cc -m64' names none"):
        tapegrad.trace(lambda x: x * 2.0, 1.0).compile("c")


def test_a_failing_compiler_shows_its_own_message(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fresh.parent / "broken-cc"
    script.write_text("#!/bin/sh\necho 'machine.c:1: error: this compiler is broken' >&2\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(script))
    with pytest.raises(CompileError, match="exit status 3") as error:
        tapegrad.trace(lambda x: x * 2.0, 1.0).compile("c")
    assert "this compiler is broken" in str(error.value) and "broken-cc" in str(error.value)
    assert not list(fresh.glob("*.so"))  # nothing half-written left in the cache


def test_the_machine_is_compiled_once_and_found_in_the_cache(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tapegrad.trace(lambda x: x * 2.0, 1.0).compile("c")
    (library,) = fresh.glob("tg_machine_*.so")
    assert stat.S_IMODE(fresh.stat().st_mode) & 0o077 == 0  # only this user can write there
    monkeypatch.setattr(cbuild, "_LOADED", {})

    def no_compiling(*args: Any) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(cbuild, "_compile", no_compiling)
    g = tapegrad.trace(lambda x: x * 3.0, 1.0).compile("c")
    assert (f(1.0), g(1.0)) == (2.0, 3.0) and list(fresh.glob("tg_machine_*.so")) == [library]


def test_a_cache_directory_others_can_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(shared))
    if os.getuid() == 0 and shared.stat().st_uid != 0:  # pragma: no cover - a root-owned tmp is the usual case
        pytest.skip("cannot make a directory owned by another user")
    assert cbuild.cache_directory() != shared


def test_hostile_names_never_reach_the_c_source() -> None:
    """The machine's source is the same for every tape: a tape is numbers (instructions), never text."""
    before = machine_source()
    hostile = ['x */ int main(void) { system("rm -rf ~"); } /*', "y\n#include <stdio.h>"]
    tape = tapegrad.trace(lambda a, b: (a * b).exp(), 1.0, 2.0, names=hostile)
    assert tape.compile("c")(1.0, 2.0) == tape(1.0, 2.0)
    assert machine_source() == before and "system" not in before and "stdio" not in before
    program = encode(tape)
    assert program.code.dtype == np.int32 and program.constants.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        program.code[0, 3] = 10**9  # the machine checks no slot number: a program cannot be changed


def test_unusual_tapes_dead_records_inputs_as_outputs_and_no_inputs() -> None:
    def wasteful(x: Any, y: Any) -> Any:
        (x * y).exp()  # recorded, never used: the machine skips it
        return [x, y * 2.0, x]

    tape = tapegrad.trace(wasteful, 1.0, 2.0)
    f = tape.compile("c")
    assert f(3.0, -0.0) == [3.0, -0.0, 3.0] and math.copysign(1.0, f(3.0, -0.0)[1]) == -1.0
    assert len(f.program.code) == 1  # the multiply by 2 alone
    assert tapegrad.trace(lambda: tapegrad.Value(2.0).exp()).compile("c")() == math.exp(2.0)


def test_slots_are_reused_so_the_work_array_stays_small() -> None:
    def chain(x: Any) -> Any:
        for _ in range(1000):
            x = (x * 1.0001).sin()
        return x

    tape = tapegrad.trace(chain, 0.5)
    program = encode(tape)
    assert len(program.code) == 2000 and program.slots <= 4  # x, the constant, two results in turn
    assert tape.compile("c")(0.25) == tape(0.25)


def test_calls_from_several_threads_agree() -> None:
    """Each call has its own work array, and ctypes lets go of the GIL while the machine runs."""
    from concurrent.futures import ThreadPoolExecutor

    tape = tapegrad.trace(lambda x, y: ((x * y).tanh() + x.exp()).log(), 1.0, 2.0)
    f = gradient_tape(tape).compile("c")
    points = [(0.01 * k, 1.0 - 0.02 * k) for k in range(200)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: f(*p), points))
    assert results == [f(*p) for p in points]


def test_an_unknown_backend_names_the_c_backend_too() -> None:
    from tapegrad.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"math, numpy \(and c, for tape.compile and export\)"):
        tapegrad.trace(lambda x: x * 2.0, 1.0).compile("fortran")


def test_a_compiled_tape_is_freed_with_its_function() -> None:
    """The compile cache is keyed weakly by the tape: the C function must not hold the tape itself."""
    import gc
    import weakref

    tape = tapegrad.trace(lambda x: x.exp() if x > 0 else x, 1.0)
    f = tape.compile("c")
    alive = weakref.ref(tape)
    del tape
    gc.collect()
    assert alive() is None and f(2.0) == math.exp(2.0)
    with pytest.raises(ValueError, match=r"another branch than the one recorded: x > 0 \(recorded True\) at"):
        f(-1.0)


def test_a_guard_read_as_an_operand_keeps_its_slot_alive() -> None:
    """A valid tape file may read a guard's result (its condition's value) after the condition's last
    read: the work slot must stay alive until then (it was reused, giving 6.0 instead of 4.0)."""
    from tapegrad.formats import io

    doc = (
        '{"format":"tapegrad.tape","version":1,"name":"f","records":[["input",[],"x"],["const",[],"0.0"],'
        '["gt",[0,1]],["guard",[2],true],["mul",[2,0]],["add",[3,4]]],"inputs":[0],"example":["0.5"],'
        '"captured":{},"outputs":[5],"output_names":["out"],"structure":"value","sites":{}}'
    )
    tape = io.loads(doc)
    assert tape(3.0) == tape.compile("math")(3.0) == tape.compile("c")(3.0) == 4.0


def test_a_library_others_can_write_is_not_loaded(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who could write the cached machine could run code in this process: such a file is refused."""
    tapegrad.trace(lambda x: x * 2.0, 1.0).compile("c")
    (library,) = fresh.glob("tg_machine_*.so")
    library.chmod(0o666)
    monkeypatch.setattr(cbuild, "_LOADED", {})
    with pytest.raises(CompileError, match="refusing to load"):
        tapegrad.trace(lambda x: x * 3.0, 1.0).compile("c")


def test_a_cache_directory_reached_through_a_link_is_used_by_its_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(link))
    assert cbuild.cache_directory() == real.resolve()

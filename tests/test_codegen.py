"""Generated source (tapegrad.codegen): what it computes, how it reads, what it lets through.

The specification, section by section:

1. agreement: on random programs over the whole op set and random inputs
   including edge values, the interpreter, the compiled math backend, the
   compiled numpy backend and the exported module give the same numbers, bit
   for bit (any nan equals any nan, and the sign of a zero counts) or to
   1e-15 relative; generated code never raises on edge inputs;
2. readable and deterministic source;
3. hostile input and function names;
4. literals that round-trip exactly;
5. export (standalone modules, their written tests, errors);
6. guards as checks raising ValueError;
7. the numpy backend on dask arrays;
8. large tapes, split into parts;
9. ``Tape.compile``: cached, with the tape's signature and a docstring.

Gradients are compared two ways.  The generated gradient is the source of
the optimised gradient tape, so against the interpreter replaying that very
tape it must agree bit for bit, signed zeros included.  Against
``tape.gradient`` it must agree up to the sign of a zero: the interpreter's
float sweep accumulates adjoints onto 0.0, and ``0.0 + -0.0`` is ``0.0``.
"""

from __future__ import annotations

import ast
import builtins
import gc
import inspect
import io
import itertools
import json
import keyword
import linecache
import math
import operator
import os
import re
import struct
import subprocess
import sys
import tokenize
import traceback
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import load_module

import tapegrad
from tapegrad import codegen, maximum, minimum, where
from tapegrad.core.ops import op_named
from tapegrad.errors import ArgumentCountError, InputTypeError, NonScalarOutputError, UnknownNameError
from tapegrad.formats.codegen import identifiers, to_source
from tapegrad.lab.testing import random_program
from tapegrad.values.value import apply

# Known core bugs: each test that shows one is marked strict, so it fails again once the bug is fixed.
INF, NAN = math.inf, math.nan
SUBNORMAL = 5e-324
EDGE_INPUTS = [
    0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, INF, -INF, NAN,
    SUBNORMAL, -SUBNORMAL, 2.2250738585072014e-308, 1e-300, 1e300, -1e300,
    1.7976931348623157e308, 709.0, 710.0, -745.0, 1e16,
]  # fmt: skip
CONSTANTS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 0.1, 1 / 3, -3.5, 1e8, 1e308, SUBNORMAL, INF, -INF, NAN]
EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 1 / 3, 1e-3, -0.0, INF, -INF, NAN]


# ---------------------------------------------------------------- comparing numbers


def same(expected: Any, got: Any) -> bool:
    """Bit for bit (any nan is any nan; -0.0 is not 0.0), else 1e-15 relative."""
    expected, got = float(expected), float(got)
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if expected == got:
        return expected != 0.0 or math.copysign(1.0, expected) == math.copysign(1.0, got)
    finite = math.isfinite(expected) and math.isfinite(got)
    return finite and abs(expected - got) <= 1e-15 * max(abs(expected), abs(got))


def assert_same(expected: Sequence[Any], got: Sequence[Any], what: str) -> None:
    assert len(expected) == len(got), f"{what}: {len(got)} results, expected {len(expected)}"
    for k, (e, g) in enumerate(zip(expected, got)):
        assert same(e, g), f"{what}: result {k} is {g!r}, expected {e!r}"


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def at(result: Any, k: int, shape: tuple[int, ...]) -> float:
    """Point ``k`` of an array result (a scalar result stands for every point)."""
    return float(np.broadcast_to(np.asarray(result, dtype=np.float64), shape)[k])


# ---------------------------------------------------------------- random programs


UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "sqrt": lambda x: x.sqrt(),
    "abs": abs,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,  # x ** constant records pow_const, constant ** x and x ** y record pow
    "maximum": maximum,
    "minimum": minimum,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    # No Value operator records these; gradient tapes do, and so can anyone through apply.
    "eq": lambda x, y: apply(op_named("eq"), x, y),
    "ne": lambda x, y: apply(op_named("ne"), x, y),
    "smul": lambda x, y: apply(op_named("smul"), x, y),
    "sdiv": lambda x, y: apply(op_named("sdiv"), x, y),
    "gate": lambda x, y: apply(op_named("gate"), x, y),
}
COMPARE = [operator.gt, operator.ge, operator.lt, operator.le]
OPERATIONS = [*UNARY, *BINARY, "pow_const", "where", "select"]


class Step(NamedTuple):
    """``operation`` on earlier results chosen by index (modulo how many there are).

    A binary op takes a constant on the right (``side`` 1) or left (``side``
    2) instead of a second result; ``where`` compares with ``COMPARE[side]``,
    ``select`` is a ``where`` on a result itself (true when nonzero or nan).
    """

    operation: str
    operands: tuple[int, int, int, int]
    side: int
    constant: float
    exponent: float


def run(program: Sequence[Step], inputs: Sequence[Any]) -> Any:
    """Execute ``program`` on traced Values; the last result is the output."""
    results = list(inputs)
    for step in program:
        x, y, z, w = (results[i % len(results)] for i in step.operands)
        if step.operation in UNARY:
            out = UNARY[step.operation](x)
        elif step.operation == "pow_const":
            out = x**step.exponent
        elif step.operation == "where":
            out = where(COMPARE[step.side](x, y), z, w)
        elif step.operation == "select":
            out = where(x, z, w)
        elif step.side == 1:
            out = BINARY[step.operation](x, step.constant)
        elif step.side == 2:
            out = BINARY[step.operation](step.constant, x)
        else:
            out = BINARY[step.operation](x, y)
        results.append(out)
    return results[-1]


def trace_program(program: Sequence[Step], point: Sequence[float]) -> tapegrad.Tape:
    def program_function(*xs: Any) -> Any:
        return run(program, xs)

    return tapegrad.trace(program_function, *point, names=[f"x{i}" for i in range(len(point))])


numbers = st.one_of(
    st.sampled_from(EDGE_INPUTS),
    st.floats(-10.0, 10.0),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Step], list[list[float]]]:
    """A program over 1-4 inputs, and four points to run it at (it is traced at the first)."""
    count = draw(st.integers(1, 4))
    step = st.builds(
        Step,
        st.sampled_from(OPERATIONS),
        st.tuples(*[st.integers(0, 63)] * 4),
        st.integers(0, 3),
        st.sampled_from(CONSTANTS),
        st.sampled_from(EXPONENTS),
    )
    program = draw(st.lists(step, min_size=1, max_size=12))
    points = draw(st.lists(st.lists(numbers, min_size=count, max_size=count), min_size=4, max_size=4))
    return program, points


def gradient_tape(tape: tapegrad.Tape) -> tapegrad.Tape:
    """What gradient code is generated from: the optimised gradient tape (value first, then one per input)."""
    return tapegrad.optimize(tapegrad.grad_tape(tape))


_programs = itertools.count()


def names_outside_strings(source: str) -> list[str]:
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.NAME]


def imports_of(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(f"from {node.module} import ...")
    return found


RUN_PYTEST_HIDDEN = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None
import pytest
raise SystemExit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]]))
"""


def run_written_tests(test_file: Path, hidden: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a written pytest file in a fresh interpreter where the modules ``hidden`` cannot be imported."""
    (test_file.parent / "pytest.ini").write_text("[pytest]\n")  # keep the project's configuration out
    return subprocess.run(
        [sys.executable, "-c", RUN_PYTEST_HIDDEN, test_file.name, *hidden],
        capture_output=True,
        text=True,
        cwd=test_file.parent,
        timeout=120,
    )


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


def every_op(a: Any, b: Any, c: Any) -> Any:
    """Every op of the table (the gradient adds smul, sdiv, eq...), and a guard."""
    r = -a + b - c * a / b + a**2 + a**b + a.exp() + a.log() + a.tanh() + a.sigmoid() + a.relu()
    r = r + a.sin() + a.cos() + a.sqrt() + abs(a) + maximum(a, b) + minimum(a, b) + where(a, b, c)
    for compare in [*COMPARE, BINARY["eq"], BINARY["ne"]]:
        r = r + where(compare(a, b), a, c)
    r = BINARY["smul"](r, a) + BINARY["sdiv"](r, b)
    if c > 0:
        return r
    return -r


# ---------------------------------------------------------------- 1. agreement


@settings(max_examples=500, deadline=None, report_multiple_bugs=False)
@given(cases())
def test_compiled_math_backend_agrees_with_the_interpreter(case: tuple[list[Step], list[list[float]]]) -> None:
    program, points = case
    tape = trace_program(program, points[0])
    grads = gradient_tape(tape)
    f, f_grad = tape.compile(), grads.compile()
    for point in points:
        value = f(*point)
        assert isinstance(value, float)
        assert_same([tape(*point)], [value], f"compiled value at {point}")
        generated = f_grad(*point)
        assert_same(grads(*point), generated, f"compiled gradient tape against its replay at {point}")
        expected_value, expected_grads = tape.value_and_gradient(*point)
        assert_same([expected_value, *expected_grads], generated, f"compiled gradient at {point}")


@settings(max_examples=500, deadline=None, report_multiple_bugs=False)
@given(cases())
def test_compiled_numpy_backend_agrees_pointwise_with_array_replay(
    case: tuple[list[Step], list[list[float]]],
) -> None:
    program, points = case
    tape = trace_program(program, points[0])
    grads = gradient_tape(tape)
    columns = [np.array(column, dtype=np.float64) for column in zip(*points)]
    shape = (len(points),)
    values, replayed = tape.compile("numpy")(*columns), tape(*columns)
    generated, expected = grads.compile("numpy")(*columns), grads(*columns)
    interpreted = tape.gradient(*columns)
    for k in range(len(points)):
        assert same(at(replayed, k, shape), at(values, k, shape)), f"value at point {points[k]}"
        assert_same([at(e, k, shape) for e in expected], [at(g, k, shape) for g in generated], f"at {points[k]}")
        assert_same(
            [at(e, k, shape) for e in interpreted],
            [at(g, k, shape) for g in generated[1:]],
            f"gradient against tape.gradient at {points[k]}",
        )


@settings(
    max_examples=200,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cases())
def test_exported_module_agrees_with_the_interpreter(
    export_dir: Path, case: tuple[list[Step], list[list[float]]]
) -> None:
    program, points = case
    tape = trace_program(program, points[0])
    module = load_module(tapegrad.export(tape, export_dir / f"program_{next(_programs)}.py"))
    for point in points:
        expected_value, expected_grads = tape.value_and_gradient(*point)
        assert same(expected_value, module.program_function(*point)), f"value at {point}"
        assert isinstance(module.program_function_grad(*point), tuple)
        assert_same(expected_grads, module.program_function_grad(*point), f"gradient at {point}")
        value, gradient = module.program_function_value_and_grad(*point)
        assert_same([expected_value, *expected_grads], [value, *gradient], f"value and gradient at {point}")


def every_op_programs() -> list[Any]:
    """One small program per op (each exponent of pow_const its own): its name, function and number of inputs."""
    programs: list[tuple[str, Callable[..., Any], int]] = [(name, fn, 1) for name, fn in UNARY.items()]
    programs += [(name, fn, 2) for name, fn in BINARY.items()]
    programs += [(f"pow_const {c!r}", lambda x, c=c: x**c, 1) for c in EXPONENTS]
    programs += [(f"where {c.__name__}", lambda x, y, c=c: where(c(x, y), x * y, y - x), 2) for c in COMPARE]
    programs += [("constant / x", lambda x: 2.0 / x, 1), ("x / -0.0", lambda x: x / -0.0, 1)]
    programs += [("select", lambda x, y: where(x, y * y, -y), 2)]
    return [pytest.param(*p, id=p[0], marks=[]) for p in programs]


@pytest.mark.parametrize("name, fn, arity", every_op_programs())
def test_every_op_at_every_pair_of_edge_inputs(name: str, fn: Callable[..., Any], arity: int) -> None:
    """No ZeroDivisionError, OverflowError or 'math domain error': generated code answers as IEEE does."""
    tape = tapegrad.trace(fn, *[1.5] * arity)
    grads = gradient_tape(tape)
    f, f_grad = tape.compile(), grads.compile()
    points = list(itertools.product(EDGE_INPUTS, repeat=arity))
    for point in points:
        assert same(tape(*point), f(*point)), f"{name} at {point}"
        assert_same(grads(*point), f_grad(*point), f"{name}: gradient tape at {point}")
        assert_same(tape.gradient(*point), f_grad(*point)[1:], f"{name}: gradient at {point}")
    columns = [np.array(column) for column in zip(*points)]
    shape = (len(points),)
    values, expected = tape.compile("numpy")(*columns), tape(*columns)
    generated, replayed = grads.compile("numpy")(*columns), grads(*columns)
    for k, point in enumerate(points):
        assert same(at(expected, k, shape), at(values, k, shape)), f"{name} on arrays at {point}"
        assert_same([at(r, k, shape) for r in replayed], [at(g, k, shape) for g in generated], f"{name} at {point}")


IEEE_CASES = [
    ("log(0) = -inf", lambda x: x.log(), 0.0, -INF),
    ("log(-0) = -inf", lambda x: x.log(), -0.0, -INF),
    ("log(-1) = nan", lambda x: x.log(), -1.0, NAN),
    ("sqrt(-1) = nan", lambda x: x.sqrt(), -1.0, NAN),
    ("sqrt(-0) = -0", lambda x: x.sqrt(), -0.0, -0.0),
    ("1/0 = inf", lambda x: 1.0 / x, 0.0, INF),
    ("1/-0 = -inf", lambda x: 1.0 / x, -0.0, -INF),
    ("0/0 = nan", lambda x: x / x, 0.0, NAN),
    ("exp(1000) = inf", lambda x: x.exp(), 1000.0, INF),
    ("0**-1 = inf", lambda x: x**-1, 0.0, INF),
    ("(-0)**-1 = -inf", lambda x: x**-1, -0.0, -INF),
    ("1e300**2 = inf", lambda x: x**2, 1e300, INF),
    ("(-1e300)**3 = -inf", lambda x: x**3, -1e300, -INF),
    ("(-8)**(1/3) = nan", lambda x: x ** (1 / 3), -8.0, NAN),
    ("sin(inf) = nan", lambda x: x.sin(), INF, NAN),
    ("cos(-inf) = nan", lambda x: x.cos(), -INF, NAN),
    ("tanh(inf) = 1", lambda x: x.tanh(), INF, 1.0),
    ("sigmoid(-1000) = 0", lambda x: x.sigmoid(), -1000.0, 0.0),
    ("1e308 * 10 = inf", lambda x: x * 1e308 * 10.0, 1.0, INF),
    ("2**2000 = inf", lambda x: 2.0**x, 2000.0, INF),
]


def ieee_params() -> list[Any]:
    params = []
    for name, fn, x, expected in IEEE_CASES:
        for backend in ("math", "numpy"):
            marks: list[Any] = []
            params.append(pytest.param(fn, x, expected, backend, id=f"{name}-{backend}", marks=marks))
    return params


@pytest.mark.parametrize("fn, x, expected, backend", ieee_params())
def test_generated_code_follows_ieee_where_math_would_raise(
    backend: str, fn: Callable[..., Any], x: float, expected: float
) -> None:
    tape = tapegrad.trace(fn, 1.0)
    got = tape.compile(backend)(np.array([x]) if backend == "numpy" else x)
    assert same(expected, at(got, 0, (1,)))


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_where_keeps_generated_gradients_nan_free(backend: str) -> None:
    def safe_sqrt(x: Any) -> Any:
        return where(x > 0, x.sqrt(), 0.0)

    f_grad = gradient_tape(tapegrad.trace(safe_sqrt, 1.0)).compile(backend)
    if backend == "math":
        assert f_grad(-1.0) == (0.0, 0.0)
    else:
        value, gradient = f_grad(np.array([-1.0, 4.0]))
        assert list(value) == [0.0, 2.0] and list(gradient) == [0.0, 0.25]


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_strong_zero_through_an_infinite_local_derivative(backend: str) -> None:
    f_grad = gradient_tape(tapegrad.trace(lambda x: x.exp().tanh(), 1.0)).compile(backend)
    if backend == "math":
        assert f_grad(1000.0) == (1.0, 0.0)
    else:
        value, gradient = f_grad(np.array([1000.0, -1000.0]))
        assert list(value) == [1.0, 0.0] and list(gradient) == [0.0, 0.0]


@pytest.mark.parametrize("kind", ["value", "gradient"])
def test_numpy_sigmoid_runs_on_arrays(kind: str) -> None:
    """The numpy backend's sigmoid must work elementwise (and the module imports only numpy)."""
    tape = tapegrad.trace(lambda x: x.sigmoid(), 1.0)
    compiled = (tape if kind == "value" else gradient_tape(tape)).compile("numpy")
    points = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0, NAN])
    expected = tape(points) if kind == "value" else tape.value_and_gradient(points)[1][0]
    got = compiled(points) if kind == "value" else compiled(points)[1]
    assert_same(list(expected), list(got), f"sigmoid {kind} on arrays")


def test_numpy_source_uses_only_numpy() -> None:
    """The numpy module imports only numpy, so nothing in it may call ``math``."""
    tape = tapegrad.trace(every_op, 1.0, 2.0, 3.0)
    for t in (tape, gradient_tape(tape)):
        source = to_source(t, "f", "numpy")
        assert imports_of(source) == ["import numpy as np"]
        assert "math" not in names_outside_strings(source)


def test_numpy_backend_returns_arrays_of_the_batch_shape() -> None:
    """Like the interpreter, every output is an array of the inputs' shape, constant gradients included."""
    tape = tapegrad.trace(lambda x, y: x * 2.0 + 1.0, 1.0, 2.0)
    x, y = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    expected = gradient_tape(tape)(x, y)
    got = gradient_tape(tape).compile("numpy")(x, y)
    for e, g in zip(expected, got):
        assert isinstance(g, np.ndarray) and g.shape == e.shape == (3,)
        assert list(g) == list(e)


# ---------------------------------------------------------------- 2. readable and deterministic


def loss(x: Any, y: Any) -> Any:
    if x > 0:
        return where(x > y, (x * y).sqrt(), x.exp()) + y**2 / 3.0
    return -x


def statements_per_line(source: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            counts[node.lineno] = counts.get(node.lineno, 0) + 1
    return counts


def function_named(source: str, name: str) -> ast.FunctionDef:
    (function,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    return function


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("gradient", [False, True], ids=["value", "gradient"])
def test_source_reads_like_code_a_person_wrote(backend: str, gradient: bool) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    if gradient:
        tape = gradient_tape(tape)
    source = to_source(tape, "loss", backend)
    lines = source.splitlines()
    assert lines[0].startswith("# ") and lines[1].startswith("# ")
    assert f"tapegrad {tapegrad.__version__}" in lines[1]
    assert re.search(r"\bhash [0-9a-f]{8,}\b", lines[1])
    assert all(tok.string != ";" for tok in tokenize.generate_tokens(io.StringIO(source).readline))
    assert max(statements_per_line(source).values()) == 1
    function = function_named(source, "loss")
    assert [a.arg for a in function.args.args] == ["x", "y"]
    docstring = ast.get_docstring(function)
    assert docstring is not None
    assert "Inputs: x, y" in docstring
    assert all(name in docstring for name in tape.output_names)
    body = function.body[1:]
    if backend == "numpy":  # everything inside one `with np.errstate(all="ignore"):`
        (block,) = body
        assert isinstance(block, ast.With)
        body = block.body
    targets = [s.targets[0].id for s in body if isinstance(s, ast.Assign)]  # type: ignore[attr-defined]
    assert targets == [f"t{k}" for k in range(len(targets))]
    assert isinstance(body[-1], ast.Return)
    assert all(isinstance(s, (ast.Assign, ast.If, ast.Return, ast.Delete)) for s in body)  # numpy frees arrays


def test_same_tape_gives_byte_identical_source() -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    again = tapegrad.trace(loss, 1.0, 2.0)
    for backend in ("math", "numpy"):
        assert to_source(tape, "loss", backend) == to_source(tape, "loss", backend) == to_source(again, "loss", backend)
        grads = to_source(gradient_tape(tape), "loss_grad", backend)
        assert grads == to_source(gradient_tape(again), "loss_grad", backend)


def test_the_header_hash_follows_the_program() -> None:
    def header_hash(tape: tapegrad.Tape) -> str:
        match = re.search(r"\bhash ([0-9a-f]+)", to_source(tape).splitlines()[1])
        assert match is not None
        return match.group(1)

    one = header_hash(tapegrad.trace(lambda x: x * 2.0, 1.0))
    assert one == header_hash(tapegrad.trace(lambda x: x * 2.0, 5.0))
    assert one != header_hash(tapegrad.trace(lambda x: x * 3.0, 1.0))
    assert one != header_hash(tapegrad.trace(lambda x: x + 2.0, 1.0))


DETERMINISM_MODULE = """
import tapegrad


def loss(x, y):
    if x > 0:
        return tapegrad.where(x > y, (x * y).sqrt(), x.exp()) + y ** 2 / 3.0 + tapegrad.maximum(x, 0.1)
    return -x


tape = tapegrad.trace(loss, 1.0, 2.0)
"""

DETERMINISM_SCRIPT = """
import importlib.util, sys
import tapegrad
from tapegrad.codegen import to_source
spec = importlib.util.spec_from_file_location("program", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tape = module.tape
grads = tapegrad.optimize(tapegrad.grad_tape(tape))
print(to_source(tape, "loss") + to_source(grads, "loss_grad", "numpy"), end="")
"""


def test_source_is_identical_across_interpreter_runs(tmp_path: Path) -> None:
    """Hash randomisation (set iteration order) must not reach the source."""
    program = tmp_path / "program.py"
    program.write_text(DETERMINISM_MODULE)
    sources = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT, str(program)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        sources.append(result.stdout)
    tape = load_module(program).tape
    here = to_source(tape, "loss") + to_source(gradient_tape(tape), "loss_grad", "numpy")
    assert sources[0] == sources[1] == here


# ---------------------------------------------------------------- 3. hostile names

HOSTILE = [
    "lambda", "if", "class", "math", "np", "numpy", "abs", "print", "None", "t0", "t12", "_div", "_f_part0",
    "x-1", "my var", "1x", "λ", "变量", "x", "x", "x_2", '"q"', "'", "'''", '"""', "a\nb", "c\r\nd", "back\\slash",
    "trailing\\", "__import__('os').system('echo pwned')", "\"\"\"; __import__('os').system('echo pwned') #",
    "ﬁ", "fi", "ℌ", "H", "ｘ", "", " ", "\x00", "\u2028", "# comment", "f", "f_grad", "e", "inf", "nan",
]  # fmt: skip
PWNED = {"__import__", "os", "system", "echo", "pwned"}
GUARDED = HOSTILE.index("__import__('os').system('echo pwned')")
HOSTILE_OUTPUT = "out\"\"\"\n__import__('os').system('echo pwned')\n'''#\\"
HOSTILE_TAPE_NAME = 'tape\'\n"""import os'


def weighted_sum(*xs: Any) -> Any:
    """Each input with its own weight, so mixed-up parameters show; a guard on the ``__import__`` input."""
    if xs[GUARDED] > 0:
        total = xs[0] * 2.0
        for k, x in enumerate(xs[1:], start=3):
            total = total + x * float(k)
        out = total.tanh() * 5.0
        out.name = HOSTILE_OUTPUT
        return out
    return xs[0]


def _known_names() -> set[str]:
    """Every name generated code uses for programs over benign inputs ``a, b, c``: keywords, helpers, modules."""
    tape = tapegrad.trace(every_op, 1.0, 2.0, 3.0)
    names: set[str] = set()
    for t in (tape, gradient_tape(tape)):
        for backend in ("math", "numpy"):
            source = to_source(t, "f", backend)
            names |= set(names_outside_strings(source))
    return {n for n in names if n not in {"a", "b", "c", "f"} and not re.fullmatch(r"t[0-9]+", n)}


KNOWN_NAMES = _known_names()


def skeleton(source: str, renames: dict[str, str], function: tuple[str, str] = ("", "")) -> list[tuple[int, str]]:
    """The token stream without comments and strings (where hostile text may live).

    Names in ``renames`` are renamed, and the name defined as ``function[0]``
    (only where it follows ``def``) becomes ``function[1]``.
    """
    result: list[tuple[int, str]] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING, tokenize.NL):
            continue
        text = tok.string
        if tok.type == tokenize.NAME:
            defined = result[-1:] == [(tokenize.NAME, "def")] and text == function[0]
            text = function[1] if defined else renames.get(text, text)
        result.append((tok.type, text))
    return result


def assert_safe_parameters(params: Sequence[str]) -> None:
    for p in params:
        assert p.isidentifier() and not keyword.iskeyword(p) and not keyword.issoftkeyword(p), p
        assert unicodedata.normalize("NFKC", p) == p, p  # as Python reads it
        assert p not in dir(builtins) and p not in {"math", "np", "numpy"}, p
        assert not p.startswith("_") and not re.fullmatch(r"t[0-9]+", p), p
    assert len(set(params)) == len(params)


def hostile_tape() -> tapegrad.Tape:
    """``weighted_sum`` over inputs named ``HOSTILE``; its output and the tape have hostile names too."""
    tape = tapegrad.trace(weighted_sum, *[1.0 / (k + 2) for k in range(len(HOSTILE))], names=HOSTILE)
    tape.name = HOSTILE_TAPE_NAME
    return tape


def test_identifiers_are_safe_unique_and_keep_plain_names() -> None:
    params = identifiers(HOSTILE)
    assert_safe_parameters(params)
    assert params[HOSTILE.index("λ")] == "λ" and params[HOSTILE.index("变量")] == "变量"
    assert params[HOSTILE.index("x")] == "x"
    assert identifiers(["x", "y", "learning_rate"]) == ["x", "y", "learning_rate"]


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("gradient", [False, True], ids=["value", "gradient"])
def test_hostile_input_names_stay_out_of_the_code(backend: str, gradient: bool) -> None:
    tape = hostile_tape()
    benign = tapegrad.trace(weighted_sum, *tape.values[: len(HOSTILE)], names=[f"a{k}" for k in range(len(HOSTILE))])
    if gradient:
        tape, benign = gradient_tape(tape), gradient_tape(benign)
    source, reference = to_source(tape, "generated", backend), to_source(benign, "generated", backend)
    ast.parse(source)
    function = function_named(source, "generated")
    params = [a.arg for a in function.args.args]
    assert params == identifiers(HOSTILE)
    assert_safe_parameters(params)
    # The same code as for plain names, up to the parameters' names, comments and strings: no
    # statement, line or definition was injected.
    rename = {p: f"<input {k}>" for k, p in enumerate(params)}
    assert skeleton(source, rename) == skeleton(reference, {f"a{k}": f"<input {k}>" for k in range(len(params))})
    strays = [n for n in names_outside_strings(source) if n not in KNOWN_NAMES | set(params) | {"generated"}]
    assert [n for n in strays if not re.fullmatch(r"t[0-9]+", n)] == []
    assert not PWNED & set(names_outside_strings(source))
    definitions = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert definitions == [n.name for n in ast.parse(reference).body if isinstance(n, ast.FunctionDef)]
    docstring = ast.get_docstring(function, clean=False)
    assert docstring is not None
    assert all(name in docstring for name in tape.output_names)
    for name, p in zip(HOSTILE, params):
        if name != p:
            assert f"{name!r} -> {p}" in docstring


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_hostile_input_names_compute_correctly(backend: str) -> None:
    tape = hostile_tape()
    point = [0.01 * (k + 1) for k in range(len(HOSTILE))]
    arrays = [np.array([v, 2 * v]) for v in point]
    args = point if backend == "math" else arrays
    f = tape.compile(backend)
    assert list(inspect.signature(f).parameters) == identifiers(HOSTILE)
    expected = tape(*args)
    assert np.array_equal(f(*args), expected)
    assert np.array_equal(f(**dict(zip(identifiers(HOSTILE), args))), expected)
    grads = gradient_tape(tape)
    generated = grads.compile(backend)(*args)
    for e, g in zip(grads(*args), generated):
        assert np.array_equal(np.broadcast_to(g, np.shape(e)), e)
    with pytest.raises(ValueError, match=re.escape("__import__('os').system('echo pwned') > 0")):
        f(*[-1.0] * len(HOSTILE)) if backend == "math" else f(*[np.array([-1.0, 1.0])] * len(HOSTILE))


def test_a_name_that_is_not_valid_text_is_refused_or_escaped() -> None:
    """A lone surrogate cannot be encoded: trace refuses it; set directly, it is still escaped in the source."""
    with pytest.raises(InputTypeError, match=r"the input name '\\ud800' holds a lone surrogate"):
        tapegrad.trace(lambda x, y: x * y, 2.0, 3.0, names=["\ud800", "y"])
    tape = tapegrad.trace(lambda x, y: x * y, 2.0, 3.0)
    tape.name, tape.output_names = "\ud800", ["\udfff"]
    source = to_source(tape)
    ast.parse(source)
    assert tape.compile()(2.0, 5.0) == 10.0
    source.encode("utf-8")


HOSTILE_FUNCTION_NAMES = [
    "lambda", "class", "math", "np", "abs", "_div", "t0", "x", "f g", "1f", "λ", "", '"""', "a\nb",
    "__import__('os').system('echo pwned')", "loss\n\nimport os\nos.system('echo pwned')\n",
]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_FUNCTION_NAMES)
@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_hostile_function_names(name: str, backend: str) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    source = to_source(tape, name, backend)
    (safe,) = identifiers([name])
    reference = to_source(tape, "loss", backend)
    assert skeleton(source, {}, (safe, "<name>")) == skeleton(reference, {}, ("loss", "<name>"))
    assert not PWNED & set(names_outside_strings(source))
    assert_safe_parameters([safe])
    f = codegen.compile_source(source, safe, "<hostile>")
    assert f(3.0, 2.0) == tape(3.0, 2.0)


@pytest.mark.parametrize("name", HOSTILE_FUNCTION_NAMES)
def test_hostile_export_names(name: str, tmp_path: Path) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    path = tapegrad.export(tape, tmp_path / "exported.py", name=name)
    source = path.read_text(encoding="utf-8")
    (safe,) = identifiers([name or "loss"])  # no name: the function's
    functions = {
        n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
    }
    assert functions == {safe, f"{safe}_grad", f"{safe}_value_and_grad"}
    assert not PWNED & set(names_outside_strings(source))
    module = load_module(path)
    assert getattr(module, f"{safe}_value_and_grad")(3.0, 2.0) == tape.value_and_gradient(3.0, 2.0)


def test_hostile_names_in_an_export_with_tests(tmp_path: Path) -> None:
    tape = hostile_tape()
    path = tapegrad.export(tape, tmp_path / "hostile.py", tests=True)
    for written in (path, tmp_path / "test_hostile.py"):
        source = written.read_text(encoding="utf-8")
        ast.parse(source)
        assert not PWNED & set(names_outside_strings(source))
        assert "tapegrad" not in " ".join(imports_of(source))
    assert imports_of(path.read_text(encoding="utf-8")) == ["import math"]
    module = load_module(path)
    point = [0.01 * (k + 1) for k in range(len(HOSTILE))]
    assert module.f_value_and_grad(*point) == tape.value_and_gradient(*point)
    result = run_written_tests(tmp_path / "test_hostile.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# ---------------------------------------------------------------- 4. literals

LITERALS = [
    0.1, 1 / 3, -2 / 3, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1e308,
    1.7976931348623157e308, -0.0, 0.0, INF, -INF, NAN, 1e22, 1e23, 123456789.12345679, 2.0**-1022 * 1.5,
    9007199254740993.0, 1e-7, 3, 2**60,
]  # fmt: skip


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("c", LITERALS, ids=repr)
def test_constants_round_trip_exactly(c: float, backend: str) -> None:
    tape = tapegrad.trace(lambda x: where(x > 0.0, c, x), 1.0)
    got = at(tape.compile(backend)(np.array([1.0]) if backend == "numpy" else 1.0), 0, (1,))
    assert math.isnan(got) if math.isnan(c) else bits(got) == bits(float(c))
    source = to_source(tape, "f", backend)
    module = "math" if backend == "math" else "np"
    if math.isfinite(c):
        assert repr(float(c)) in source
    elif math.isnan(c):
        assert f"{module}.nan" in source
    else:
        assert f"{'-' if c < 0 else ''}{module}.inf" in source


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True))
def test_any_float_constant_round_trips(c: float) -> None:
    tape = tapegrad.trace(lambda x: x * 1.0 + c, 1.0)
    f, f_numpy = tape.compile(), tape.compile("numpy")
    for x in (-0.0, 0.0, 1.0):
        assert same(tape(x), f(x)) and same(tape(x), at(f_numpy(np.array([x])), 0, (1,)))


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_negative_zero_keeps_its_sign(backend: str) -> None:
    def run(fn: Callable[..., Any], x: float) -> float:
        got = tapegrad.trace(fn, 1.0).compile(backend)(np.array([x]) if backend == "numpy" else x)
        return at(got, 0, (1,))

    assert run(lambda x: 1.0 / (x * -0.0), 1.0) == -INF
    assert run(lambda x: 1.0 / (x * 0.0 + (-0.0)), -1.0) == -INF
    assert run(lambda x: 1.0 / (x + (-0.0)), -0.0) == -INF
    assert run(lambda x: 1.0 / (x - 0.0), -0.0) == -INF
    assert run(lambda x: 1.0 / -x, 0.0) == -INF
    assert run(lambda x: x ** (1 / 3), 8.0) == math.pow(8.0, 1 / 3)


# ---------------------------------------------------------------- 5. export


def rosenbrock(x: Any, y: Any) -> Any:
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2 + (x * y).tanh().exp() / (1.0 + y * y)


POINTS = [(0.5, 0.25), (-1.25, 2.0), (1.0, 1.0), (3.0, -0.5)]


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_export_writes_value_gradient_and_both(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend)
    assert path == tmp_path / "rosen.py"
    source = path.read_text(encoding="utf-8")
    assert imports_of(source) == (["import math"] if backend == "math" else ["import numpy as np"])
    assert "tapegrad" not in names_outside_strings(source)
    if backend == "numpy":
        assert "math" not in names_outside_strings(source)
    module = load_module(path)
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    if backend == "math":
        for point in POINTS:
            assert module.rosenbrock(*point) == tape(*point)
            assert module.rosenbrock_grad(*point) == tape.gradient(*point)
            assert module.rosenbrock_value_and_grad(*point) == tape.value_and_gradient(*point)
            assert type(module.rosenbrock_grad(*point)) is tuple
    else:
        x, y = (np.array(column) for column in zip(*POINTS))
        assert np.array_equal(module.rosenbrock(x, y), tape(x, y))
        for got, expected in zip(module.rosenbrock_grad(x, y), tape.gradient(x, y)):
            assert np.array_equal(got, expected)
        value, gradient = module.rosenbrock_value_and_grad(x, y)
        assert np.array_equal(value, tape(x, y)) and len(gradient) == 2


def test_export_names_default_to_the_function_or_tape(tmp_path: Path) -> None:
    def public(module: ModuleType) -> set[str]:
        return {n for n, v in vars(module).items() if callable(v) and not n.startswith("_")}

    assert public(load_module(tapegrad.export(rosenbrock, tmp_path / "a.py"))) == {
        "rosenbrock",
        "rosenbrock_grad",
        "rosenbrock_value_and_grad",
    }
    square = load_module(tapegrad.export(lambda x: x * x, tmp_path / "b.py"))
    assert public(square) == {"f", "f_grad", "f_value_and_grad"}
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    assert "rosenbrock_grad" in public(load_module(tapegrad.export(tape, tmp_path / "c.py")))
    assert "energy_grad" in public(load_module(tapegrad.export(tape, tmp_path / "d.py", name="energy")))


@pytest.mark.parametrize("structure", ["tuple", "list"])
def test_export_keeps_the_output_structure(structure: str, tmp_path: Path) -> None:
    """A function returning ``(y,)`` or ``[y]`` exports functions returning what the tape returns."""

    def boxed(x: Any) -> Any:
        y = x * x.sin()
        return (y,) if structure == "tuple" else [y]

    tape = tapegrad.trace(boxed, 1.0)
    module = load_module(tapegrad.export(tape, tmp_path / f"boxed_{structure}.py"))
    assert module.boxed(2.0) == tape(2.0)
    assert module.boxed_grad(2.0) == tape.gradient(2.0)
    assert module.boxed_value_and_grad(2.0) == tape.value_and_gradient(2.0)


HIDDEN_RUN = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # `import name` now fails: the module must not need it
import importlib.util
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
points = [(0.5, 0.25), (-1.25, 2.0), (1.0, 1.0), (3.0, -0.5)]
def plain(v):
    return v.tolist() if hasattr(v, "tolist") else v
results = [[plain(module.rosenbrock(*p)), [plain(g) for g in module.rosenbrock_grad(*p)]] for p in points]
print(json.dumps(results))
"""


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_exported_module_runs_without_tapegrad(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend)
    hidden = ["tapegrad"] + (["numpy"] if backend == "math" else [])
    result = subprocess.run(
        [sys.executable, "-c", HIDDEN_RUN, str(path), *hidden],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    for (value, gradient), point in zip(json.loads(result.stdout), POINTS):
        assert same(tape(*point), value)
        assert_same(tape.gradient(*point), gradient, f"gradient at {point}")


def test_export_with_tests_of_a_boxed_output(tmp_path: Path) -> None:
    """``tests=True`` for a function returning ``(y,)``: the written tests pass."""

    def boxed(x: Any) -> Any:
        return ((x * x.sin()).exp(),)

    tapegrad.export(boxed, tmp_path / "boxed.py", tests=True)
    result = run_written_tests(tmp_path / "test_boxed.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_export_with_tests_writes_a_passing_pytest_file(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend, tests=True)
    test_file = tmp_path / "test_rosen.py"
    assert test_file.exists()
    source = test_file.read_text(encoding="utf-8")
    assert "tapegrad" not in names_outside_strings(source)
    assert path.name in source
    result = run_written_tests(test_file, ["tapegrad"] + (["numpy"] if backend == "math" else []))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b[1-9][0-9]* passed", result.stdout)
    assert "failed" not in result.stdout and "error" not in result.stdout


def test_written_tests_catch_a_wrong_module(tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", tests=True)
    path.write_text(path.read_text(encoding="utf-8").replace("100.0", "100.5"), encoding="utf-8")
    result = run_written_tests(tmp_path / "test_rosen.py", ["tapegrad", "numpy"])
    assert result.returncode != 0 and "failed" in result.stdout


def test_written_tests_work_for_a_module_file_name_that_is_no_identifier(tmp_path: Path) -> None:
    """``export(f, "my-model.py", tests=True)``: the test file must parse and import the module by its path."""
    tapegrad.export(rosenbrock, tmp_path / "my-model.py", tests=True)
    (test_file,) = tmp_path.glob("test_*.py")
    ast.parse(test_file.read_text(encoding="utf-8"))
    result = run_written_tests(test_file, ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_refuses_several_outputs(tmp_path: Path) -> None:
    with pytest.raises(NonScalarOutputError):
        tapegrad.export(lambda x, y: (x * y, x + y), tmp_path / "two.py")
    assert not (tmp_path / "two.py").exists()


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    with pytest.raises(UnknownNameError, match="numpy"):
        to_source(tape, backend="jax")
    with pytest.raises(UnknownNameError):
        tape.compile("torch")
    with pytest.raises(UnknownNameError):
        tapegrad.export(tape, tmp_path / "out.py", backend="fortran")
    assert not (tmp_path / "out.py").exists()


# ---------------------------------------------------------------- 6. guards


def branchy(x: Any, y: Any) -> Any:
    if x > 0:
        return x * y
    return -x * y


def test_guard_becomes_a_check_in_math_code() -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    for f in (tape.compile(), gradient_tape(tape).compile()):
        assert f(3.0, 2.0) in (6.0, (6.0, 2.0, 3.0))
        for other in (-1.0, 0.0, -0.0, NAN):
            with pytest.raises(ValueError, match=re.escape("x > 0")) as error:
                f(other, 2.0)
            assert "test_codegen.py" in str(error.value)  # where the branch was written


def test_guard_recorded_false_rejects_the_true_branch() -> None:
    tape = tapegrad.trace(branchy, -1.0, 2.0)
    f = tape.compile()
    assert f(-3.0, 2.0) == 6.0 and f(0.0, 2.0) == -0.0
    with pytest.raises(ValueError, match=re.escape("x > 0")):
        f(3.0, 2.0)


def test_guard_checks_every_point_of_an_array() -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    for f in (tape.compile("numpy"), gradient_tape(tape).compile("numpy")):
        f(np.array([1.0, 2.0, 1e-300]), np.array([2.0, 3.0, 4.0]))
        for bad in ([1.0, -1.0, 2.0], [NAN, 1.0, 2.0], [1.0, 2.0, 0.0]):
            with pytest.raises(ValueError, match=re.escape("x > 0")):
                f(np.array(bad), np.array([2.0, 3.0, 4.0]))


def test_guard_on_a_truth_value() -> None:
    def nonzero(x: Any) -> Any:
        return x * 2.0 if x else x + 1.0

    tape = tapegrad.trace(nonzero, 1.0)
    f, f_numpy = tape.compile(), tape.compile("numpy")
    assert f(3.0) == 6.0 and math.isnan(f(NAN))  # nan is true, as for Python's bool
    with pytest.raises(ValueError, match=r"bool\(x\)"):
        f(0.0)
    assert list(f_numpy(np.array([1.0, -2.0]))) == [2.0, -4.0]
    with pytest.raises(ValueError, match=r"bool\(x\)"):
        f_numpy(np.array([1.0, -0.0]))


def test_exported_functions_check_guards(tmp_path: Path) -> None:
    module = load_module(tapegrad.export(branchy, tmp_path / "branchy.py"))
    assert module.branchy_value_and_grad(2.0, 5.0) == (10.0, (5.0, 2.0))
    for function in (module.branchy, module.branchy_grad, module.branchy_value_and_grad):
        with pytest.raises(ValueError, match=re.escape("x > 0")):
            function(-2.0, 5.0)


def test_a_failing_guard_shows_its_generated_line() -> None:
    f = tapegrad.trace(branchy, 1.0, 2.0).compile()
    with pytest.raises(ValueError) as error:
        f(-1.0, 2.0)
    assert "raise ValueError(" in "".join(traceback.format_exception(error.value))  # linecache has the source


def test_compiled_source_leaves_linecache_with_its_function() -> None:
    """1,500 compiled tapes kept 21 MB of source in linecache for good; now each source goes with its function."""

    def ours() -> set[str]:
        gc.collect()
        return {name for name in linecache.cache if name.startswith("<tapegrad ")}

    before = ours()
    kept = tapegrad.trace(branchy, 1.0, 2.0).compile()
    for i in range(200):  # distinct tapes: distinct sources
        tapegrad.trace(lambda x, y, c=float(i): x * y + c, 1.0, 2.0).compile()(1.0, 2.0)
    assert len(ours() - before) == 1
    same = tapegrad.trace(branchy, 1.0, 2.0).compile()  # the same source under a name of its own
    assert len(ours() - before) == 2
    del same
    with pytest.raises(ValueError) as error:
        kept(-1.0, 2.0)
    assert "raise ValueError(" in "".join(traceback.format_exception(error.value))
    del kept, error
    assert not ours() - before


# ---------------------------------------------------------------- 7. dask


def smooth(x: Any, y: Any) -> Any:
    z = where(x > y, (x * y).sqrt(), maximum(x, y).exp())
    return (z + 1.0).log() * minimum(x, y) + x**2.5 / (1.0 + y * y) + (x - y).tanh() + abs(y).relu()


def test_numpy_gradient_runs_unchanged_on_dask_arrays() -> None:
    da = pytest.importorskip("dask.array")
    f_grad = gradient_tape(tapegrad.trace(smooth, 1.0, 2.0)).compile("numpy")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.1, 3.0, 101), rng.uniform(-3.0, 3.0, 101)
    lazy = f_grad(da.from_array(x, chunks=17), da.from_array(y, chunks=17))
    assert all(isinstance(part, da.Array) for part in lazy)
    for computed, expected in zip(lazy, f_grad(x, y)):
        assert_same(list(expected), list(computed.compute()), "dask against numpy")


def test_dask_arrays_meet_guards_too() -> None:
    da = pytest.importorskip("dask.array")
    f = tapegrad.trace(branchy, 1.0, 2.0).compile("numpy")
    y = da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2)
    assert list(f(da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2), y).compute()) == [1.0, 4.0, 9.0, 16.0]
    with pytest.raises(ValueError, match=re.escape("x > 0")):
        f(da.from_array(np.array([1.0, 2.0, -3.0, 4.0]), chunks=2), y).compute()


# ---------------------------------------------------------------- 8. large tapes


def test_a_tape_of_100000_records_compiles_and_agrees() -> None:
    tape = tapegrad.trace(random_program(62_000, inputs=10, seed=3), *[0.1 * k for k in range(1, 11)])
    assert len(tape) >= 100_000
    f = tape.compile()
    point = [0.05 * k - 0.2 for k in range(10)]
    assert bits(f(*point)) == bits(tape(*point))
    assert any(name.startswith(f"_{f.__name__}_part") for name in f.__globals__)  # split into parts


@pytest.fixture
def part_size(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set how many statements a part holds.

    ``_render`` binds its ``part_size`` default from ``_PART_SIZE`` when it is
    defined, so patching the module constant would change nothing; its
    ``__defaults__`` are what ``to_source``, ``compile`` and ``export`` use.
    """

    def set_size(size: int) -> None:
        monkeypatch.setattr(codegen._render, "__defaults__", (size,))

    return set_size


def program_with_everything(x: Any, y: Any, z: Any) -> Any:
    r = x
    for k in range(12):
        r = where(r > y, (r * y + 1.0).tanh(), minimum(r, z) - 0.5 * k) + (z * z + 1.0).log()
        if k == 5 and x > 0:  # a guard in the middle
            r = r + x
    return (r, x, 2.0, r * z)


def work_of(function: ast.FunctionDef) -> list[ast.stmt]:
    """The statements that compute: no docstring, ``with np.errstate``, or ``return``."""
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if isinstance(body[0], ast.With):
        body = body[0].body
    return [s for s in body if not isinstance(s, (ast.Return, ast.Delete)) and not _moves_a_value(s)]


def _moves_a_value(statement: ast.stmt) -> bool:
    """``t5 = s[3]`` or ``s[3] = t5``: a part reading or storing a value shared across parts."""
    if not isinstance(statement, ast.Assign):
        return False
    return isinstance(statement.value, ast.Subscript) or isinstance(statement.targets[0], ast.Subscript)


@pytest.mark.parametrize("size", [1, 2, 7, 50])
@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_parts_give_the_same_results(size: int, backend: str, part_size: Callable[[int], None]) -> None:
    whole = tapegrad.trace(program_with_everything, 1.0, 0.5, 2.0)
    whole_grad = gradient_tape(tapegrad.trace(lambda x, y, z: program_with_everything(x, y, z)[0], 1.0, 0.5, 2.0))
    reference = [whole.compile(backend), whole_grad.compile(backend)]
    statements = len(work_of(function_named(to_source(whole_grad, "f", backend), "f")))
    part_size(size)
    split = tapegrad.trace(program_with_everything, 1.0, 0.5, 2.0)
    split_grad = gradient_tape(tapegrad.trace(lambda x, y, z: program_with_everything(x, y, z)[0], 1.0, 0.5, 2.0))
    tree = ast.parse(to_source(split_grad, "f", backend))
    parts = [n for n in tree.body if isinstance(n, ast.FunctionDef) and re.fullmatch(r"_f_part[0-9]+", n.name)]
    assert len(parts) == math.ceil(statements / size) >= 2
    assert all(len(work_of(part)) <= size for part in parts)
    compiled = [split.compile(backend), split_grad.compile(backend)]
    points = [(1.0, 0.5, 2.0), (2.0, -1.0, 0.0), (0.1, 3.0, -2.0), (1e-300, 0.0, INF)]
    columns = [np.array(c) for c in zip(*points)]
    for f, g in zip(reference, compiled):
        for args in points if backend == "math" else [columns]:
            expected, got = f(*args), g(*args)
            assert type(got) is type(expected)
            assert all(np.array_equal(e, o, equal_nan=True) for e, o in zip(expected, got))
        with pytest.raises(ValueError, match=re.escape("x > 0")):
            g(-1.0, 0.5, 2.0) if backend == "math" else g(*[np.array([1.0, -1.0])] * 3)


def test_exported_parts(part_size: Callable[[int], None], tmp_path: Path) -> None:
    part_size(10)
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "parts.py"))
    assert any(name.startswith("_rosenbrock_value_and_grad_part") for name in vars(module))
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    for point in POINTS:
        assert module.rosenbrock_value_and_grad(*point) == tape.value_and_gradient(*point)


def test_generated_names_never_clash_with_user_names_past_20000_statements(tmp_path: Path) -> None:
    """An input named ``s`` gave ``SyntaxError: duplicate argument 's'`` once a function was split into parts."""
    names = ["s", "t0", "t1", "math", "np", "_s", "_batch", "_log", "_f_part0", "f", "x"]

    def long(*xs: Any) -> Any:
        y = xs[0]
        for _ in range(10_001):  # two records a step: over 20,000 statements, so two parts
            y = y * 1.0001 + xs[-1]
        return y + sum(xs[1:-1], 0.0)

    tape = tapegrad.trace(long, *[0.5] * len(names), names=names)
    point = [0.01 * (k + 1) for k in range(len(names))]
    for backend in ("math", "numpy"):
        source = to_source(tape, "f", backend)
        assert "def _f_part1(" in source
        assert bits(tape.compile(backend)(*point)) == bits(tape(*point))
    module = load_module(tapegrad.export(tape, tmp_path / "long.py", name="f"))
    assert "_f_value_and_grad_part1" in vars(module)
    assert module.f_value_and_grad(*point) == tape.value_and_gradient(*point)


# ---------------------------------------------------------------- 9. Tape.compile


def test_compile_is_cached_with_the_tapes_signature_and_a_docstring() -> None:
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    f = tape.compile()
    assert tape.compile() is f and tape.compile("math") is f
    assert tape.compile("numpy") is tape.compile("numpy") is not f
    for compiled in (f, tape.compile("numpy")):
        assert list(inspect.signature(compiled).parameters) == ["x", "y"]
        assert compiled.__doc__ and "x, y" in compiled.__doc__ and "out" in compiled.__doc__
        assert compiled.__name__ == "rosenbrock"
    assert f(0.5, 0.25) == tape(0.5, 0.25)


def test_compile_of_a_tape_named_like_nothing_python_allows() -> None:
    tape = tapegrad.trace(lambda x: x * 3.0, 1.0)
    f = tape.compile()
    assert f.__name__.isidentifier() and f(2.0) == 6.0
    assert f.__doc__ and "Inputs: x" in f.__doc__


# ---------------------------------------------------------------- 8. export options: wrt, test points, batch axes


def outside_unit_range(x: Any, y: Any) -> Any:
    """Finite only for x < 0 and y > 20: no point of [0.2, 1.5]^2 works (a physics formula's domain)."""
    return (-x).sqrt() * (y - 20.0).log()


def test_export_wrt_differentiates_only_those_inputs(tmp_path: Path) -> None:
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "rosen.py", wrt=["y"]))
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    assert module.rosenbrock_grad(0.5, 2.0) == (tape.gradient(0.5, 2.0)[1],)
    assert module.rosenbrock_value_and_grad(0.5, 2.0) == (tape(0.5, 2.0), (tape.gradient(0.5, 2.0)[1],))
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "rosen_x.py", wrt=0))
    assert module.rosenbrock_grad(0.5, 2.0) == (tape.gradient(0.5, 2.0)[0],)
    with pytest.raises(UnknownNameError, match="names no input"):
        tapegrad.export(rosenbrock, tmp_path / "bad.py", wrt=["z"])


def test_export_tests_search_for_finite_points(tmp_path: Path) -> None:
    tapegrad.export(outside_unit_range, tmp_path / "domain.py", tests=True)
    source = (tmp_path / "test_domain.py").read_text(encoding="utf-8")
    rows = [line.strip().rstrip(",") for line in source.splitlines() if line.startswith("    ([")]
    points = [ast.literal_eval(row)[0] for row in rows]
    assert len(points) == 3 and all(x < 0 and y > 20 for x, y in points)
    again = tmp_path / "again"
    again.mkdir()
    tapegrad.export(outside_unit_range, again / "domain.py", tests=True)
    assert (again / "test_domain.py").read_text(encoding="utf-8") == source  # the search is deterministic
    result = run_written_tests(tmp_path / "test_domain.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_tests_at_the_users_points(tmp_path: Path) -> None:
    tapegrad.export(outside_unit_range, tmp_path / "domain.py", tests=True, wrt="y", test_points=[[-4.0, 21.0]])
    source = (tmp_path / "test_domain.py").read_text(encoding="utf-8")
    assert "WRT = [1]" in source and "    ([-4.0, 21.0], 0.0, [2.0])," in source
    result = run_written_tests(tmp_path / "test_domain.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_tests_refuse_bad_points_and_nowhere_finite_functions(tmp_path: Path) -> None:
    with pytest.raises(InputTypeError, match=r"at test_points\[0\] the function or its gradient is not finite"):
        tapegrad.export(outside_unit_range, tmp_path / "a.py", tests=True, test_points=[[1.0, 2.0]])
    with pytest.raises(ArgumentCountError, match=r"test_points\[0\] has 1 entries.*takes 2 inputs"):
        tapegrad.export(outside_unit_range, tmp_path / "b.py", tests=True, test_points=[[1.0]])
    with pytest.raises(InputTypeError, match="test_points is empty"):
        tapegrad.export(outside_unit_range, tmp_path / "c.py", tests=True, test_points=[])
    with pytest.raises(InputTypeError, match=r"not finite .* at any of the \d+ test points tried.*pass test_points="):
        tapegrad.export(lambda x: (x - x).log(), tmp_path / "d.py", tests=True)
    assert not list(tmp_path.glob("test_*.py"))


def test_guard_messages_name_the_file_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    here = Path(__file__).resolve()
    monkeypatch.chdir(here.parent.parent)
    source = to_source(tape)
    assert f"at tests/{here.name}:" in source and str(here) not in source
    monkeypatch.chdir(tmp_path)  # the file is not below the working directory: its name alone
    source = to_source(tape)
    assert f"at {here.name}:" in source and str(here.parent) not in source
    with pytest.raises(ValueError, match=rf"x > 0 \(recorded True\) at {here.name}:\d+"):
        load_module(tapegrad.export(tape, tmp_path / "branchy.py")).branchy(-1.0, 2.0)

"""x"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import load_module

import tapegrad
from tapegrad import maximum, minimum, where
from tapegrad.formats.codegen import to_source

from .programs import (
    BINARY,
    COMPARE,
    INF,
    MAKEMORE_SHAPES,
    MLP_SHAPES,
    NAN,
    UNARY,
    Step,
    assert_close,
    assert_same,
    at,
    branchy,
    every_op,
    gradient_tape,
    identical,
    imports_of,
    makemore,
    mlp,
    names_outside_strings,
    random_args,
    run,
    same,
    steps,
)

SUBNORMAL = 5e-324
EDGE_INPUTS = [
    0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, INF, -INF, NAN,
    SUBNORMAL, -SUBNORMAL, 2.2250738585072014e-308, 1e-300, 1e300, -1e300,
    1.7976931348623157e308, 709.0, 710.0, -745.0, 1e16,
]  # fmt: skip
CONSTANTS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 0.1, 1 / 3, -3.5, 1e8, 1e308, SUBNORMAL, INF, -INF, NAN]
EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 1 / 3, 1e-3, -0.0, INF, -INF, NAN]
OPERATIONS = [*UNARY, *BINARY, "pow_const", "where", "select"]


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
    step = steps(OPERATIONS, CONSTANTS, EXPONENTS)
    program = draw(st.lists(step, min_size=1, max_size=12))
    points = draw(st.lists(st.lists(numbers, min_size=count, max_size=count), min_size=4, max_size=4))
    return program, points


_programs = itertools.count()


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


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


def shapes_and_slices(a: Any, b: Any) -> Any:
    """concatenate, stack, reshape, transpose, slices with steps, max and logsumexp over axes."""
    joined = tapegrad.concatenate([a, 2.0 * b, a.T.reshape(2, 3)], axis=0)  # (8, 3)
    stacked = tapegrad.stack([a, a.exp(), a * b[1]], axis=1)  # (2, 3, 3)
    top = joined.max(axis=1, keepdims=True)
    r = (joined - top).sum() + stacked.transpose(2, 0, 1)[1].sum() + tapegrad.logsumexp(joined, axis=0).sum()
    r = r + a[:, 1:3].sum() + a[1, ::-1].sum() + stacked[..., None, -1].sum() + joined[::3, 0].sum()
    return r + tapegrad.concatenate([a, b[:2]], axis=0).mean(axis=0).sum()


def eager_value_and_grad(f: Callable[..., Any], args: Sequence[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    params = [tapegrad.Value(a) for a in args]
    loss = f(*params)
    loss.backward()
    return float(loss.data), [p.grad for p in params]


def gradient_code(tape: tapegrad.Tape) -> tuple[tapegrad.Tape, Callable[..., Any]]:
    g = tapegrad.optimize(tapegrad.grad_tape(tape))
    return g, g.compile("numpy")


# ---------------------------------------------------------------- 1. agreement


@pytest.mark.parametrize("f, shapes", [(mlp, MLP_SHAPES), (makemore, MAKEMORE_SHAPES)], ids=["mlp", "makemore"])
def test_eager_replay_and_compiled_agree(f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    args = random_args(shapes)
    tape = tapegrad.trace(f, *args)
    eager_value, eager_grads = eager_value_and_grad(f, args)
    value, grads = tape.value_and_gradient(*args)
    g, compiled_grad = gradient_code(tape)
    compiled = tape.compile("numpy")
    assert identical(value, compiled(*args)) and identical(eager_value, value)
    for other in random_args(shapes, seed=1), args:  # the recorded point and a new one
        assert identical(tape(*other), compiled(*other))
        replayed, generated = g(*other), compiled_grad(*other)
        assert all(identical(r, c) for r, c in zip(replayed, generated)), "generated code vs replay of its tape"
        for e, c in zip(tape.gradient(*other), generated[1:]):
            assert_close(e, c)
    for e, r in zip(eager_grads, grads):
        assert_close(e, r)


def test_embedding_rows_used_twice_get_both_gradients() -> None:
    """The backward of ``C[contexts]`` adds every pick (``np.add.at``), so a row used twice gets both shares."""
    args = random_args(MAKEMORE_SHAPES)
    tape = tapegrad.trace(makemore, *args)
    g, compiled_grad = gradient_code(tape)
    source = to_source(g, "f", "numpy")
    assert "np.add.at" in source and "_scatter(" in source
    grad_C = compiled_grad(*args)[1]
    h = 1e-6
    for row, col in [(0, 0), (3, 1), (2, 0)]:  # token 0 is picked seven times, token 2 never
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[0][row, col] += h
        down[0][row, col] -= h
        estimate = (tape(*up) - tape(*down)) / (2 * h)
        assert grad_C[row, col] == pytest.approx(estimate, rel=1e-6, abs=1e-9)
    assert np.all(grad_C[2] == 0.0)


def test_concatenate_stack_reshape_transpose_and_slices() -> None:
    args = random_args([(2, 3), (4, 3)])
    tape = tapegrad.trace(shapes_and_slices, *args)
    g, compiled_grad = gradient_code(tape)
    source = to_source(g, "f", "numpy")
    for piece in ["np.concatenate([a, ", "axis=0)", "np.transpose(", "[:, 1:3]", "[1, ::-1]", "[..., None, -1]",
                  "[::3, 0]", "axis=(1,), keepdims=True"]:  # fmt: skip
        assert piece in source, piece
    compiled = tape.compile("numpy")
    for point in args, random_args([(2, 3), (4, 3)], seed=5):
        assert identical(tape(*point), compiled(*point))
        assert all(identical(r, c) for r, c in zip(g(*point), compiled_grad(*point)))
        for e, c in zip(tape.gradient(*point), compiled_grad(*point)[1:]):
            assert_close(e, c)


def test_boolean_masks_negative_indices_and_integer_arrays() -> None:
    mask = np.array([True, False, True])

    def f(x: Any) -> Any:
        return x[mask].sum() + (x[-1] * x[np.array([2, 2, 0])]).sum() + x[1:, mask][::-1].max()

    x = random_args([(3, 3)])[0]
    tape = tapegrad.trace(f, x)
    g, compiled_grad = gradient_code(tape)
    assert "dtype=np.bool_" in to_source(g, "f", "numpy")
    assert identical(tape(x), tape.compile("numpy")(x))
    assert all(identical(r, c) for r, c in zip(g(x), compiled_grad(x)))


@pytest.mark.parametrize("f, shapes", [(mlp, MLP_SHAPES), (makemore, MAKEMORE_SHAPES)], ids=["mlp", "makemore"])
def test_float32_inputs(f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    """float32 arithmetic all the way, as the interpreter does it."""
    args = random_args(shapes, np.float32)
    tape = tapegrad.trace(f, *args)
    compiled = tape.compile("numpy")
    out = compiled(*args)
    assert identical(tape(*args), out) and np.asarray(out).dtype == np.float32
    g, compiled_grad = gradient_code(tape)
    assert all(identical(r, c) for r, c in zip(g(*args), compiled_grad(*args)))
    for e, c in zip(tape.gradient(*args), compiled_grad(*args)[1:]):
        assert_close(e, c, rtol=1e-5)
    assert ", np.float32)" in to_source(g, "f", "numpy")


def test_gradient_code_of_a_float32_tape_gives_float32_gradients() -> None:
    x = np.ones(3, dtype=np.float32)
    for f in (lambda x: x.sum(), lambda x: (x**2).mean(), lambda x: x.max(), tapegrad.logsumexp):
        tape = tapegrad.trace(f, x)
        _, compiled_grad = gradient_code(tape)
        assert tape.gradient(x)[0].dtype == compiled_grad(x)[1].dtype == np.float32
        assert np.asarray(tape.compile("numpy")(x)).dtype == np.float32


def weak_scalar(x: Any, y: Any) -> Any:
    return (y * x.sum()).sum() * x.mean()  # float64 scalars meeting float32: recorded as float32


def test_a_float64_scalar_does_not_promote_float32_as_recorded() -> None:
    x, y = np.arange(3.0), np.ones(3, dtype=np.float32)
    tape = tapegrad.trace(weak_scalar, x, y)
    assert type(tape.values[tape.output_slots[0]]) is not float  # recorded: float32
    source = to_source(tape, "f", "numpy")
    assert "y * float(t0)" in source  # numpy's float64 scalar is strong; a Python float is weak
    out = tape.compile("numpy")(x, y)
    assert out.dtype == np.float32 and out == 9.0


def test_a_float64_scalar_meeting_float32_arrays_replays_as_recorded() -> None:
    x, y = np.arange(3.0), np.ones(3, dtype=np.float32)
    tape = tapegrad.trace(weak_scalar, x, y)
    assert identical(tape.compile("numpy")(x, y), tape(x, y))


# ---------------------------------------------------------------- 4. strong zeros


def test_strong_zeros_survive_broadcasting_records() -> None:
    """Where ``where`` sends a zero adjoint, sqrt's infinite derivative must not make a nan, broadcast or not."""

    def f(x: Any, b: Any) -> Any:
        return tapegrad.where(x > 0.0, (x * b).sqrt(), 0.0).sum()

    x = np.array([[0.0, 1.0, 4.0], [-1.0, 0.0, 9.0]])
    b = np.array([1.0, 0.0, 2.0])  # x * b is 0 at (0, 0), (0, 1), (1, 1)
    tape = tapegrad.trace(f, x, b)
    g, compiled_grad = gradient_code(tape)
    assert tape.broadcasts
    grads = compiled_grad(x, b)[1:]
    assert all(identical(r, c) for r, c in zip(g(x, b)[1:], grads))
    assert np.all(np.isfinite(grads[0][x <= 0.0])), grads
    for e, c in zip(tape.gradient(x, b), grads):
        np.testing.assert_array_equal(e, c)

"""The elementwise ops of issue 16 in every engine: the same bits from eager, closure, replay, grad_tape,
optimize and generated math code, numpy code against array replay, and random programs of the new ops."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OPS, OpKind
from tapegrad.errors import MissingToolError
from tapegrad.formats.codegen import compile_tape, to_source
from tapegrad.formats.parse import to_expression
from tapegrad.lab.closure import Value as ClosureValue

from .more_op_cases import (
    BY_CASE,
    CASES,
    INF,
    NAN,
    Case,
    _edge_points,
    bits,
    near,
)

# ---------------------------------------------------------------- every engine, the same bits


def _scalar_engines(case: Case, point: tuple[float, ...]) -> dict[str, list[Any]]:
    """Value and gradient at ``point`` from every engine that computes with floats."""
    leaves = [Value(p) for p in point]
    out = case.call(*leaves)
    out.backward()
    closure = [ClosureValue(p) for p in point]
    closure_out = case.call(*closure)
    closure_out.backward()
    tape = tapegrad.trace(case.call, *case.points[0])
    full = tapegrad.grad_tape(tape)
    optimized = tapegrad.optimize(full)
    value, grads = tape.value_and_gradient(*point)
    return {
        "eager": [out.data, *[v.grad for v in leaves]],
        "closure": [closure_out.data, *[v.grad for v in closure]],
        "replay": [value, *grads],
        "grad_tape": list(full(*point)),
        "optimize": list(optimized(*point)),
        "math code": list(compile_tape(optimized)(*point)),
        "math code, not optimized": list(compile_tape(full)(*point)),
    }


@pytest.mark.parametrize("case", BY_CASE)
def test_every_float_engine_gives_the_same_bits(case: Case) -> None:
    points = list(case.points) + _edge_points(case)[:: 3 if case.arity > 1 else 1]
    for point in points:
        engines = _scalar_engines(case, point)
        expected = [bits(v) for v in engines.pop("eager")]
        for name, got in engines.items():
            assert [bits(v) for v in got] == expected, (name, point, got)


@pytest.mark.parametrize("case", BY_CASE)
def test_array_replay_and_numpy_code_give_the_same_bits(case: Case) -> None:
    points = list(case.points) + _edge_points(case)
    columns = [np.array(column) for column in zip(*points)]
    tape = tapegrad.trace(case.call, *case.points[0])
    optimized = tapegrad.optimize(tapegrad.grad_tape(tape))
    with np.errstate(all="ignore"):
        value, grads = tape.value_and_gradient(*columns)
        generated = compile_tape(optimized, "numpy")(*columns)
        replayed = optimized(*columns)
    expected = [bits(v) for column in (value, *grads) for v in column]
    assert [bits(v) for column in generated for v in column] == expected
    assert [bits(v) for column in replayed for v in column] == expected
    for k, point in enumerate(points):  # and the float engines, within an ulp or two of numpy's functions
        floats = tape.value_and_gradient(*point)
        assert near(value[k], floats[0]), (point, value[k], floats[0])
        assert all(near(g[k], f, ulps=8) for g, f in zip(grads, floats[1])), point


# ---------------------------------------------------------------- names: parser, sympy, operators, imports


def test_parse_reads_the_new_functions() -> None:
    tape = tapegrad.parse("atan2(y, x) + asin(x)")
    assert tape.inputs == ("y", "x")
    assert tape(0.5, 0.25) == math.atan2(0.5, 0.25) + math.asin(0.25)
    assert tapegrad.parse("clip(x, 0, 1) + mod(x, 2) + floor_divide(x, 2)")(3.5) == 1.0 + 1.5 + 1.0
    for case in CASES:  # every new op reads back from its expression text
        tape = tapegrad.trace(case.call, *case.points[0], names=[f"x{i}" for i in range(case.arity)])
        text = to_expression(tape)
        assert OPS[case.kind].parse_name + "(" in text
        again = tapegrad.parse(text, [f"x{i}" for i in range(case.arity)])
        assert bits(again(*case.points[1])) == bits(tape(*case.points[1]))


def test_from_sympy_reads_every_sympy_function_of_the_table() -> None:
    x, y = sp.symbols("x y", real=True)
    tape = tapegrad.from_sympy(sp.asin(x), [x])
    assert tape(0.5) == math.asin(0.5) and tape.gradient(0.5)[0] == pytest.approx(1 / math.sqrt(0.75), rel=1e-15)
    for op in OPS[OpKind.TAN :]:
        if not op.sympy_name:
            continue
        expr = getattr(sp, op.sympy_name)(*(x, y)[: op.arity])
        tape = tapegrad.from_sympy(expr, [x, y])
        assert tape.records[-1].op is op.kind, op.name
        assert tape.to_sympy() == expr, op.name


def test_symbolic_export_of_the_new_ops() -> None:
    x, y = sp.symbols("x y", positive=True)
    tape = tapegrad.trace(lambda a, b: a.atan2(b) + a.log1p() + (a % b), 1.0, 2.0)
    assert sp.simplify(tape.to_sympy([x, y]) - (sp.atan2(x, y) + sp.log(1 + x) + sp.Mod(x, y))) == 0
    assert tapegrad.trace(lambda a: a.floor(), 1.0).to_sympy([x]) == sp.floor(x)
    assert tapegrad.trace(lambda a: a.hypot(2.0), 1.0).to_sympy([x]) == sp.sqrt(x**2 + 4)


def test_value_operators_percent_and_floor_division() -> None:
    x = Value(7.5)
    assert (x % 2).data == 1.5 and (8 % x).data == 0.5 and (x // 2).data == 3.0 and (16 // x).data == 2.0
    c = ClosureValue(7.5)
    assert (c % 2).data == 1.5 and (8 % c).data == 0.5 and (c // 2).data == 3.0 and (16 // c).data == 2.0
    y = Value(-7.5)
    (y % 2.0).backward()
    assert y.grad == 1.0


def test_numpy_code_imports_scipy_special_only_for_erf() -> None:
    plain = tapegrad.trace(lambda x: x.asin() + x.softplus(), 0.5)
    assert "scipy" not in to_source(tapegrad.optimize(tapegrad.grad_tape(plain)), backend="numpy")
    special = tapegrad.trace(lambda x: x.erf() * x.erfc(), 0.5)
    source = to_source(tapegrad.optimize(tapegrad.grad_tape(special)), backend="numpy")
    assert "import numpy as np\nimport scipy.special\n" in source
    assert "scipy.special.erf(x)" in source and "scipy.special.erfc(x)" in source
    assert "scipy" not in to_source(special, backend="math")


def test_erf_of_arrays_without_scipy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    tape = tapegrad.trace(lambda x: x.erf(), 0.5)
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # import scipy.special now raises ImportError
    assert tape(0.5) == math.erf(0.5)  # floats need only math
    with pytest.raises(MissingToolError, match=r"pip install 'tapegrad\[special\]'"):
        tape(np.array([0.5]))
    with pytest.raises(MissingToolError, match="scipy"):
        Value(np.array([0.5])).erf()
    with pytest.raises(MissingToolError, match=r"tapegrad\[special\]"):
        to_source(tape, backend="numpy")


def test_tape_files_and_pictures_name_the_new_ops() -> None:
    tape = tapegrad.trace(lambda x, y: x.atan2(y).clip(-1.0, 1.0) + (x // y) + x.erfc(), 0.5, 2.0)
    again = tapegrad.io.loads(tapegrad.io.dumps(tape))
    assert [r.op for r in again.records] == [r.op for r in tape.records]
    assert bits(again(0.3, -1.5)) == bits(tape(0.3, -1.5))
    picture = tapegrad.dot.to_dot(tape)
    assert "atan2" in picture and "clip" in picture and "floor_divide" in picture


# ---------------------------------------------------------------- random programs of the new ops

_UNARY_METHODS = [str(case.kind) for case in CASES if case.arity == 1]
_BINARY_METHODS = ["atan2", "hypot", "logaddexp", "fmod", "mod", "floor_divide"]
_NUMBERS = st.sampled_from([0.0, -0.0, 0.5, -1.0, 1.0, 2.0, -2.5, 7.25, 1e-8, 1e8, 700.0, INF, -INF, NAN])


@st.composite
def _programs(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[tuple[float, float]]]:
    """A few instructions over two inputs (each: an op, two earlier results, a constant), and points."""
    ops = st.sampled_from([*_UNARY_METHODS, *_BINARY_METHODS, "clip", "add", "mul"])
    picks = st.integers(0, 20)
    program = draw(st.lists(st.tuples(ops, picks, picks, _NUMBERS, st.booleans()), min_size=1, max_size=6))
    ordinary = st.floats(-4.0, 4.0, allow_nan=False)
    points = draw(st.lists(st.tuples(st.one_of(ordinary, _NUMBERS), st.one_of(ordinary, _NUMBERS)), min_size=3,
                           max_size=3))  # fmt: skip
    return program, points


def _run(program: Sequence[tuple[Any, ...]], inputs: Sequence[Any]) -> Any:
    results = list(inputs)
    for op, i, j, c, constant in program:
        x, y = results[i % len(results)], results[j % len(results)]
        other = c if constant else y
        if op in _UNARY_METHODS:
            out = getattr(x, op)()
        elif op in _BINARY_METHODS:
            out = getattr(x, op)(other)
        elif op == "clip":
            out = x.clip(other, c)
        else:
            out = x + other if op == "add" else x * other
        results.append(out)
    return results[-1] + results[-2]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs())
def test_random_programs_of_the_new_ops_agree_in_every_engine(case: Any) -> None:
    program, points = case
    tape = tapegrad.trace(lambda x, y: _run(program, (x, y)), 0.5, 1.5)
    optimized = tapegrad.optimize(tapegrad.grad_tape(tape))
    math_code = compile_tape(optimized)
    for point in points:
        leaves = [Value(p) for p in point]
        out = _run(program, leaves)
        out.backward()
        expected = [bits(v) for v in (out.data, *[v.grad for v in leaves])]
        closure = [ClosureValue(p) for p in point]
        closure_out = _run(program, closure)
        closure_out.backward()
        value, grads = tape.value_and_gradient(*point)
        for name, got in {"closure": (closure_out.data, *[v.grad for v in closure]), "replay": (value, *grads),
                          "optimize": optimized(*point), "math code": math_code(*point)}.items():  # fmt: skip
            assert [bits(v) for v in got] == expected, (name, point)
    columns = [np.array(column) for column in zip(*points)]
    with np.errstate(all="ignore"):
        value, grads = tape.value_and_gradient(*columns)
        generated = compile_tape(optimized, "numpy")(*columns)
    assert [bits(v) for column in generated for v in column] == [bits(v) for c in (value, *grads) for v in c]

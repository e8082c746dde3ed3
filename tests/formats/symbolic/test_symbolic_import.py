"""Sympy expressions as tapes (``from_sympy``), deep formulas, and what sympy cannot do.

- ``from_sympy`` evaluates like sympy, records a repeated subexpression once,
  takes list and tuple outputs, and its tapes have gradients;
- deep formulas import, differentiate and export without a RecursionError;
- where sympy cannot follow the tape (complex infinity, nan under maximum and
  relu, sympy's own recursion), export gives the tape's number or a clear
  error, never a wrong formula.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Sequence
from typing import Any

import pytest
import sympy as sp

import tapegrad
import tapegrad.formats.symbolic
from tapegrad import maximum, minimum, where
from tapegrad.core.ops import OPS, Op, OpKind
from tapegrad.errors import (
    TapegradError,
)

from .formulas import ANY, X, Y, at, close, random_points, symbolic

# ---------------------------------------------------------------- from_sympy


def test_from_sympy_records_a_repeated_subexpression_once() -> None:
    inner = sp.sin(X * Y)
    tape = tapegrad.from_sympy(inner + inner**2 + sp.exp(inner) * inner, [X, Y])
    assert tape.stats()["sin"] == 1 and tape.stats().get("exp") == 1
    assert tape.ops.count(OpKind.MUL) <= 3  # x*y, exp(s)*s, and nothing recomputed
    assert close(tape(0.3, 0.7), at(inner + inner**2 + sp.exp(inner) * inner, (X, Y), (0.3, 0.7)))


IMPORTS: list[tuple[str, Any]] = [
    ("piecewise", sp.Piecewise((X * Y, X > Y), (X - Y, X < -Y), (sp.sin(X), True))),
    ("piecewise without otherwise", sp.Piecewise((X, X > 0), (Y, Y > 0))),
    ("and", sp.Piecewise((X, sp.And(X > 0, Y < 1)), (Y, True))),
    ("or", sp.Piecewise((X, sp.Or(X > 1, Y <= 0)), (-Y, True))),
    ("not", sp.Piecewise((X, sp.Not(sp.And(X > 0, Y > 0), evaluate=False)), (Y, True))),
    ("equality", sp.Piecewise((X, sp.Eq(X, 0.5)), (Y, sp.Ne(Y, 0.25)), (0, True))),
    ("relations as numbers", sp.Piecewise((1, X >= Y), (0, True)) + sp.Piecewise((2, X <= Y), (0, True))),
    ("max and min", sp.Max(X, Y, 0.5) - sp.Min(X, Y**2)),
    ("abs", sp.Abs(X - Y) * sp.Abs(X)),
    ("log with a base", sp.log(X, 2) + sp.log(Y + 3, 10)),
    ("unevaluated log with a base", sp.log(X + 2, Y + 3, evaluate=False)),
    ("exp and sqrt", sp.exp(sp.sqrt(X**2 + Y**2))),
    ("rational powers", (X**2 + 1) ** sp.Rational(3, 2) + (Y**2 + 2) ** sp.Rational(-1, 3)),
    ("inverse sqrt", 1 / sp.sqrt(X**2 + 1)),
    ("division", X / Y + 2 * X / (Y + 3) - X / (X + Y * Y + 5)),
    ("negated division", -X / Y),
    ("minus one over", -1 / Y),
    ("minus one over a product", -1 / (X * Y)),
    ("reciprocal of a product", 1 / (X * Y)),
    ("constants", sp.pi * X + sp.E * Y + sp.Rational(1, 3) + sp.sqrt(2)),
    ("general power", (X**2 + 1) ** Y + 2**X),
    ("trigonometry", sp.sin(X) * sp.cos(Y) + sp.tanh(X * Y)),
    ("bare input", X),
    ("number", sp.Integer(7)),
]


@pytest.mark.parametrize("name, expr", IMPORTS, ids=[i[0] for i in IMPORTS])
def test_from_sympy_evaluates_like_sympy(name: str, expr: Any) -> None:
    tape = tapegrad.from_sympy(expr, [X, Y])
    for point in random_points(name, 6, 2, ANY) + [(0.5, 0.25), (0.0, 1.0)]:
        expected = expr.subs({X: sp.Float(point[0], 30), Y: sp.Float(point[1], 30)}).evalf(30)
        got = tape(*point)
        if expected is sp.zoo:  # a pole: IEEE gives an infinity, or nan for 0/0 inside
            assert math.isinf(got) or math.isnan(got), point
        elif expected is sp.nan or expected.is_real is False:  # undefined, or outside the reals
            assert math.isnan(got), point
        else:
            assert close(got, float(expected)), (point, got, expected)


def test_from_sympy_list_and_tuple_outputs() -> None:
    as_list = tapegrad.from_sympy([X * Y, X + Y], [X, Y])
    as_tuple = tapegrad.from_sympy((X * Y, X + Y), [X, Y])
    assert as_list(2.0, 3.0) == [6.0, 5.0] and as_tuple(2.0, 3.0) == (6.0, 5.0)
    assert as_list.outputs == ("out0", "out1")
    assert as_tuple.to_sympy() == (X * Y, X + Y)


def test_from_sympy_tapes_have_gradients() -> None:
    expr = sp.sin(X * Y) + sp.exp(X) * Y
    tape = tapegrad.from_sympy(expr, [X, Y])
    g = tapegrad.grad_tape(tape)
    value, gx, gy = g(0.3, -1.2)
    point = (0.3, -1.2)
    assert close(value, at(expr, (X, Y), point))
    assert close(gx, at(sp.diff(expr, X), (X, Y), point)) and close(gy, at(sp.diff(expr, Y), (X, Y), point))
    assert [sp.simplify(a - sp.diff(expr, s)) for a, s in zip(symbolic.gradient(tape), (X, Y))] == [0, 0]


DEPTH = 3000


def test_a_deep_nested_function_imports_and_differentiates() -> None:
    expr = X
    for _ in range(DEPTH):
        expr = sp.sin(expr, evaluate=False)  # sympy's own evaluation recurses on deep trees
    tape = tapegrad.from_sympy(expr, [X])
    assert tape.stats()["sin"] == DEPTH
    x, value, derivative = 0.7, 0.7, 1.0
    for _ in range(DEPTH):
        value, derivative = math.sin(value), derivative * math.cos(value)
    assert close(tape(x), value)
    assert close(tapegrad.grad_tape(tape)(x)[1], derivative)
    replacements, (exported,) = symbolic.gradient(tape, cse=True)
    env = {X: sp.Float(x, 30)}
    for name, rhs in replacements:
        env[name] = rhs.xreplace(env).evalf(30)
    assert close(float(exported.xreplace(env).evalf(30)), derivative)


def test_a_deep_nested_sum_imports_and_differentiates() -> None:
    expr = X
    for _ in range(DEPTH):
        expr = sp.Add(sp.Mul(sp.Rational(1, 2), expr, evaluate=False), sp.sin(Y), evaluate=False)
    tape = tapegrad.from_sympy(expr, [X, Y])
    assert tape.stats()["sin"] == 1  # the shared sin(y) once
    assert close(tape(1.0, 0.5), 2 * math.sin(0.5))
    assert close(tape.gradient(1.0, 0.5)[1], 2 * math.cos(0.5))
    replacements, exprs = symbolic.gradient(tape, cse=True)
    env = {X: sp.Float(1.0, 30), Y: sp.Float(0.5, 30)}
    for name, rhs in replacements:
        env[name] = rhs.xreplace(env).evalf(30)
    assert close(float(exprs[1].xreplace(env).evalf(30)), 2 * math.cos(0.5), rel=1e-12)


def test_plain_export_of_a_deep_tape_is_not_a_recursion_error() -> None:
    """A formula too deep for sympy to build is refused with advice (the cse form), not a RecursionError."""

    def deep(x: Any) -> Any:
        for _ in range(DEPTH):
            x = x.sin()
        return x

    tape = tapegrad.trace(deep, 0.5)
    try:
        tape.to_sympy()
    except RecursionError:  # pragma: no cover - the failure this test exists to catch
        pytest.fail("to_sympy of a 3000-deep tape raised RecursionError from inside sympy")
    except TapegradError as error:
        assert "cse=True" in str(error)
    replacements, _ = tape.to_sympy(cse=True)
    assert len(replacements) >= DEPTH // 10


# ---------------------------------------------------------------- what sympy cannot do (issue 14 items 6, 7)


def _printed(expr: Any) -> list[str]:
    """``expr`` as every sympy printer writes it."""
    from sympy.printing.numpy import NumPyPrinter

    return [str(expr), sp.pycode(expr), sp.ccode(expr), sp.latex(expr), NumPyPrinter().doprint(expr)]


def test_complex_infinity_exports_as_the_infinity_the_tape_computes() -> None:
    """sympy's log(0) is zoo, which no code printer can write; the tape's log(0) is -inf, so the formula's is -oo."""
    tape = tapegrad.trace(lambda y: 0.0**y, 1.0)
    gradient = symbolic.gradient(tape)
    replacements, exprs = symbolic.gradient(tape, cse=True)
    for expr in [*gradient, *exprs, *(rhs for _, rhs in replacements)]:
        assert not expr.has(sp.zoo)
        for text in _printed(expr):
            assert "zoo" not in text and "ComplexInfinity" not in text and "tilde" not in text
    assert "-math.inf" in sp.pycode(gradient[0]) and "-INFINITY" in sp.ccode(gradient[0])
    assert "zoo" not in symbolic.latex(tape) and "\\tilde" not in symbolic.latex(tape)
    y = sp.Symbol("y")
    assert gradient[0].subs(y, 2) == 0 and tape.gradient(2.0) == (0.0,)
    # constants on their own: exactly what the float kernels give
    x = sp.Symbol("x")
    cases = {
        (lambda x: x + (x * 0.0 + 1.0).log() + (x * 0.0).log()): -sp.oo,  # log(0)
        (lambda x: x / 0.0): sp.Piecewise((sp.oo, x > 0), (-sp.oo, x < 0), (sp.nan, True)),
        (lambda x: x**-1.0 + (x * 0.0) ** -1.0): x**-1 + sp.oo,  # 0 ** -1
    }
    for f, want in cases.items():
        got = tapegrad.trace(f, 1.0).to_sympy()
        assert not got.has(sp.zoo)
        if want == -sp.oo:
            assert got == x - sp.oo
        else:
            assert got == want
    quotient = tapegrad.trace(lambda x: x / 0.0, 1.0)
    formula = sp.lambdify(x, quotient.to_sympy(), "math")
    for point in (2.0, -2.0, 0.0):
        assert repr(formula(point)) == repr(quotient(point))


def test_no_op_of_the_table_gives_sympy_complex_infinity() -> None:
    """Every elementwise op on zeros, infinities and nan: never zoo, never a raw sympy error."""
    x = sp.Symbol("x")
    operands = [x, sp.Integer(0), sp.Integer(1), sp.Integer(-2), sp.oo, -sp.oo, sp.nan, sp.Rational(1, 2)]
    domain = tapegrad.formats.symbolic.SYMPY
    for op in OPS:
        rule = domain.forward[op.kind]
        if rule is None or not op.elementwise or op.arity == 0:
            continue
        attrs: list[tuple[Any, ...]] = [(2.0,), (-1.0,), (0.5,)] if op.has_attr else [()]
        for args in __import__("itertools").product(operands, repeat=op.arity):
            for attr in attrs:
                try:
                    result = rule(*args, *attr)
                except tapegrad.errors.SymbolicLimitError as error:
                    assert sp.nan in args and "cannot export" in str(error) and "compare with nan" in str(error)
                    continue
                assert not (isinstance(result, sp.Basic) and result.has(sp.zoo)), (op.name, args, attr)
                if all(a.is_number for a in args) and _sympy_fails(op, args, attr):  # the kernel's value
                    want = float(op.scalar(*[float(a) for a in args], *attr))
                    got = float(1.0 if result is sp.true else 0.0 if result is sp.false else result)
                    assert got == want or (math.isnan(got) and math.isnan(want)), (op.name, args, attr, result, want)


def _sympy_fails(op: Op, args: Sequence[Any], attr: Sequence[Any]) -> bool:
    """Whether the op's own sympy rule gives zoo or raises (where the export uses the float kernel)."""
    assert op.symbolic is not None
    try:
        raw = op.symbolic(sp, *args, *[sp.Float(a) for a in attr])
    except (TypeError, ValueError):
        return True
    return isinstance(raw, sp.Basic) and raw.has(sp.zoo)


def test_nan_under_maximum_and_relu_is_exported_or_refused_clearly() -> None:
    nan = float("nan")
    assert tapegrad.trace(lambda x: maximum(x * 0.0 + nan, 1.0).relu(), 1.0).to_sympy() is sp.nan
    assert tapegrad.trace(lambda x: x + (x * 0.0 + nan > 1.0), 1.0).to_sympy() == sp.Symbol("x")
    for f in (lambda x: maximum(x, nan), lambda x: minimum(nan, x), lambda x: where(x > nan, x, 1.0)):
        tape = tapegrad.trace(f, 1.0)
        for cse in (False, True):
            with pytest.raises(tapegrad.errors.SymbolicLimitError, match=r"cannot export \w+\(.*nan.*\) as a formula"):
                tape.to_sympy(cse=cse)
        with pytest.raises(tapegrad.errors.SymbolicLimitError, match="sympy refuses to compare with nan"):
            symbolic.gradient(tape)


def test_sympy_recursion_is_reported_and_never_suggests_a_remedy_that_fails() -> None:
    """Under any recursion limit: a formula, or SymbolicLimitError; cse=True is suggested only when it works."""

    def f(x: Any, y: Any) -> Any:
        condition = where(x > y, x + 1.0 > y, y > x * 2.0)
        return where(condition, (x * y).sin(), (x - y).exp())

    tape = tapegrad.trace(f, 1.0, 2.0)
    base = len(inspect.stack())
    outcomes = set()
    for extra in range(30, 160, 5):
        for cse in (False, True):
            old = sys.getrecursionlimit()
            sys.setrecursionlimit(base + extra)
            try:
                tape.to_sympy(cse=cse)
                outcomes.add("built")
            except tapegrad.errors.SymbolicLimitError as error:
                outcomes.add("refused")
                message = str(error)
                assert "recurs" in message or "nests too deeply" in message
                if "cse=True" in message:
                    tape.to_sympy(cse=True)  # the advice works
                else:
                    assert "tape.compile()" in message
            except RecursionError:  # pragma: no cover - the failure this test exists to catch
                pytest.fail(f"raw RecursionError with cse={cse} at recursion limit +{extra}")
            finally:
                sys.setrecursionlimit(old)
    assert outcomes == {"built", "refused"}

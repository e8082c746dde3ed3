"""Symbolic export checked against sympy: a corpus of formulas and every rule of the op table.

- a verification corpus of formulas, each written once over tapegrad Values
  and once in sympy: the exported gradient equals ``sympy.diff`` of the
  formula, the exported Hessian equals ``sympy.hessian`` (also ``wrt=``), and
  ``from_sympy(to_sympy(tape))`` evaluates like the tape;
- every backward rule of the op table, run over sympy symbols, equals
  ``g * diff(forward rule)`` (so a new op is checked without a new test).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sympy as sp

import tapegrad
import tapegrad.formats.symbolic
from tapegrad import maximum, minimum, where
from tapegrad.core.ops import OPS, Op, OpKind
from tapegrad.errors import (
    InputTypeError,
    UnknownNameError,
)

from .formulas import ANY, POSITIVE, X, Y, Z, at, close, random_points, symbolic

REAL = (X, Y, Z)

POINTS_PER_CASE = 5


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One formula, written over tapegrad Values (``f``) and in sympy (``formula``).

    ``f`` is defined at 1.0 for each parameter (where ``gradient`` traces
    it); points are drawn from ``domain``.  ``exact`` cases are also checked
    with ``sympy.simplify``; ``hessian`` cases also have their Hessian checked.
    """

    name: str
    f: Callable[..., Any]
    formula: Callable[..., Any]
    domain: tuple[float, float] = ANY
    exact: bool = False
    hessian: bool = False

    @property
    def arity(self) -> int:
        return len(inspect.signature(self.f).parameters)

    @property
    def symbols(self) -> tuple[Any, ...]:
        return REAL[: self.arity]

    def points(self) -> list[tuple[float, ...]]:
        return random_points(self.name, POINTS_PER_CASE, self.arity, self.domain)


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + sp.exp(-x))


# fmt: off
CORPUS: list[Case] = [
    # elementary functions
    Case("exp", lambda x: x.exp(), lambda x: sp.exp(x), exact=True, hessian=True),
    Case("log", lambda x: x.log(), lambda x: sp.log(x), POSITIVE, exact=True, hessian=True),
    Case("sin", lambda x: x.sin(), lambda x: sp.sin(x), exact=True),
    Case("cos", lambda x: x.cos(), lambda x: sp.cos(x), exact=True),
    Case("tanh", lambda x: x.tanh(), lambda x: sp.tanh(x), exact=True, hessian=True),
    Case("sigmoid", lambda x: x.sigmoid(), _sigmoid, exact=True, hessian=True),
    Case("sqrt", lambda x: x.sqrt(), lambda x: sp.sqrt(x), POSITIVE, exact=True, hessian=True),
    Case("abs", lambda x: abs(x), lambda x: sp.Abs(x)),
    Case("relu", lambda x: x.relu(), lambda x: sp.Max(x, 0)),
    Case("cube", lambda x: x**3, lambda x: x**3, exact=True, hessian=True),
    Case("inverse square", lambda x: x**-2, lambda x: x**-2, POSITIVE, exact=True),
    Case("power 0.5", lambda x: x**0.5, lambda x: sp.sqrt(x), POSITIVE),
    Case("power 2.5", lambda x: x**2.5, lambda x: x ** sp.Rational(5, 2), POSITIVE, hessian=True),
    Case("two to the x", lambda x: 2**x, lambda x: 2**x),
    Case("x to the x", lambda x: x**x, lambda x: x**x, POSITIVE, hessian=True),
    Case("reciprocal", lambda x: 1 / x, lambda x: 1 / x, POSITIVE, exact=True),
    Case("polynomial", lambda x: x**3 - 2 * x + 1, lambda x: x**3 - 2 * x + 1, exact=True),
    Case("tanh squared", lambda x: x.tanh() ** 2, lambda x: sp.tanh(x) ** 2),
    # compositions, products, quotients
    Case("x over 1 + x^2", lambda x: x / (1 + x * x), lambda x: x / (1 + x**2), exact=True, hessian=True),
    Case("sin of square", lambda x: (x * x).sin(), lambda x: sp.sin(x**2), exact=True),
    Case("exp of sin", lambda x: x.sin().exp(), lambda x: sp.exp(sp.sin(x)), exact=True, hessian=True),
    Case("softplus", lambda x: (x.exp() + 1).log(), lambda x: sp.log(sp.exp(x) + 1), hessian=True),
    Case("tanh of tanh", lambda x: x.tanh().tanh(), lambda x: sp.tanh(sp.tanh(x))),
    Case("sqrt of 1 + cos^2", lambda x: (1 + x.cos() ** 2).sqrt(), lambda x: sp.sqrt(1 + sp.cos(x) ** 2)),
    Case("sin times cos", lambda x: x.sin() * x.cos(), lambda x: sp.sin(x) * sp.cos(x), exact=True),
    Case("logistic ratio", lambda x: x.exp() / (1 + x.exp()), lambda x: sp.exp(x) / (1 + sp.exp(x))),
    Case("log of 1 + x^2", lambda x: (x * x + 1).log(), lambda x: sp.log(x**2 + 1), exact=True),
    Case("x log x", lambda x: x * x.log(), lambda x: x * sp.log(x), POSITIVE, exact=True, hessian=True),
    Case("exp of sqrt", lambda x: x.sqrt().exp(), lambda x: sp.exp(sp.sqrt(x)), POSITIVE),
    Case("swish", lambda x: x.sigmoid() * x, lambda x: x * _sigmoid(x)),
    Case("damped sine", lambda x: (-x).exp() * x.sin(), lambda x: sp.exp(-x) * sp.sin(x), exact=True),
    Case("cos over 2 + sin", lambda x: x.cos() / (2 + x.sin()), lambda x: sp.cos(x) / (2 + sp.sin(x))),
    Case("inverse sqrt of 1 + x^2", lambda x: (x * x + 1) ** -0.5, lambda x: 1 / sp.sqrt(x**2 + 1)),
    # piecewise: abs, maximum, minimum, where, relu, comparisons
    Case("abs of sin", lambda x: abs(x.sin()), lambda x: sp.Abs(sp.sin(x))),
    Case("log of relu + 1", lambda x: (x.relu() + 1).log(), lambda x: sp.log(sp.Max(x, 0) + 1)),
    Case("sqrt of a square", lambda x: ((x - 1) ** 2).sqrt(), lambda x: sp.Abs(x - 1)),
    Case("maximum of x and x^2", lambda x: maximum(x, x * x), lambda x: sp.Max(x, x**2), (0.05, 2.0)),
    Case("minimum of sin and cos", lambda x: minimum(x.sin(), x.cos()), lambda x: sp.Min(sp.sin(x), sp.cos(x))),
    Case("where square or sine", lambda x: where(x > 0, x * x, x.sin()),
         lambda x: sp.Piecewise((x**2, x > 0), (sp.sin(x), True))),
    Case("where exp or line", lambda x: where(x < 0.5, x.exp(), 1 - x),
         lambda x: sp.Piecewise((sp.exp(x), x < sp.Rational(1, 2)), (1 - x, True))),
    Case("comparison as a number", lambda x: (x > 0) * x, lambda x: sp.Piecewise((x, x > 0), (0, True))),
    # two inputs
    Case("product", lambda x, y: x * y, lambda x, y: x * y, exact=True, hessian=True),
    Case("quotient", lambda x, y: x / y, lambda x, y: x / y, POSITIVE, exact=True, hessian=True),
    Case("x to the y", lambda x, y: x**y, lambda x, y: x**y, POSITIVE, hessian=True),
    Case("tanh(xy) over 1 + x^2", lambda x, y: (x * y).tanh() / (1 + x * x),
         lambda x, y: sp.tanh(x * y) / (1 + x**2), hessian=True),
    Case("sin(xy) + y exp(x)", lambda x, y: (x * y).sin() + x.exp() * y,
         lambda x, y: sp.sin(x * y) + sp.exp(x) * y, exact=True, hessian=True),
    Case("norm", lambda x, y: (x * x + y * y).sqrt(), lambda x, y: sp.sqrt(x**2 + y**2), hessian=True),
    Case("maximum", lambda x, y: maximum(x, y), lambda x, y: sp.Max(x, y)),
    Case("minimum of xy and x + y", lambda x, y: minimum(x * y, x + y), lambda x, y: sp.Min(x * y, x + y)),
    Case("where x > y", lambda x, y: where(x > y, x - y, (y - x) ** 2),
         lambda x, y: sp.Piecewise((x - y, x > y), ((y - x) ** 2, True))),
    Case("sigmoid of a difference", lambda x, y: (x - y).sigmoid(), lambda x, y: _sigmoid(x - y)),
    Case("log x exp y", lambda x, y: x.log() * y.exp(), lambda x, y: sp.log(x) * sp.exp(y), POSITIVE,
         exact=True, hessian=True),
    Case("tanh of x over 1 + y^2", lambda x, y: (x / (1 + y * y)).tanh(), lambda x, y: sp.tanh(x / (1 + y**2))),
    Case("abs of a difference times x", lambda x, y: abs(x - y) * x, lambda x, y: sp.Abs(x - y) * x),
    Case("exp of sin x cos y", lambda x, y: (x.sin() * y.cos()).exp(), lambda x, y: sp.exp(sp.sin(x) * sp.cos(y)),
         hessian=True),
    Case("log of xy + 1", lambda x, y: (x * y + 1).log(), lambda x, y: sp.log(x * y + 1), POSITIVE, exact=True),
    Case("monomial", lambda x, y: x**2 * y**3, lambda x, y: x**2 * y**3, exact=True, hessian=True),
    Case("sum to the y", lambda x, y: (x + y) ** y, lambda x, y: (x + y) ** y, POSITIVE),
    Case("y to the sin x", lambda x, y: y ** x.sin(), lambda x, y: y ** sp.sin(x), POSITIVE),
    Case("relu of a product", lambda x, y: (x * y).relu(), lambda x, y: sp.Max(x * y, 0)),
    Case("softmax component", lambda x, y: x.exp() / (x.exp() + y.exp()),
         lambda x, y: sp.exp(x) / (sp.exp(x) + sp.exp(y))),
    # three inputs
    Case("triple product", lambda x, y, z: x * y * z, lambda x, y, z: x * y * z, exact=True, hessian=True),
    Case("tanh of pair products", lambda x, y, z: (x * y + y * z + z * x).tanh(),
         lambda x, y, z: sp.tanh(x * y + y * z + z * x), hessian=True),
    Case("exp sin square", lambda x, y, z: x.exp() * y.sin() + z**2,
         lambda x, y, z: sp.exp(x) * sp.sin(y) + z**2, exact=True, hessian=True),
    Case("norm of three", lambda x, y, z: (x * x + y * y + z * z).sqrt(), lambda x, y, z: sp.sqrt(x**2 + y**2 + z**2)),
    Case("maximum of three", lambda x, y, z: maximum(x, maximum(y, z)), lambda x, y, z: sp.Max(x, y, z)),
    Case("where x > 0 of three", lambda x, y, z: where(x > 0, y * z, y + z),
         lambda x, y, z: sp.Piecewise((y * z, x > 0), (y + z, True))),
    Case("gated sigmoid", lambda x, y, z: (x - y).sigmoid() * z, lambda x, y, z: _sigmoid(x - y) * z),
    Case("power times z", lambda x, y, z: x**y * z, lambda x, y, z: x**y * z, POSITIVE, hessian=True),
    Case("logsumexp", lambda x, y, z: (x.exp() + y.exp() + z.exp()).log(),
         lambda x, y, z: sp.log(sp.exp(x) + sp.exp(y) + sp.exp(z)), hessian=True),
    Case("sin of a mixed sum", lambda x, y, z: (x / (y * y + 1) + z).sin(), lambda x, y, z: sp.sin(x / (y**2 + 1) + z)),
]
# fmt: on

HESSIAN_CASES = [c for c in CORPUS if c.hessian]


def by_name(cases: Sequence[Case]) -> dict[str, Any]:
    return {"argvalues": cases, "ids": [c.name for c in cases]}


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 60
    assert len({c.name for c in CORPUS}) == len(CORPUS)
    assert {c.arity for c in CORPUS} == {1, 2, 3}
    assert len(HESSIAN_CASES) >= 20
    kinds = set()
    for case in CORPUS:
        kinds |= set(tapegrad.trace(case.f, *[1.0] * case.arity).ops)
    backward_only = (OpKind.SMUL, OpKind.SDIV, OpKind.GATE)  # only gradient tapes record them
    differentiable = {op.kind for op in OPS if op.vjp is not None and op.elementwise and op.kind not in backward_only}
    differentiable = {k for k in differentiable if k < OpKind.TAN}  # issue 16's ops: tests/core/test_more_ops.py
    assert differentiable <= kinds, f"no corpus formula uses {differentiable - kinds}"


@pytest.mark.parametrize("case", **by_name(CORPUS))
def test_export_is_the_formula(case: Case) -> None:
    """The corpus is self-consistent: each tape exports to its sympy formula."""
    exported = tapegrad.trace(case.f, *[1.0] * case.arity).to_sympy(symbols=case.symbols)
    formula = case.formula(*case.symbols)
    for point in case.points():
        assert close(at(exported, case.symbols, point), at(formula, case.symbols, point)), point


@pytest.mark.parametrize("case", **by_name(CORPUS))
def test_gradient_is_sympy_diff(case: Case) -> None:
    formula = case.formula(*case.symbols)
    ours = symbolic.gradient(case.f, symbols=case.symbols)
    theirs = [sp.diff(formula, s) for s in case.symbols]
    assert isinstance(ours, list) and len(ours) == case.arity
    assert all(isinstance(a, sp.Expr) for a in ours), f"a gradient is a number, not a condition: {ours}"
    for point in case.points():
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert close(at(a, case.symbols, point), at(b, case.symbols, point)), (k, point, a, b)
    if case.exact:
        for a, b in zip(ours, theirs):
            assert sp.simplify(a - b) == 0, (a, b)


@pytest.mark.parametrize("case", **by_name(HESSIAN_CASES))
def test_hessian_is_sympy_hessian(case: Case) -> None:
    ours = symbolic.hessian(case.f, symbols=case.symbols)
    theirs = sp.hessian(case.formula(*case.symbols), case.symbols)
    assert isinstance(ours, sp.Matrix) and ours.shape == theirs.shape == (case.arity, case.arity)
    for point in case.points()[:3]:
        for a, b in zip(ours, theirs):
            assert close(at(a, case.symbols, point), at(b, case.symbols, point)), (point, a, b)


@pytest.mark.parametrize("case", **by_name(CORPUS))
def test_round_trip_evaluates_like_the_tape(case: Case) -> None:
    """``from_sympy(tape.to_sympy(), symbols)`` computes what ``tape`` does."""
    tape = tapegrad.trace(case.f, *[1.0] * case.arity)
    symbols = [sp.Symbol(name) for name in tape.inputs]
    back = tapegrad.from_sympy(tape.to_sympy(), symbols)
    assert back.inputs == tape.inputs
    for point in case.points():
        assert close(back(*point), tape(*point)), point


@pytest.mark.parametrize("case", **by_name(CORPUS))
def test_gradient_round_trip_evaluates_like_the_gradient(case: Case) -> None:
    """The exported gradient, imported again, computes ``tape.gradient``."""
    tape = tapegrad.trace(case.f, *[1.0] * case.arity)
    symbols = [sp.Symbol(name) for name in tape.inputs]
    back = tapegrad.from_sympy(symbolic.gradient(tape), symbols)
    for point in case.points():
        for a, b in zip(back(*point), tape.gradient(*point)):
            assert close(a, b), point


# ---------------------------------------------------------------- every rule of the op table

# Where an op's operands live; other ops take nonzero numbers of either sign.
RULE_DOMAINS: dict[OpKind, tuple[str, ...]] = {
    OpKind.LOG: ("positive",),
    OpKind.SQRT: ("positive",),
    OpKind.POW: ("positive", "any"),
    OpKind.POW_CONST: ("positive",),
    OpKind.WHERE: ("condition", "any", "any"),
}
# Attributes to try for ops that carry one.
RULE_ATTRS: dict[OpKind, tuple[Any, ...]] = {
    OpKind.POW_CONST: (0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 2.5, 3.0, -1.25),
}


def _sample(rng: random.Random, kind: str) -> float:
    if kind == "positive":
        return rng.uniform(0.2, 3.0)
    if kind == "condition":
        return rng.choice([0.0, 1.0, -0.5])
    return rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 3.0)


def _rules() -> list[Any]:
    params = []
    for op in OPS:
        if op.vjp is None or not op.elementwise or op.kind >= OpKind.TAN:  # issue 16's: tests/core/test_more_ops.py
            continue
        attrs = RULE_ATTRS.get(op.kind, ()) if op.has_attr else (None,)
        params += [pytest.param(op, attr, id=op.name if attr is None else f"{op.name}[{attr!r}]") for attr in attrs]
    return params


def test_every_differentiable_op_has_a_sympy_rule_and_is_checked() -> None:
    for op in OPS:
        if op.vjp is not None:
            assert op.symbolic is not None, f"op {op.name} has a vjp but no sympy rule"
            assert not op.elementwise or not op.has_attr or RULE_ATTRS.get(op.kind), (
                f"give example attributes of {op.name} in RULE_ATTRS"
            )
    checked = {p.values[0].kind for p in _rules()}
    assert checked == {op.kind for op in OPS if op.vjp is not None and op.elementwise and op.kind < OpKind.TAN}


@pytest.mark.parametrize("op, attr", _rules())
def test_backward_rule_is_g_times_sympy_diff(op: Op, attr: Any) -> None:
    """The op's ``vjp`` over sympy symbols equals ``g * d(forward)/d(operand)`` for each operand.

    ``None`` (contributes nothing) must mean the derivative is zero.
    """
    operands = sp.symbols(f"a0:{op.arity}", real=True)
    g = sp.Symbol("g", real=True)
    m = symbolic.SYMPY.m
    extra = (attr,) if op.has_attr else ()
    forward = getattr(m, op.name)(*operands, *extra)
    contributions = op.vjp(m, g, forward, *operands, *extra)
    assert len(contributions) == op.arity
    derivatives = [g * sp.diff(forward, a) for a in operands]
    kinds = RULE_DOMAINS.get(op.kind, ("nonzero",) * op.arity)
    rng = random.Random(f"{op.name}{attr!r}")
    symbols = (*operands, g)
    for _ in range(8):
        point = (*[_sample(rng, k) for k in kinds], rng.uniform(-2.0, 2.0))
        for k, (ours, theirs) in enumerate(zip(contributions, derivatives)):
            expected = at(theirs, symbols, point)
            if ours is None:
                assert expected == 0.0, f"{op.name}: operand {k} gets None but its derivative is {theirs}"
            else:
                assert close(at(sp.sympify(ours), symbols, point), expected), (op.name, k, point, ours, theirs)


def test_where_sends_nothing_to_its_condition() -> None:
    m = symbolic.SYMPY.m
    c, a, b, g = sp.symbols("c a b g", real=True)
    dc, da, db = OPS[OpKind.WHERE].vjp(m, g, m.where(c > 0, a, b), c > 0, a, b)
    assert dc is None
    assert da == sp.Piecewise((g, c > 0), (0, True)) and db == sp.Piecewise((0, c > 0), (g, True))


# ---------------------------------------------------------------- hessian wrt=, latex of a Matrix (issue 19 item 5)


def test_hessian_of_only_some_inputs() -> None:
    a, b, c = sp.symbols("a b c")
    expr = a * a * b + c * b * b + a * c + sp.sin(a * c)
    tape = tapegrad.trace(lambda a, b, c: a * a * b + c * b * b + a * c + (a * c).sin(), 1.0, 1.0, 1.0)
    full = sp.hessian(expr, (a, b, c))
    assert symbolic.hessian(tape) == full
    assert symbolic.hessian(tape, wrt=["c", "a"]) == sp.hessian(expr, (c, a))
    assert symbolic.hessian(tape, wrt=1) == sp.Matrix([[2 * c]])
    assert symbolic.hessian(tape, wrt=[0, "b"]) == sp.hessian(expr, (a, b))
    with pytest.raises(UnknownNameError, match="wrt='v' names no input"):
        symbolic.hessian(tape, wrt="v")


def test_hessian_of_only_some_array_inputs() -> None:
    import numpy as np

    tape = tapegrad.trace(lambda W, v: (W @ v).sum() * v.sum(), np.ones((2, 2)), np.ones(2))
    only_v = symbolic.hessian(tape, wrt="v")
    assert only_v.shape == (2, 2)
    full = symbolic.hessian(tape)
    assert full.shape == (6, 6) and full[4:, 4:] == only_v


def test_latex_of_a_matrix() -> None:
    h = symbolic.hessian(lambda x, y: x * x * y)
    assert symbolic.latex(h) == "\\begin{bmatrix}2 y & 2 x\\\\2 x & 0\\end{bmatrix}"
    assert symbolic.latex(sp.Matrix([[sp.Symbol("q")]])) == "\\begin{bmatrix}q\\end{bmatrix}"
    with pytest.raises(InputTypeError, match="latex of a sympy Matrix writes it as it is"):
        symbolic.latex(h, wrt="x")


def test_from_sympy_takes_one_symbol_as_its_inputs() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.from_sympy(x**2 + 1, x)  # was TypeError: 'Symbol' object is not iterable
    assert tape.inputs == ("x",) and tape.gradient(3.0) == (6.0,)
    assert tapegrad.from_sympy(x**2 + 1, [x]).gradient(3.0) == (6.0,)
    with pytest.raises(InputTypeError, match=r"inputs must be sympy Symbols, got int 3"):
        tapegrad.from_sympy(x**2, 3)
    with pytest.raises(InputTypeError, match=r"the symbol 'a\\ud800' holds a lone surrogate"):
        tapegrad.from_sympy(x**2, [x, sp.Symbol("a\ud800")])

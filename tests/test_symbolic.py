"""Symbolic export and import: tapes as sympy expressions, sympy expressions as tapes.

The specification of ``tapegrad.symbolic``:

- a verification corpus of formulas, each written once over tapegrad Values
  and once in sympy: the exported gradient equals ``sympy.diff`` of the
  formula, the exported Hessian equals ``sympy.hessian``, and
  ``from_sympy(to_sympy(tape))`` evaluates like the tape;
- every backward rule of the op table, run over sympy symbols, equals
  ``g * diff(forward rule)`` (so a new op is checked without a new test);
- the cse form keeps the tape's sharing, and grows linearly with the tape;
- constants stay exact, the user's symbols (and their assumptions) are kept;
- bad input gives a warning or a tapegrad error that says what to do;
- LaTeX and Jupyter output.

Numbers are compared at points drawn at random from each formula's domain,
evaluated by sympy to 30 digits, so a difference is the formulas' and not
rounding's.
"""

from __future__ import annotations

import inspect
import math
import random
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sympy as sp

import tapegrad
import tapegrad.symbolic
from tapegrad import maximum, minimum, where
from tapegrad.errors import (
    ArgumentCountError,
    GuardWarning,
    InputTypeError,
    NonScalarOutputError,
    TapegradError,
    UnknownNameError,
    UnsupportedOpError,
)
from tapegrad.ops import OPS, Op, OpKind
from tapegrad.testing import random_program

symbolic = tapegrad.symbolic

X, Y, Z = sp.symbols("x y z", real=True)
REAL = (X, Y, Z)

POSITIVE = (0.3, 2.0)
ANY = (-2.0, 2.0)

POINTS_PER_CASE = 5


# ---------------------------------------------------------------- helpers


def at(expr: Any, symbols: Sequence[Any], point: Sequence[float], digits: int = 30) -> float:
    """``expr`` at ``point``, evaluated by sympy to ``digits`` digits (the point's floats exactly)."""
    exact = {s: sp.Float(v, digits) for s, v in zip(symbols, point)}
    return float(expr.xreplace(exact).evalf(digits))


def close(a: float, b: float, rel: float = 1e-12, floor: float = 1e-20) -> bool:
    """Equal to ``rel`` relative, or both within ``floor`` of zero."""
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), floor)


def random_points(name: str, count: int, arity: int, domain: tuple[float, float]) -> list[tuple[float, ...]]:
    """Reproducible points for ``name``, uniform in ``domain`` per coordinate."""
    rng = random.Random(name)
    return [tuple(rng.uniform(*domain) for _ in range(arity)) for _ in range(count)]


def expand_cse(replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any]) -> list[Any]:
    """The plain expressions of a cse form: substitute the replacements back, last first."""
    out = list(exprs)
    for name, value in reversed(replacements):
        out = [e.xreplace({name: value}) for e in out]
    return out


def cse_size(replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any]) -> int:
    return sum(sp.count_ops(v) for _, v in replacements) + sum(sp.count_ops(e) for e in exprs)


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


# ---------------------------------------------------------------- the cse form


def shared(x: Any, y: Any) -> Any:
    t = x.sin() * y
    return t.exp() + t.tanh() * t


def test_cse_form_keeps_a_shared_slot_once() -> None:
    x, y = sp.symbols("x y")
    replacements, exprs = tapegrad.trace(shared, 1.0, 2.0).to_sympy(cse=True)
    assert [value for _, value in replacements] == [y * sp.sin(x)]
    (t,) = [name for name, _ in replacements]
    assert exprs == [sp.exp(t) + t * sp.tanh(t)]
    everything = [value for _, value in replacements] + list(exprs)
    assert sum(1 for e in everything for node in sp.preorder_traversal(e) if node == sp.sin(x)) == 1


def test_gradient_cse_form_keeps_sharing() -> None:
    x, y = sp.symbols("x y")
    replacements, exprs = symbolic.gradient(shared, cse=True)
    everything = [value for _, value in replacements] + list(exprs)
    assert sum(1 for e in everything for node in sp.preorder_traversal(e) if node == sp.sin(x)) == 1
    assert sum(1 for e in everything for node in sp.preorder_traversal(e) if node == y * sp.sin(x)) <= 1
    assert len(exprs) == 2


CSE_PROGRAMS: list[tuple[str, Callable[..., Any], int]] = [
    ("shared", shared, 2),
    ("random program", random_program(15, inputs=3, seed=4), 3),
    ("x to the y", lambda x, y: (x**y + y**x).log() * (x * y).tanh(), 2),
    ("where", lambda x, y: where(x > y, (x * y).sin(), (x * y).cos()) * (x * y).exp(), 2),
]


@pytest.mark.parametrize("name, f, arity", CSE_PROGRAMS, ids=[p[0] for p in CSE_PROGRAMS])
def test_cse_form_substituted_back_is_the_plain_form(name: str, f: Callable[..., Any], arity: int) -> None:
    tape = tapegrad.trace(f, *[1.0] * arity)
    symbols = [sp.Symbol(n) for n in tape.inputs]
    pairs = [
        (tape.to_sympy(cse=True), [tape.to_sympy()]),
        (symbolic.gradient(tape, cse=True), symbolic.gradient(tape)),
    ]
    for (replacements, exprs), plain in pairs:
        assert isinstance(replacements, list) and all(isinstance(name, sp.Symbol) for name, _ in replacements)
        expanded = expand_cse(replacements, exprs)
        assert len(expanded) == len(plain)
        for point in random_points(name, 3, arity, POSITIVE):
            for a, b in zip(expanded, plain):
                assert close(at(a, symbols, point), at(b, symbols, point)), point


def test_cse_form_size_is_linear_in_the_tape() -> None:
    export_ratios, gradient_ratios = [], []
    for n in (100, 200, 400):
        tape = tapegrad.trace(random_program(n, inputs=10, seed=n), *[0.1] * 10)
        export_ratios.append(cse_size(*tape.to_sympy(cse=True)) / len(tape))
        gradient_ratios.append(cse_size(*symbolic.gradient(tape, cse=True)) / len(tape))
    for ratios in (export_ratios, gradient_ratios):
        assert max(ratios) <= 2 * min(ratios), ratios
        assert max(ratios) < 10, ratios


def test_cse_names_do_not_clash_with_the_inputs() -> None:
    """Inputs named like sympy's ``t0, t1, ...`` keep their names to themselves."""
    tape = tapegrad.trace(lambda a, b: (a * b).sin() * (a * b).sin().exp(), 1.0, 2.0, names=["t0", "t1"])
    for symbols in (None, sp.symbols("t0 t1", positive=True)):
        inputs = [sp.Symbol(n) for n in tape.inputs] if symbols is None else list(symbols)
        forms = (tape.to_sympy(symbols, cse=True), symbolic.gradient(tape, cse=True, symbols=symbols))
        for replacements, exprs in forms:
            names = {str(name) for name, _ in replacements}
            assert names.isdisjoint(tape.inputs), (names, symbols)
            plain = expand_cse(replacements, exprs)
            assert set().union(*[e.free_symbols for e in plain]) <= set(inputs)


# ---------------------------------------------------------------- exact constants and symbols


def test_integers_stay_integers() -> None:
    x = sp.Symbol("x")
    cube = tapegrad.trace(lambda x: x**3, 1.0).to_sympy()
    assert cube == x**3 and isinstance(cube.exp, sp.Integer)
    shifted = tapegrad.trace(lambda x: x + 2, 1.0).to_sympy()
    assert shifted == x + 2 and sp.Integer(2) in shifted.args
    third = tapegrad.trace(lambda x: 2 * x**2 / 3 - 7, 1.0).to_sympy()
    assert third == sp.Rational(2, 3) * x**2 - 7 and not third.atoms(sp.Float)
    assert symbolic.gradient(lambda x: x**3) == [3 * x**2]
    assert not symbolic.gradient(lambda x: x**3 - 2 * x)[0].atoms(sp.Float)
    assert symbolic.hessian(lambda x, y: x**2 * y) == sp.Matrix([[2 * sp.Symbol("y"), 2 * x], [2 * x, 0]])


def test_derived_constants_stay_exact() -> None:
    """A constant the gradient derives from exact ones (log 2 of ``2**x``) stays exact, not a rounded Float."""
    x = sp.Symbol("x")
    assert symbolic.gradient(lambda x: 2**x) == [2**x * sp.log(2)]
    assert symbolic.gradient(lambda x: 3**x * x)[0].atoms(sp.Float) == set()


def test_fractions_keep_their_float_value() -> None:
    x = sp.Symbol("x")
    half = tapegrad.trace(lambda x: x * 0.5, 1.0).to_sympy()
    assert half.coeff(x) == 0.5
    tenth = tapegrad.trace(lambda x: x * 0.1, 1.0).to_sympy().coeff(x)
    assert float(tenth) == 0.1 and sp.Rational(tenth) == sp.Rational(0.1)  # every bit of the float


def test_user_symbols_with_assumptions_are_used() -> None:
    xp = sp.Symbol("x", positive=True)
    tape = tapegrad.trace(lambda x: (x * x).sqrt() + x.log(), 2.0)
    exported = tape.to_sympy(symbols=[xp])
    assert exported == xp + sp.log(xp)  # sqrt(x**2) is x only for positive x
    assert tape.to_sympy() != sp.Symbol("x") + sp.log(sp.Symbol("x"))
    (symbol,) = exported.free_symbols
    assert symbol is xp and symbol.assumptions0 == xp.assumptions0
    (derivative,) = symbolic.gradient(tape, symbols=[xp])
    assert derivative.free_symbols == {xp}


def test_from_sympy_keeps_the_symbols_through_every_export() -> None:
    x, y = sp.symbols("x y", positive=True)
    tape = tapegrad.from_sympy(sp.log(x * y) + x**2, [x, y])
    assert tape.inputs == ("x", "y")
    assert tape.to_sympy() == sp.log(x * y) + x**2
    gradient = symbolic.gradient(tape)
    assert [sp.simplify(a - b) for a, b in zip(gradient, [2 * x + 1 / x, 1 / y])] == [0, 0]
    replacements, exprs = symbolic.gradient(tape, cse=True)
    hessian = symbolic.hessian(tape)
    for expr in [*gradient, *exprs, *[v for _, v in replacements], *hessian]:
        for s in expr.free_symbols - {name for name, _ in replacements}:
            assert s in (x, y) and s.assumptions0["positive"] is True
    assert hessian.free_symbols == {x, y}


def test_non_finite_constants() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.trace(lambda x: (x, math.inf, -math.inf, math.nan, x + math.inf, x * -math.inf), 1.0)
    assert tape.to_sympy() == (x, sp.oo, -sp.oo, sp.nan, x + sp.oo, -sp.oo * x)
    assert symbolic.constant(math.inf) is sp.oo and symbolic.constant(-math.inf) == -sp.oo
    assert symbolic.constant(math.nan) is sp.nan
    back = tapegrad.from_sympy([sp.oo, -sp.oo, sp.nan, x + sp.oo], [x])
    values = back(1.0)
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2]) and values[3] == math.inf


# ---------------------------------------------------------------- bad input


def branchy(x: Any) -> Any:
    if x > 0:
        return x * x
    return -x


def test_guards_warn_and_export_the_recorded_branch() -> None:
    x = sp.Symbol("x")
    with pytest.warns(GuardWarning, match=r"x > 0"):
        assert tapegrad.trace(branchy, 1.0).to_sympy() == x**2
    with pytest.warns(GuardWarning, match=r"recorded False"):
        assert tapegrad.trace(branchy, -1.0).to_sympy() == -x
    with pytest.warns(GuardWarning):
        assert symbolic.gradient(branchy) == [2 * x]  # traced at 1.0: the x > 0 branch
    with pytest.warns(GuardWarning):
        assert tapegrad.trace(branchy, 1.0).to_sympy(cse=True) == ([], [x**2])


def test_guard_warning_points_at_the_callers_line() -> None:
    tape = tapegrad.trace(branchy, 1.0)
    with pytest.warns(GuardWarning) as record:
        tape.to_sympy()
    with pytest.warns(GuardWarning) as through_gradient:
        symbolic.gradient(tape)
    assert [w.filename for w in (*record, *through_gradient)] == [__file__, __file__]


def test_where_exports_as_piecewise_without_a_warning() -> None:
    x = sp.Symbol("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exported = tapegrad.trace(lambda x: where(x > 0, x, -x), 1.0).to_sympy()
        relu = tapegrad.trace(lambda x: x.relu(), 1.0).to_sympy()
    assert isinstance(exported, sp.Piecewise) and exported == sp.Piecewise((x, x > 0), (-x, True))
    assert isinstance(relu, sp.Piecewise)


def test_comparison_outputs_export_as_numbers() -> None:
    """A tape returns 1.0 or 0.0 for a comparison, so its formula is a number too, not a condition."""
    x = sp.Symbol("x")
    tape = tapegrad.trace(lambda x: (x > 0, x * (x > 0)), 1.0)
    step = sp.Piecewise((1, x > 0), (0, True))
    assert tape.to_sympy() == (step, x * step)
    assert tape.to_sympy(cse=True)[1][0] == step
    assert symbolic.gradient(lambda x: (x > 0) * x) == [step]


CLASHING_NAMES = ["E", "I", "S", "N", "beta", "lambda", "pi", "oo", "Q", "O"]


def test_names_that_clash_with_sympy_become_plain_symbols() -> None:
    def f(*v: Any) -> Any:
        return v[0] * v[1] + v[2] * v[3] + v[4] - v[5] + v[6] * v[7] + v[8] / v[9]

    tape = tapegrad.trace(f, *[1.0] * len(CLASHING_NAMES), names=CLASHING_NAMES)
    exported = tape.to_sympy()
    symbols = [sp.Symbol(n) for n in CLASHING_NAMES]
    assert exported == f(*symbols)
    assert exported.free_symbols == set(symbols)
    assert all(type(s) is sp.Symbol for s in exported.free_symbols)
    for constant in (sp.E, sp.I, sp.pi, sp.oo):
        assert not exported.has(constant)
    assert symbolic.gradient(tape)[0] == sp.Symbol("I")
    back = tapegrad.from_sympy(exported, symbols)
    point = [0.5 + k for k in range(len(CLASHING_NAMES))]
    assert close(back(*point), tape(*point))


def test_inputs_with_the_same_name_stay_distinct() -> None:
    tape = tapegrad.trace(lambda a, b: a - b, 1.0, 2.0, names=["x", "x"])
    exported = tape.to_sympy()
    assert exported != 0 and len(exported.free_symbols) == 2
    assert symbolic.gradient(tape) == [1, -1]
    three = tapegrad.trace(lambda a, b, c: a * b - c, 1.0, 2.0, 3.0, names=["x", "x_1", "x"])
    assert len(three.to_sympy().free_symbols) == 3


@pytest.mark.parametrize(
    "expr, function",
    [(sp.gamma(X), "gamma"), (sp.besselj(0, X), "besselj"), (sp.cot(X) + 1, "cot"), (sp.sec(X), "sec")],
)
def test_unsupported_functions_are_named(expr: Any, function: str) -> None:
    with pytest.raises(UnsupportedOpError, match=function) as error:
        tapegrad.from_sympy(expr, [X])
    message = str(error.value)
    assert "supported" in message
    for name in ("exp", "log", "sin", "tanh", "sqrt", "Piecewise", "Max"):
        assert name in message


def test_symbols_not_among_the_inputs_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="y"):
        tapegrad.from_sympy(X * Y, [X])


@pytest.mark.parametrize("expr", [sp.I * X, X + 2 * sp.I, sp.sqrt(-1) * X, sp.zoo * X, X**sp.I])
def test_complex_numbers_are_refused(expr: Any) -> None:
    with pytest.raises(UnsupportedOpError):
        tapegrad.from_sympy(expr, [X])


def test_wrong_symbol_count() -> None:
    tape = tapegrad.trace(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(ArgumentCountError, match="2 inputs"):
        tape.to_sympy(symbols=[X])
    with pytest.raises(ArgumentCountError):
        symbolic.gradient(tape, symbols=[X, Y, Z])
    with pytest.raises(ArgumentCountError):
        tape.to_sympy(symbols=[X, Y, Z], cse=True)


def test_several_outputs_have_no_gradient() -> None:
    tape = tapegrad.trace(lambda x: (x, x * x), 1.0)
    for call in (symbolic.gradient, symbolic.hessian, symbolic.latex):
        with pytest.raises(NonScalarOutputError, match="one scalar output"):
            call(tape)


@pytest.mark.parametrize("inputs", [["x"], [X + 1], [X, X], [1.0]])
def test_from_sympy_inputs_must_be_distinct_symbols(inputs: list[Any]) -> None:
    with pytest.raises(InputTypeError):
        tapegrad.from_sympy(X + 1, inputs)


def test_errors_are_tapegrad_errors() -> None:
    for error in (UnsupportedOpError, UnknownNameError, InputTypeError, ArgumentCountError, NonScalarOutputError):
        assert issubclass(error, TapegradError)


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


# ---------------------------------------------------------------- LaTeX and Jupyter


def test_latex_is_an_aligned_block_of_partials() -> None:
    text = symbolic.latex(lambda x, y: x * y.sin())
    assert text.startswith("\\begin{aligned}") and text.endswith("\\end{aligned}")
    assert "\\frac{\\partial out}{\\partial x} &= \\sin{\\left(y \\right)}" in text
    assert "\\frac{\\partial out}{\\partial y} &= x \\cos{\\left(y \\right)}" in text
    assert "t_{0}" not in text
    only_y = symbolic.latex(lambda x, y: x * y.sin(), wrt=["y"])
    assert "\\partial x}" not in only_y and "\\partial y}" in only_y


def test_latex_names_shared_subexpressions_when_large() -> None:
    program = tapegrad.trace(random_program(30, inputs=3, seed=2), 0.1, 0.2, 0.3)
    text = symbolic.latex(program)
    assert "t_{0} &= " in text and "t_{4} &= " in text
    assert text.count("\\frac{\\partial out}") == 3
    assert "t_{0}" in symbolic.latex(shared, cse=True)
    assert "t_{0}" not in symbolic.latex(program, cse=False)


def test_latex_uses_the_symbols_of_the_inputs() -> None:
    tape = tapegrad.trace(lambda a, b: a * b.sin(), 1.0, 2.0, names=["x", "x"])
    text = symbolic.latex(tape)
    assert "\\partial x}" in text and "\\partial x_{1}}" in text
    assert "\\partial \\alpha}" in symbolic.latex(lambda x: x.exp(), symbols=[sp.Symbol("alpha")])


def test_markdown_shows_the_formula_and_the_listing() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y).tanh(), 1.0, 2.0)
    text = tape._repr_markdown_()
    assert sp.latex(sp.tanh(sp.Symbol("x") * sp.Symbol("y"))) in text
    assert str(tape) in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "x^{2}" in tapegrad.trace(branchy, 1.0)._repr_markdown_()


# ---------------------------------------------------------------- the package


def test_symbolic_and_from_sympy_load_on_first_use() -> None:
    """``tapegrad.symbolic`` and ``tapegrad.from_sympy`` work without importing the module first."""
    code = (
        "import tapegrad\n"
        "assert callable(tapegrad.from_sympy)\n"
        "assert callable(tapegrad.symbolic.gradient)\n"
        "from tapegrad import symbolic\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]


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
    domain = tapegrad.symbolic.SYMPY
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


# ---------------------------------------------------------------- strong zeros in formulas (issue 14 item 8)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: where(x > 0, x.sqrt(), 0.0),
        lambda x: where(x > 0, x * x.sqrt(), 0.0),
        lambda x: where(x > 0, x.log(), 0.0) + x,
        lambda x: (x * 0.0).sqrt() * 0.0 + x.relu(),
    ],
)
def test_strong_gradient_formulas_agree_with_the_tape(f: Callable[..., Any]) -> None:
    x = sp.Symbol("x")
    tape = tapegrad.trace(f, 1.0)
    strong = symbolic.gradient(tape, strong=True)[0]
    replacements, (strong_cse,) = symbolic.gradient(tape, strong=True, cse=True)
    for point in (0.0, -1.0, 2.25):
        want = tape.gradient(point)[0]
        assert float(strong.subs(x, point)) == want
        env = {x: sp.Float(point)}
        for name, rhs in replacements:
            env[name] = rhs.xreplace(env)
        assert float(strong_cse.xreplace(env)) == want


def test_plain_gradient_formulas_are_the_calculus_ones_by_default() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.trace(lambda x: where(x > 0, x.sqrt(), 0.0), 1.0)
    assert symbolic.gradient(tape)[0].subs(x, 0) is sp.nan and tape.gradient(0.0) == (0.0,)
    assert symbolic.gradient(tape, strong=True)[0].subs(x, 0) == 0
    assert "strong=True" in (symbolic.gradient.__doc__ or "")
    second = symbolic.hessian(lambda x: where(x > 0, x * x.sqrt(), 0.0), strong=True)
    assert second[0, 0].subs(x, 4) == sp.Rational(3, 8)


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

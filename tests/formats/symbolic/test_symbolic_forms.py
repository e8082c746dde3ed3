"""The forms symbolic export takes (tapegrad.formats.symbolic), and how it refuses bad input.

- the cse form keeps the tape's sharing, and grows linearly with the tape;
- constants stay exact, the user's symbols (and their assumptions) are kept;
- bad input gives a warning or a tapegrad error that says what to do;
- LaTeX and Jupyter output; the package reaches the module lazily;
- strong zeros hold in the formulas.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sympy as sp

import tapegrad
import tapegrad.formats.symbolic
from tapegrad import where
from tapegrad.errors import (
    ArgumentCountError,
    GuardWarning,
    InputTypeError,
    NonScalarOutputError,
    TapegradError,
    UnknownNameError,
    UnsupportedOpError,
)
from tapegrad.lab.testing import random_program

from .formulas import POSITIVE, X, Y, Z, at, close, random_points, symbolic


def expand_cse(replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any]) -> list[Any]:
    """The plain expressions of a cse form: substitute the replacements back, last first."""
    out = list(exprs)
    for name, value in reversed(replacements):
        out = [e.xreplace({name: value}) for e in out]
    return out


def cse_size(replacements: Sequence[tuple[Any, Any]], exprs: Sequence[Any]) -> int:
    return sum(sp.count_ops(v) for _, v in replacements) + sum(sp.count_ops(e) for e in exprs)


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

"""The safe expression parser (tapegrad.parse): what it accepts, what it refuses.

The specification, section by section:

1. hostile and malformed input: a table of expressions and the exact
   ``ParseError`` each gets (a distinctive part of the message and the
   column the caret points at);
2. limits: length, bracket depth, number length, and long operator chains
   end in a ``ParseError`` or a tape, never ``RecursionError``,
   ``MemoryError`` or a huge integer;
3. good input: every function of ``FUNCTIONS``, ``where`` and comparisons,
   unary signs, constants, exponents, variable order, values and gradients
   against a hand computation;
4. round trips: ``parse(to_expression(tape))`` evaluates like ``tape``, for
   expressions drawn from the grammar and for ``random_program`` tapes;
   arbitrary text gives a tape or a ``ParseError`` and nothing else.
"""

from __future__ import annotations

import importlib
import math
import struct
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tapegrad.parse import FUNCTIONS, MAX_DEPTH, MAX_LENGTH, MAX_NUMBER_LENGTH, to_expression

import tapegrad
from tapegrad.errors import InputTypeError, ParseError, TapegradError
from tapegrad.ops import OpKind
from tapegrad.testing import random_program

# ``tapegrad.parse`` is the function (re-exported by the package), which
# shadows the submodule as an attribute; the module itself is here.
parse_module = importlib.import_module("tapegrad.parse")
parse = tapegrad.parse


def parse_error(text: Any, **kwargs: Any) -> ParseError:
    with pytest.raises(ParseError) as error:
        parse(text, **kwargs)
    return error.value


def same_number(a: float, b: float, tolerance: float = 1e-12) -> bool:
    """Equal to ``tolerance`` (relative, or absolute near zero); any nan equals any nan."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


# ---------------------------------------------------------------- 1. hostile and malformed input

# (expression, a distinctive part of the message, the 1-based column the caret points at)
HOSTILE: list[tuple[str, str, int]] = [
    # attributes, subscripts, escapes from the sandbox
    ("x.real", "attribute access is not allowed", 1),
    ("x.__class__", "attribute access is not allowed", 1),
    ("().__class__", "attribute access is not allowed", 1),
    ("tanh(x).__class__.__bases__", "attribute access is not allowed", 1),
    ("__import__('os').system('x')", "only calls of a function by name are allowed", 1),
    ("__import__('os')", "unknown function '__import__'", 1),
    ("x[0]", "indexing is not allowed", 1),
    ("x[1:2]", "indexing is not allowed", 1),
    ("1 + x[0]", "indexing is not allowed", 5),
    ("__x", "the name '__x' is not allowed", 1),
    ("x + __builtins__", "the name '__builtins__' is not allowed", 5),
    ("tanh(x)(y)", "only calls of a function by name are allowed", 1),
    # code, strings and containers
    ("lambda: 1", "a lambda is not allowed", 1),
    ("(lambda x: x)(2)", "only calls of a function by name are allowed", 1),
    ("'a'", "a str is not allowed (only real numbers)", 1),
    ("x + 'a'", "a str is not allowed (only real numbers)", 5),
    ("f'{x}'", "an f-string is not allowed", 1),
    ("b'x'", "a bytes is not allowed (only real numbers)", 1),
    ("[x]", "a list is not allowed", 1),
    ("(x, y)", "a tuple is not allowed", 1),
    ("{1: 2}", "a dict is not allowed", 1),
    ("{x}", "a set is not allowed", 1),
    ("[x for x in y]", "a comprehension is not allowed", 1),
    ("(x for x in y)", "a generator is not allowed", 1),
    ("{x for x in y}", "SetComp syntax is not allowed", 1),
    ("{x: x for x in y}", "DictComp syntax is not allowed", 1),
    ("(y := 2)", "':=' is not allowed", 2),
    ("x if y else 1", "'... if ... else ...' (use where(cond, a, b)) is not allowed", 1),
    ("await x", "'await' is not allowed", 1),
    # keyword arguments and unpacking
    ("tanh(x=1)", "tanh() takes no keyword arguments", 6),
    ("exp(x, y=1)", "exp() takes no keyword arguments", 8),
    ("abs(**x)", "abs() takes no keyword arguments", 5),
    ("maximum(*xs)", "'*' unpacking is not allowed", 9),
    # boolean logic
    ("x and y", "'and'/'or' is not allowed", 1),
    ("x or y", "'and'/'or' is not allowed", 1),
    ("where(x > 0 and y > 0, 1, 2)", "'and'/'or' is not allowed", 7),
    ("not x", "the operator Not is not allowed", 1),
    # operators outside + - * / **
    ("x ^ y", "the operator BitXor is not allowed (use + - * / **)", 1),
    ("x & y", "the operator BitAnd is not allowed", 1),
    ("x | y", "the operator BitOr is not allowed", 1),
    ("~x", "the operator Invert is not allowed", 1),
    ("x << 1", "the operator LShift is not allowed", 1),
    ("x >> 1", "the operator RShift is not allowed", 1),
    ("x // y", "the operator FloorDiv is not allowed", 1),
    ("x % y", "the operator Mod is not allowed", 1),
    ("x @ y", "the operator MatMult is not allowed", 1),
    ("2 * (x % y)", "the operator Mod is not allowed", 6),
    # comparisons: one, and only as where's condition
    ("x > 0", "a comparison is allowed only as where's condition: where(x > 0, a, b)", 1),
    ("1 + (x < y)", "a comparison is allowed only as where's condition", 6),
    ("where(x > 0, x < 1, 0)", "a comparison is allowed only as where's condition", 14),
    ("x is y", "a comparison is allowed only as where's condition", 1),
    ("where(0 < x < 1, x, 0)", "only one comparison (<, <=, >, >=, ==, !=) is allowed per condition", 7),
    ("where(x is y, 1, 2)", "only one comparison", 7),
    ("where(x in y, 1, 2)", "only one comparison", 7),
    # functions: unknown, wrong arity, used as a variable
    ("foo(x)", "unknown function 'foo'; the functions are abs, acos, acosh", 1),
    ("eval('1')", "unknown function 'eval'", 1),
    ("getattr(x, 'y')", "unknown function 'getattr'", 1),
    ("2 * gamma(x)", "unknown function 'gamma'", 5),
    ("tanh(x, y)", "tanh() takes 1 argument, got 2", 1),
    ("sin()", "sin() takes 1 argument, got 0", 1),
    ("maximum(x)", "maximum() takes 2 arguments, got 1", 1),
    ("minimum(x, y, z)", "minimum() takes 2 arguments, got 3", 1),
    ("where(x > 0, 1)", "where() takes 3 arguments, got 2", 1),
    ("tanh + 1", "tanh is a function: call it, as in tanh(x)", 1),
    ("-exp", "exp is a function: call it, as in exp(x)", 2),
    ("x * where", "where is a function: call it", 5),
    # numbers that are not real
    ("1j", "a complex number is not allowed (only real numbers)", 1),
    ("x + 2j", "a complex number is not allowed", 5),
    ("True", "a bool is not allowed (only real numbers)", 1),
    ("x * False", "a bool is not allowed", 5),
    ("None", "a NoneType is not allowed (only real numbers)", 1),
    ("...", "ellipsis is not allowed (only real numbers)", 1),
    # syntax errors: the column Python's parser reports
    ("1 +* 2", "not a valid expression (invalid syntax)", 4),
    ("x)", "not a valid expression (unmatched ')')", 2),
    ("(x", "not a valid expression ('(' was never closed)", 1),
    ("x; y", "not a valid expression", 2),
    ("x == = y", "not a valid expression", 6),
    ("yield x", "not a valid expression", 1),
    # limits that point at a place
    ("9" * (MAX_NUMBER_LENGTH + 1), f"a number longer than {MAX_NUMBER_LENGTH} characters", 1),
    ("1" * 200, f"a number longer than {MAX_NUMBER_LENGTH} characters", 1),
    ("x + " + "1" * 200, f"a number longer than {MAX_NUMBER_LENGTH} characters", 5),
    (
        "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
        f"brackets nest deeper than {MAX_DEPTH} levels",
        MAX_DEPTH + 1,
    ),
    ("tanh(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), "brackets nest deeper than", 5 * MAX_DEPTH + 5),
]


def test_the_table_is_large() -> None:
    assert len(HOSTILE) >= 40
    assert len({text for text, _, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("text", "message", "column"), HOSTILE, ids=[repr(t)[:40] for t, _, _ in HOSTILE])
def test_hostile_input_gets_its_error_and_column(text: str, message: str, column: int) -> None:
    error = parse_error(text)
    first, shown, caret = str(error).split("\n")
    assert message in first
    assert first.endswith(f" at column {column}:")
    assert shown == "  " + text
    assert caret == "  " + " " * (column - 1) + "^"


def test_parse_error_is_a_tapegrad_error_and_a_value_error() -> None:
    error = parse_error("x.y")
    assert isinstance(error, TapegradError) and isinstance(error, ValueError)


# Errors about the whole text have no column.
WHOLE: list[tuple[Any, str]] = [
    ("", "the expression is empty"),
    ("   ", "the expression is empty"),
    (" \t\n ", "the expression is empty"),
    (None, "the expression must be a string, got NoneType"),
    (1.5, "the expression must be a string, got float"),
    (b"x + 1", "the expression must be a string, got bytes"),
    (["x"], "the expression must be a string, got list"),
    ("x" * (MAX_LENGTH + 1), f"the expression is {MAX_LENGTH + 1:,} characters long; the limit is {MAX_LENGTH:,}"),
    ("x" + "+x" * 20_000, "the expression has 20,000 operators; the limit is 10,000"),
]


@pytest.mark.parametrize(("text", "message"), WHOLE, ids=[repr(t)[:30] for t, _ in WHOLE])
def test_errors_about_the_whole_text(text: Any, message: str) -> None:
    assert str(parse_error(text)) == message


def test_unknown_variable_when_variables_are_given() -> None:
    error = parse_error("x + y + z", variables=["x", "y"])
    assert str(error).splitlines()[0] == "unknown name 'z'; the variables are x, y at column 9:"
    assert str(error).splitlines()[2] == "  " + " " * 8 + "^"
    assert "the variables are none" in str(parse_error("x", variables=[]))


def test_a_syntax_error_points_at_its_column() -> None:
    error = parse_error("x + (y * )")
    assert "not a valid expression" in str(error)
    assert str(error).splitlines()[2].index("^") - 2 == str(error).splitlines()[1].index(")") - 2


def test_star_unpacking_is_named_in_the_error() -> None:
    message = str(parse_error("tanh(*x)"))
    assert "got 1" not in message.splitlines()[0]
    assert "'*' unpacking is not allowed" in message


@pytest.mark.parametrize("text", ["1if x else 2", "1or x", "0x1for"])
def test_parse_emits_no_python_warnings(text: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ParseError):
            parse(text)
    assert [str(w.message) for w in caught] == []


# ---------------------------------------------------------------- 2. limits: never a RecursionError, never a hang

CHAINS: dict[str, Callable[[int], str]] = {
    "unary minus": lambda n: "-" * n + "x",
    "unary plus": lambda n: "+" * n + "x",
    "spaced minus": lambda n: "- " * n + "x",
    "sum": lambda n: "+".join(["x"] * n),
    "product of negatives": lambda n: "x" + "*-x" * n,
    "power tower": lambda n: "**".join(["x"] * n),
}


def assert_parses_or_refuses(text: str) -> None:
    try:
        tape = parse(text)
    except ParseError as error:
        assert "too complex" in str(error) or "limit" in str(error) or "deeper" in str(error)
    else:
        assert tape.inputs == ("x",)
        assert len(tape) <= len(text) + 1


@pytest.mark.parametrize("n", [10, 100, 500, 5_000, 10_000, 10_001, 50_000])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_long_chains_parse_or_raise_parse_error(chain: str, n: int) -> None:
    assert_parses_or_refuses(CHAINS[chain](n))


@pytest.mark.parametrize("n", [1_000, 2_500])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_chains_python_parses_but_a_recursive_walk_cannot(chain: str, n: int) -> None:
    recursion = False
    try:
        assert_parses_or_refuses(CHAINS[chain](n))
    except RecursionError:
        recursion = True  # reported below, without a 1,000-frame traceback
    if recursion:
        pytest.fail(f"parse({chain} of {n}) raised RecursionError", pytrace=False)


def test_nested_calls_up_to_the_bracket_limit() -> None:
    expected = 0.5
    for _ in range(MAX_DEPTH):
        expected = math.tanh(expected)
    assert parse("tanh(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)(0.5) == expected
    assert parse("maximum(x, " * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1))(2.0) == 2.0


def test_huge_numbers_are_float64_at_once() -> None:
    tower = parse("9**9**9")
    assert len(tower) == 1 and tower[0].op is OpKind.CONST and tower() == math.inf
    assert parse("1e309")() == math.inf
    assert parse("-1e309")() == -math.inf
    assert parse("10**400")() == math.inf
    assert parse("2**1024 * x")(1.0) == math.inf
    hundred = "1" * MAX_NUMBER_LENGTH  # the longest literal allowed: a float, not a 100-digit integer
    assert parse(hundred)() == float(hundred)
    assert isinstance(parse(hundred)[0].attr, float)
    assert parse("x ** 10**20")(2.0) == math.inf


def test_the_limits_are_the_documented_ones() -> None:
    assert (MAX_LENGTH, MAX_DEPTH, MAX_NUMBER_LENGTH) == (100_000, 200, 100)
    assert parse("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)(3.0) == 3.0
    assert parse("x" + " " * (MAX_LENGTH - 1))(2.0) == 2.0
    assert parse("a" * 5_000)(2.0) == 2.0  # a long name is not a long number


def test_the_parser_never_calls_eval_exec_or_sympify() -> None:
    source = open(parse_module.__file__, encoding="utf-8").read()
    for banned in ("eval(", "exec(", "sympify(", "compile(", "__import__("):
        assert banned not in source


# ---------------------------------------------------------------- 3. good input

# name -> (forward, derivative) at a point, by hand
UNARY: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "exp": (math.exp, math.exp),
    "log": (math.log, lambda x: 1 / x),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "sin": (math.sin, math.cos),
    "cos": (math.cos, lambda x: -math.sin(x)),
    "sqrt": (math.sqrt, lambda x: 0.5 / math.sqrt(x)),
    "abs": (abs, lambda x: math.copysign(1.0, x)),
}


def test_every_function_is_covered_here() -> None:
    more = {str(kind) for kind in OpKind if kind >= OpKind.TAN}  # issue 16's: tests/core/test_more_ops.py
    assert set(FUNCTIONS) == set(UNARY) | {"maximum", "minimum", "where"} | more
    assert FUNCTIONS == sorted(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("x", [0.7, 2.5, -0.3])
def test_unary_functions_value_and_gradient(name: str, x: float) -> None:
    if name in ("log", "sqrt") and x < 0:
        x = -x
    forward, derivative = UNARY[name]
    tape = parse(f"{name}(x)")
    assert tape.inputs == ("x",)
    assert tape(x) == pytest.approx(forward(x), rel=1e-14)
    assert tape.gradient(x)[0] == pytest.approx(derivative(x), rel=1e-12)
    # the same function inside an expression: the chain rule
    outer = parse(f"{name}(2 * x) * x")
    assert outer.gradient(x)[0] == pytest.approx(2 * x * derivative(2 * x) + forward(2 * x), rel=1e-12)


@pytest.mark.parametrize(("x", "y"), [(1.0, 2.0), (3.0, -1.0)])
def test_maximum_and_minimum(x: float, y: float) -> None:
    assert parse("maximum(x, y)")(x, y) == max(x, y)
    assert parse("minimum(x, y)")(x, y) == min(x, y)
    assert parse("maximum(x, y)").gradient(x, y) == ((1.0, 0.0) if x > y else (0.0, 1.0))
    assert parse("minimum(x, y)").gradient(x, y) == ((0.0, 1.0) if x > y else (1.0, 0.0))
    assert parse("maximum(x, x)").gradient(x) == (1.0,)  # a tie splits the adjoint: 0.5 + 0.5


def test_where_takes_the_branch_and_its_gradient() -> None:
    tape = parse("where(x > 0, sqrt(x), 0)")
    assert tape.inputs == ("x",)
    assert tape(4.0) == 2.0 and tape.gradient(4.0) == (0.25,)
    assert tape(-1.0) == 0.0 and tape.gradient(-1.0) == (0.0,)  # not nan: the branch not taken sends nothing
    assert [r.op for r in tape].count(OpKind.GUARD) == 0  # a where, not a Python branch


@pytest.mark.parametrize(
    ("cmp", "truth"),
    [(">", [False, False, True]), (">=", [False, True, True]), ("<", [True, False, False]),
     ("<=", [True, True, False]), ("==", [False, True, False]), ("!=", [True, False, True])],
)  # fmt: skip
def test_every_comparison_inside_where(cmp: str, truth: list[bool]) -> None:
    tape = parse(f"where(x {cmp} 1, 10, 20)")
    assert [tape(x) for x in (0.0, 1.0, 2.0)] == [10.0 if t else 20.0 for t in truth]


def test_nested_where() -> None:
    tape = parse("where(x > 0, where(y > 0, x * y, x), -x * y)")
    assert tape.inputs == ("x", "y")
    assert tape(2.0, 3.0) == 6.0 and tape.gradient(2.0, 3.0) == (3.0, 2.0)
    assert tape(2.0, -3.0) == 2.0 and tape.gradient(2.0, -3.0) == (1.0, 0.0)
    assert tape(-2.0, 3.0) == 6.0 and tape.gradient(-2.0, 3.0) == (-3.0, 2.0)


def test_unary_minus_and_plus() -> None:
    assert [r.op for r in parse("-x")] == [OpKind.INPUT, OpKind.NEG]
    assert [r.op for r in parse("+x")] == [OpKind.INPUT]
    assert parse("--x")(2.0) == 2.0
    assert parse("-+-x")(2.0) == 2.0
    assert parse("-x ** 2")(3.0) == -9.0  # ** binds tighter than unary minus, as in Python
    assert parse("(-x) ** 2")(3.0) == 9.0
    assert parse("-x * -y").gradient(2.0, 3.0) == (3.0, 2.0)


def test_constants_inf_and_nan() -> None:
    assert parse("x + inf")(1.0) == math.inf
    assert parse("x - inf")(1.0) == -math.inf
    assert math.isnan(parse("nan * x")(1.0))
    assert math.isnan(parse("inf - inf")())
    assert parse("inf").inputs == ()
    assert parse("inf", variables=["inf"])(2.0) == 2.0  # a declared variable wins over the constant


def test_integer_exponents_are_pow_const_with_an_int() -> None:
    for text, exponent in [("x ** 2", 2), ("x ** 3", 3), ("x ** 0", 0), ("x**10", 10)]:
        tape = parse(text)
        (record,) = [r for r in tape if r.op is OpKind.POW_CONST]
        assert record.attr == exponent and type(record.attr) is int
    assert parse("x ** 3").gradient(2.0) == (12.0,)
    assert parse("x ** 0").gradient(2.0) == (0.0,)
    (fractional,) = [r for r in parse("x ** 2.5") if r.op is OpKind.POW_CONST]
    assert fractional.attr == 2.5
    assert OpKind.POW in {r.op for r in parse("x ** y")}
    assert OpKind.POW in {r.op for r in parse("2 ** x")}
    assert parse("2 ** x").gradient(3.0)[0] == pytest.approx(8 * math.log(2), rel=1e-15)


def test_negative_integer_exponents_stay_integers() -> None:
    (record,) = [r for r in parse("x ** -2") if r.op is OpKind.POW_CONST]
    assert record.attr == -2 and type(record.attr) is int


def test_variables_in_order_of_first_appearance_or_as_given() -> None:
    assert parse("y * x + z * y").inputs == ("y", "x", "z")
    assert parse("tanh(b) + where(a > c, a, b)").inputs == ("b", "a", "c")
    fixed = parse("y * x + z", variables=["z", "y", "x"])
    assert fixed.inputs == ("z", "y", "x")
    assert fixed(1.0, 2.0, 3.0) == 2.0 * 3.0 + 1.0
    unused = parse("x", variables=["x", "w"])
    assert unused.inputs == ("x", "w") and unused.gradient(1.0, 5.0) == (1.0, 0.0)


def test_a_constant_expression_has_no_inputs() -> None:
    tape = parse("2 * 3 + 1")
    assert tape.inputs == () and tape() == 7.0 and tape.gradient() == ()
    assert parse("sqrt(16) + maximum(1, 2)")() == 6.0


def test_the_tape_is_named_and_replays() -> None:
    assert parse("x").name == "expr"
    assert parse("x", name="f").name == "f"
    tape = parse("  tanh(x * y) + x ** 2  ")
    assert tape.traced and tape.sealed and tape.outputs == ("out",)


@pytest.mark.parametrize(("x", "y"), [(0.5, -1.2), (2.0, 0.25), (-3.0, 1.5)])
def test_value_and_gradient_against_a_hand_computation(x: float, y: float) -> None:
    tape = parse("tanh(x * y) + x ** 2 - y / (1 + x ** 2) + exp(-x ** 2) * sin(y)")
    t = math.tanh(x * y)
    value = t + x**2 - y / (1 + x**2) + math.exp(-(x**2)) * math.sin(y)
    grad_x = (1 - t**2) * y + 2 * x + 2 * x * y / (1 + x**2) ** 2 - 2 * x * math.exp(-(x**2)) * math.sin(y)
    grad_y = (1 - t**2) * x - 1 / (1 + x**2) + math.exp(-(x**2)) * math.cos(y)
    assert tape(x, y) == pytest.approx(value, rel=1e-14)
    gx, gy = tape.gradient(x, y)
    assert gx == pytest.approx(grad_x, rel=1e-12) and gy == pytest.approx(grad_y, rel=1e-12)


# ---------------------------------------------------------------- 4. round trips


def test_to_expression_reads_back() -> None:
    tape = parse("where(x > 0, sqrt(x), 0) - (-0.5) * y ** 2")
    text = to_expression(tape)
    assert text == "(where(x > 0.0, sqrt(x), 0.0) - ((-0.5) * (y ** 2.0)))"
    assert to_expression(parse(text)) == text


def test_to_expression_writes_one_output() -> None:
    pair = tapegrad.trace(lambda x, y: (x + y, x * y), 1.0, 2.0)
    with pytest.raises(ParseError, match="to_expression writes one output; tape '<lambda>' has 2"):
        to_expression(pair)


def test_to_expression_refuses_a_tape_with_guards() -> None:
    # Issue 14.15: the text held the recorded branch only, and parse of it gave -2.0 at -1 (true 1.0).
    tape = tapegrad.trace(lambda x: x * 2 if x > 0 else -x, 1.0)
    message = r"holds 1 guard\(s\), the first x > 0 \(recorded True\) at .*test_parse.py:\d+"
    with pytest.raises(ParseError, match=message):
        to_expression(tape)
    branch_free = tapegrad.trace(lambda x: tapegrad.where(x > 0, x * 2, -x), 1.0)
    assert parse(to_expression(branch_free))(-1.0) == 1.0


@pytest.mark.parametrize("constant", ["inf", "(-inf)", "nan", "(-0.0)", "5e-324", "0.1", "1.7976931348623157e+308"])
def test_to_expression_keeps_special_constants_exactly(constant: str) -> None:
    tape = parse(f"x * {constant}")
    assert to_expression(tape) == f"(x * {constant})"
    back = parse(to_expression(tape), variables=tape.inputs)
    for point in (1.0, -2.0, 0.0):
        a, b = tape(point), back(point)
        assert struct.pack("<d", a) == struct.pack("<d", b) or math.isnan(a) and math.isnan(b)


NAMES = ["x", "y", "z"]
UNARY_NAMES = sorted(UNARY)


def _number_text(x: float) -> str:
    return f"({x!r})" if x < 0 else repr(x)


leaves = (
    st.sampled_from(NAMES)
    | st.floats(-1e3, 1e3, allow_nan=False).map(_number_text)
    | st.integers(0, 5).map(str)
    | st.sampled_from(["inf", "nan", "(-1)"])
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.integers(-2, 3)).map(lambda t: f"({t[0]} ** {t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]} ** {t[1]})"),
        st.tuples(st.sampled_from(UNARY_NAMES), children).map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda a: f"(-{a})"),
        children.map(lambda a: f"(+{a})"),
        st.tuples(st.sampled_from(["maximum", "minimum"]), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(children, st.sampled_from([">", ">=", "<", "<=", "==", "!="]), children, children, children).map(
            lambda t: f"where({t[0]} {t[1]} {t[2]}, {t[3]}, {t[4]})"
        ),
    )


expressions = st.recursive(leaves, _extend, max_leaves=12)
points = st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3)


def assert_evaluates_alike(tape: tapegrad.Tape, back: tapegrad.Tape, point: list[float]) -> None:
    args = point[: len(tape.inputs)]
    assert back.inputs == tape.inputs
    assert same_number(tape(*args), back(*args))
    for a, b in zip(tape.gradient(*args), back.gradient(*args)):
        assert same_number(a, b)


@settings(max_examples=250, deadline=None)
@given(expressions, points)
def test_round_trip_of_expressions_from_the_grammar(text: str, point: list[float]) -> None:
    tape = parse(text)
    expression = to_expression(tape)
    back = parse(expression, variables=tape.inputs)
    assert_evaluates_alike(tape, back, point)
    assert to_expression(back) == expression  # one trip reaches a fixed point


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(0, 10**6), points)
def test_round_trip_of_random_programs(n: int, inputs: int, seed: int, point: list[float]) -> None:
    tape = tapegrad.trace(random_program(n, inputs=inputs, seed=seed), *[0.5] * inputs)
    back = parse(to_expression(tape), variables=tape.inputs)
    assert_evaluates_alike(tape, back, point)


HOSTILE_ALPHABET = list("xyz0129.eE+-*/%()[]{},<>=!&|^~@:;'\" \t\nabcfijlmnoqrstw_\\#") + [
    "tanh(", "where(", "**", "//", "lambda", " if ", " else ", " and ", "not ", "__", "1e309", "inf", "nan",
    "\x00", "é", "²", "１", "ℌ", "9" * 40,
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(HOSTILE_ALPHABET), max_size=30).map("".join))
def test_arbitrary_text_gives_a_tape_or_a_parse_error(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # see test_parse_emits_no_python_warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            tape = parse(text)
        except ParseError as error:
            assert str(error)
        else:
            assert isinstance(tape, tapegrad.Tape) and len(tape.output_slots) == 1


@pytest.mark.parametrize(
    "text, column",
    [("x**2 +", 7), ("x * (y + 1", 5), ("tanh(x,", 5), ("x +* 2", 4), ("x y", 3)],
)
def test_the_caret_points_where_the_expression_goes_wrong(text: str, column: int) -> None:
    with pytest.raises(ParseError) as error:
        tapegrad.parse(text)
    message = str(error.value)
    assert f"at column {column}:" in message
    assert message.splitlines()[-1] == "  " + " " * (column - 1) + "^"



@pytest.mark.parametrize("text, name", [("x + \ud800", "expr"), ("x + 1", "a\ud800")])
def test_a_lone_surrogate_is_an_input_type_error(text: str, name: str) -> None:
    """It used to be "too complex to parse" (the text) or a UnicodeEncodeError later (the name)."""
    what = "the expression 'x + \\ud800'" if name == "expr" else "the tape name 'a\\ud800'"
    with pytest.raises(InputTypeError) as error:
        tapegrad.parse(text, name=name)
    assert str(error.value).startswith(f"{what} holds a lone surrogate")


@pytest.mark.parametrize("n", [201, 401, 2_000])
def test_a_flat_sum_or_product_is_not_deep(n: int) -> None:
    """Python nests x+x+...+x on its left as deep as the sum is long; it is still flat: accepted."""
    assert tapegrad.parse("+".join(["x"] * n))(1.5) == 1.5 * n
    assert tapegrad.parse(" - ".join(["x * y"] * n))(2.0, 1.0) == 2.0 * (2 - n)
    assert tapegrad.parse("*".join(["x"] * n))(1.0) == 1.0


def test_real_nesting_keeps_its_limits() -> None:
    for deep in ["-" * 401 + "x", "**".join(["x"] * 402), "x" + "+(x" * 201 + ")" * 201]:
        with pytest.raises(ParseError, match=r"nest(s)? deeper than 200"):
            tapegrad.parse(deep)
    with pytest.raises(ParseError, match=r"too complex to parse \(Python's parser takes chains of up to about 2,000"):
        tapegrad.parse("+".join(["x"] * 9_000))

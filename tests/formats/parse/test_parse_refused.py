"""The safe expression parser (tapegrad.formats.parse): what it refuses, and how.

1. hostile and malformed input: a table of expressions and the exact
   ``ParseError`` each gets (a distinctive part of the message and the
   column the caret points at);
2. limits: length, bracket depth, number length, and long operator chains
   end in a ``ParseError`` or a tape, never ``RecursionError``,
   ``MemoryError`` or a huge integer.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from tapegrad import parse  # the function (the package attribute), not the module
from tapegrad.core.ops import OpKind
from tapegrad.errors import ParseError, TapegradError
from tapegrad.formats.parse import MAX_DEPTH, MAX_LENGTH, MAX_NUMBER_LENGTH

# ``tapegrad.parse`` is the function (re-exported by the package), which
# shadows the submodule as an attribute; the module itself is here.
parse_module = importlib.import_module("tapegrad.formats.parse")


def parse_error(text: Any, **kwargs: Any) -> ParseError:
    with pytest.raises(ParseError) as error:
        parse(text, **kwargs)
    return error.value


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
    ("x ^ y", "the operator BitXor is not allowed (use + - * / ** % //)", 1),
    ("x & y", "the operator BitAnd is not allowed", 1),
    ("x | y", "the operator BitOr is not allowed", 1),
    ("~x", "the operator Invert is not allowed", 1),
    ("x << 1", "the operator LShift is not allowed", 1),
    ("x >> 1", "the operator RShift is not allowed", 1),
    ("x @ y", "the operator MatMult is not allowed", 1),
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

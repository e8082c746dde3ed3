"""The safe expression parser (tapegrad.formats.parse): what it accepts, and round trips.

1. good input: every function of ``FUNCTIONS``, ``where`` and comparisons,
   unary signs, constants, exponents, variable order, values and gradients
   against a hand computation;
2. round trips: ``parse(to_expression(tape))`` evaluates like ``tape``, for
   expressions drawn from the grammar and for ``random_program`` tapes;
   arbitrary text gives a tape or a ``ParseError`` and nothing else.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import parse  # the function (the package attribute), not the module
from tapegrad.core.ops import OpKind
from tapegrad.errors import InputTypeError, ParseError
from tapegrad.formats.parse import FUNCTIONS, to_expression
from tapegrad.lab.testing import random_program


def same_number(a: float, b: float, tolerance: float = 1e-12) -> bool:
    """Equal to ``tolerance`` (relative, or absolute near zero); any nan equals any nan."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


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
    more = {str(kind) for kind in OpKind if OpKind.TAN <= kind <= OpKind.CLIP}  # issue 16: test_more_ops.py
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


def test_remainder_and_floor_division_operators_parse_as_numpy_computes_them() -> None:
    """``%`` and ``//`` are the table's mod and floor_divide (issue 16): numpy's sign of the divisor."""
    tape = tapegrad.parse("x % y + x // y")
    assert tape(7.5, -2.0) == 7.5 % -2.0 + 7.5 // -2.0
    assert tape.gradient(7.5, 2.0) == (1.0, -3.0)  # d(x % y)/dy = -(x // y); // sends nothing
    assert tapegrad.parse("x % 0")(1.0) != tapegrad.parse("x % 0")(1.0)  # nan, not ZeroDivisionError

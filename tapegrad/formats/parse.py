"""A safe expression parser: text in, tape out.

``parse("tanh(x * y) + x ** 2")`` reads the text with Python's ``ast`` and
accepts a small whitelist: numbers, names, ``+ - * / **``, unary minus,
calls of the functions the op table names in its ``parse_name`` column
(:data:`FUNCTIONS`: ``exp``, ``tanh``, ``maximum``...), with
``where(condition, a, b)`` taking a comparison as its condition.  Anything
else raises :class:`~tapegrad.errors.ParseError` pointing at the column.
Nothing the user typed is ever given to ``eval``, ``exec`` or ``sympify``.

Limits keep hostile input cheap: the text's length, its nesting depth and
the length of a number are capped, and numbers are float64, so ``9**9**9``
is ``inf`` at once, never a huge integer.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Sequence
from typing import Any

from ..core.exact import ExactConstant
from ..core.ops import OPS, OpKind
from ..core.tape import Tape, check_name
from ..errors import ParseError
from ..functional.tracing import trace
from ..values.value import Value, apply, constant

__all__ = ["parse", "to_expression", "FUNCTIONS", "MAX_LENGTH", "MAX_DEPTH", "MAX_NUMBER_LENGTH"]

MAX_LENGTH = 100_000
MAX_DEPTH = 200
MAX_NUMBER_LENGTH = 100

_FUNCTIONS = {op.parse_name: op for op in OPS if op.parse_name}
FUNCTIONS = sorted(_FUNCTIONS)
"""The functions an expression may call: the op table's ``parse_name`` column (and ``ln``, another name of ``log``)."""
_FUNCTIONS["ln"] = _FUNCTIONS["log"]  # as physics formulas write the natural logarithm

_CONSTANTS: dict[str, Any] = {"inf": math.inf, "nan": math.nan, "pi": ExactConstant.named("pi"),
                              "e": ExactConstant.named("E")}  # fmt: skip
"""Names that are numbers unless declared variables; ``pi`` and ``e`` keep their exact value for sympy."""
_EXACT_TEXT = {"pi": "pi", "E": "e"}
_BINARY = {ast.Add: OpKind.ADD, ast.Sub: OpKind.SUB, ast.Mult: OpKind.MUL, ast.Div: OpKind.DIV, ast.Pow: OpKind.POW,
           ast.Mod: OpKind.MOD, ast.FloorDiv: OpKind.FLOOR_DIVIDE}  # fmt: skip
_COMPARE = {ast.Gt: OpKind.GT, ast.GtE: OpKind.GE, ast.Lt: OpKind.LT, ast.LtE: OpKind.LE, ast.Eq: OpKind.EQ,
            ast.NotEq: OpKind.NE}  # fmt: skip
_DESCRIPTIONS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "a lambda",
    ast.JoinedStr: "an f-string",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'... if ... else ...' (use where(cond, a, b))",
    ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.Await: "'await'",
}


def _fail(text: str, message: str, column: int) -> ParseError:
    caret = " " * column + "^"
    return ParseError(f"{message} at column {column + 1}:\n  {text}\n  {caret}")


def _check_limits(text: str) -> None:
    """Refuse what could make the parser itself slow or deep, before parsing."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}")
    depth = 0
    for column, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(text, f"brackets nest deeper than {MAX_DEPTH} levels", column)
        elif ch in ")]}":
            depth -= 1
    run = 0
    for column, ch in enumerate(text):
        run = run + 1 if ch.isalnum() or ch in "._" else 0
        if run > MAX_NUMBER_LENGTH and text[column - run + 1].isdigit():
            raise _fail(text, f"a number longer than {MAX_NUMBER_LENGTH} characters", column - run + 1)
    operators = sum(text.count(op) for op in "+-*/~")
    if operators > MAX_DEPTH * 50:
        raise ParseError(f"the expression has {operators:,} operators; the limit is {MAX_DEPTH * 50:,}")


class _Reader:
    """Checks the whole tree first, then evaluates it on traced Values."""

    def __init__(self, text: str, tree: ast.Expression, variables: Sequence[str] | None) -> None:
        self.text = text
        self.tree = tree
        self.fixed = variables is not None
        self.variables: list[str] = list(variables or [])

    def error(self, node: ast.AST, message: str) -> ParseError:
        return _fail(self.text, message, getattr(node, "col_offset", 0))

    def check(self, node: ast.AST, in_condition: bool = False) -> None:
        """Raise ParseError at the first thing outside the whitelist; collect variable names."""
        if isinstance(node, ast.Expression):
            self.check(node.body)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                kind = "a complex number" if isinstance(node.value, complex) else f"a {type(node.value).__name__}"
                raise self.error(node, f"{kind} is not allowed (only real numbers)")
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.BinOp):
            first, chain = _left_chain(node)
            for link in reversed(chain):  # in the order a recursive walk would meet them
                if type(link.op) not in _BINARY:
                    operator = type(link.op).__name__
                    raise self.error(link, f"the operator {operator} is not allowed (use + - * / ** % //)")
            self.check(first)
            for link in chain:
                self.check(link.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self.error(node, f"the operator {type(node.op).__name__} is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.Compare):
            if not in_condition:
                raise self.error(node, "a comparison is allowed only as where's condition: where(x > 0, a, b)")
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise self.error(node, "only one comparison (<, <=, >, >=, ==, !=) is allowed per condition")
            self.check(node.left)
            self.check(node.comparators[0])
        elif isinstance(node, ast.Call):
            self.call(node)
        else:
            what = _DESCRIPTIONS.get(type(node), f"{type(node).__name__} syntax")
            raise self.error(node, f"{what} is not allowed")

    def name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__"):
            raise self.error(node, f"the name {name!r} is not allowed")
        if name in _FUNCTIONS:
            raise self.error(node, f"{name} is a function: call it, as in {name}(x)")
        if name in _CONSTANTS or name in self.variables:
            return
        if self.fixed:
            raise self.error(node, f"unknown name {name!r}; the variables are {', '.join(self.variables) or 'none'}")
        self.variables.append(name)

    def call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.error(node, "only calls of a function by name are allowed, as in tanh(x)")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise self.error(node, f"unknown function {name!r}; the functions are {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.error(node.keywords[0], f"{name}() takes no keyword arguments")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "'*' unpacking is not allowed")
        arity = _FUNCTIONS[name].arity
        if len(node.args) != arity:
            raise self.error(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
        for i, arg in enumerate(node.args):
            self.check(arg, in_condition=name == "where" and i == 0)

    def evaluate(self, node: ast.AST, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            value = node.value
            assert isinstance(value, (int, float)), "check() lets only real numbers through"
            if isinstance(value, int):  # exact integers stay ints (x**2 is pow_const 2), huge ones become inf
                return value if abs(value) < 2**53 else _big(value)
            return value
        if isinstance(node, ast.Name):
            if node.id in env or node.id not in _CONSTANTS:
                return env[node.id]
            number = _CONSTANTS[node.id]  # pi and e: a constant record holding the exact value
            return constant(number) if isinstance(number, ExactConstant) else number
        if isinstance(node, ast.BinOp):
            first, chain = _left_chain(node)
            left = self.evaluate(first, env)
            for link in chain:
                left = _binary(link.op, left, self.evaluate(link.right, env))
            return left
        if isinstance(node, ast.UnaryOp):
            operand = self.evaluate(node.operand, env)
            if isinstance(operand, int) and isinstance(node.op, ast.USub):
                return -operand  # x ** -2 keeps an exact exponent
            return apply(OPS[OpKind.NEG], operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Compare):
            return apply(OPS[_COMPARE[type(node.ops[0])]], self.evaluate(node.left, env),
                         self.evaluate(node.comparators[0], env))  # fmt: skip
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        args = [self.evaluate(a, env) for a in node.args]
        return apply(_FUNCTIONS[node.func.id], *args)


def _binary(op: ast.operator, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Pow) and isinstance(left, Value) and not isinstance(right, Value):
        return left**right  # a constant exponent: pow_const
    return apply(OPS[_BINARY[type(op)]], left, right)  # IEEE even on two numbers: 9**9**9 is inf


def _left_chain(node: ast.BinOp) -> tuple[ast.expr, list[ast.BinOp]]:
    """``a + b - c * d ...`` as its first operand and the operations applied to it, in order.

    Python parses ``x + x + ... + x`` as a tree nested on its left, as deep
    as the sum is long; walked as a list, a flat sum of any length stays
    flat (no recursion per term), while brackets and calls still nest.
    """
    chain = []
    first: ast.expr = node
    while isinstance(first, ast.BinOp):
        chain.append(first)
        first = first.left
    chain.reverse()
    return first, chain


def _check_depth(text: str, tree: ast.AST) -> None:
    """Refuse a tree too deep for the checks below, without recursion.

    The left operand of an operation is not deeper than the operation: the
    checks walk such chains (``x + x + ... + x``) as lists, see :func:`_left_chain`.
    """
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 2 * MAX_DEPTH:  # two tree levels per bracket level: f(g(x)) is Call, Call, Name
            raise _fail(text, f"the expression nests deeper than {MAX_DEPTH} levels", getattr(node, "col_offset", 0))
        flat = node.left if isinstance(node, ast.BinOp) else None
        stack.extend((child, depth if child is flat else depth + 1) for child in ast.iter_child_nodes(node))


def _big(n: int) -> float:
    """An integer literal as a float64; one too large is ±inf."""
    try:
        return float(n)
    except OverflowError:
        return math.inf if n > 0 else -math.inf


def parse(expr: str, variables: Sequence[str] | None = None, name: str = "expr") -> Tape:
    """The tape of a formula written as text.

    ``variables`` fixes the inputs and their order; by default they are the
    names in order of first appearance.  Raises
    :class:`~tapegrad.errors.ParseError` for anything outside the grammar.

    >>> tape = tapegrad.parse("tanh(x * y) + where(x > 0, sqrt(x), 0)")
    >>> tape.inputs, tape.gradient(1.0, 2.0)
    (('x', 'y'), (0.6413016497063289, 0.07065082485316443))
    """
    if not isinstance(expr, str):
        raise ParseError(f"the expression must be a string, got {type(expr).__name__}")
    check_name(name, "the tape name")
    _check_limits(expr)
    check_name(expr, "the expression")
    text = expr.strip()
    if not text:
        raise ParseError("the expression is empty")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error below says enough
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        # An expression that ends too early ("x**2 +") has offset 0 or a line past the text: point past its end.
        at_end = not error.offset or (error.lineno or 1) > 1
        column = len(text) if at_end else min((error.offset or 1) - 1, len(text))
        raise _fail(text, f"not a valid expression ({error.msg})", column) from None
    except (MemoryError, RecursionError, ValueError):  # Python's parser recurses per operation: ~2,000 in a chain
        raise ParseError(
            "the expression is too complex to parse (Python's parser takes chains of up to about 2,000 operations); "
            "split it, for example into sums of parts that you trace together"
        ) from None
    _check_depth(text, tree)
    reader = _Reader(text, tree, variables)
    reader.check(tree)
    names = reader.variables

    def formula(*inputs: Any) -> Any:
        return reader.evaluate(tree.body, dict(zip(names, inputs)))

    tape = trace(formula, *[1.0] * len(names), names=names)
    tape.name = name
    return tape


# ---------------------------------------------------------------- back to text

def _number(x: float) -> str:
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "(-inf)"
    return f"({x!r})" if x < 0 or (x == 0 and math.copysign(1.0, x) < 0) else repr(x)


def to_expression(tape: Tape) -> str:
    """A tape's (single) output as text that :func:`parse` reads back.

    Shared subexpressions are written out each time they are used, so this
    is for small tapes; ``smul`` and ``sdiv`` print as ``*`` and ``/``.
    A tape with a guard is refused: it holds only the branch it recorded,
    and the text could not say so (parse would give that branch everywhere).
    """
    if len(tape.output_slots) != 1:
        raise ParseError(f"to_expression writes one output; tape {tape.name!r} has {len(tape.output_slots)}")
    guards = [i for i, kind in enumerate(tape.ops) if kind is OpKind.GUARD]
    if guards:
        where = tape.sites.get(guards[0], "an unknown line")
        raise ParseError(
            f"tape {tape.name!r} holds {len(guards)} guard(s), the first {tape.describe_guard(guards[0])} at {where}: "
            "it recorded one branch of a Python condition, and an expression cannot say it holds only there. "
            "Write the branch with tapegrad.where(cond, a, b) (both branches are then on the tape) and trace again."
        )
    text: list[str] = [""] * len(tape)
    declared = set(tape.input_slots)
    for i, kind in enumerate(tape.ops):
        args = [text[a] for a in tape.args[i]]
        op = OPS[kind]
        if kind is OpKind.INPUT:
            text[i] = str(tape.attrs[i]) if i in declared else _number(float(tape.values[i]))
        elif kind is OpKind.CONST:
            text[i] = _exact_text(tape.attrs[i]) or _number(float(tape.values[i]))
        elif kind is OpKind.GUARD:
            text[i] = args[0]
        elif op.infix and op.arity == 2 and not op.comparison:
            text[i] = f"({args[0]} {op.infix} {args[1]})"
        elif kind is OpKind.POW_CONST:
            text[i] = f"({args[0]} ** {_number(float(tape.attrs[i] or 0.0))})"
        elif kind is OpKind.NEG:
            text[i] = f"(-{args[0]})"
        elif op.parse_name:
            text[i] = f"{op.parse_name}({', '.join(args)})"
        elif kind is OpKind.GATE:  # relu's backward rule
            text[i] = f"where({args[1]} > 0, {args[0]}, 0)"
        elif op.comparison:  # only where's condition can hold one
            text[i] = f"{args[0]} {op.infix} {args[1]}"
    return text[tape.output_slots[0]]


def _exact_text(attr: Any) -> str:
    """A constant with an exact value as the parser reads it back exactly (``pi``, ``(1 / 3)``); "" for others."""
    if not isinstance(attr, ExactConstant):
        return ""
    if attr.exact[0] == "rational":
        return f"({attr.exact[1]} / {attr.exact[2]})"
    return _EXACT_TEXT.get(attr.exact[1], "")

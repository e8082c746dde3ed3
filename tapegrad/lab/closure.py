"""The closure engine: micrograd's design, kept to compare against the tape.

micrograd gives every result a small ``_backward`` closure and finds the
order to call them by sorting the graph topologically.  tapegrad instead
appends one record per operation to a tape and sweeps the tape backwards
(:mod:`tapegrad.interpret`).  This module is the first design, built from the
same op table, so the two can be compared side by side — in tests (they
agree bit for bit) and in benchmarks (time and memory)::

    >>> from tapegrad.lab.closure import Value
    >>> a = Value(-4.0); b = Value(2.0)
    >>> c = (a * b + b ** 3).relu()
    >>> c.backward(); a.grad, b.grad
    (0.0, 0.0)

What the closure design costs: each closure refers to its own node (it reads
``out``'s adjoint), and the node refers to its closure, so every node is a
reference cycle.  A dead graph is therefore freed only by Python's cyclic
garbage collector, never by reference counting alone, and that collector is
where most of micrograd's time goes.  The tape design has no such cycles.

Where this engine differs from micrograd, on purpose:

* numerics are the tape engine's: forward through the op table's ``scalar``
  rules (IEEE: ``log(0) = -inf``, ``1/0 = inf``, never an exception) and
  backward through its ``vjp`` rules, so no derivative is written twice;
* the topological order is found without recursion, so a 10**6-deep chain
  works;
* strong zeros: a node whose adjoint is exactly zero propagates nothing
  (the op table's rules keep them), and signed zeros follow PyTorch's rule,
  as in the tape engine;
* each ``backward()`` computes fresh adjoints and adds them to every ``.grad``
  (PyTorch's retained graph), instead of re-propagating stale intermediate
  gradients (micrograd issue #53).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from ..core.interpret import FLOAT
from ..core.ops import OPS, OpKind
from ..values.value import as_float

__all__ = ["Value", "where", "maximum", "minimum", "equal", "not_equal"]

_M = FLOAT.m  # the op table's float functions, as the vjp rules expect them
_creation = itertools.count()


class Value:
    """A scalar holding its children and a closure that sends its adjoint to them.

    As in micrograd, ``_prev`` holds the operands and ``_op`` the op kind
    (printing as its name: ``add``, ``tanh``).  ``_backward`` adds this node's
    ``_adjoint`` times its local derivatives to the children's ``_adjoint``;
    ``_serial`` numbers the nodes in creation order.

    >>> x = Value(2.0)
    >>> y = x * x * x
    >>> y.backward(); x.grad
    12.0
    >>> y.backward(); x.grad  # each backward() adds a fresh d(y)/d(x)
    24.0
    """

    __slots__ = ("data", "grad", "name", "_prev", "_op", "_backward", "_adjoint", "_serial", "_fresh")

    def __init__(self, data: Any, name: str | None = None, _children: tuple[Value, ...] = (), _op: Any = None) -> None:
        self.data = data if type(data) is float else as_float(data)
        self.grad: Any = 0.0
        self.name = name
        self._prev = _children
        self._op = _op
        self._backward: Callable[[], None] | None = None
        self._adjoint: Any = None  # d(root)/d(self) within the running backward(); None: nothing reached it
        self._fresh = True  # no backward() has set .grad yet: its first contribution becomes .grad
        self._serial = next(_creation)

    def backward(self) -> None:
        """Add d(self)/d(node) to the ``.grad`` of every node ``self`` depends on.

        Signed zeros as in the tape engine (PyTorch's rule): the first
        contribution to an adjoint, or to a ``.grad`` no backward() has set,
        is taken as it is (-0.0 included), later ones are added.
        """
        topo = _topological_order(self)
        for node in topo:
            node._adjoint = None
        self._adjoint = 1.0
        for node in reversed(topo):
            if node._adjoint is not None and node._backward is not None:
                node._backward()
        for node in topo:
            if node._adjoint is not None:
                node.grad = node._adjoint if node._fresh else node.grad + node._adjoint
                node._fresh = False

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        return f"Value(data={self.data}, grad={self.grad}{name})"

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:
        return bool(self.data)

    # One line per op, as micrograd writes them; tests/core/test_table_complete.py checks that every
    # elementwise op a program can write is reachable from here (a method, an operator or a function below).
    def __add__(self, other: Any) -> Value:
        return _apply(OpKind.ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        return _apply(OpKind.ADD, other, self)

    def __sub__(self, other: Any) -> Value:
        return _apply(OpKind.SUB, self, other)

    def __rsub__(self, other: Any) -> Value:
        return _apply(OpKind.SUB, other, self)

    def __mul__(self, other: Any) -> Value:
        return _apply(OpKind.MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _apply(OpKind.MUL, other, self)

    def __truediv__(self, other: Any) -> Value:
        return _apply(OpKind.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _apply(OpKind.DIV, other, self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return _apply(OpKind.POW, self, other)
        return _apply(OpKind.POW_CONST, self, attr=as_float(other, "an exponent"))

    def __rpow__(self, other: Any) -> Value:
        return _apply(OpKind.POW, other, self)

    def __neg__(self) -> Value:
        return _apply(OpKind.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _apply(OpKind.ABS, self)

    # Comparisons give 1.0 or 0.0; == and != keep identity, so Values stay hashable.
    def __gt__(self, other: Any) -> Value:
        return _apply(OpKind.GT, self, other)

    def __ge__(self, other: Any) -> Value:
        return _apply(OpKind.GE, self, other)

    def __lt__(self, other: Any) -> Value:
        return _apply(OpKind.LT, self, other)

    def __le__(self, other: Any) -> Value:
        return _apply(OpKind.LE, self, other)

    def relu(self) -> Value:
        return _apply(OpKind.RELU, self)

    def tanh(self) -> Value:
        return _apply(OpKind.TANH, self)

    def exp(self) -> Value:
        return _apply(OpKind.EXP, self)

    def log(self) -> Value:
        return _apply(OpKind.LOG, self)

    def sigmoid(self) -> Value:
        return _apply(OpKind.SIGMOID, self)

    def sin(self) -> Value:
        return _apply(OpKind.SIN, self)

    def cos(self) -> Value:
        return _apply(OpKind.COS, self)

    def sqrt(self) -> Value:
        return _apply(OpKind.SQRT, self)

    def abs(self) -> Value:
        return _apply(OpKind.ABS, self)

    # The more elementwise ops, as tapegrad.Value has them.
    def __mod__(self, other: Any) -> Value:
        return _apply(OpKind.MOD, self, other)

    def __rmod__(self, other: Any) -> Value:
        return _apply(OpKind.MOD, other, self)

    def __floordiv__(self, other: Any) -> Value:
        return _apply(OpKind.FLOOR_DIVIDE, self, other)

    def __rfloordiv__(self, other: Any) -> Value:
        return _apply(OpKind.FLOOR_DIVIDE, other, self)

    def tan(self) -> Value:
        return _apply(OpKind.TAN, self)

    def asin(self) -> Value:
        return _apply(OpKind.ASIN, self)

    def acos(self) -> Value:
        return _apply(OpKind.ACOS, self)

    def atan(self) -> Value:
        return _apply(OpKind.ATAN, self)

    def sinh(self) -> Value:
        return _apply(OpKind.SINH, self)

    def cosh(self) -> Value:
        return _apply(OpKind.COSH, self)

    def asinh(self) -> Value:
        return _apply(OpKind.ASINH, self)

    def acosh(self) -> Value:
        return _apply(OpKind.ACOSH, self)

    def atanh(self) -> Value:
        return _apply(OpKind.ATANH, self)

    def log1p(self) -> Value:
        return _apply(OpKind.LOG1P, self)

    def expm1(self) -> Value:
        return _apply(OpKind.EXPM1, self)

    def log2(self) -> Value:
        return _apply(OpKind.LOG2, self)

    def log10(self) -> Value:
        return _apply(OpKind.LOG10, self)

    def exp2(self) -> Value:
        return _apply(OpKind.EXP2, self)

    def cbrt(self) -> Value:
        return _apply(OpKind.CBRT, self)

    def square(self) -> Value:
        return _apply(OpKind.SQUARE, self)

    def reciprocal(self) -> Value:
        return _apply(OpKind.RECIPROCAL, self)

    def erf(self) -> Value:
        return _apply(OpKind.ERF, self)

    def erfc(self) -> Value:
        return _apply(OpKind.ERFC, self)

    def softplus(self) -> Value:
        return _apply(OpKind.SOFTPLUS, self)

    def sign(self) -> Value:
        return _apply(OpKind.SIGN, self)

    def floor(self) -> Value:
        return _apply(OpKind.FLOOR, self)

    def ceil(self) -> Value:
        return _apply(OpKind.CEIL, self)

    def round(self) -> Value:
        return _apply(OpKind.ROUND, self)

    def trunc(self) -> Value:
        return _apply(OpKind.TRUNC, self)

    def atan2(self, other: Any) -> Value:
        return _apply(OpKind.ATAN2, self, other)

    def hypot(self, other: Any) -> Value:
        return _apply(OpKind.HYPOT, self, other)

    def logaddexp(self, other: Any) -> Value:
        return _apply(OpKind.LOGADDEXP, self, other)

    def mod(self, other: Any) -> Value:
        return _apply(OpKind.MOD, self, other)

    def fmod(self, other: Any) -> Value:
        return _apply(OpKind.FMOD, self, other)

    def floor_divide(self, other: Any) -> Value:
        return _apply(OpKind.FLOOR_DIVIDE, self, other)

    def clip(self, lo: Any = None, hi: Any = None) -> Value:
        return _apply(OpKind.CLIP, self, -math.inf if lo is None else lo, math.inf if hi is None else hi)


def _apply(kind: OpKind, *operands: Any, attr: Any = None) -> Value:
    """Compute op ``kind`` on ``operands`` (Values or numbers); give the result its closure."""
    op = OPS[kind]
    children = tuple([x if isinstance(x, Value) else Value(x) for x in operands])
    args = tuple([x.data for x in children])
    if op.has_attr:
        args += (attr,)  # pow_const's exponent, passed to both rules after the operands
    out = Value(op.scalar(*args), None, children, kind)  # type: ignore[misc]
    rule = op.vjp
    if rule is None:  # comparisons: zero derivative wherever it exists
        return out

    def _backward() -> None:
        for child, c in zip(out._prev, rule(_M, out._adjoint, out.data, *args)):
            if c is not None:
                child._adjoint = c if child._adjoint is None else child._adjoint + c

    out._backward = _backward
    return out


def _topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, children before parents, found without recursion.

    Any order with children first would do; creation order is one, and it is
    the order the tape engine records in, so each node's adjoint
    contributions are summed in the same order and gradients agree bit for bit.
    """
    seen = {root}
    found = [root]
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    found.sort(key=attrgetter("_serial"))
    return found


def where(condition: Any, x: Any, y: Any) -> Value:
    """``x`` where ``condition`` holds, else ``y``; the branch not taken gets no gradient."""
    return _apply(OpKind.WHERE, condition, x, y)


def maximum(x: Any, y: Any) -> Value:
    """The larger of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return _apply(OpKind.MAXIMUM, x, y)


def minimum(x: Any, y: Any) -> Value:
    """The smaller of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return _apply(OpKind.MINIMUM, x, y)


def equal(x: Any, y: Any) -> Value:
    """1.0 where ``x == y``, else 0.0, as ``tapegrad.equal``.

    ``==`` on this engine's Values compares identity (nodes are set members), so the comparison is a function.
    """
    return _apply(OpKind.EQ, x, y)


def not_equal(x: Any, y: Any) -> Value:
    """1.0 where ``x != y``, else 0.0, as ``tapegrad.not_equal``."""
    return _apply(OpKind.NE, x, y)

"""Sympy expressions as tapes: :func:`from_sympy`.

The import walks an expression and emits one record per distinct
subexpression, so a formula from sympy gets tapegrad's gradient tapes,
optimiser and interpreters.  The walk keeps its own stack, so deep
expressions import without recursion.  :mod:`tapegrad.symbolic` holds the
other direction (tapes as sympy expressions) and re-exports
:func:`from_sympy`.

Nothing here turns a user's text into sympy: inputs must already be
``sympy.Symbol`` objects, never strings passed through ``sympify``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sympy as sp

from ..core.exact import from_sympy_number
from ..core.ops import OPS, OpKind
from ..core.tape import Tape, check_name, side_table
from ..errors import InputTypeError, UnknownNameError, UnsupportedOpError
from .symbolic_arrays import constant

__all__ = ["from_sympy"]

_FUNCTIONS = {getattr(sp, op.sympy_name): op for op in OPS if op.sympy_name}
"""sympy's functions and relations by the op each stands for: the op table's ``sympy_name`` column.
Ops of two operands that sympy writes with more (``Max(x, y, z)``) chain."""
_SUPPORTED = "numbers, the input symbols, +, *, ** (powers), sqrt, Piecewise, And, Or, Not, " + ", ".join(
    sorted(op.sympy_name for op in OPS if op.sympy_name)
)


class _Importer:
    """Emits records for sympy nodes, one per distinct node."""

    def __init__(self, tape: Tape, point: float = 1.0) -> None:
        self.tape = tape
        self.slots: dict[Any, int] = {}
        self.point = point

    def emit(self, kind: OpKind, args: Sequence[int], attr: Any = None) -> int:
        op = OPS[kind]
        values = [self.tape.values[a] for a in args]
        if kind is OpKind.CONST:
            value = float(attr)
        else:
            assert op.scalar is not None
            value = op.scalar(*values, attr) if op.has_attr else op.scalar(*values)
        return self.tape.append(kind, tuple(args), attr, value)

    def chain(self, kind: OpKind, slots: Sequence[int]) -> int:
        result = slots[0]
        for s in slots[1:]:
            result = self.emit(kind, (result, s))
        return result

    def number(self, node: Any) -> int:
        if node.is_Integer and abs(int(node)) < 2**53:
            return self.emit(OpKind.CONST, (), int(node))
        exact = from_sympy_number(node)  # 1/3, pi: kept exact for symbolic export
        if exact is not None:
            return self.emit(OpKind.CONST, (), exact)
        if node is sp.nan or node.is_extended_real:
            return self.emit(OpKind.CONST, (), float(node))
        raise UnsupportedOpError(f"the number {node} is not real; tapes hold real float64 numbers only")

    def children(self, node: Any) -> list[Any]:
        """The nodes ``node``'s record reads (a product's ``b**-1`` factors as ``b``)."""
        if node.is_Atom:
            return []
        if isinstance(node, sp.Piecewise):
            return [part for pair in node.args for part in pair.args]
        if node.is_Mul:
            factors = list(node.args[1:]) if node.args[0] == -1 else list(node.args)
            return [a.base if a.is_Pow and a.exp == -1 else a for a in factors]
        if node.is_Pow and node.exp.is_Number:
            return [node.base]
        return list(node.args)

    def node(self, node: Any) -> int:
        """The slot of ``node``, whose children already have slots."""
        s = self.slots
        if node.is_Symbol:
            raise UnknownNameError(
                f"symbol {node} is not one of the inputs; add it to inputs (inputs give the tape's arguments in order)"
            )
        if node.is_Number or isinstance(node, sp.NumberSymbol):
            return self.number(node)
        if node in (sp.true, sp.false):
            return self.emit(OpKind.CONST, (), 1 if node is sp.true else 0)
        if node.is_Add:
            return self.chain(OpKind.ADD, [s[a] for a in node.args])
        if node.is_Mul:
            return self.product(node)
        if node.is_Pow:
            return self.power(node)
        if isinstance(node, sp.log) and len(node.args) == 2:  # unevaluated log(x, base)
            top, bottom = (self.emit(OpKind.LOG, (s[a],)) for a in node.args)
            return self.emit(OpKind.DIV, (top, bottom))
        op = _FUNCTIONS.get(node.func)
        if op is not None and len(node.args) == op.arity:
            return self.emit(op.kind, [s[a] for a in node.args])
        if op is not None and op.arity == 2:
            return self.chain(op.kind, [s[a] for a in node.args])
        if isinstance(node, sp.Piecewise):
            return self.piecewise(node)
        if isinstance(node, sp.And):
            return self.chain(OpKind.MUL, [s[a] for a in node.args])
        if isinstance(node, sp.Or):
            return self.chain(OpKind.MAXIMUM, [s[a] for a in node.args])
        if isinstance(node, sp.Not):
            return self.emit(OpKind.EQ, (s[node.args[0]], self.number(sp.Integer(0))))
        raise UnsupportedOpError(
            f"sympy function {type(node).__name__} (in {str(node)[:60]}) has no tapegrad op; supported: {_SUPPORTED}"
        )

    def product(self, node: Any) -> int:
        """A product, with factors ``b**-1`` as a division (as the tape recorded ``x / b``)."""
        s = self.slots
        top = [a for a in node.args if not (a.is_Pow and a.exp == -1)]
        bottom = [a.base for a in node.args if a.is_Pow and a.exp == -1]
        negate = bool(top) and top[0] == -1
        if negate:
            top = top[1:]
        if top:
            result = self.chain(OpKind.MUL, [s[a] for a in top])
        if bottom:
            numerator = result if top else self.number(sp.Integer(1))
            result = self.emit(OpKind.DIV, (numerator, self.chain(OpKind.MUL, [s[b] for b in bottom])))
        return self.emit(OpKind.NEG, (result,)) if negate else result

    def power(self, node: Any) -> int:
        base, exponent = self.slots[node.base], node.exp
        if exponent == sp.Rational(1, 2):
            return self.emit(OpKind.SQRT, (base,))
        if exponent == -1:
            return self.emit(OpKind.DIV, (self.number(sp.Integer(1)), base))
        if exponent == sp.Rational(-1, 2):
            return self.emit(OpKind.DIV, (self.number(sp.Integer(1)), self.emit(OpKind.SQRT, (base,))))
        if exponent.is_Number:
            attr = int(exponent) if exponent.is_Integer else float(exponent)
            return self.emit(OpKind.POW_CONST, (base,), attr)
        return self.emit(OpKind.POW, (base, self.slots[exponent]))

    def piecewise(self, node: Any) -> int:
        s = self.slots
        pieces = list(node.args)
        if pieces[-1].cond is sp.true:
            result = s[pieces.pop().expr]
        else:
            result = self.number(sp.nan)  # undefined where no condition holds
        for piece in reversed(pieces):
            result = self.emit(OpKind.WHERE, (s[piece.cond], s[piece.expr], result))
        return result

    def walk(self, root: Any) -> int:
        """Emit ``root`` and everything under it, children first, without recursion."""
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.slots:
                continue
            if ready:
                self.slots[node] = self.node(node)
                continue
            stack.append((node, True))
            for child in reversed(self.children(node)):
                if child not in self.slots:
                    stack.append((child, False))
        return self.slots[root]


SYMBOLS = side_table(inherited=True)
"""The sympy symbols a tape from :func:`from_sympy` was made of, with their assumptions: its exports use them."""


def from_sympy(exprs: Any, inputs: Sequence[Any] | sp.Symbol, name: str = "sympy") -> Tape:
    """A tape computing sympy expression(s) ``exprs`` of the symbols ``inputs`` (a list, or one Symbol).

    Repeated subexpressions share one record.  The tape keeps your symbols
    (with their assumptions), so its exports come back in them::

        >>> x, y = sympy.symbols("x y", positive=True)
        >>> tape = tapegrad.from_sympy(sympy.log(x * y) + x**2, [x, y])
        >>> tapegrad.symbolic.gradient(tape)
        [2*x + 1/x, 1/y]
    """
    single = isinstance(exprs, sp.Basic)
    items = [exprs] if single else list(exprs)
    symbols = list(inputs) if isinstance(inputs, Iterable) and not isinstance(inputs, sp.Basic) else [inputs]
    check_name(name, "the tape name")
    for sym in symbols:
        if not isinstance(sym, sp.Symbol):
            raise InputTypeError(f"inputs must be sympy Symbols, got {type(sym).__name__} {sym!r}")
        check_name(str(sym), "the symbol")
    if len(set(symbols)) != len(symbols):
        raise InputTypeError(f"inputs name the same symbol twice: {symbols}")
    tape = Tape(name=name, traced=True)
    importer = _Importer(tape)
    for sym in symbols:
        slot = tape.append(OpKind.INPUT, (), str(sym), importer.point)
        tape.input_slots.append(slot)
        importer.slots[sym] = slot
    for item in items:
        if not isinstance(item, sp.Basic):
            item = constant(item)
        tape.output_slots.append(importer.walk(item))
    tape.structure = "value" if single else ("list" if isinstance(exprs, list) else "tuple")
    tape.output_names = ["out"] if single else [f"out{i}" for i in range(len(items))]
    SYMBOLS[tape] = symbols
    tape.sealed = True
    return tape

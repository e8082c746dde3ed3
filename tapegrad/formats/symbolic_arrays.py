"""Array tapes in sympy: numpy arrays of sympy expressions, their element symbols, and the size limit.

Array tapes export while they are small (:data:`ELEMENT_LIMIT`): a slot
holding an array holds a numpy array of sympy expressions (dtype object),
elementwise rules run on each element, and the array ops run their numpy
rules on those object arrays.  An input array ``W`` of shape (2, 3) becomes
the symbols ``W_0_0, W_0_1, ..., W_1_2`` (element ``(i, j)`` is ``W_i_j``; a
vector ``x`` gives ``x_0, x_1...``); 1-d and 2-d outputs come back as
``sympy.Matrix`` (a vector as a column), 0-d ones as expressions, and arrays
of more axes as ``sympy.Array``.  Float32 arrays export as the exact
formulas, like float64 ones.

The elements come first: :func:`constant` and :func:`number` turn a tape's
numbers and conditions into exact sympy ones, for scalars and array
elements alike.  :mod:`tapegrad.symbolic` exports tapes with all of this
(and re-exports :func:`constant`, :data:`ELEMENT_LIMIT` and
:func:`element_work`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..core.einsum import parse_normal, term_count
from ..core.exact import ExactConstant, to_sympy_number
from ..core.ops import Op, OpKind
from ..core.shapes import ArrayAttr, type_text
from ..core.tape import Tape
from ..errors import InputTypeError, SymbolicLimitError

ELEMENT_LIMIT = 20_000
"""The most element operations an array tape may take to export (see :func:`element_work`).

sympy builds one expression per element, thousands of times slower than
numpy computes one, so a bigger tape is refused with a
:class:`~tapegrad.errors.SymbolicLimitError`; trace the function at smaller
shapes to read its formula.
"""

CONDITIONS = (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom)
"""Conditions (not Symbols, which sympy also counts as Boolean)."""


# ---------------------------------------------------------------- elements


def constant(x: Any) -> Any:
    """A Python number as an exact sympy number: integers stay Integers, inf is oo."""
    if isinstance(x, sp.Basic):
        return x
    if isinstance(x, ExactConstant):
        return to_sympy_number(sp, x)
    if isinstance(x, bool):
        return sp.Integer(int(x))
    if isinstance(x, int):
        return sp.Integer(x)
    x = float(x)
    if x != x:
        return sp.nan
    if x in (float("inf"), float("-inf")):
        return sp.oo if x > 0 else -sp.oo
    if x.is_integer() and abs(x) < 2**53:
        return sp.Integer(int(x))
    return sp.Float(x, precision=53)  # every bit of the float


MAX_EXACT_BITS = 2**13
"""The most bits an exact number of an export may have; a larger one becomes a 53-bit ``Float``.

sympy computes with exact integers, and an integer power grows with its
exponent: a tape of ``(x - x + 3) ** 4503599627370496`` (or of forty
squarings) asks for a number of petabits, which sympy would compute for
hours before failing.  Past this bound (about 2,500 decimal digits) the
number is written as a float, which is what the tape computes anyway.
"""


def exact_bits(x: Any, depth: int = 0) -> int:
    """The bits of the largest exact number in ``x`` that sympy may combine with another operand's.

    Those are a sum's terms, a product's factors and a power's base and
    exponent; a number inside a function (``tanh(3)``) is never combined,
    so this looks only a few levels down, where sympy's canonical forms keep them.
    """
    if isinstance(x, sp.Rational):
        return max(abs(x.p).bit_length(), x.q.bit_length())
    if depth > 3 or not isinstance(x, (sp.Add, sp.Mul, sp.Pow)):
        return 0
    return max(exact_bits(a, depth + 1) for a in x.args)


def powered_bits(base: Any, exponent: Any) -> int:
    """At most the bits of the exact numbers sympy computes for ``base ** exponent``.

    An integer power distributes over a product (``(3*x)**n`` is ``3**n * x**n``)
    and multiplies a power's exponent (``sqrt(3)**n`` is ``3**(n/2)``).
    """
    if not isinstance(exponent, sp.Rational):
        return 0
    k = abs(exponent)
    if isinstance(base, sp.Rational):
        return int(exact_bits(base) * max(k, 1))
    if isinstance(base, sp.Mul):
        return sum(powered_bits(factor, exponent) for factor in base.args)
    if isinstance(base, sp.Pow) and isinstance(base.args[1], sp.Rational):
        return powered_bits(base.args[0], base.args[1] * exponent)
    return 0


def bounded_base(base: Any, exponent: Any) -> Any:
    """The base for ``base ** exponent``: its numbers as floats when the exact power would pass :data:`MAX_EXACT_BITS`.

    ``(3*x) ** 4503599627370496`` becomes ``1.81e+2148763104966015 * x**4503599627370496``
    at once (sympy's floats have room for the exponent, float64's do not).
    """
    if powered_bits(base, exponent) <= MAX_EXACT_BITS:
        return base
    numbers, rest = base.as_independent(sp.Symbol, as_Add=False)
    return sp.Float(numbers.evalf(17), precision=53) * rest


def bounded(x: Any) -> Any:
    """``x`` with every exact number of more than :data:`MAX_EXACT_BITS` bits made a float.

    Every rule's result passes here, so an operand never holds one, and no
    op but a power (see :func:`bounded_base`) more than doubles a number's size.
    """
    if isinstance(x, np.ndarray):
        return np.vectorize(bounded, otypes=[object])(x) if x.size else x
    if not isinstance(x, sp.Basic) or exact_bits(x) <= MAX_EXACT_BITS:
        return x
    big = {r: sp.Float(r, precision=53) for r in x.atoms(sp.Rational) if exact_bits(r) > MAX_EXACT_BITS}
    return x.xreplace(big)


def number(x: Any) -> Any:
    """An operand for arithmetic: a condition used as a number is 1 or 0."""
    if isinstance(x, CONDITIONS):
        return sp.Piecewise((1, x), (0, True))
    return constant(x)


# ---------------------------------------------------------------- object arrays


def elementwise(scalar: Callable[..., Any], operands: Sequence[Any], attr: Sequence[Any]) -> Any:
    """An elementwise rule on expressions, or on each element of object arrays (broadcasting as numpy does)."""
    if not any(isinstance(x, np.ndarray) for x in operands):
        return scalar(*operands, *attr)
    return scalar_if_0d(np.vectorize(lambda *xs: scalar(*xs, *attr), otypes=[object])(*operands))


def array_rule(rule: Callable[..., Any], op: Op, args: Sequence[Any]) -> Any:
    """An array op's numpy rule, run on object arrays of expressions."""
    operands, attr = (args[:-1], args[-1:]) if op.has_attr else (args, ())
    return scalar_if_0d(rule(sp, *[_object_array(x) for x in operands], *attr))


def _object_array(x: Any) -> np.ndarray:
    """``x`` as a numpy array of sympy objects (a scalar as a 0-d one), conditions as the numbers 1 or 0."""
    if not isinstance(x, np.ndarray):
        x = object_array_of([x], ())
    if x.dtype != object:
        x = x.astype(object)
    if any(isinstance(e, CONDITIONS) for e in x.flat):
        x = np.vectorize(number, otypes=[object])(x)
    return x


def scalar_if_0d(x: Any) -> Any:
    """Slots hold expressions for scalars and object arrays of one or more axes."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


def slot_constant(x: Any) -> Any:
    """A recorded constant of a tape: a number, or an array of them (as exact sympy numbers)."""
    if isinstance(x, ArrayAttr):
        x = x.array
    if isinstance(x, np.ndarray):
        return scalar_if_0d(object_array_of([constant(e) for e in x.ravel().tolist()], x.shape))
    return constant(x)


def object_array_of(items: Sequence[Any], shape: tuple[int, ...]) -> np.ndarray:
    """``items`` as a numpy object array of ``shape``, in row-major order."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape)


# ---------------------------------------------------------------- inputs and outputs


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """``W_0_0, W_0_1, ...``: the names of an array input's elements, in row-major order."""
    return [f"{name}_{'_'.join(map(str, index))}" for index in np.ndindex(shape)] if shape else []


def given(tape: Tape, symbol: Any, name: str, shape: tuple[int, ...]) -> Any:
    """A symbol the user gave for an input; for an array input, anything holding one per element.

    A ``sympy.Matrix``, ``MatrixSymbol``, ``sympy.Array``, numpy array or
    nested list, read in row-major order.
    """
    if not shape:
        return constant(symbol)
    if isinstance(symbol, sp.MatrixExpr) and not isinstance(symbol, sp.MatrixBase):
        symbol = symbol.as_explicit()
    if isinstance(symbol, (sp.MatrixBase, sp.NDimArray)):
        items = list(sp.flatten(symbol.tolist()))
    else:
        items = list(np.asarray(symbol, dtype=object).ravel())
    size = int(np.prod(shape))
    if len(items) != size:
        raise InputTypeError(
            f"symbols for input {name!r} of tape {tape.name!r} hold {len(items)} elements, but the input is an "
            f"array of shape {shape}; give {size} (a sympy.Matrix, a MatrixSymbol or a nested list)"
        )
    return object_array_of([constant(item) for item in items], shape)


def output(x: Any) -> Any:
    """An output slot as the user gets it: an expression, or a Matrix (1-d, 2-d) or Array of expressions."""
    if not isinstance(x, np.ndarray):
        return number(x)
    items = [number(e) for e in x.ravel()]
    if x.ndim == 1:
        return sp.Matrix(x.shape[0], 1, items)
    if x.ndim == 2:
        return sp.Matrix(x.shape[0], x.shape[1], items)
    return sp.Array(items, x.shape)


def flat(x: Any) -> list[Any]:
    """An exported output's elements in row-major order."""
    return list(sp.flatten(x.tolist())) if isinstance(x, (sp.MatrixBase, sp.NDimArray)) else [x]


# ---------------------------------------------------------------- the size limit


def element_work(tape: Tape) -> int:
    """How many element operations exporting ``tape`` takes, roughly: what :data:`ELEMENT_LIMIT` bounds.

    A record costs the larger of its result's size and its operands' sizes
    (a sum reads every element); a matrix product ``(n, k) @ (k, m)`` costs
    ``n * m * k``, one term per element and inner index; an einsum its terms times its operands.
    """
    total = 0
    for i, args in enumerate(tape.args):
        out = np.size(tape.values[i])
        operands = [np.shape(tape.values[a]) for a in args]
        if tape.ops[i] is OpKind.MATMUL or tape.ops[i] is OpKind.SMATMUL:
            total += out * operands[0][-1]
        elif tape.ops[i] is OpKind.EINSUM or tape.ops[i] is OpKind.SEINSUM:  # a product per term and operand
            total += term_count(parse_normal(tape.attrs[i])[0], operands) * len(operands)
        else:
            total += max(out, sum(int(np.prod(shape)) for shape in operands))
    return total


def check_size(tape: Tape) -> None:
    """SymbolicLimitError for an array tape too big to export element by element."""
    if not tape.array:
        return
    work = element_work(tape)
    if work > ELEMENT_LIMIT:
        inputs = ", ".join(f"{n}: {type_text(tape.values[s])}" for n, s in zip(tape.inputs, tape.input_slots))
        raise SymbolicLimitError(
            f"tape {tape.name!r} (inputs {inputs or 'none'}) takes about {work:,} element operations to export, "
            f"more than symbolic export takes on (ELEMENT_LIMIT = {ELEMENT_LIMIT:,}): sympy builds an expression "
            "for each element. Trace the function at smaller shapes (fewer rows, narrower layers) to read its "
            'formula; tapegrad.codegen writes numpy code (backend="numpy") at any size'
        )

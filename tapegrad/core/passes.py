"""Optimisation passes: each a small function from a tape to an equivalent tape.

:func:`optimize` runs them until the tape stops shrinking.  Every pass keeps
the inputs, outputs (with their names), guards and source sites, and every
rewrite is exact in IEEE arithmetic: the optimised tape gives bit-for-bit the
results of the original, at every input including nan, inf, -0.0 and
subnormals.  The passes:

``dead_code``
    Drops records that reach no output and no guard.
``common_subexpressions``
    One record per distinct (op, operands, attribute); the operands of
    ``add``, ``mul``, ``eq`` and ``ne`` are put in order first, since those
    commute exactly.  ``maximum`` and ``minimum`` are not treated as
    commutative: ``maximum(0.0, -0.0)`` is ``-0.0`` but ``maximum(-0.0, 0.0)``
    is ``0.0``.
``fold_constants``
    Evaluates records whose operands are all constants; drops guards on
    constants (they held when recorded, so they always hold).  Array
    records are folded only when the result is no bigger than their
    operands and is not a view (a reshape, transpose or broadcast of a
    constant stays one: numpy makes it without copying).
``identities``
    Rewrites, each exact for every input ``x`` (nan, inf, -0.0, subnormal):

    - ``x * 1``, ``1 * x``, ``x / 1``, ``x ** 1`` become ``x``;
    - ``x - 0.0`` becomes ``x`` (``-0.0 - 0.0`` is ``-0.0``), but ``x - (-0.0)``
      is kept, since ``-0.0 - (-0.0)`` is ``+0.0``;
    - ``x + (-0.0)`` and ``(-0.0) + x`` become ``x`` (``-0.0 + -0.0`` is
      ``-0.0``), but ``x + 0.0`` is kept: ``-0.0 + 0.0`` is ``+0.0``;
    - ``x * -1`` and ``-1 * x`` become ``-x`` (both flip the sign, also of
      an infinity or a zero);
    - ``-(-x)`` becomes ``x``;
    - the strong ``smul(x, 1)``, ``smul(1, x)`` and ``sdiv(x, 1)`` become
      ``x`` (``smul(x, 1)`` is ``x`` when ``x == 0`` and ``x * 1`` otherwise);
    - ``smul(c, x)`` with a constant ``c`` (a number or an array) holding no
      zero and no inf or nan becomes ``c * x`` (the strong zeros act only where
      ``c == 0``, or where ``x == 0`` and ``c`` is not finite), and ``sdiv(c, x)``
      with a ``c`` holding no zero becomes ``c / x``;
    - ``smul(x, c)`` with a constant ``c`` whose numbers are all positive and
      finite becomes ``x * c``, and ``sdiv(x, c)`` with all positive (inf
      allowed) ``x / c``: where ``x`` is zero the plain product keeps its sign,
      as the strong one does, and ``c`` is never zero, inf or nan.  "Constant"
      includes records computed from constants alone (``sqrt(2 * pi)``);
    - ``where(c, x, x)``, ``maximum(x, x)`` and ``minimum(x, x)`` become ``x``,
      and ``where`` on a constant condition becomes the branch it takes.

    - an elementwise record on arrays reads through a ``broadcast_to`` (or a
      reshape of one number) of an operand when numpy's broadcasting gives
      the same shape and dtype: elementwise results do not depend on how an
      operand is laid out.

    Never applied: ``x * 0 -> 0`` (wrong for inf and nan), ``x + 0 -> x``
    (wrong for -0.0), ``x - x -> 0`` (wrong for inf and nan), ``x / x -> 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import UnknownNameError
from .exact import ExactConstant
from .interpret import array_result
from .ops import OPS, OpKind
from .shapes import ArrayAttr, Index, dtype_of
from .tape import Attr, Tape, cyclic_gc_paused, inherit

__all__ = ["optimize", "dead_code", "live_records", "common_subexpressions", "fold_constants", "identities", "PASSES"]

Replacement = tuple[OpKind, tuple[int, ...], Attr, Any]
Visit = Callable[[Tape, OpKind, tuple[int, ...], Attr, Any], "int | Replacement | None"]
"""A rewrite rule.  Given a record whose operands already point into the new
tape, it returns the slot of the new tape that stands for the record, or a
replacement record (op, args, attr, value) for the rules after it, or None
to pass the record on unchanged."""

_INPUT, _CONST, _GUARD = OpKind.INPUT, OpKind.CONST, OpKind.GUARD
_VIEWS = frozenset(op.kind for op in OPS if op.view)  # numpy makes these without copying
_COMMUTATIVE = frozenset(op.kind for op in OPS if op.commutative)
# The optimiser's own knowledge (which identities _algebra applies), not a property of the op: a quick exit.
_HAS_IDENTITIES = {
    OpKind.MUL, OpKind.SMUL, OpKind.DIV, OpKind.SDIV, OpKind.SUB, OpKind.ADD,
    OpKind.POW_CONST, OpKind.NEG, OpKind.MAXIMUM, OpKind.MINIMUM, OpKind.WHERE,
}  # fmt: skip


def _rewrite(tape: Tape, visitors: Sequence[Visit], keep: Sequence[bool] | None = None) -> Tape:
    """Copy ``tape`` record by record through ``visitors``, in one sweep.

    Each record goes to the visitors in turn until one returns a slot; if
    none does, the record is copied.  ``keep[i] == False`` drops record ``i``
    (dead code).
    """
    new = Tape(tape.name, traced=True)
    remap = [-1] * len(tape)
    attrs, sites, values = tape.attrs, tape.sites, tape.values
    for i, (kind, old_args) in enumerate(zip(tape.ops, tape.args)):
        if keep is not None and not keep[i]:
            continue
        args = tuple([remap[a] for a in old_args])
        attr, value = attrs.get(i), values[i]
        slot = -1
        for visit in visitors:
            result = visit(new, kind, args, attr, value)
            if isinstance(result, int):
                if type(value) is not float and not _same_type(new.values[result], value):
                    continue  # an identity that would change an array's shape or dtype (x * 1 broadcast)
                slot = result
                break
            if result is not None:
                kind, args, attr, value = result
        if slot < 0:
            slot = new.append(kind, args, attr, value)
        remap[i] = slot
        if i in sites and slot == len(new) - 1 and new.ops[slot] is kind:  # kept: keep the user's line
            new.sites[slot] = sites[i]
    new.input_slots = [remap[s] for s in tape.input_slots]
    new.output_slots = [remap[s] for s in tape.output_slots]
    new.output_names = list(tape.output_names)
    new.structure = tape.structure
    new.captures = [(remap[s], v) for s, v in tape.captures]
    inherit(new, tape)
    new.sealed = True
    return new


def _same_type(a: Any, b: Any) -> bool:
    return np.shape(a) == np.shape(b) and dtype_of(a) == dtype_of(b)


def _constant(tape: Tape, slot: int) -> float | None:
    """The number in ``slot`` if it is a scalar constant record, else None."""
    if tape.ops[slot] is not _CONST or isinstance(tape.values[slot], np.ndarray):
        return None
    return float(tape.values[slot])


def _fixed(tape: Tape, slot: int, depth: int = 4) -> bool:
    """Is ``slot``'s value fixed by constants alone: a constant, or an op (a view...) of such slots?

    ``2 * pi`` and ``sqrt(2 * pi)`` are (``pi`` stays exact for symbolic export, so they are not
    folded); ``depth`` bounds the search.  The recorded value is then the value at every input.
    """
    kind = tape.ops[slot]
    if kind is _CONST:
        return True
    args = tape.args[slot]
    return bool(args) and kind is not _INPUT and depth > 0 and all(_fixed(tape, a, depth - 1) for a in args)


def _nonzero_constant(tape: Tape, slot: int, finite: bool = False) -> bool:
    """Is ``slot`` fixed by constants (see :func:`_fixed`) with no zero in it (and, if ``finite``, no inf or nan)?

    Then a strong quotient (a strong product, if finite) is a plain one.
    """
    if not _fixed(tape, slot):
        return False
    value = tape.values[slot]
    return bool(np.all(value != 0.0) and (not finite or np.all(np.isfinite(value))))


def _positive_constant(tape: Tape, slot: int, finite: bool = False) -> bool:
    """Is ``slot`` fixed by constants with every number in it above zero (no nan; if ``finite``, no inf)?

    Then a strong product or quotient *by* it is a plain one: ``smul(g, y)`` is ``g`` where ``g == 0``,
    and so is ``g * y`` for a positive finite ``y`` (``-0.0 * 2.0`` is ``-0.0``); ``y == 0`` or a
    non-finite ``y``, where the two differ, cannot occur.  The same holds for ``sdiv(g, y)`` and
    ``g / y``, with ``y = inf`` allowed.  (A negative ``y`` would flip the sign of a zero ``g``.)
    """
    if not _fixed(tape, slot):
        return False
    value = tape.values[slot]
    return bool(np.all(value > 0.0) and (not finite or np.all(np.isfinite(value))))


def _is(tape: Tape, slot: int, number: float) -> bool:
    """Is ``slot`` the constant ``number``, sign of zero included?"""
    c = _constant(tape, slot)
    return c is not None and c == number and math.copysign(1.0, c) == math.copysign(1.0, number)


# ---------------------------------------------------------------- the rewrite rules


def _fold(new: Tape, kind: OpKind, args: tuple[int, ...], attr: Attr, value: Any) -> int | Replacement | None:
    """Evaluate a record on constants; a guard on a constant held when recorded, so drop it."""
    if not args:
        return None
    ops = new.ops
    for a in args:
        if ops[a] is not _CONST or type(new.attrs.get(a)) is ExactConstant:
            return None  # pi or 1/3 stays exact for symbolic export; numeric code computes with its float
    if kind is _GUARD:
        return args[0]
    op = OPS[kind]
    if op.array is None:
        return None
    operands = [new.values[a] for a in args]
    if op.scalar is None or any(isinstance(x, np.ndarray) for x in operands):
        if kind in _VIEWS or np.size(value) > sum(np.size(x) for x in operands):
            return None  # a constant copy of a view, or a broadcast: more memory, and other bits from matmul
        folded = array_result(op, operands, attr)
        return (_CONST, (), ArrayAttr(folded) if isinstance(folded, np.ndarray) else folded, folded)
    operands = [float(x) for x in operands]
    folded = op.scalar(*operands, attr) if op.has_attr else op.scalar(*operands)
    return (_CONST, (), folded, folded)


def _identity(new: Tape, kind: OpKind, args: tuple[int, ...], attr: Attr, value: Any) -> int | Replacement | None:
    """Apply an exact identity (see the module docstring), if one fits."""
    unviewed = _unviewed(new, kind, args, value)
    result = _algebra(new, kind, unviewed or args, attr, value)
    if result is None and unviewed is not None:
        return (kind, unviewed, attr, value)
    return result


def _unviewed(new: Tape, kind: OpKind, args: tuple[int, ...], value: Any) -> tuple[int, ...] | None:
    """The operands of an elementwise array record with broadcasts (and reshapes of one number) looked
    through, when numpy's broadcasting gives the same shape and dtype without them; else None."""
    if type(value) is not np.ndarray or not OPS[kind].elementwise:
        return None
    result, changed = list(args), False
    tests = OPS[kind].tests  # operands that pick a value but give the result no dtype
    for k in range(len(result)):
        a = result[k]
        while new.ops[a] is OpKind.BROADCAST_TO or (new.ops[a] is OpKind.RESHAPE and np.size(new.values[a]) == 1):
            trial = [*result[:k], new.args[a][0], *result[k + 1 :]]
            operands = [new.values[t] for t in trial]
            dtype = np.result_type(*[getattr(x, "dtype", x) for n, x in enumerate(operands) if n not in tests])
            if np.broadcast_shapes(*[np.shape(x) for x in operands]) != value.shape or dtype != value.dtype:
                break
            a, result, changed = trial[k], trial, True
    return tuple(result) if changed else None


def _algebra(new: Tape, kind: OpKind, args: tuple[int, ...], attr: Attr, value: Any) -> int | Replacement | None:
    """The identities that rewrite a record in terms of its operands."""
    if kind not in _HAS_IDENTITIES:
        return None
    if kind in (OpKind.MUL, OpKind.SMUL):
        x, y = args
        if _is(new, y, 1.0):
            return x
        if _is(new, x, 1.0):
            return y
        if kind is OpKind.SMUL and (_nonzero_constant(new, x, finite=True) or _positive_constant(new, y, finite=True)):
            return (OpKind.MUL, args, None, value)
        if kind is OpKind.MUL and (_is(new, y, -1.0) or _is(new, x, -1.0)):
            return (OpKind.NEG, (x if _is(new, y, -1.0) else y,), None, value)
    elif kind in (OpKind.DIV, OpKind.SDIV):
        if _is(new, args[1], 1.0):
            return args[0]
        if kind is OpKind.SDIV and (_nonzero_constant(new, args[0]) or _positive_constant(new, args[1])):
            return (OpKind.DIV, args, None, value)
    elif kind is OpKind.SUB:
        if _is(new, args[1], 0.0):
            return args[0]
    elif kind is OpKind.ADD:
        x, y = args
        if _is(new, y, -0.0):
            return x
        if _is(new, x, -0.0):
            return y
    elif kind is OpKind.POW_CONST:
        if attr == 1:
            return args[0]
    elif kind is OpKind.NEG:
        if new.ops[args[0]] is OpKind.NEG:
            return new.args[args[0]][0]
    elif kind in (OpKind.MAXIMUM, OpKind.MINIMUM):
        if args[0] == args[1]:
            return args[0]
    elif kind is OpKind.WHERE:
        c, x, y = args
        if x == y:
            return x
        condition = _constant(new, c)
        if condition is not None:
            return x if condition else y
    return None


def _common_subexpressions() -> Visit:
    """A rule that keeps one record per distinct computation (so it emits records itself)."""
    seen: dict[tuple[Any, ...], int] = {}

    def visit(new: Tape, kind: OpKind, args: tuple[int, ...], attr: Attr, value: Any) -> int | Replacement | None:
        if kind is _INPUT:
            return None
        operands = (args[1], args[0]) if kind in _COMMUTATIVE and args[0] > args[1] else args
        # repr tells -0.0 from 0.0 and 2 from 2.0, which == would not; array attributes compare by content.
        if attr is None:
            key: tuple[Any, ...] = (kind, operands)
        elif isinstance(attr, (tuple, Index, ArrayAttr)):
            key = (kind, operands, type(attr).__name__, attr)
        else:
            key = (kind, operands, type(attr).__name__, repr(attr))
        slot = seen.get(key)
        if slot is None:
            slot = seen[key] = new.append(kind, args, attr, value)
        return slot

    return visit


# ---------------------------------------------------------------- the passes


def live_records(tape: Tape) -> list[bool]:
    """Which records an output or a guard depends on (inputs and captures always count as live)."""
    live = [False] * len(tape)
    for s in tape.output_slots + tape.input_slots + [s for s, _ in tape.captures]:
        live[s] = True
    for i in range(len(tape) - 1, -1, -1):
        if tape.ops[i] is _GUARD:
            live[i] = True
        if live[i]:
            for a in tape.args[i]:
                live[a] = True
    return live


def dead_code(tape: Tape) -> Tape:
    """Drop the records that no output and no guard depends on."""
    return _rewrite(tape, [], keep=live_records(tape))


def common_subexpressions(tape: Tape) -> Tape:
    """Keep one record per distinct (op, operands, attribute)."""
    return _rewrite(tape, [_common_subexpressions()])


def fold_constants(tape: Tape) -> Tape:
    """Evaluate records on constants at optimisation time."""
    return _rewrite(tape, [_fold])


def identities(tape: Tape) -> Tape:
    """Apply the exact algebraic identities listed in the module docstring."""
    return _rewrite(tape, [_identity])


PASSES: dict[str, Callable[[Tape], Tape]] = {
    "fold": fold_constants,
    "identities": identities,
    "cse": common_subexpressions,
    "dce": dead_code,
}
"""The passes by name, in the order :func:`optimize` runs them by default."""


def optimize(tape: Tape, passes: Sequence[str] | None = None) -> Tape:
    """An equivalent, usually smaller tape.

    ``passes`` names some of :data:`PASSES` (default: all).  The record-local
    passes (fold, identities, cse) run fused in one sweep over the tape, each
    seeing what the others did to earlier records, so one sweep reaches what
    repeating them would; dead-code elimination follows.

    >>> tape = tapegrad.trace(lambda x, y: (x * y).tanh() + x.exp() * y, 1.0, 2.0)
    >>> tapegrad.grad_tape(tape).stats()
    {'input': 2, 'mul': 3, 'tanh': 1, 'exp': 1, 'add': 3, 'const': 1, 'smul': 6, 'sub': 1}
    >>> small = tapegrad.optimize(tapegrad.grad_tape(tape))
    >>> small.stats()
    {'input': 2, 'mul': 3, 'tanh': 1, 'exp': 1, 'add': 3, 'const': 1, 'smul': 3, 'sub': 1}
    """
    names = list(passes) if passes is not None else list(PASSES)
    for name in names:
        if name not in PASSES:
            raise UnknownNameError(f"no optimiser pass named {name!r}; the passes are {', '.join(PASSES)}")
    rules: dict[str, Callable[[], Visit]] = {
        "fold": lambda: _fold,
        "identities": lambda: _identity,
        "cse": _common_subexpressions,  # last: it emits what the others let through
    }
    visitors = [make() for name, make in rules.items() if name in names]
    with cyclic_gc_paused():
        if visitors:
            tape = _rewrite(tape, visitors)
        if "dce" in names:
            tape = dead_code(tape)
    return tape

"""The forward and reverse interpreters: loops over records.

Both loops are generic over a :class:`Domain`, the kind of value held in the
slots: Python floats, numpy arrays (a batch of points, evaluated
elementwise) or recording Values (so that replaying a tape, or its backward
pass, records a new tape).  They look each record's rules up in the op table;
there is no recursion, no per-node closure and no topological sort: the tape
is already in evaluation order, so the reverse sweep is a loop backwards.

Strong zeros: an adjoint that is exactly zero propagates nothing, even where
the local derivative is inf or nan.  The backward rules keep that rule
themselves (``smul``, ``sdiv``, ``where``), elementwise, so no loop skips a
record for a zero adjoint: skipping would drop the signed zeros the rules
send, and every engine follows PyTorch's rule for signed zeros (the first
contribution to an adjoint is the adjoint, -0.0 included; later ones are
added; a slot nothing reaches has none, and an input's gradient is then +0.0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NonFiniteError, ShapeError, StaleTapeError, UnsupportedOpError
from .linalg_rules import TANGENTS as LINALG_TANGENTS
from .ops import OPS, Op, OpKind
from .shapes import FLOAT64, ArrayAttr, dtype_of, type_text
from .state import STATE

if TYPE_CHECKING:
    from .tape import Tape

__all__ = [
    "Domain",
    "make_domain",
    "FLOAT",
    "ARRAY",
    "sweep",
    "array_result",
    "forward",
    "backward",
    "forward_tangents",
    "fit",
    "forward_float",
    "backward_float",
]

_INPUT, _CONST, _GUARD = OpKind.INPUT, OpKind.CONST, OpKind.GUARD


@dataclass(frozen=True)
class Domain:
    """How the interpreters handle one kind of slot value.

    ``forward[kind]`` evaluates an op; ``m`` holds the same functions by op
    name for the backward rules.  ``is_zero`` tells an adjoint that is zero
    everywhere (its record can be skipped); ``truth(condition, site)``
    evaluates a guard's condition (over Values, recording the guard again);
    ``numbers`` gives the numbers a slot value holds (a Value's data).
    """

    name: str
    forward: tuple[Callable[..., Any] | None, ...]
    m: SimpleNamespace
    const: Callable[[Any], Any]
    is_zero: Callable[[Any], bool]
    truth: Callable[[Any, str | None], Any]
    numbers: Callable[[Any], Any] = lambda x: x  # the numbers a slot holds, for debug_nans


def make_domain(name: str, pick: Callable[[Op], Callable[..., Any] | None], **hooks: Any) -> Domain:
    """A Domain whose functions are ``pick(op)`` for every op of the table."""
    functions = tuple(pick(op) for op in OPS)
    m = SimpleNamespace(**{op.name: fn for op, fn in zip(OPS, functions) if fn is not None})
    return Domain(name, functions, m, **hooks)


def _float_is_zero(g: Any) -> bool:
    return g == 0.0



FLOAT = make_domain(
    "float",
    lambda op: op.scalar,
    const=float,
    is_zero=_float_is_zero,
    truth=lambda c, site: bool(c),
)
def _array_is_zero(g: Any) -> bool:
    """A zero number (for :func:`tapegrad.replay.explain`, which says what a zero adjoint sends)."""
    return type(g) is float and g == 0.0


def _array_const(c: Any) -> Any:
    """A constant's attribute, or a recorded input's value, as array-domain data."""
    if isinstance(c, ArrayAttr):
        return c.array
    return c if isinstance(c, np.ndarray) else float(c)


ARRAY = make_domain(
    "array",
    lambda op: op.array,
    const=_array_const,
    is_zero=_array_is_zero,
    truth=lambda c, site: np.asarray(c) != 0.0,
)


# ---------------------------------------------------------------- the two loops


def forward(
    tape: Tape,
    inputs: Sequence[Any],
    domain: Domain,
    captured: Sequence[Any] | None = None,
    on_record: Callable[[int, Any], Any] | None = None,
) -> list[Any]:
    """Evaluate every record of ``tape`` on ``inputs``; return all slot values.

    Inputs of the tape that are not its declared inputs (captured Values,
    links of eager tapes) take ``captured`` if given, else their recorded value.
    ``on_record(slot, value)``, if given, sees the value of each op record
    (not inputs, constants or guards) and returns what the slot holds from
    then on: symbolic export's cse form names shared subexpressions there.
    """
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    values: list[Any] = [None] * len(ops)
    for slot, x in zip(tape.input_slots, inputs):
        values[slot] = x
    if captured is not None:
        for (slot, _), x in zip(tape.captures, captured):
            values[slot] = x
    functions = domain.forward
    check = STATE.debug_nans
    for i, kind in enumerate(ops):
        if kind is _INPUT:
            if values[i] is None:
                values[i] = domain.const(tape.values[i])
        elif kind is _CONST:
            values[i] = domain.const(attrs[i])
        elif kind is _GUARD:
            condition = values[argss[i][0]]
            _check_guard(tape, i, domain.truth(condition, tape.sites.get(i)))
            values[i] = condition
        else:
            args = [values[a] for a in argss[i]]
            fn = functions[kind]
            out = fn(*args, attrs[i]) if i in attrs else fn(*args)  # type: ignore[misc]
            # A float64 scalar from a reduction is a Python float, as when recorded: numpy treats it as weak.
            values[i] = float(out) if type(out) is np.float64 else out
            if on_record is not None:
                values[i] = on_record(i, values[i])
        if check:
            _check_finite(tape, i, domain.numbers(values[i]), "forward")
    return values


def backward(
    tape: Tape,
    values: Sequence[Any],
    seeds: dict[int, Any],
    domain: Domain,
    on_adjoint: Callable[[int, Any, list[tuple[int, Any]]], None] | None = None,
) -> list[Any]:
    """The reverse sweep: adjoints of every slot, given adjoints of some.

    ``seeds`` maps slots to their incoming adjoints (usually one output to
    1.0).  Returns one adjoint per slot up to the highest seed, ``None``
    where nothing flowed.  ``on_adjoint(slot, adjoint, contributions)``, if
    given, sees each record the sweep reaches, newest first, with what it
    sends as ``(operand slot, cotangent)`` pairs (none for an input or a
    constant): :func:`tapegrad.functional.replay.explain` prints them.
    """
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    top = max(seeds) if seeds else -1
    adjoint: list[Any] = [None] * (top + 1)
    for slot, g in seeds.items():
        adjoint[slot] = g
    m = domain.m
    check = STATE.debug_nans
    broadcasts, narrow = tape.broadcasts, tape.narrow
    for i in range(top, -1, -1):
        g = adjoint[i]
        if g is None:
            continue
        op = OPS[ops[i]]
        rule = op.vjp
        if rule is None:
            if on_adjoint is not None:
                on_adjoint(i, g, [])
            continue
        args = argss[i]
        operands = [values[a] for a in args]
        if op.has_attr:
            contributions = rule(m, g, values[i], *operands, attrs[i])
        else:
            contributions = rule(m, g, values[i], *operands)
        broadcast = i in broadcasts
        sent: list[tuple[int, Any]] = []
        for a, c in zip(args, contributions):
            if c is None:
                continue
            if broadcast or narrow:
                c = fit(m, c, values[a])
            if check:
                _check_finite(tape, i, domain.numbers(c), f"backward (adjoint sent to %{a})")
            previous = adjoint[a]
            adjoint[a] = c if previous is None else previous + c
            if on_adjoint is not None:
                sent.append((a, c))
        if on_adjoint is not None:
            on_adjoint(i, g, sent)
    return adjoint


def fit(m: SimpleNamespace, c: Any, operand: Any) -> Any:
    """A cotangent of a broadcasting (or promoting) record, summed and cast back to its operand's shape and dtype."""
    shape = np.shape(operand)
    if np.shape(c) != shape:
        c = m.sum_to(c, shape)
    dtype = dtype_of(operand)
    if dtype_of(c) != dtype:
        c = m.astype(c, dtype.name)
    return c


def forward_tangents(tape: Tape, values: Sequence[Any], tangents: dict[int, Any], domain: Domain) -> list[Any]:
    """Forward mode: the tangent of every slot, given tangents of some (inputs).

    Needs no second set of derivative rules: a backward rule is linear in its
    adjoint, so evaluating it with ``g = 1`` gives the op's partial
    derivatives, and a record's tangent is the sum of partial times operand
    tangent.  The products are strong (``smul``) on both sides, so a zero
    tangent propagates nothing, and a zero partial stops an infinite or nan
    tangent (``where(x > 0, sqrt(x), 0)`` at -1 has tangent 0, as its
    gradient is 0).  Array ops are linear in their operands, bilinear
    (``matmul``) or a weighted sum (``max``, ``logsumexp``: the weights are
    again the backward rule at ``g = 1``), see :func:`_array_tangent`.
    Returns ``None`` where no tangent flows.
    """
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    tangent: list[Any] = [None] * len(ops)
    for slot, t in tangents.items():
        tangent[slot] = t
    m = domain.m
    for i, kind in enumerate(ops):
        op = OPS[kind]
        args = argss[i]
        if op.vjp is None or all(tangent[a] is None for a in args):
            continue
        operands = [values[a] for a in args]
        if not op.elementwise:
            tangent[i] = _array_tangent(m, op, values[i], operands, [tangent[a] for a in args], attrs.get(i))
            continue
        if op.has_attr:
            partials = op.vjp(m, 1.0, values[i], *operands, attrs[i])
        else:
            partials = op.vjp(m, 1.0, values[i], *operands)
        total = None
        for a, partial in zip(args, partials):
            t = tangent[a]
            if t is None or partial is None:
                continue
            term = m.smul(t, partial)
            total = term if total is None else total + term
        if total is not None and i in tape.broadcasts and np.shape(total) != np.shape(values[i]):
            total = m.broadcast_to(total, np.shape(values[i]))
        tangent[i] = total
    return tangent


# How forward mode treats each shape-changing op (tests/core/test_table_complete.py runs every one).
# Forward mode's own algorithm, kept out of the table: the table holds one rule set (vjp) and forward
# mode derives from it by class of op; only take (linear in its first operand), the matrix products
# (bilinear, einsum multilinear), log_softmax (a transpose the vjp cannot give at g = 1) and the numpy.linalg
# rows (their forward rules sit beside their vjp rules in linalg_rules.py) are named below.
LINEAR_OPS = frozenset(op.kind for op in OPS if op.linear and not op.elementwise)
WEIGHTED_SUM_OPS = frozenset(op.kind for op in OPS if op.reduction and not op.linear)  # max, logsumexp


def _array_tangent(m: SimpleNamespace, op: Op, out: Any, operands: list[Any], tangents: list[Any], attr: Any) -> Any:
    """The tangent of a shape-changing record, from its operands' tangents (None: zero)."""
    extra = (attr,) if op.has_attr else ()
    forward = getattr(m, op.name)
    if op.kind in LINEAR_OPS:
        filled = [np.zeros(np.shape(x)) if t is None else t for x, t in zip(operands, tangents)]
        return forward(*filled, *extra)
    if op.kind is OpKind.TAKE or op.kind is OpKind.TAKE_GRAD:  # linear in the first operand; indices stay
        return forward(tangents[0], operands[1], *extra) if tangents[0] is not None else None
    if op.kind is OpKind.MATMUL or op.kind is OpKind.SMATMUL:  # bilinear; tangent times operand is strong
        (x, y), (tx, ty) = operands, tangents
        terms = [m.smatmul(tx, y) if tx is not None else None, m.smatmul(x, ty) if ty is not None else None]
        return terms[0] if terms[1] is None else terms[1] if terms[0] is None else terms[0] + terms[1]
    if op.kind is OpKind.EINSUM or op.kind is OpKind.SEINSUM:  # multilinear: one strong term per tangent
        total = None
        for k, t in enumerate(tangents):
            if t is not None:
                term = m.seinsum(*operands[:k], t, *operands[k + 1 :], attr)
                total = term if total is None else total + term
        return total
    if op.kind is OpKind.LOG_SOFTMAX:  # t - sum(softmax * t)
        return tangents[0] - m.sum(m.smul(tangents[0], m.exp(out)), ((attr,), True))
    if op.name in LINALG_TANGENTS:  # matrix functions: their own forward rules, beside their vjp rules
        return LINALG_TANGENTS[op.name](m, out, *operands, *tangents)
    if op.kind in WEIGHTED_SUM_OPS and op.vjp is not None:
        (weights,) = op.vjp(m, np.ones(np.shape(out)), out, operands[0], attr)
        return m.sum(m.smul(tangents[0], weights), attr)
    raise UnsupportedOpError(f"forward mode has no rule for op {op.name}")


# ---------------------------------------------------------------- the float fast path
# The same loops specialised to Python floats: no domain hooks, operands
# unpacked by arity, and 0.0 standing for "nothing flowed".  The replay
# benchmark needs it; tests check it against the generic loops above.

_SCALAR = tuple(op.scalar for op in OPS)
_VJP = tuple(op.vjp for op in OPS)
_FLOAT_M = FLOAT.m
_ADD, _MUL, _RELU = OpKind.ADD, OpKind.MUL, OpKind.RELU
INLINED_VJPS = frozenset({_ADD, _MUL, _RELU})
"""The ops whose backward rules :func:`backward_float` runs inline, without calling the table's rule."""


def forward_float(tape: Tape, inputs: Sequence[float]) -> list[Any]:
    """:func:`forward` over floats; debug_nans needs the generic loop."""
    values = list(tape.values)  # inputs, constants and captures already hold their numbers
    for slot, x in zip(tape.input_slots, inputs):
        values[slot] = x
    attrs = tape.attrs
    for i, kind, args in zip(range(len(values)), tape.ops, tape.args):
        fn = _SCALAR[kind]
        if fn is None:
            if kind is _GUARD:
                _check_guard(tape, i, bool(values[args[0]]))
            continue
        if len(args) == 2:
            a, b = args
            values[i] = fn(values[a], values[b])
        elif i in attrs:
            values[i] = fn(values[args[0]], attrs[i])
        elif len(args) == 1:
            values[i] = fn(values[args[0]])
        else:
            values[i] = fn(*[values[a] for a in args])
    return values


def backward_float(tape: Tape, values: Sequence[Any], seeds: dict[int, Any]) -> list[Any]:
    """:func:`backward` over floats, with None where nothing flowed.

    The first contribution is stored, not added to 0.0, and a zero adjoint
    still sends its zeros, so a gradient of ``-0.0`` keeps its sign, as in the
    generic loop and in generated code.  The rules of the commonest ops of
    scalar programs (:data:`INLINED_VJPS`: 99% of the records of an MLP step)
    run inline, without calling the table; a zero adjoint reaching ``mul``
    is sent on as it is, since ``smul(±0, y)`` is that zero whatever ``y``.
    One exact shortcut: a zero adjoint sends only zeros (the rules are
    strong), and adding a zero to a nonzero (or nan) partial sum changes no
    bit of it or of any later sum, so a record with a zero adjoint whose
    operands already hold such sums is skipped (every op but ``relu``; half
    the records of a relu network carry zero adjoints).
    """
    top = max(seeds) if seeds else -1
    adjoint: list[Any] = [None] * (top + 1)
    for slot, g in seeds.items():
        adjoint[slot] = g
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    m = _FLOAT_M
    for i in range(top, -1, -1):
        g = adjoint[i]
        if g is None:
            continue
        kind = ops[i]
        # The inlined rules: each sends what the table's rule sends, bit for bit (tests/core/
        # test_zero_adjoints.py checks every case against the table).  The sweep of the moons
        # step (65,620 records) takes 0.54x the time of calling the rules (8.9 ms instead of 16.6).
        if kind is _MUL or kind is _ADD:
            a, b = argss[i]
            if not g:  # add sends the zero on, and smul(±0, y) is that zero whatever y is
                if adjoint[a] and adjoint[b]:  # the shortcut below: adding it would change no bit
                    continue
                da = db = g
            elif kind is _ADD:
                da = db = g
            elif g - g == 0.0:  # finite and nonzero: smul(g, y) is the product
                da, db = g * values[b], g * values[a]
            else:  # an inf or nan adjoint: smul's own rule decides
                da, db = _VJP[kind](m, g, values[i], values[a], values[b])  # type: ignore[misc]
            previous = adjoint[a]
            adjoint[a] = da if previous is None else previous + da
            previous = adjoint[b]
            adjoint[b] = db if previous is None else previous + db
            continue
        if kind is _RELU:
            (a,) = argss[i]
            da = g if values[a] > 0.0 else 0.0  # gate(g, x)
            previous = adjoint[a]
            adjoint[a] = da if previous is None else previous + da
            continue
        rule = _VJP[kind]
        if rule is None:
            continue
        args = argss[i]
        if len(args) == 2:
            a, b = args
            if g == 0.0 and adjoint[a] and adjoint[b]:
                continue
            da, db = rule(m, g, values[i], values[a], values[b])
            if da is not None:
                previous = adjoint[a]
                adjoint[a] = da if previous is None else previous + da
            if db is not None:
                previous = adjoint[b]
                adjoint[b] = db if previous is None else previous + db
            continue
        if len(args) == 1:
            (a,) = args
            if g == 0.0 and adjoint[a]:
                continue
            if i in attrs:
                (da,) = rule(m, g, values[i], values[a], attrs[i])
            else:
                (da,) = rule(m, g, values[i], values[a])
            if da is not None:
                previous = adjoint[a]
                adjoint[a] = da if previous is None else previous + da
            continue
        for a, c in zip(args, rule(m, g, values[i], *[values[a] for a in args])):
            if c is not None:
                previous = adjoint[a]
                adjoint[a] = c if previous is None else previous + c
    return adjoint


def _check_guard(tape: Tape, slot: int, truth: Any) -> None:
    if truth is None:  # a domain that cannot decide (symbols): the recorded branch is assumed
        return
    expected = bool(tape.attrs[slot])
    flipped = np.asarray(truth) != expected
    if not np.any(flipped):
        return
    count = int(np.count_nonzero(flipped))
    where = tape.sites.get(slot, "an unknown line")
    points = f" at {count} of {flipped.size} points" if flipped.ndim else ""
    raise StaleTapeError(
        f"guard {tape.describe_guard(slot)} at {where} is now {not expected}{points}: "
        f"tape {tape.name!r} recorded only the other branch of that Python condition, so replaying it "
        "would silently give a wrong answer. Write the branch with tapegrad.where(cond, a, b), "
        "wrap the function in tapegrad.function(f) to keep one tape per branch, or trace again at these inputs."
    )


def _check_finite(tape: Tape, slot: int, value: Any, phase: str) -> None:
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(f"{phase}: record {tape.format_record(slot)} of tape {tape.name!r} produced {value!r}")


def sweep(tape: Tape, values: Sequence[Any], seeds: dict[int, Any], domain: Domain) -> list[Any]:
    """:func:`backward`, taking the float fast path when it can (arrays never can)."""
    if domain is FLOAT:
        if tape.array:
            with np.errstate(all="ignore"):
                return backward(tape, values, seeds, ARRAY)
        if not STATE.debug_nans:
            return backward_float(tape, values, seeds)
    return backward(tape, values, seeds, domain)


# ---------------------------------------------------------------- one op on numpy arrays



def array_result(op: Op, args: list[Any], attr: Any) -> Any:
    """``op``'s numpy rule on ``args``, as slot data: a float for a float64 scalar, else an array.

    numpy's errors about shapes become :class:`ShapeError`, naming the op
    and the shapes, when the op is recorded.
    """
    try:
        if op.rearranges:  # no arithmetic, nothing to silence
            out = op.array(*args, attr) if op.has_attr else op.array(*args)  # type: ignore[misc]
        else:
            with np.errstate(all="ignore"):
                out = op.array(*args, attr) if op.has_attr else op.array(*args)  # type: ignore[misc]
    except (ValueError, IndexError, TypeError) as error:
        shapes = " and ".join(type_text(a) for a in args)
        raise ShapeError(f"{op.name}: operands {shapes} do not fit: {error}") from None
    if type(out) is np.ndarray and (out.ndim or out.dtype != FLOAT64):
        return out
    if dtype_of(out) == FLOAT64:
        return float(out)
    return np.asarray(out)

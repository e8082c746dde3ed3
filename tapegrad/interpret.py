"""The forward and reverse interpreters: loops over records.

Both loops are generic over a :class:`Domain`, the kind of value held in the
slots: Python floats, numpy arrays (a batch of points, evaluated
elementwise) or recording Values (so that replaying a tape, or its backward
pass, records a new tape).  They look each record's rules up in the op table;
there is no recursion, no per-node closure and no topological sort: the tape
is already in evaluation order, so the reverse sweep is a loop backwards.

Strong zeros: an adjoint that is exactly zero propagates nothing, even where
the local derivative is inf or nan.  For floats a zero adjoint skips its
record; for arrays the rule holds elementwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import (
    ArgumentCountError,
    ConcretizationError,
    InputTypeError,
    LeakedValueError,
    NonFiniteError,
    NonScalarOutputError,
)
from .ops import OPS, Op, OpKind
from .state import STATE
from .value import Value, apply, as_float, constant, truth

if TYPE_CHECKING:
    from .tape import Tape

__all__ = [
    "Domain",
    "make_domain",
    "FLOAT",
    "ARRAY",
    "VALUE",
    "forward",
    "backward",
    "forward_tangents",
    "replay",
    "replay_gradient",
    "restructure",
    "input_gradients",
    "eager_backward",
    "explain",
]

_INPUT, _CONST, _GUARD = OpKind.INPUT, OpKind.CONST, OpKind.GUARD


@dataclass(frozen=True)
class Domain:
    """How the interpreters handle one kind of slot value.

    ``forward[kind]`` evaluates an op; ``m`` holds the same functions by op
    name for the backward rules.  ``is_zero`` tells an adjoint that is zero
    everywhere (its record can be skipped); ``truth(condition, site)``
    evaluates a guard's condition (over Values, recording the guard again).
    """

    name: str
    forward: tuple[Callable[..., Any] | None, ...]
    m: SimpleNamespace
    const: Callable[[Any], Any]
    is_zero: Callable[[Any], bool]
    truth: Callable[[Any, str | None], Any]


def make_domain(name: str, pick: Callable[[Op], Callable[..., Any] | None], **hooks: Any) -> Domain:
    """A Domain whose functions are ``pick(op)`` for every op of the table."""
    functions = tuple(pick(op) for op in OPS)
    m = SimpleNamespace(**{op.name: fn for op, fn in zip(OPS, functions) if fn is not None})
    return Domain(name, functions, m, **hooks)


def _float_is_zero(g: Any) -> bool:
    return g == 0.0


def _with_errstate(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    if fn is None:
        return None

    def quiet(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args)

    return quiet


def _value_function(op: Op) -> Callable[..., Any] | None:
    if op.scalar is None:
        return None
    if op.has_attr:
        return lambda *args: apply(op, *args[:-1], attr=args[-1])
    return lambda *args: apply(op, *args)


def _value_is_zero(g: Any) -> bool:
    return not isinstance(g, Value) and g == 0.0


FLOAT = make_domain(
    "float",
    lambda op: op.scalar,
    const=float,
    is_zero=_float_is_zero,
    truth=lambda c, site: bool(c),
)
ARRAY = make_domain(
    "array",
    lambda op: op.array,
    const=float,
    is_zero=lambda g: not np.any(g),
    truth=lambda c, site: np.asarray(c) != 0.0,
)
VALUE = make_domain(
    "value",
    _value_function,
    const=constant,
    is_zero=_value_is_zero,
    truth=truth,
)


# ---------------------------------------------------------------- the two loops


def forward(tape: Tape, inputs: Sequence[Any], domain: Domain, captured: Sequence[Any] | None = None) -> list[Any]:
    """Evaluate every record of ``tape`` on ``inputs``; return all slot values.

    Inputs of the tape that are not its declared inputs (captured Values,
    links of eager tapes) take ``captured`` if given, else their recorded value.
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
            values[i] = fn(*args, attrs[i]) if i in attrs else fn(*args)  # type: ignore[misc]
        if check:
            _check_finite(tape, i, values[i], "forward")
    return values


def backward(tape: Tape, values: Sequence[Any], seeds: dict[int, Any], domain: Domain) -> list[Any]:
    """The reverse sweep: adjoints of every slot, given adjoints of some.

    ``seeds`` maps slots to their incoming adjoints (usually one output to
    1.0).  Returns one adjoint per slot up to the highest seed, ``None``
    where nothing flowed.
    """
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    top = max(seeds) if seeds else -1
    adjoint: list[Any] = [None] * (top + 1)
    for slot, g in seeds.items():
        adjoint[slot] = g
    m = domain.m
    is_zero = domain.is_zero
    check = STATE.debug_nans
    for i in range(top, -1, -1):
        g = adjoint[i]
        if g is None:
            continue
        op = OPS[ops[i]]
        rule = op.vjp
        if rule is None or is_zero(g):
            continue
        args = argss[i]
        operands = [values[a] for a in args]
        if op.has_attr:
            contributions = rule(m, g, values[i], *operands, attrs[i])
        else:
            contributions = rule(m, g, values[i], *operands)
        for a, c in zip(args, contributions):
            if c is None:
                continue
            if check:
                _check_finite(tape, i, c, f"backward (adjoint sent to %{a})")
            previous = adjoint[a]
            adjoint[a] = c if previous is None else previous + c
    return adjoint


def forward_tangents(tape: Tape, values: Sequence[Any], tangents: dict[int, Any], domain: Domain) -> list[Any]:
    """Forward mode: the tangent of every slot, given tangents of some (inputs).

    Needs no second set of derivative rules: a backward rule is linear in its
    adjoint, so evaluating it with ``g = 1`` gives the op's partial
    derivatives, and a record's tangent is the sum of partial times operand
    tangent.  The products are strong (``smul``), so a zero tangent
    propagates nothing.  Returns ``None`` where no tangent flows.
    """
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    tangent: list[Any] = [None] * len(ops)
    for slot, t in tangents.items():
        tangent[slot] = t
    m = domain.m
    is_zero = domain.is_zero
    for i, kind in enumerate(ops):
        op = OPS[kind]
        args = argss[i]
        if op.vjp is None or all(tangent[a] is None or is_zero(tangent[a]) for a in args):
            continue
        operands = [values[a] for a in args]
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
        tangent[i] = total
    return tangent


# ---------------------------------------------------------------- the float fast path
# The same loops specialised to Python floats: no domain hooks, operands
# unpacked by arity, and 0.0 standing for "nothing flowed".  The replay
# benchmark needs it; tests check it against the generic loops above.

_SCALAR = tuple(op.scalar for op in OPS)
_VJP = tuple(op.vjp for op in OPS)
_FLOAT_M = FLOAT.m


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

    The first contribution is stored, not added to 0.0, so a gradient of
    ``-0.0`` keeps its sign, as in the generic loop and in generated code.
    """
    top = max(seeds) if seeds else -1
    adjoint: list[Any] = [None] * (top + 1)
    for slot, g in seeds.items():
        adjoint[slot] = g
    ops, argss, attrs = tape.ops, tape.args, tape.attrs
    m = _FLOAT_M
    for i in range(top, -1, -1):
        g = adjoint[i]
        if g is None or g == 0.0:
            continue
        rule = _VJP[ops[i]]
        if rule is None:
            continue
        args = argss[i]
        if len(args) == 2:
            a, b = args
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
    from .errors import StaleTapeError

    raise StaleTapeError(
        f"guard {tape.describe_guard(slot)} at {where} is now {not expected}{points}: "
        f"tape {tape.name!r} recorded only the other branch of that Python condition, so replaying it "
        "would silently give a wrong answer. Write the branch with tapegrad.where(cond, a, b), "
        "wrap the function in tapegrad.function(f) to keep one tape per branch, or trace again at these inputs."
    )


def _check_finite(tape: Tape, slot: int, value: Any, phase: str) -> None:
    if isinstance(value, Value):
        value = value.data
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(f"{phase}: record {tape.format_record(slot)} of tape {tape.name!r} produced {value!r}")


# ---------------------------------------------------------------- tapes as functions


def _domain_of(tape: Tape, args: Sequence[Any]) -> Domain:
    """Values if any input is one, or if the tape captured Values of a trace
    still recording (a nested grad); else arrays if any input is an array."""
    if any(isinstance(x, Value) for x in args):
        return VALUE
    if any(v._tape is not None and not v._tape.sealed for _, v in tape.captures):
        return VALUE
    if any(isinstance(x, (np.ndarray, list, tuple)) for x in args):
        return ARRAY
    return FLOAT


def _convert(tape: Tape, args: Sequence[Any], domain: Domain) -> list[Any]:
    names = tape.inputs
    if len(args) != len(names):
        plural = "" if len(names) == 1 else "s"
        raise ArgumentCountError(
            f"tape {tape.name!r} takes {len(names)} input{plural} ({', '.join(names)}) "
            f"but was given {len(args)}; pass one value per input, in that order"
        )
    converted: list[Any] = []
    for name, x in zip(names, args):
        if isinstance(x, Value):
            converted.append(x)
        elif isinstance(x, (np.ndarray, list, tuple)):
            array = np.asarray(x)
            if array.dtype.kind not in "fiub":
                raise InputTypeError(f"input {name!r} must be real numbers, got an array of dtype {array.dtype}")
            converted.append(array.astype(np.float64))
        else:
            converted.append(as_float(x, f"input {name!r}"))
    return converted


def _batch_shape(inputs: Sequence[Any]) -> tuple[int, ...]:
    return np.broadcast_shapes(*[np.shape(x) for x in inputs if isinstance(x, np.ndarray)])


def _finish(values: Sequence[Any], domain: Domain, inputs: Sequence[Any]) -> list[Any]:
    """Outputs as users expect them: floats, or arrays of the batch's shape."""
    if domain is FLOAT:
        return [float(v) for v in values]
    if domain is ARRAY:
        shape = _batch_shape(inputs)
        return [np.broadcast_to(np.asarray(v, dtype=np.float64), shape).copy() for v in values]
    return list(values)


def restructure(tape: Tape, outputs: list[Any]) -> Any:
    """Outputs in the structure the traced function returned: one value, a tuple or a list."""
    if tape.structure == "tuple":
        return tuple(outputs)
    if tape.structure == "list":
        return outputs
    return outputs[0]


def _forward(tape: Tape, inputs: Sequence[Any], domain: Domain) -> list[Any]:
    if domain is FLOAT and not STATE.debug_nans:
        return forward_float(tape, inputs)
    captured = [v for _, v in tape.captures] if domain is VALUE else None
    return forward(tape, inputs, domain, captured)


def sweep(tape: Tape, values: Sequence[Any], seeds: dict[int, Any], domain: Domain) -> list[Any]:
    """:func:`backward`, taking the float fast path when it can."""
    if domain is FLOAT and not STATE.debug_nans:
        return backward_float(tape, values, seeds)
    return backward(tape, values, seeds, domain)


def replay(tape: Tape, args: Sequence[Any]) -> Any:
    """``tape(*args)``: the outputs at new inputs, in the traced structure."""
    domain = _domain_of(tape, args)
    inputs = _convert(tape, args, domain)
    with np.errstate(all="ignore"):
        values = _forward(tape, inputs, domain)
    return restructure(tape, _finish([values[s] for s in tape.output_slots], domain, inputs))


def output_seeds(tape: Tape, seed: Any) -> dict[int, Any]:
    """The adjoints of the output slots: 1.0 for one output, else ``seed``."""
    slots = tape.output_slots
    if seed is None:
        if len(slots) != 1:
            raise NonScalarOutputError(
                f"tape {tape.name!r} has {len(slots)} outputs ({', '.join(tape.outputs)}); a gradient needs one "
                "scalar output, or seed=(...) with one cotangent per output for a vector-Jacobian product"
            )
        seeds = [1.0]
    elif len(slots) == 1 and not isinstance(seed, (tuple, list)):
        seeds = [seed]
    else:
        seeds = list(seed)
        if len(seeds) != len(slots):
            raise ArgumentCountError(
                f"seed has {len(seeds)} entries but tape {tape.name!r} has {len(slots)} outputs; pass one per output"
            )
    result: dict[int, Any] = {}
    for slot, s in zip(slots, seeds):
        s = s if isinstance(s, (Value, np.ndarray)) else as_float(s, "a seed")
        result[slot] = s if slot not in result else result[slot] + s
    return result


def replay_gradient(tape: Tape, args: Sequence[Any], seed: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """``tape.value_and_gradient(*args)``: outputs, and d(outputs . seed)/d(each input)."""
    seeds = output_seeds(tape, seed)
    domain = _domain_of(tape, list(args) + list(seeds.values()))
    inputs = _convert(tape, args, domain)
    with np.errstate(all="ignore"):
        values = _forward(tape, inputs, domain)
        adjoint = sweep(tape, values, seeds, domain)
    grads = input_gradients(tape, adjoint)
    outputs = restructure(tape, _finish([values[s] for s in tape.output_slots], domain, inputs))
    return outputs, tuple(_finish(grads, domain, inputs))


def input_gradients(tape: Tape, adjoint: Sequence[Any]) -> list[Any]:
    """The adjoints of the tape's inputs, 0.0 for those nothing flowed to."""
    return [adjoint[s] if s < len(adjoint) and adjoint[s] is not None else 0.0 for s in tape.input_slots]


# ---------------------------------------------------------------- eager backward()


def eager_backward(root: Value) -> None:
    """``root.backward()``: add d(root)/d(v) to ``v.grad`` for everything ``root`` depends on.

    Follows the links from the root's tape to earlier tapes (results of an
    earlier step used again), newest tape first, so each tape is swept once.
    Each swept tape is closed: later operations start a fresh tape.
    """
    tape = root._tape
    if tape is None:
        root._grad = root._grad + 1.0
        return
    if tape.traced:
        if tape.sealed:
            raise LeakedValueError(
                f"backward() of a Value that escaped the trace of {tape.name!r}; "
                "differentiate the tape instead: tape.gradient(...) or tapegrad.grad(f)"
            )
        raise ConcretizationError(
            "backward() inside tapegrad.trace would turn traced Values into numbers; "
            "use tapegrad.grad(f) to differentiate inside a traced function"
        )
    pending: dict[Tape, dict[int, float]] = {tape: {root._slot: 1.0}}
    while pending:
        tape = max(pending, key=lambda t: t.serial)
        adjoint = sweep(tape, tape.values, pending.pop(tape), FLOAT)
        _accumulate(tape, adjoint)
        for slot, source in tape.sources.items():
            g = adjoint[slot] if slot < len(adjoint) else None
            if g is None or g == 0.0:
                continue
            if isinstance(source, Value):
                source._grad = source._grad + g
            else:
                earlier, earlier_slot = source
                seeds = pending.setdefault(earlier, {})
                seeds[earlier_slot] = seeds.get(earlier_slot, 0.0) + g
        STATE.close_eager(tape)


def _accumulate(tape: Tape, adjoint: list[Any]) -> None:
    grads = tape.grads
    if grads is None:
        tape.grads = adjoint
        return
    if len(grads) < len(adjoint):
        grads.extend([None] * (len(adjoint) - len(grads)))
    for i, g in enumerate(adjoint):
        if g is not None:
            previous = grads[i]
            grads[i] = g if previous is None else previous + g


def explain(tape: Tape, args: Sequence[Any], seed: Any = None) -> str:
    """The backward pass told step by step: each record in reverse order, with its
    value, its incoming adjoint and what it sends to each operand."""
    inputs = _convert(tape, args, FLOAT)
    seeds = output_seeds(tape, seed)
    values = forward(tape, inputs, FLOAT)
    adjoint: list[Any] = [0.0] * len(tape)
    for slot, g in seeds.items():
        adjoint[slot] = g
    point = ", ".join(f"{n}={x!r}" for n, x in zip(tape.inputs, inputs))
    lines = [f"backward pass of tape {tape.name!r} at {point}", "  record | value | adjoint | sends"]
    for i in range(len(tape) - 1, -1, -1):
        g = adjoint[i]
        op = OPS[tape.ops[i]]
        sends = ""
        if op.vjp is not None and g != 0.0:
            operands = [values[a] for a in tape.args[i]]
            extra = (tape.attrs[i],) if op.has_attr else ()
            contributions = op.vjp(FLOAT.m, g, values[i], *operands, *extra)
            parts = []
            for a, c in zip(tape.args[i], contributions):
                if c is not None:
                    adjoint[a] += c
                    parts.append(f"%{a} += {c!r}")
            sends = ", ".join(parts)
        elif op.vjp is not None:
            sends = "nothing (zero adjoint)"
        line = tape.format_record(i).split("  # ")[0]
        lines.append(f"  {line} | {values[i]!r} | {g!r} | {sends}")
    grads = ", ".join(f"d/d{n} = {adjoint[s]!r}" for n, s in zip(tape.inputs, tape.input_slots))
    lines.append(f"gradient: {grads}")
    return "\n".join(lines)

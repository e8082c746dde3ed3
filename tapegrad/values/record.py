"""Recording: how an operation on Values becomes a record on the tape.

:class:`~tapegrad.value.Value`'s operators call :func:`_unary`,
:func:`_binary` and :func:`_record`; each finds the tape being recorded
(the innermost trace, else this thread's eager tape), puts the operands on
it (a leaf, a Value of another tape or a number becomes an input or a
constant record), computes the result with the op table's rule and appends
one record.  :func:`apply` is an op's forward rule in whatever domain its
operands live: recorded for Values, computed for numbers and numpy arrays.

``_unary`` and ``_binary`` are the scalar engine's hottest code: they
inline what ``_record`` does, and must behave exactly as it does; the
commonest case of ``_binary`` is inlined once more into ``Value.__add__``,
``__sub__``, ``__mul__`` and ``__truediv__`` (``_binary_operator`` in
:mod:`tapegrad.values.value`).
"""

from __future__ import annotations

import copy
import weakref
from typing import Any, cast

import numpy as np

from ..core.exact import ExactConstant
from ..core.interpret import array_result
from ..core.ops import OPS, Op, OpKind
from ..core.shapes import ArrayAttr
from ..core.state import STATE
from ..core.tape import Tape
from ..errors import LeakedValueError, NonFiniteError, ShapeError
from .tapes import EagerTape, RecordingTape
from .value import Value, _user_site, as_data, as_float

# An eager tape longer than this, or holding more bytes of arrays, is closed and
# a new one started, so a loop that never calls backward() (inference) keeps a
# bounded tape alive (tapegrad.no_grad() records nothing at all).
EAGER_TAPE_LIMIT = 1 << 18
EAGER_TAPE_BYTES = 1 << 26

_INPUT, _CONST, _GUARD = OpKind.INPUT, OpKind.CONST, OpKind.GUARD


# ---------------------------------------------------------------- recording


def _new_value(data: Any, tape: RecordingTape, slot: int) -> Value:
    """A result Value; it has no ``_name`` or ``_grad`` of its own (see Value.name, Value.grad)."""
    v = _object_new(Value)
    v._data = data
    v._tape = tape
    v._slot = slot
    return v


_object_new = object.__new__


def _untracked(op: Op, operands: tuple[Any, ...], attr: Any = None) -> Value:
    """``op`` computed inside :func:`tapegrad.no_grad`: a new leaf Value, nothing recorded."""
    args = [_untracked_data(x) for x in operands]
    if op.scalar is not None and all(type(a) is float for a in args):
        out = op.scalar(*args, attr) if op.has_attr else op.scalar(*args)
    else:
        out = array_result(op, args, attr)
    if STATE.debug_nans and not np.all(np.isfinite(out)):
        raise NonFiniteError(f"{op.name} produced {out!r} inside no_grad() (computed at {_user_site()})")
    return _leaf(out)


def _untracked_binary(op: Op, a: Any, b: Any) -> Value:
    """:func:`_untracked` for two operands, with the float case first (evaluation loops of scalar models)."""
    a = a._data if type(a) is Value else _untracked_data(a)
    b = b._data if type(b) is Value else _untracked_data(b)
    if type(a) is not float or type(b) is not float or op.scalar is None or STATE.checks:
        return _untracked(op, (a, b))
    v = _object_new(Value)
    v._data = op.scalar(a, b)
    v._name = None
    v._tape = None
    v._slot = -1
    v._grad = None
    return v


def _untracked_data(x: Any) -> Any:
    """An operand's number, as a constant record would hold it."""
    if type(x) is float:
        return x
    if isinstance(x, Value):
        return x._data
    if type(x) is ArrayAttr:
        return x.array
    if type(x) is ExactConstant:
        return x.value
    return as_data(x, "an operand")


def _leaf(data: Any) -> Value:
    """A leaf Value holding ``data`` as it is (``Value(data)`` would copy an array)."""
    v = _object_new(Value)
    v._data = data
    v._name = None
    v._tape = None
    v._slot = -1
    v._grad = None  # no gradient yet, as Value(...) starts
    return v


def _current_tape() -> RecordingTape:
    """The innermost active trace, else this thread's open eager tape."""
    state = STATE
    tape = state.current
    if tape is None:
        tape = state.eager = state.current = EagerTape()
    return tape


def _check_size(tape: RecordingTape) -> None:
    """Close a long eager tape, so a loop that never calls backward() stays bounded.

    Called where leaves and constants are used, which every new computation
    does; Values of the closed tape stay usable through links
    (:func:`linked_view`).
    """
    if not tape.traced and (len(tape.ops) >= EAGER_TAPE_LIMIT or tape.nbytes >= EAGER_TAPE_BYTES):
        STATE.close_eager(tape)


def linked_view(tape: EagerTape, slot: int) -> EagerTape:
    """What a later eager tape links to for ``slot`` of ``tape``: its records, and the links ``slot`` needs.

    ``tape`` itself links to the tapes before it; a link to it would keep
    them all alive, so an inference loop whose tape is closed every 2^18
    records would hold every tape it ever made (284 MB after 10^6 steps of
    ``(w * 1.0001).tanh()``).  The view shares the records but keeps only the
    links of the records ``slot`` depends on (for that loop, none); its
    ``backward()`` adjoints are added to ``tape.grads`` while ``tape`` lives.
    """
    view = tape.view
    if view is None:
        view = tape.view = copy.copy(tape)
        view.sources, view.grads, view.view, view.needed = {}, None, None, bytearray()
        view.origin = weakref.ref(tape)
    view.array, view.narrow = tape.array, tape.narrow  # a tape of another thread may still grow
    needed, args, sources = view.needed, tape.args, tape.sources
    needed.extend(bytes(len(args) - len(needed)))
    stack = [slot]
    while stack:
        s = stack.pop()
        if not needed[s]:
            needed[s] = 1
            if s in sources:
                view.sources[s] = sources[s]
            stack.extend(args[s])
    return view


def _const_slot(tape: RecordingTape, x: Any) -> int:
    """The slot of constant ``x`` on ``tape``, reusing an equal constant of the same type.

    A numpy array is copied onto the tape (changing it later cannot change
    what was recorded); equal arrays are not looked up.
    """
    _check_size(tape)
    kind = type(x)
    if kind is ArrayAttr:  # a recorded array constant, replayed
        return tape.append(_CONST, (), x, x.array)
    if kind is ExactConstant:  # pi or 1/3 from sympy or the parser, replayed: it keeps its exact value
        return tape.append(_CONST, (), x, x.value)
    if kind is np.ndarray or kind is list or kind is tuple:
        data = as_data(x, "an operand")
        if type(data) is np.ndarray:
            constant = ArrayAttr(data)
            return tape.append(_CONST, (), constant, constant.array)
        x, kind = data, float
    # Equal ints are exact and equal nonzero floats bit-identical; zeros keep their sign.
    key = (kind, x) if kind is int or (kind is float and x != 0.0) else None
    if key is not None:
        slot = tape.const_slots.get(key)
        if slot is not None:
            return slot
    number = as_float(x, "an operand")
    attr = x if isinstance(x, int) and not isinstance(x, bool) and abs(x) < 2**53 else number
    slot = tape.append(_CONST, (), attr, number)
    if key is not None:
        tape.const_slots[key] = slot
    return slot


def _bring(tape: RecordingTape, v: Value) -> int:
    """The slot on ``tape`` standing for a Value recorded elsewhere.

    A leaf, or a result of an earlier eager tape, becomes an input record of
    an eager tape, linked back so that ``backward()`` reaches it; inside a
    trace it is a constant (as JAX treats closed-over arrays).  A Value of an
    enclosing trace becomes a captured input.
    """
    source = v._tape
    if source is None and not tape.traced:  # a leaf: bind it afresh whenever its data has changed
        if len(tape.ops) >= EAGER_TAPE_LIMIT or tape.nbytes >= EAGER_TAPE_BYTES:  # _check_size, inlined
            STATE.close_eager(tape)
        bound = v._slot  # where the leaf was last bound, on this tape or another: a check cheaper than the dict's
        if tape.sources.get(bound) is v and tape.values[bound] is v._data:
            return bound
        slot = tape.source_slots.get(id(v))
        if slot is None or tape.values[slot] is not v._data:
            slot = tape.append(_INPUT, (), v.name or "leaf", v._data)
            tape.sources[slot] = v  # an eager tape: a trace takes leaves as constants
            tape.source_slots[id(v)] = slot
        v._slot = slot
        return slot
    if source is not None and source.traced:
        if source.sealed:
            raise LeakedValueError(
                f"a Value recorded inside tapegrad.trace of {source.name!r} was used after that trace ended "
                "(a leaked Value). Return it from the traced function, or pass it in as an argument."
            )
        if not (tape.traced and source in STATE.traces):
            raise LeakedValueError(
                f"a Value being recorded by the trace of {source.name!r} was used outside it "
                "(from another thread, or after the trace). Use what the traced function returns instead."
            )
        slot = tape.source_slots.get(id(v))
        if slot is None:
            slot = tape.append(_INPUT, (), f"captured:{v.name or '%' + str(v._slot)}", v._data)
            tape.captures.append((slot, v))
            tape.source_slots[id(v)] = slot
        return slot
    if tape.traced and STATE.lifting is not None:
        return _lift(tape, STATE.lifting, v)
    if tape.traced or source is None:
        return _const_slot(tape, v._data)
    return _link(cast(EagerTape, tape), cast(EagerTape, source), v)  # neither is traced: both eager


def _lift(tape: RecordingTape, lifting: RecordingTape, v: Value) -> int:
    """The slot on ``tape`` standing for ``v``, a Value from outside the trace, made an input of ``lifting``.

    Inside :func:`tapegrad.jit` a captured Value (a model's parameter) is an
    input of the compiled code, read afresh at every call, so an optimiser's
    update is seen; a plain trace would freeze it as a constant.  Inside a
    trace nested in the jit's (``jit(value_and_grad(f))``), it is a captured
    input standing for the jit's input, as any Value of an enclosing trace.
    """
    lifted = lifting.lifted
    assert lifted is not None
    entry = lifted.get(id(v))
    if entry is None:
        slot = lifting.append(_INPUT, (), v.name or "captured", v._data)
        entry = lifted[id(v)] = (v, _new_value(v._data, lifting, slot))
    handle = entry[1]
    return handle._slot if tape is lifting else _bring(tape, handle)


def _link(tape: EagerTape, source: EagerTape, v: Value) -> int:
    """The input of eager ``tape`` standing for ``v``, a result of the earlier eager tape ``source``."""
    key = (source.serial, v._slot)
    slot = tape.source_slots.get(key)
    if slot is None:
        slot = tape.append(_INPUT, (), v.name or f"%{v._slot}@{source.serial}", source.values[v._slot])
        tape.sources[slot] = (linked_view(source, v._slot), v._slot)
        tape.source_slots[key] = slot
    return slot


def _operand(tape: RecordingTape, x: Any) -> int:
    if isinstance(x, Value):
        return x._slot if x._tape is tape else _bring(tape, x)
    return _const_slot(tape, x)


def _check(tape: RecordingTape, slot: int, out: Any) -> None:
    """What ``debug_nans`` and site recording ask of each new record."""
    if STATE.record_sites:
        tape.sites.setdefault(slot, _user_site())
    if STATE.debug_nans and not np.all(np.isfinite(out)):
        raise NonFiniteError(f"record {tape.format_record(slot)} produced {out!r} (recorded at {_user_site()})")


def _record(op: Op, operands: tuple[Any, ...], attr: Any = None) -> Value:
    """Compute ``op`` on ``operands`` (Values, numbers or arrays) and record it."""
    if STATE.current is None and STATE.no_grad:
        return _untracked(op, operands, attr)
    tape = _current_tape()
    return _record_slots(op, tape, tuple([_operand(tape, x) for x in operands]), attr)


def _record_slots(op: Op, tape: RecordingTape, slots: tuple[int, ...], attr: Any = None) -> Value:
    """:func:`_record` once the operands are on ``tape``."""
    values = tape.values
    args = [values[s] for s in slots]
    if op.scalar is None or any(type(a) is not float for a in args):
        return _record_array(op, tape, slots, args, attr)
    out = op.scalar(*args, attr) if op.has_attr else op.scalar(*args)
    slot = tape.append(op.kind, slots, attr, out)
    if STATE.checks:
        _check(tape, slot, out)
    return _new_value(out, tape, slot)



def _record_array(op: Op, tape: RecordingTape, slots: tuple[int, ...], args: list[Any], attr: Any) -> Value:
    """:func:`_record_slots` for arrays: ``Tape.append`` inlined, as the eager hot path of array programs."""
    out = array_result(op, args, attr)
    slot = len(tape.ops)
    tape.ops.append(op.kind)
    tape.args.append(slots)
    if attr is not None:
        tape.attrs[slot] = attr
    tape.values.append(out)
    tape.note_array(slot, op.scalar is not None, args, out)
    if STATE.checks:
        _check(tape, slot, out)
    v = _object_new(Value)
    v._data = out
    v._tape = tape
    v._slot = slot
    return v



def _unary(op: Op, x: Value) -> Value:
    """The hot path of ``_record`` for one operand; same behaviour."""
    tape = STATE.fast_tape
    if tape is None:  # no tape yet, no_grad(), or checks on
        return _record(op, (x,))
    s = x._slot if x._tape is tape else _bring(tape, x)
    values = tape.values
    a = values[s]
    if type(a) is not float:
        return _record_slots(op, tape, (s,))
    out = op.scalar(a)  # type: ignore[misc]
    slot = len(values)
    tape.ops.append(op.kind)
    tape.args.append((s,))
    values.append(out)
    return _new_value(out, tape, slot)


def _binary(op: Op, x: Any, y: Any) -> Value:
    """The hot path of ``_record`` for two operands; same behaviour."""
    state = STATE
    tape = state.current
    if tape is None:
        if state.no_grad:
            return _untracked_binary(op, x, y)
        tape = _current_tape()
    if type(x) is Value:
        sx = x._slot if x._tape is tape else _bring(tape, x)
    else:
        sx = _operand(tape, x)
    if type(y) is Value:
        sy = y._slot if y._tape is tape else _bring(tape, y)
    else:
        sy = _operand(tape, y)
    values = tape.values
    a, b = values[sx], values[sy]
    if type(a) is not float or type(b) is not float:
        return _record_slots(op, tape, (sx, sy))
    out = op.scalar(a, b)  # type: ignore[misc]
    slot = len(values)
    tape.ops.append(op.kind)
    tape.args.append((sx, sy))
    values.append(out)
    if state.checks:
        _check(tape, slot, out)
    v = _object_new(Value)  # _new_value, inlined on the hottest path
    v._data = out
    v._tape = tape
    v._slot = slot
    return v


def _compare(op: Op, x: Any, y: Any) -> Value:
    out = _binary(op, x, y)
    tape = out._tape
    if tape is not None and tape.traced:
        tape.sites[out._slot] = _user_site()
    return out


def truth(v: Any, site: str | None = None) -> bool:
    """Python asks whether ``v`` is true: record a guard (on an eager tape too, for ``Value.tape()``).

    The guard remembers ``site`` (default: the user's line asking) so that a
    replay taking the other branch can say where the branch was written.
    """
    if not isinstance(v, Value):
        return bool(v)
    if np.size(v._data) != 1:
        raise ShapeError(
            f"the truth of an array Value of shape {v.shape} is ambiguous: Python asked for one bool "
            "(an if, and, or, not). Reduce it first, e.g. (x > 0).sum() > 0, or use tapegrad.where(cond, a, b)"
        )
    result = bool(v._data)
    tape = v._tape
    if tape is not None and not tape.sealed:
        slot = tape.append(_GUARD, (v._slot,), result, v._data)
        tape.sites[slot] = site or _user_site()
    return result


# ---------------------------------------------------------------- any domain


def apply(op: Op, *operands: Any, attr: Any = None) -> Any:
    """``op`` on Values (recorded), numpy arrays (elementwise) or numbers.

    This is the forward rule of the op table in the domain its operands
    belong to; the backward rules call it through ``m`` when they run over
    recording Values.
    """
    for x in operands:
        if isinstance(x, Value):
            if attr is None and len(operands) == 2:
                return _binary(op, *operands)
            if attr is None and len(operands) == 1:
                return _unary(op, x)
            return _record(op, operands, attr)
    extra = (attr,) if op.has_attr else ()
    if op.scalar is None or any(isinstance(x, np.ndarray) for x in operands):
        with np.errstate(all="ignore"):
            return op.array(*operands, *extra)  # type: ignore[misc]
    return op.scalar(*[as_float(x, "an operand") for x in operands], *extra)


def constant(x: Any) -> Value:
    """``x`` as a constant record on the tape being recorded.

    Replaying a tape over Values records its constants this way, so that
    ``log(2)`` in a recorded gradient stays an op on the constant 2 (exact
    for symbolic export) until the optimiser folds it.
    """
    if STATE.current is None and STATE.no_grad:
        return _leaf(_untracked_data(x))
    tape = _current_tape()
    slot = _const_slot(tape, x)
    return _new_value(tape.values[slot], tape, slot)


def where(condition: Any, x: Any, y: Any) -> Any:
    """``x`` where ``condition`` holds, else ``y``: a conditional with no guard.

    The branch not taken contributes exactly nothing to the gradient, so
    ``where(x > 0, sqrt(x), 0.0)`` has gradient 0 at ``x = -1`` (not nan).
    Works on Values, numbers and numpy arrays.
    """
    return apply(OPS[OpKind.WHERE], condition, x, y)


def equal(x: Any, y: Any) -> Any:
    """1.0 where ``x == y``, else 0.0, recorded (on Values ``==`` keeps Python's identity meaning)."""
    return apply(OPS[OpKind.EQ], x, y)


def not_equal(x: Any, y: Any) -> Any:
    """1.0 where ``x != y``, else 0.0, recorded."""
    return apply(OPS[OpKind.NE], x, y)


def maximum(x: Any, y: Any) -> Any:
    """The larger of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return apply(OPS[OpKind.MAXIMUM], x, y)


def minimum(x: Any, y: Any) -> Any:
    """The smaller of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return apply(OPS[OpKind.MINIMUM], x, y)


# ---------------------------------------------------------------- the tape of an eager Value


def eager_tape(root: Value) -> Tape:
    """``root.tape()``: the eager computation of ``root`` as a tape of its own.

    Its inputs are the leaves ``root`` depends on (named after them, ``x0,
    x1...`` when unnamed) and its output is ``root``: the records ``root``
    needs are copied from its eager tape, and from the earlier tapes it links
    to, oldest first.  A guard (``if v > 0:``) is kept when its condition
    depends only on those leaves.  A leaf whose data changed during the
    computation is one input, with the value first recorded.
    """
    tape = root._tape
    if tape is not None and tape.traced:
        raise LeakedValueError(
            f"tape() of a Value recorded by the trace of {tape.name!r}: that trace's tape is what "
            "tapegrad.trace returns; tape() is for eager Values"
        )
    new = Tape(root.name or "value", traced=True)
    if tape is None:  # a leaf: the identity
        new.input_slots.append(new.append(_INPUT, (), root.name or "x0", root._data))
        new.output_slots.append(new.input_slots[0])
    else:
        tape = cast(EagerTape, tape)  # not traced
        needed = _needed_records(tape, root._slot)
        remap = _copy_needed(new, needed)
        new.output_slots.append(remap[tape.serial, root._slot])
    new.output_names.append(root.name or "out")
    new.sealed = True
    return new


def _needed_records(tape: EagerTape, slot: int) -> dict[EagerTape, set[int]]:
    """The slots each eager tape must replay to compute ``slot`` of ``tape``, newest tape first."""
    needed: dict[EagerTape, set[int]] = {}
    pending: dict[EagerTape, set[int]] = {tape: {slot}}
    while pending:  # links point to earlier tapes only, so a tape is finished when it is taken
        tape = max(pending, key=lambda t: t.serial)
        marks = needed[tape] = _closure(tape, pending.pop(tape))
        last = max(marks)
        for guard in (i for i in range(last) if tape.ops[i] is _GUARD):
            condition = _closure(tape, {guard})
            if all(i in marks for i in condition if tape.ops[i] is _INPUT):
                marks |= condition
        for i in marks:
            source = tape.sources.get(i)
            if isinstance(source, tuple):
                earlier, earlier_slot = source
                pending.setdefault(earlier, set()).add(earlier_slot)
    return needed


def _closure(tape: Tape, slots: set[int]) -> set[int]:
    """``slots`` and every record they read, on one tape."""
    marks: set[int] = set()
    stack = list(slots)
    while stack:
        i = stack.pop()
        if i not in marks:
            marks.add(i)
            stack.extend(tape.args[i])
    return marks


def _copy_needed(new: Tape, needed: dict[EagerTape, set[int]]) -> dict[tuple[int, int], int]:
    """Copy the needed records onto ``new``, oldest tape first; the new slot of each (serial, slot)."""
    remap: dict[tuple[int, int], int] = {}
    leaves: dict[Any, int] = {}
    for tape in sorted(needed, key=lambda t: t.serial):
        for i in sorted(needed[tape]):
            kind, source = tape.ops[i], tape.sources.get(i)
            if kind is _INPUT and isinstance(source, tuple):  # a result of an earlier tape, already copied
                remap[tape.serial, i] = remap[source[0].serial, source[1]]
                continue
            if kind is _INPUT:
                key = id(source) if source is not None else (tape.serial, i)
                if key not in leaves:
                    leaves[key] = new.append(_INPUT, (), source, tape.values[i])  # named below
                    new.input_slots.append(leaves[key])
                remap[tape.serial, i] = leaves[key]
                continue
            args = tuple([remap[tape.serial, a] for a in tape.args[i]])
            slot = new.append(kind, args, tape.attrs.get(i), tape.values[i])
            if i in tape.sites:
                new.sites[slot] = tape.sites[i]
            remap[tape.serial, i] = slot
    _name_leaves(new)
    return remap


def _name_leaves(new: Tape) -> None:
    """Each input named after its leaf; an unnamed one (or a second of a name) ``x<k>``, k its position."""
    leaves = [new.attrs[s] for s in new.input_slots]
    names = [leaf.name if isinstance(leaf, Value) else None for leaf in leaves]
    taken: set[str] = set()
    for k, name in enumerate(names):  # the user's names first, the first leaf of a name keeping it
        if name and name not in taken:
            taken.add(name)
        else:
            names[k] = None
    for k, (slot, name) in enumerate(zip(new.input_slots, names)):
        if name is None:
            j = k
            while f"x{j}" in taken:
                j += 1
            name = f"x{j}"
            taken.add(name)
        new.attrs[slot] = name

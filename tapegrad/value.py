"""Value: micrograd's friendly scalar, recording onto a tape.

Every operation on a :class:`Value` computes its result at once (as in
micrograd) and appends one record to the tape of the current thread.  The
Value itself keeps only its number, its tape and its slot: there are no
per-node closures and no references back from the tape, so a dead graph is
freed by reference counting alone, without waiting for the cyclic garbage
collector.

Three kinds of Value exist, all of the same class:

* *leaves*, made by ``Value(3.0)``: they own their ``.data`` and ``.grad``
  (parameters, micrograd-style);
* *eager results* of operations outside :func:`tapegrad.trace`;
* *traced Values*, the inputs of a trace and everything computed from them.

Eager tapes are created and dropped behind the scenes: each ``backward()``
closes the tape it ran on, so the next training step records onto a fresh
one, and the old one is freed as soon as its Values are gone.  Values of a
closed tape can still be used: the new tape links back to them, and
``backward()`` follows the link.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from .errors import ConcretizationError, InputTypeError, LeakedValueError, NonFiniteError, ShapeError
from .ops import OPS, Op, OpKind
from .shapes import ArrayAttr, type_text
from .state import STATE
from .tape import Tape

__all__ = ["Value", "where", "maximum", "minimum", "as_float", "apply", "truth", "constant"]

# An eager tape longer than this is closed and a new one started, so a loop
# that never calls backward() (inference) keeps a bounded tape alive.
EAGER_TAPE_LIMIT = 1 << 18

_INPUT, _CONST, _GUARD = OpKind.INPUT, OpKind.CONST, OpKind.GUARD


def as_float(x: Any, what: str = "a Value's data") -> float:
    """``x`` as a float64, or :class:`InputTypeError` if it is not a real number.

    Integers become floats, so ``Value(10) ** 400`` is ``inf``, never a
    400-digit integer; integers too large for a float become ``±inf``.
    """
    if type(x) is float:
        return x
    if isinstance(x, (bool, int, np.integer)):
        try:
            return float(x)
        except OverflowError:
            return math.inf if x > 0 else -math.inf
    if isinstance(x, (numbers.Real, np.floating)):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "fiub":
        return float(x)
    if isinstance(x, np.ndarray):
        raise InputTypeError(
            f"{what} must be one real number, got a numpy array of shape {x.shape}; "
            "to evaluate many points, trace the function once and replay the tape on arrays: "
            "tape = tapegrad.trace(f, 0.0); tape(xs)"
        )
    raise InputTypeError(f"{what} must be a real number (int or float), got {type(x).__name__} {x!r:.60}")


def as_data(x: Any, what: str = "a Value's data") -> Any:
    """``x`` as a Value's data: a float, or a float64/float32 numpy array (copied).

    Arrays of integers or booleans become float64; a 0-d float64 array is a
    float, so scalars are always plain Python floats.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and (x.ndim or x.dtype == np.float32):
        if x.dtype.kind not in "fiub":
            raise InputTypeError(f"{what} must hold real numbers, got an array of dtype {x.dtype}")
        return x.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    if isinstance(x, np.float32):
        return np.asarray(x)
    return as_float(x, what)


def _user_site() -> str:
    """``file:line`` of the innermost frame outside tapegrad."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("tapegrad."):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class Value:
    """A number, or a numpy array, that remembers how it was computed.

    >>> a = Value(-4.0); b = Value(2.0)
    >>> c = (a * b + b ** 3).relu()
    >>> c.backward(); a.grad, b.grad
    (0.0, 0.0)

    ``.grad`` accumulates: a second ``backward()`` adds the same gradient
    again to every leaf (as PyTorch does with a retained graph), and leaf
    gradients accumulate until zeroed (``p.grad = 0``).  ``.grad`` of an
    intermediate Value is readable after ``backward()``.

    ``Value(np.ones((3, 2)))`` holds an array (float64 or float32; other
    numbers become float64): operators broadcast as numpy's do, ``@``
    multiplies matrices, and :meth:`sum`, :meth:`mean`, :meth:`max`,
    indexing and reshaping are recorded like any other op.  Its ``.grad``
    is an array of the same shape.  Update a parameter by assignment
    (``p.data = p.data - lr * p.grad``), not in place, so that tapes which
    recorded the old array keep it.
    """

    __slots__ = ("data", "_name", "_tape", "_slot", "_grad")

    data: Any  # a float, or a numpy array
    __array_ufunc__ = None  # numpy defers to Value: ndarray * Value is Value.__rmul__

    def __init__(self, data: Any, name: str | None = None) -> None:
        self.data = as_data(data)
        self._name = name
        self._tape: Tape | None = None
        self._slot = -1
        self._grad: Any = np.zeros_like(self.data) if isinstance(self.data, np.ndarray) else 0.0

    @property
    def name(self) -> str | None:
        """An optional label, used in tape listings (and later in generated code)."""
        try:
            return self._name
        except AttributeError:  # results are made without a name, for speed
            return None

    @name.setter
    def name(self, name: str | None) -> None:
        self._name = name

    # ------------------------------------------------------------ gradients
    @property
    def grad(self) -> Any:
        """d(output)/d(self), summed over every ``backward()`` so far."""
        if self._tape is None:
            return self._grad
        grads = self._tape.grads
        g = grads[self._slot] if grads is not None and self._slot < len(grads) else None
        if g is None:
            return np.zeros_like(self.data) if isinstance(self.data, np.ndarray) else 0.0
        return g

    @grad.setter
    def grad(self, value: Any) -> None:
        if self._tape is None:
            self._grad = value
            return
        grads = self._tape.grads
        if grads is None:
            grads = self._tape.grads = []
        if len(grads) <= self._slot:
            grads.extend([None] * (self._slot + 1 - len(grads)))
        grads[self._slot] = value

    def backward(self) -> None:
        """Add d(self)/d(leaf) to the ``.grad`` of every leaf and intermediate.

        ``self`` must be a scalar (an array Value of shape ``()``); reduce an
        array first, e.g. ``loss.sum().backward()``.
        """
        from .replay import eager_backward

        eager_backward(self)

    # ------------------------------------------------------------ conversions
    def _check_concrete(self, what: str) -> None:
        tape = self._tape
        if tape is not None and tape.traced and not tape.sealed:
            raise ConcretizationError(
                f"{what} of a traced Value at {_user_site()}: the tape would replay the recorded "
                f"number {self.data!r} forever after. Keep the computation on Values "
                "(tapegrad.where, maximum and minimum give branch-free conditionals), or read "
                ".data if a recorded constant is really what you want."
            )

    def __float__(self) -> float:
        self._check_concrete("float()")
        return self.data

    def __int__(self) -> int:
        self._check_concrete("int()")
        return int(self.data)

    def __bool__(self) -> bool:
        return truth(self)

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        if isinstance(self.data, np.ndarray):
            return f"Value({type_text(self.data)}, data={self.data!r}{name})"
        return f"Value(data={self.data}, grad={self.grad}{name})"

    # ------------------------------------------------------------ arrays
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape; ``()`` for a scalar."""
        return np.shape(self.data)

    @property
    def ndim(self) -> int:
        return np.ndim(self.data)

    @property
    def size(self) -> int:
        return int(np.size(self.data))

    @property
    def dtype(self) -> np.dtype[Any]:
        """float64 for scalars; an array's own dtype (float64 or float32)."""
        return getattr(self.data, "dtype", _FLOAT64)

    def __len__(self) -> int:
        if not np.ndim(self.data):
            raise TypeError("len() of a scalar Value")
        return len(self.data)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: Any) -> Value:
        return arrays.getitem(self, index)

    def __matmul__(self, other: Any) -> Value:
        return arrays.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Value:
        return arrays.matmul(other, self)

    @property
    def T(self) -> Value:
        """The transpose (axes reversed), as numpy's ``.T``."""
        return self.transpose()

    def transpose(self, *axes: Any) -> Value:
        return arrays.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes or None)

    def reshape(self, *shape: Any) -> Value:
        return arrays.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def astype(self, dtype: Any) -> Value:
        return arrays.astype(self, dtype)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.sum_over(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.mean_over(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.max_over(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Value:
        return arrays.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Value:
        return arrays.log_softmax(self, axis)

    def _repr_latex_(self) -> str:
        """Jupyter: the number and its gradient."""
        return rf"$\mathrm{{Value}}({self.data!r}),\ \mathrm{{grad}} = {self.grad!r}$"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> Value:
        return _binary(_ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        return _binary(_ADD, other, self)

    def __sub__(self, other: Any) -> Value:
        return _binary(_SUB, self, other)

    def __rsub__(self, other: Any) -> Value:
        return _binary(_SUB, other, self)

    def __mul__(self, other: Any) -> Value:
        return _binary(_MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _binary(_MUL, other, self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(_DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(_DIV, other, self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return _binary(_POW, self, other)
        exponent = as_float(other, "an exponent")
        # Keep an exact integer exponent as an int, for printing and later sympy export.
        attr = int(other) if isinstance(other, int) and exponent.is_integer() and abs(exponent) < 2**53 else exponent
        return _record(_POW_CONST, (self,), attr)

    def __rpow__(self, other: Any) -> Value:
        return _binary(_POW, other, self)

    def __neg__(self) -> Value:
        return _unary(_NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(_ABS, self)

    # Comparisons record a condition (1.0 or 0.0).  It becomes a guard only
    # when Python asks for its truth, so inside where() it records no guard.
    # == and != keep Python's identity meaning, so Values stay hashable.
    def __gt__(self, other: Any) -> Value:
        return _compare(_GT, self, other)

    def __ge__(self, other: Any) -> Value:
        return _compare(_GE, self, other)

    def __lt__(self, other: Any) -> Value:
        return _compare(_LT, self, other)

    def __le__(self, other: Any) -> Value:
        return _compare(_LE, self, other)

    def relu(self) -> Value:
        return _unary(_RELU, self)

    def tanh(self) -> Value:
        return _unary(_TANH, self)

    def exp(self) -> Value:
        return _unary(_EXP, self)

    def log(self) -> Value:
        return _unary(_LOG, self)

    def sigmoid(self) -> Value:
        return _unary(_SIGMOID, self)

    def sin(self) -> Value:
        return _unary(_SIN, self)

    def cos(self) -> Value:
        return _unary(_COS, self)

    def sqrt(self) -> Value:
        return _unary(_SQRT, self)

    def abs(self) -> Value:
        return _unary(_ABS, self)


_ADD, _SUB, _MUL, _DIV = OPS[OpKind.ADD], OPS[OpKind.SUB], OPS[OpKind.MUL], OPS[OpKind.DIV]
_NEG, _POW, _POW_CONST, _ABS = OPS[OpKind.NEG], OPS[OpKind.POW], OPS[OpKind.POW_CONST], OPS[OpKind.ABS]
_GT, _GE, _LT, _LE = OPS[OpKind.GT], OPS[OpKind.GE], OPS[OpKind.LT], OPS[OpKind.LE]
_RELU, _TANH, _EXP, _LOG = OPS[OpKind.RELU], OPS[OpKind.TANH], OPS[OpKind.EXP], OPS[OpKind.LOG]
_SIGMOID, _SIN, _COS, _SQRT = OPS[OpKind.SIGMOID], OPS[OpKind.SIN], OPS[OpKind.COS], OPS[OpKind.SQRT]


# ---------------------------------------------------------------- recording


def _new_value(data: Any, tape: Tape, slot: int) -> Value:
    """A result Value; it has no ``_name`` or ``_grad`` of its own (see Value.name, Value.grad)."""
    v = _object_new(Value)
    v.data = data
    v._tape = tape
    v._slot = slot
    return v


_object_new = object.__new__


def _current_tape() -> Tape:
    """The innermost active trace, else this thread's open eager tape."""
    state = STATE
    tape = state.current
    if tape is None:
        tape = state.eager = state.current = Tape("eager")
    return tape


def _check_size(tape: Tape) -> None:
    """Close a long eager tape, so a loop that never calls backward() stays bounded.

    Called where leaves and constants join a tape, which every new
    computation does; Values of the closed tape stay usable through links.
    """
    if not tape.traced and len(tape.ops) >= EAGER_TAPE_LIMIT:
        STATE.close_eager(tape)


def _const_slot(tape: Tape, x: Any) -> int:
    """The slot of constant ``x`` on ``tape``, reusing an equal constant of the same type.

    A numpy array is copied onto the tape (changing it later cannot change
    what was recorded); equal arrays are not looked up.
    """
    _check_size(tape)
    kind = type(x)
    if kind is ArrayAttr:  # a recorded array constant, replayed
        return tape.append(_CONST, (), x, x.array)
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


def _bring(tape: Tape, v: Value) -> int:
    """The slot on ``tape`` standing for a Value recorded elsewhere.

    A leaf, or a result of an earlier eager tape, becomes an input record of
    an eager tape, linked back so that ``backward()`` reaches it; inside a
    trace it is a constant (as JAX treats closed-over arrays).  A Value of an
    enclosing trace becomes a captured input.
    """
    source = v._tape
    if source is None and not tape.traced:  # a leaf: bind it afresh whenever its data has changed
        slot = tape.source_slots.get(id(v))
        if slot is None or tape.values[slot] is not v.data:
            _check_size(tape)
            slot = tape.append(_INPUT, (), v.name or "leaf", v.data)
            tape.sources[slot] = v
            tape.source_slots[id(v)] = slot
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
                "(from another thread, or after the trace). Pass its .data instead."
            )
        slot = tape.source_slots.get(id(v))
        if slot is None:
            slot = tape.append(_INPUT, (), f"captured:{v.name or '%' + str(v._slot)}", v.data)
            tape.captures.append((slot, v))
            tape.source_slots[id(v)] = slot
        return slot
    if tape.traced or source is None:
        return _const_slot(tape, v.data)
    key = (source.serial, v._slot)
    slot = tape.source_slots.get(key)
    if slot is None:
        slot = tape.append(_INPUT, (), v.name or f"%{v._slot}@{source.serial}", source.values[v._slot])
        tape.sources[slot] = (source, v._slot)
        tape.source_slots[key] = slot
    return slot


def _operand(tape: Tape, x: Any) -> int:
    if isinstance(x, Value):
        return x._slot if x._tape is tape else _bring(tape, x)
    return _const_slot(tape, x)


def _check(tape: Tape, slot: int, out: Any) -> None:
    """What ``debug_nans`` and site recording ask of each new record."""
    if STATE.record_sites:
        tape.sites.setdefault(slot, _user_site())
    if STATE.debug_nans and not np.all(np.isfinite(out)):
        raise NonFiniteError(f"record {tape.format_record(slot)} produced {out!r} (recorded at {_user_site()})")


def _record(op: Op, operands: tuple[Any, ...], attr: Any = None) -> Value:
    """Compute ``op`` on ``operands`` (Values, numbers or arrays) and record it."""
    tape = _current_tape()
    return _record_slots(op, tape, tuple([_operand(tape, x) for x in operands]), attr)


def _record_slots(op: Op, tape: Tape, slots: tuple[int, ...], attr: Any = None) -> Value:
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


_FLOAT64 = np.dtype(np.float64)
_QUIET = {OpKind.RESHAPE, OpKind.TRANSPOSE, OpKind.BROADCAST_TO, OpKind.GETITEM, OpKind.CONCAT}  # no arithmetic


def _record_array(op: Op, tape: Tape, slots: tuple[int, ...], args: list[Any], attr: Any) -> Value:
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
    v.data = out
    v._tape = tape
    v._slot = slot
    return v


def array_result(op: Op, args: list[Any], attr: Any) -> Any:
    """``op``'s numpy rule on ``args``, as slot data: a float for a float64 scalar, else an array.

    numpy's errors about shapes become :class:`ShapeError`, naming the op
    and the shapes, when the op is recorded.
    """
    try:
        if op.kind in _QUIET:
            out = op.array(*args, attr) if op.has_attr else op.array(*args)  # type: ignore[misc]
        else:
            with np.errstate(all="ignore"):
                out = op.array(*args, attr) if op.has_attr else op.array(*args)  # type: ignore[misc]
    except (ValueError, IndexError, TypeError) as error:
        shapes = " and ".join(type_text(a) for a in args)
        raise ShapeError(f"{op.name}: operands {shapes} do not fit: {error}") from None
    if type(out) is np.ndarray and (out.ndim or out.dtype != _FLOAT64):
        return out
    if getattr(out, "dtype", _FLOAT64) == _FLOAT64:
        return float(out)
    return np.asarray(out)


def _unary(op: Op, x: Value) -> Value:
    """The hot path of ``_record`` for one operand; same behaviour."""
    state = STATE
    tape = state.current
    if tape is None:
        tape = _current_tape()
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
    if state.checks:
        _check(tape, slot, out)
    return _new_value(out, tape, slot)


def _binary(op: Op, x: Any, y: Any) -> Value:
    """The hot path of ``_record`` for two operands; same behaviour."""
    state = STATE
    tape = state.current
    if tape is None:
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
    v.data = out
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
    """Python asks whether ``v`` is true: for a traced Value, record a guard.

    The guard remembers ``site`` (default: the user's line asking) so that a
    replay taking the other branch can say where the branch was written.
    """
    if not isinstance(v, Value):
        return bool(v)
    if np.size(v.data) != 1:
        raise ShapeError(
            f"the truth of an array Value of shape {v.shape} is ambiguous: Python asked for one bool "
            "(an if, and, or, not). Reduce it first, e.g. (x > 0).sum() > 0, or use tapegrad.where(cond, a, b)"
        )
    result = bool(v.data)
    tape = v._tape
    if tape is not None and tape.traced and not tape.sealed:
        slot = tape.append(_GUARD, (v._slot,), result, v.data)
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


def maximum(x: Any, y: Any) -> Any:
    """The larger of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return apply(OPS[OpKind.MAXIMUM], x, y)


def minimum(x: Any, y: Any) -> Any:
    """The smaller of ``x`` and ``y`` (nan if either is); ties split the gradient."""
    return apply(OPS[OpKind.MINIMUM], x, y)


# Array operations build on Value and apply, so they are imported last; the methods above use them.
from . import arrays  # noqa: E402

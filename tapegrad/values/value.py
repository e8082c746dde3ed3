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
``backward()`` follows the link.  How an operation becomes a record is
:mod:`tapegrad.record`.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.ops import OPS_BY_NAME as _OPS  # each method names its row: no second list of ops here
from ..core.shapes import dtype_of, type_text
from ..core.state import STATE
from ..core.tape import Tape
from ..errors import ConcretizationError, InputTypeError, ShapeError
from .tapes import RecordingTape

__all__ = ["Value", "where", "maximum", "minimum", "equal", "not_equal", "as_float", "apply", "truth", "constant"]



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
    engine = _ENGINES.get(type(x).__module__) if type(x).__name__ == "Value" else None
    if engine is not None:
        raise InputTypeError(
            f"{what} is a {engine}.Value, which cannot join this computation: "
            "tapegrad.Value (the tape) and tapegrad.closure.Value (the closure engine) do not mix. Build it "
            "from one kind (nn models take value_type=...), or pass .data for the number"
        )
    raise InputTypeError(f"{what} must be a real number (int or float), got {type(x).__name__} {x!r:.60}")


_ENGINES = {"tapegrad.values.value": "tapegrad", "tapegrad.lab.closure": "tapegrad.closure"}
"""The two Value classes by module, as users name them (for the message when they are mixed)."""


def as_data(x: Any, what: str = "a Value's data") -> Any:
    """``x`` as a Value's data: a float, or a float64/float32 numpy array (copied).

    Arrays of integers or booleans become float64; a 0-d float64 array is a
    float, so scalars are always plain Python floats.
    """
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError as error:  # ragged nesting
            raise InputTypeError(f"{what} must be a number or a rectangular array: {error}") from None
    if isinstance(x, np.ndarray) and (x.ndim or x.dtype == np.float32):
        if x.dtype.kind not in "fiub":
            raise InputTypeError(f"{what} must hold real numbers, got an array of dtype {x.dtype}")
        return x.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    if isinstance(x, np.float32):
        return np.asarray(x)
    return as_float(x, what)


def _no_out(what: str, dtype: Any, out: Any) -> None:
    if dtype is not None or out is not None:
        raise InputTypeError(f"{what}: the result is a new Value; dtype= and out= are not supported (use .astype)")


def _comparable(x: Any) -> bool:
    """Whether ``v == x`` compares numbers: a Value, a real number or an array (lists included)."""
    return isinstance(x, (Value, numbers.Real, np.ndarray, np.number, np.bool_, list, tuple))


def _user_site() -> str:
    """``file:line`` of the innermost frame outside tapegrad."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("tapegrad."):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _binary_operator(name: str, method: str) -> Callable[[Value, Any], Value]:
    """``Value.<method>`` for op ``name``: :func:`~tapegrad.values.record._binary`'s commonest case, recorded here.

    That case is two Values already on the tape being recorded (or leaves
    already bound to it), a tape holding no arrays, and no checks on: the
    record is computed by the op table's own scalar rule and appended at
    once.  Anything else (a number, an array, no tape yet, a trace's
    leaf...) goes through ``_binary``.  Without that call, the op's lookups
    and a second thread-local read, recording micrograd's moons step (65k
    ops) takes 0.78x the time (43.8 ms instead of 56.0, on a loaded
    machine); asking the tape whether it holds arrays (``Tape.array``)
    instead of checking both operands are floats takes another 5%.  That
    rests on every slot of such a tape being a float: leaves hold floats
    or arrays (``Value(...)`` and ``.data`` convert), constants are
    floats, an array sets ``Tape.array``, and every scalar rule of the
    table returns a float for floats (tests/values/test_fast_paths.py).
    """
    op = _OPS[name]
    kind, scalar = op.kind, op.scalar

    def operator(x: Value, y: Any) -> Value:
        tape = STATE.fast_tape
        if tape is None or type(y) is not Value:
            return _binary(op, x, y)
        values = tape.values
        sx, sy = x._slot, y._slot
        # An operand from elsewhere goes through _bring, unless it is a leaf already bound to this eager
        # tape with its data unchanged (a parameter used again in the step) and the tape has room: _bring's
        # first check, asked here because the call costs as much as the check (0.91x the moons step).
        if x._tape is not tape and not (
            x._tape is None
            and tape.sources.get(sx) is x
            and values[sx] is x._data
            and len(values) < _recording.EAGER_TAPE_LIMIT
        ):
            sx = _bring(tape, x)
        if y._tape is not tape and not (
            y._tape is None
            and tape.sources.get(sy) is y
            and values[sy] is y._data
            and len(values) < _recording.EAGER_TAPE_LIMIT
        ):
            sy = _bring(tape, y)
        if tape.array:  # else both operands are floats
            return _record_slots(op, tape, (sx, sy))
        out = scalar(values[sx], values[sy])  # type: ignore[misc]
        v = _object_new(Value)
        v._data = out
        v._tape = tape
        v._slot = len(values)
        tape.ops.append(kind)
        tape.args.append((sx, sy))
        values.append(out)
        return v

    operator.__name__, operator.__qualname__ = method, f"Value.{method}"
    return operator


_object_new = object.__new__



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

    __slots__ = ("_data", "_name", "_tape", "_slot", "_grad")

    def __init__(self, data: Any, name: str | None = None) -> None:
        self._data: Any = as_data(data)  # a float, or a numpy array; tapegrad itself reads this, never .data
        self._name = name
        self._tape: RecordingTape | None = None
        self._slot = -1
        self._grad: Any = None  # no gradient yet: backward()'s first contribution becomes it, -0.0 included

    @property
    def data(self) -> Any:
        """The number (or array), as micrograd's ``.data``; refused for a traced Value inside its trace.

        A number read inside ``trace``/``grad``/``function`` would be
        replayed as a constant forever after (``x * math.sqrt(x.data)``
        would differentiate as ``x * 3``), so it raises
        :class:`ConcretizationError`, as ``float()`` does.
        """
        self._check_concrete(".data")
        return self._data

    @data.setter
    def data(self, data: Any) -> None:
        self._check_concrete("setting .data")
        if isinstance(data, Value):
            raise InputTypeError(
                "a Value's .data must be a number or an array, got a Value; assign its number (w.data = v.data)"
            )
        # As Value(...) takes it: an int or a numpy scalar becomes a float (a tape with no arrays holds only
        # floats, which the operators' fast path relies on); an array is kept as it is, not copied.
        self._data = data if type(data) is float or isinstance(data, np.ndarray) else as_data(data)

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
        if STATE.lifting is not None:
            self._refuse_in_jit(".grad")
        return self._gradient()

    @grad.setter
    def grad(self, value: Any) -> None:
        if STATE.lifting is not None:
            self._refuse_in_jit("setting .grad")
        if self._tape is None:
            self._grad = value
            return
        grads = self._tape.grads
        if grads is None:
            grads = self._tape.grads = []
        if len(grads) <= self._slot:
            grads.extend([None] * (self._slot + 1 - len(grads)))
        grads[self._slot] = value

    def _gradient(self) -> Any:
        """:attr:`grad`, unchecked: what ``repr`` shows (inside a jitted function too)."""
        if self._tape is None:
            g = self._grad
        else:
            grads = self._tape.grads
            g = grads[self._slot] if grads is not None and self._slot < len(grads) else None
        if g is None:
            return np.zeros_like(self._data) if isinstance(self._data, np.ndarray) else 0.0
        return g

    def backward(self) -> None:
        """Add d(self)/d(leaf) to the ``.grad`` of every leaf and intermediate.

        ``self`` must be a scalar (an array Value of shape ``()``); reduce an
        array first, e.g. ``loss.sum().backward()``.
        """
        from .eager import eager_backward  # eager.py sweeps tapes of Values, so it imports this module

        eager_backward(self)

    def tape(self) -> Tape:
        """The computation of this eager Value as a Tape: inputs are its leaves, output is itself.

        >>> x = Value(2.0, name="x"); y = Value(3.0, name="y")
        >>> loss = (x * y).tanh()
        >>> t = loss.tape(); t.inputs, t.gradient(2.0, 3.0)
        (('x', 'y'), ...)

        It replays, differentiates, prints, exports (``to_sympy``, ``explain``,
        ``to_dot``) like any traced tape.
        """
        from .record import eager_tape  # record imports this module

        return eager_tape(self)

    # ------------------------------------------------------------ conversions
    def _check_concrete(self, what: str) -> None:
        tape = self._tape
        if tape is not None and tape.traced and not tape.sealed:
            site = _user_site()
            error = ConcretizationError(
                f"{what} of a traced Value at {site}: the tape would replay the number recorded "
                "there forever after. Keep the computation on Values (tapegrad.where, maximum and "
                "minimum give branch-free conditionals; an `if` on a comparison records a guard); "
                "a number that should stay fixed is computed outside the traced function and passed in."
            )
            error.site = site
            raise error
        if STATE.lifting is not None:
            self._refuse_in_jit(what)

    def _refuse_in_jit(self, what: str) -> None:
        """Inside :func:`tapegrad.jit`, a number read from a Value (or written into one) would be compiled in.

        A captured Value is an input of the compiled code, read at every
        call; its ``.data`` read while tracing would be a constant instead,
        and an optimiser's step inside the function would happen once, when
        it is traced.  ``backward()`` inside is recorded; its gradients are
        added to ``.grad`` after each call.
        """
        raise ConcretizationError(
            f"{what} of a Value at {_user_site()} inside a function tapegrad.jit is tracing: the compiled code "
            "would keep the number read there (or skip the write) on every later call. Use the Value itself in "
            "the computation (a captured Value becomes an input of the compiled code); call optimizer.zero_grad() "
            "and optimizer.step() and read .data or .grad outside the jitted function"
        )

    def __float__(self) -> float:
        self._check_concrete("float()")
        return float(self._one_number("float()"))

    def __int__(self) -> int:
        self._check_concrete("int()")
        return int(self._one_number("int()"))

    def _one_number(self, what: str) -> Any:
        if np.size(self._data) != 1:
            raise ShapeError(f"{what} of a Value of shape {self.shape}: it is not one number; reduce it first")
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise InputTypeError(
            "numpy was asked to turn a Value into an array (np.array(v), np.asarray(v), or a numpy function "
            "given a list of Values), which would lose its tape; use the Value's methods or numpy's functions "
            "on the Value itself (v.sum(), np.sum(v)), tapegrad.stack for a list of Values, or v.data for the numbers"
        )

    def __bool__(self) -> bool:
        return truth(self)

    def _traced_text(self) -> str | None:
        """``Value(traced, slot %3)`` while this Value's trace records, else None.

        Printing the number inside a trace would invite a branch on text the
        tape cannot replay, so a traced Value prints symbolically (as a JAX tracer does).
        """
        tape = self._tape
        if tape is None or not tape.traced or tape.sealed:
            return None
        shape = f", {type_text(self._data)}" if isinstance(self._data, np.ndarray) else ""
        name = f", name={self.name!r}" if self.name else ""
        return f"Value(traced{shape}, slot %{self._slot}{name})"

    def __repr__(self) -> str:
        traced = self._traced_text()
        if traced is not None:
            return traced
        name = f", name={self.name!r}" if self.name else ""
        if isinstance(self._data, np.ndarray):
            return f"Value({type_text(self._data)}, data={self._data!r}{name})"
        return f"Value(data={self._data}, grad={self._gradient()}{name})"

    def __format__(self, spec: str) -> str:
        """f-strings: an eager number formats as its data (``f"{loss:.4f}"``); a traced Value prints symbolically."""
        if not spec or self._traced_text() is not None:
            return str(self)
        return format(np.asarray(self._one_number(f"format spec {spec!r}")).flat[0], spec)

    # ------------------------------------------------------------ arrays
    def _read_shape(self) -> Any:
        """The data, noting on a trace that its code read a shape (tapegrad.function then traces at the arrays)."""
        tape = self._tape
        if tape is not None and tape.traced:
            tape.reads_shape = True
        return self._data

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape; ``()`` for a scalar."""
        return np.shape(self._read_shape())

    @property
    def ndim(self) -> int:
        return np.ndim(self._read_shape())

    @property
    def size(self) -> int:
        return int(np.size(self._read_shape()))

    @property
    def dtype(self) -> np.dtype[Any]:
        """float64 for scalars; an array's own dtype (float64 or float32)."""
        return dtype_of(self._read_shape())

    def __len__(self) -> int:
        data = self._read_shape()
        if not np.ndim(data):
            raise TypeError("len() of a scalar Value")
        return len(data)

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
        one = len(axes) == 1 and not isinstance(axes[0], (int, np.integer))
        return arrays.transpose(self, axes[0] if one else axes or None)

    def reshape(self, *shape: Any, order: str = "C") -> Value:
        return shaping.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape, order)

    def astype(self, dtype: Any) -> Value:
        return arrays.astype(self, dtype)

    # dtype= and out= are what np.sum(v), np.mean(v) and np.max(v) pass on; only their defaults fit a tape.
    def sum(self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None, out: Any = None) -> Value:
        _no_out("sum", dtype, out)
        return arrays.sum_over(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None, out: Any = None) -> Value:
        _no_out("mean", dtype, out)
        return arrays.mean_over(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False, *, out: Any = None) -> Value:
        _no_out("max", None, out)
        return arrays.max_over(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Value:
        return arrays.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Value:
        return arrays.log_softmax(self, axis)

    # numpy's other reductions (tapegrad/values/arrays.py), and numpy's functions on Values (NEP 13 and 18):
    # np.sin(v), ndarray * v, np.sum(v, axis=0), np.dot(A, v) record through one table, numpy_dispatch.
    def min(self, axis: Any = None, keepdims: bool = False, *, out: Any = None) -> Value:
        _no_out("min", None, out)
        return arrays.min_over(self, axis, keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None, out: Any = None) -> Value:
        _no_out("prod", dtype, out)
        return arrays.prod_over(self, axis, keepdims)

    def var(
        self, axis: Any = None, keepdims: bool = False, *, ddof: float = 0, dtype: Any = None, out: Any = None
    ) -> Value:
        _no_out("var", dtype, out)
        return arrays.var_over(self, axis, keepdims, ddof)

    def std(
        self, axis: Any = None, keepdims: bool = False, *, ddof: float = 0, dtype: Any = None, out: Any = None
    ) -> Value:
        _no_out("std", dtype, out)
        return arrays.std_over(self, axis, keepdims, ddof)

    def cumsum(self, axis: Any = None) -> Value:
        return arrays.cumsum(self, axis)

    def cumprod(self, axis: Any = None) -> Value:
        return arrays.cumprod(self, axis)

    def all(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.all_over(self, axis, keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Value:
        return arrays.any_over(self, axis, keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Any:
        return arrays.arg_extreme(self, axis, keepdims, "argmax")

    def dot(self, other: Any) -> Any:
        return products.dot(self, other)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return products.trace(self, offset, axis1, axis2)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Any:
        return arrays.arg_extreme(self, axis, keepdims, "argmin")

    # ndarray's shape methods (tapegrad/values/shaping.py, selecting.py, sorting.py); no in-place sort: use np.sort(v).
    @property
    def mT(self) -> Value:
        """The last two axes swapped (numpy 2's ``.mT``: each matrix of a stack transposed)."""
        return spellings.matrix_transpose(self)

    @property
    def real(self) -> Value:
        """The Value itself: Values are real (``v.conj()`` too), so code written for complex arrays runs."""
        return self

    def conj(self) -> Value:
        return self

    def conjugate(self) -> Value:
        return self

    def take(self, indices: Any, axis: Any = None) -> Value:
        return spellings.take(self, indices, axis)

    def item(self) -> float:
        """The one number of a Value of size 1, as ``float(v)`` (refused inside a trace)."""
        self._check_concrete("item()")
        return float(np.asarray(self._one_number("item()")).reshape(()))

    def copy(self, order: str = "K") -> Value:
        """The Value itself: a Value never changes in place, so ``y = x.copy()`` may share it (as ``np.copy``)."""
        return spellings.copy(self, order)

    def ravel(self, order: str = "C") -> Value:
        return shaping.ravel(self, order)

    def flatten(self, order: str = "C") -> Value:
        return shaping.ravel(self, order)

    def squeeze(self, axis: Any = None) -> Value:
        return shaping.squeeze(self, axis)

    def swapaxes(self, axis1: Any, axis2: Any) -> Value:
        return shaping.swapaxes(self, axis1, axis2)

    def repeat(self, repeats: Any, axis: Any = None) -> Value:
        return shaping.repeat(self, repeats, axis)

    def diagonal(self, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Value:
        return selecting.diagonal(self, offset, axis1, axis2)

    def argsort(self, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Value:
        return sorting.argsort(self, axis, kind, order, stable=stable)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return numpy_dispatch.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return numpy_dispatch.function(func, args, kwargs)

    def _repr_latex_(self) -> str | None:
        """Jupyter: the number and its gradient (None for a traced Value: Jupyter shows its repr)."""
        if self._traced_text() is not None:
            return None
        return rf"$\mathrm{{Value}}({self._data!r}),\ \mathrm{{grad}} = {self._gradient()!r}$"

    # ------------------------------------------------------------ arithmetic
    # The commonest operators record through _binary_operator's fast path (99% of a scalar MLP's records).
    __add__ = _binary_operator("add", "__add__")
    __sub__ = _binary_operator("sub", "__sub__")
    __mul__ = _binary_operator("mul", "__mul__")
    __truediv__ = _binary_operator("div", "__truediv__")

    def __radd__(self, other: Any) -> Value:
        return _binary(_OPS["add"], other, self)

    def __rsub__(self, other: Any) -> Value:
        return _binary(_OPS["sub"], other, self)

    def __rmul__(self, other: Any) -> Value:
        return _binary(_OPS["mul"], other, self)

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(_OPS["div"], other, self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return _binary(_OPS["pow"], self, other)
        exponent = as_float(other, "an exponent")
        # Keep an exact integer exponent as an int, for printing and later sympy export.
        attr = int(other) if isinstance(other, int) and exponent.is_integer() and abs(exponent) < 2**53 else exponent
        return _record(_OPS["pow_const"], (self,), attr)

    def __rpow__(self, other: Any) -> Value:
        return _binary(_OPS["pow"], other, self)

    def __neg__(self) -> Value:
        return _unary(_OPS["neg"], self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(_OPS["abs"], self)

    # Comparisons record a condition (1.0 or 0.0).  It becomes a guard only
    # when Python asks for its truth, so inside where() it records no guard.
    # == and != too (so `1 if x == 0 else sin(x) / x` works), while hashing
    # stays by identity: Values are set members and dict keys, as PyTorch tensors.
    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> Any:
        if not _comparable(other):
            return NotImplemented  # None, strings...: never equal, as for PyTorch tensors
        return _compare(_OPS["eq"], self, other)

    def __ne__(self, other: Any) -> Any:
        if not _comparable(other):
            return NotImplemented
        return _compare(_OPS["ne"], self, other)

    def __gt__(self, other: Any) -> Value:
        return _compare(_OPS["gt"], self, other)

    def __ge__(self, other: Any) -> Value:
        return _compare(_OPS["ge"], self, other)

    def __lt__(self, other: Any) -> Value:
        return _compare(_OPS["lt"], self, other)

    def __le__(self, other: Any) -> Value:
        return _compare(_OPS["le"], self, other)

    def relu(self) -> Value:
        return _unary(_OPS["relu"], self)

    def tanh(self) -> Value:
        return _unary(_OPS["tanh"], self)

    def exp(self) -> Value:
        return _unary(_OPS["exp"], self)

    def log(self) -> Value:
        return _unary(_OPS["log"], self)

    def sigmoid(self) -> Value:
        return _unary(_OPS["sigmoid"], self)

    def sin(self) -> Value:
        return _unary(_OPS["sin"], self)

    def cos(self) -> Value:
        return _unary(_OPS["cos"], self)

    def sqrt(self) -> Value:
        return _unary(_OPS["sqrt"], self)

    def abs(self) -> Value:
        return _unary(_OPS["abs"], self)

    # The more elementwise ops, as numpy names them (x.atan2(y) is numpy's arctan2(x, y)).
    def __mod__(self, other: Any) -> Value:
        return _binary(_OPS["mod"], self, other)

    def __rmod__(self, other: Any) -> Value:
        return _binary(_OPS["mod"], other, self)

    def __floordiv__(self, other: Any) -> Value:
        return _binary(_OPS["floor_divide"], self, other)

    def __rfloordiv__(self, other: Any) -> Value:
        return _binary(_OPS["floor_divide"], other, self)

    def tan(self) -> Value:
        return _unary(_OPS["tan"], self)

    def asin(self) -> Value:
        return _unary(_OPS["asin"], self)

    def acos(self) -> Value:
        return _unary(_OPS["acos"], self)

    def atan(self) -> Value:
        return _unary(_OPS["atan"], self)

    def sinh(self) -> Value:
        return _unary(_OPS["sinh"], self)

    def cosh(self) -> Value:
        return _unary(_OPS["cosh"], self)

    def asinh(self) -> Value:
        return _unary(_OPS["asinh"], self)

    def acosh(self) -> Value:
        return _unary(_OPS["acosh"], self)

    def atanh(self) -> Value:
        return _unary(_OPS["atanh"], self)

    def log1p(self) -> Value:
        return _unary(_OPS["log1p"], self)

    def expm1(self) -> Value:
        return _unary(_OPS["expm1"], self)

    def log2(self) -> Value:
        return _unary(_OPS["log2"], self)

    def log10(self) -> Value:
        return _unary(_OPS["log10"], self)

    def exp2(self) -> Value:
        return _unary(_OPS["exp2"], self)

    def cbrt(self) -> Value:
        return _unary(_OPS["cbrt"], self)

    def square(self) -> Value:
        return _unary(_OPS["square"], self)

    def reciprocal(self) -> Value:
        return _unary(_OPS["reciprocal"], self)

    def erf(self) -> Value:
        return _unary(_OPS["erf"], self)

    def erfc(self) -> Value:
        return _unary(_OPS["erfc"], self)

    def softplus(self) -> Value:
        return _unary(_OPS["softplus"], self)

    def sign(self) -> Value:
        return _unary(_OPS["sign"], self)

    def floor(self) -> Value:
        return _unary(_OPS["floor"], self)

    def ceil(self) -> Value:
        return _unary(_OPS["ceil"], self)

    def round(self) -> Value:
        return _unary(_OPS["round"], self)

    def trunc(self) -> Value:
        return _unary(_OPS["trunc"], self)

    def atan2(self, other: Any) -> Value:
        return _binary(_OPS["atan2"], self, other)

    def hypot(self, other: Any) -> Value:
        return _binary(_OPS["hypot"], self, other)

    def logaddexp(self, other: Any) -> Value:
        return _binary(_OPS["logaddexp"], self, other)

    def mod(self, other: Any) -> Value:
        return _binary(_OPS["mod"], self, other)

    def fmod(self, other: Any) -> Value:
        return _binary(_OPS["fmod"], self, other)

    def floor_divide(self, other: Any) -> Value:
        return _binary(_OPS["floor_divide"], self, other)

    def clip(self, lo: Any = None, hi: Any = None) -> Value:
        """``lo`` where self is below it, ``hi`` where above (None: no bound), as ``np.clip``."""
        bound = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
        return _record(_OPS["clip"], (self, *bound))


# Recording and the array operations build on Value, so they are imported last; the methods above use them.
from . import arrays, numpy_dispatch, products, selecting, shaping, sorting, spellings  # noqa: E402
from . import record as _recording  # noqa: E402  # its EAGER_TAPE_LIMIT, read at each use (tests lower it)
from .record import EAGER_TAPE_LIMIT as EAGER_TAPE_LIMIT  # noqa: E402
from .record import (  # noqa: E402  # noqa: E402
    _binary,
    _bring,
    _compare,
    _record,
    _record_slots,
    _unary,
    apply,
    constant,
    equal,
    maximum,
    minimum,
    not_equal,
    truth,
    where,
)
from .record import _new_value as _new_value  # noqa: E402  (tapegrad.functional)
from .record import _operand as _operand  # noqa: E402  (tapegrad.functional)

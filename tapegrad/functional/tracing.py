"""The JAX-style functional API: trace, grad, value_and_grad, function.

``trace`` records a Python function once as a :class:`~tapegrad.Tape`; the
tape then replays on new inputs and differentiates without running the
Python code again.  Python control flow is recorded as *guards*, so a replay
that would take another branch raises :class:`~tapegrad.errors.StaleTapeError`
instead of silently computing the wrong thing; :func:`function` keeps one tape
per branch pattern.
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np

from ..core.interpret import FLOAT, sweep
from ..core.ops import OPS, OpKind
from ..core.state import STATE
from ..core.tape import Tape, check_name
from ..errors import (
    ArgumentCountError,
    ConcretizationError,
    InputTypeError,
    OutputTypeError,
    RetraceWarning,
    ShapeError,
    StaleTapeError,
)
from ..values.tapes import RecordingTape
from ..values.value import Value, _new_value, _operand, as_data
from .replay import input_gradients, output_seeds, replay, replay_gradient

__all__ = ["trace", "as_tape", "grad", "value_and_grad", "function", "Function"]


def _parameter_names(f: Callable[..., Any], args: Sequence[Any]) -> list[str]:
    """Input names from ``f``'s signature, checking ``args`` fit it."""
    name = getattr(f, "__name__", "f")
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):  # builtins without a signature
        return [f"x{i}" for i in range(len(args))]
    try:
        signature.bind(*args)
    except TypeError as error:
        raise ArgumentCountError(
            f"{name}{signature} cannot be traced with {len(args)} example argument(s): {error}; "
            "pass one example value per parameter"
        ) from None
    names: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            names += [f"{parameter.name}{i}" for i in range(len(args) - len(names))]
        elif len(names) < len(args):
            names.append(parameter.name)
    return names


def trace(f: Callable[..., Any], *example_args: Any, names: Sequence[str] | None = None, lift: bool = False) -> Tape:
    """Record ``f`` once, at ``example_args``, as a replayable tape.

    Inputs are named after ``f``'s parameters unless ``names`` gives other
    names (any strings)::

        >>> tape = tapegrad.trace(lambda x, y: x * y, 2.0, 3.0)
        >>> tape(4.0, 5.0), tape.gradient(4.0, 5.0)
        (20.0, (5.0, 4.0))

    Inside ``f``, ``float(v)`` or ``v.data`` of a traced Value raises ConcretizationError
    (the tape could only replay the recorded number), and ``if v > 0:``
    records a guard that replay checks.  Values from outside the trace
    (parameters, earlier results) are recorded as constants; with ``lift``
    (what :func:`tapegrad.jit` uses) they become inputs instead, after the
    arguments, listed with the Value arguments in ``tape.lifted``.
    """
    fname = check_name(str(getattr(f, "__name__", "f")), "the function's __name__")
    if names is None:
        input_names = _parameter_names(f, example_args)
    else:
        input_names = list(names)
        if len(input_names) != len(example_args):
            raise ArgumentCountError(
                f"names gives {len(input_names)} names for {len(example_args)} example arguments; give one per argument"
            )
        for n in input_names:
            if not isinstance(n, str):
                raise InputTypeError(f"input names must be strings, got {type(n).__name__} {n!r}")
            check_name(n, "the input name")
    tape = RecordingTape(name=fname, traced=True)
    state = STATE
    state.push_trace(tape)
    lifting = state.lifting
    if lift:
        tape.lifted = {}
        state.lifting = tape
    try:
        inputs = []
        for n, x in zip(input_names, example_args):
            number = x._data if isinstance(x, Value) else as_data(x, f"example argument {n!r}")
            slot = tape.append(OpKind.INPUT, (), n, number)
            tape.input_slots.append(slot)
            inputs.append(_new_value(number, tape, slot))
            if tape.lifted is not None and isinstance(x, Value):
                tape.lifted[ARGUMENT, len(inputs) - 1] = (x, inputs[-1])
        try:
            result = f(*inputs)
        except ValueError as error:
            _refuse_numpy_store(error)
            raise
        _set_outputs(tape, result)
        if tape.lifted is not None:
            arguments = set(tape.input_slots)
            tape.input_slots += [h._slot for _, h in tape.lifted.values() if h._slot not in arguments]
    finally:
        state.pop_trace()
        state.lifting = lifting
        tape.sealed = True
    return tape


def _refuse_numpy_store(error: ValueError) -> None:
    """Say what numpy's "setting an array element with a sequence" meant, if a traced Value caused it.

    ``y[0] = v`` into a numpy float array calls ``float(v)``; numpy replaces
    the :class:`ConcretizationError` this raises by its own ValueError (a
    Value can be indexed, so numpy takes it for a sequence) and keeps ours
    as the cause, which is how it is recognised here.
    """
    cause = error.__cause__
    if isinstance(cause, ConcretizationError) and cause.site is not None:
        raise ConcretizationError(
            f"a traced Value was stored into a numpy array at {cause.site} (y[i] = v): numpy keeps only its "
            "number, so the tape would replay that number forever after. Build the array from Values instead: "
            "tapegrad.stack([...]) or tapegrad.concatenate of the pieces, tapegrad.where(mask, v, y) to put v "
            "where a numpy mask is true, or a list of Values."
        ) from None


def as_tape(f_or_tape: Callable[..., Any] | Tape) -> Tape:
    """``f_or_tape`` if it is a tape, else ``f`` traced at 1.0 for each required parameter.

    For exports (formulas, source) that take a function without example
    values; a guard records the branch taken at 1.0.
    """
    if isinstance(f_or_tape, Tape):
        return f_or_tape
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(f_or_tape).parameters.values()
    count = sum(1 for p in parameters if p.kind in positional and p.default is p.empty)
    return trace(f_or_tape, *[1.0] * count)


def _set_outputs(tape: RecordingTape, result: Any) -> None:
    if isinstance(result, tuple):
        tape.structure, items = "tuple", list(result)
    elif isinstance(result, list):
        tape.structure, items = "list", result
    else:
        tape.structure, items = "value", [result]
    for i, item in enumerate(items):
        if not isinstance(item, (Value, int, float, np.integer, np.floating, np.ndarray)):
            raise OutputTypeError(
                f"{tape.name} returned {type(item).__name__} {item!r:.60}; a traced function must return "
                "Values, numbers or arrays, or a tuple or list of them"
            )
        tape.output_slots.append(_operand(tape, item))
        default = "out" if tape.structure == "value" else f"out{i}"
        name = item.name or default if isinstance(item, Value) else default
        tape.output_names.append(check_name(name, "the output name"))


# ---------------------------------------------------------------- grad


def _argnums(argnums: int | Sequence[int], count: int) -> list[int]:
    if not isinstance(argnums, (int, tuple, list)):
        raise InputTypeError(f"argnums must be an int or a tuple of ints, got {type(argnums).__name__} {argnums!r}")
    chosen = [argnums] if isinstance(argnums, int) else list(argnums)
    for a in chosen:
        if not isinstance(a, int) or isinstance(a, bool):
            raise InputTypeError(f"argnums must be an int or a tuple of ints, got {a!r}")
        if not -count <= a < count:
            raise ArgumentCountError(f"argnums={a} but the function was called with {count} argument(s)")
    return [a % count for a in chosen]


def with_keywords(f: Callable[..., Any] | Tape, keywords: dict[str, Any]) -> Callable[..., Any] | Tape:
    """``f`` with its keyword arguments fixed: they pass through undifferentiated, as in JAX.

    A Tape takes its inputs by position only, so keywords to one are refused.
    """
    if not keywords:
        return f
    if isinstance(f, Tape):
        raise ArgumentCountError(
            f"tape {f.name!r} takes its inputs by position, got keyword argument(s) {', '.join(keywords)}; "
            f"pass them in the order {', '.join(f.inputs)}"
        )
    bound = functools.partial(f, **keywords)
    bound.__name__ = getattr(f, "__name__", "f")  # type: ignore[attr-defined]  # the tape's name
    return bound


def value_and_grad(f: Callable[..., Any] | Tape, argnums: int | Sequence[int] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), gradient)``, as ``jax.value_and_grad``.

    The gradient is with respect to argument ``argnums`` (a tuple gives a
    tuple of gradients).  ``f`` must return one scalar; ``f`` may also be a
    Tape.  Called on traced Values (inside another ``trace`` or ``grad``),
    the result is recorded too, so ``grad`` nests for higher derivatives.
    Keyword arguments pass through to ``f`` and are not differentiated::

        >>> tapegrad.grad(lambda x, scale=1.0: scale * x ** 2)(3.0, scale=0.5)
        3.0
    """

    def value_and_grad_f(*args: Any, **keywords: Any) -> tuple[Any, Any]:
        picked = _argnums(argnums, len(args))
        g = with_keywords(f, keywords)
        if isinstance(g, Tape):
            value, grads = replay_gradient(g, args)
        else:
            points = [a._data if isinstance(a, Value) else a for a in args]
            tape = trace(g, *points)
            if len(tape.output_slots) != 1 or tape.structure != "value":
                output_seeds(tape, None)  # raises NonScalarOutputError
            if tape.captures or any(isinstance(a, Value) for a in args):
                value, grads = replay_gradient(tape, args)  # records onto the enclosing trace
            else:
                adjoint = sweep(tape, tape.values, output_seeds(tape, None), FLOAT)
                value = tape.values[tape.output_slots[0]]
                grads = tuple(input_gradients(tape, adjoint))
        if isinstance(argnums, int):
            return value, grads[picked[0]]
        return value, tuple(grads[a] for a in picked)

    return value_and_grad_f


def grad(f: Callable[..., Any] | Tape, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued ``f``, as ``jax.grad``.

    >>> tapegrad.grad(lambda x: x ** 3)(2.0)
    12.0
    """
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args: Any, **keywords: Any) -> Any:
        return value_and_grad_f(*args, **keywords)[1]

    if isinstance(f, Tape):
        _take_inputs_of(grad_f, f)
    elif callable(f):
        functools.update_wrapper(grad_f, f)
    return grad_f


def _take_inputs_of(grad_f: Callable[..., Any], tape: Tape) -> None:
    """Give ``grad_f`` the tape's name and its inputs as parameters.

    A trace of ``grad_f`` (``grad(grad(tape))``, ``hessian(tape)``) reads its
    signature for the input names and count; without this it would see
    ``*args`` at best.  Input names that are no Python identifiers (``names=``
    accepts any string) leave it ``*args``.
    """
    grad_f.__name__ = grad_f.__qualname__ = tape.name
    try:
        positional = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in tape.inputs]
        grad_f.__signature__ = inspect.Signature(positional)  # type: ignore[attr-defined]
    except ValueError:  # a keyword, a repeated name or no identifier
        pass


# ---------------------------------------------------------------- function


ARGUMENT = "argument"
"""``tape.lifted[ARGUMENT, i]`` is the Value given as argument ``i`` (a captured Value is keyed by its id)."""

RETRACE_WINDOW = 20
"""Function warns when it traced again on most of its last this many calls."""


class Function:
    """``f`` recorded once per branch pattern and replayed ever after.

    Each call replays the first kept tape whose guards hold for the new
    inputs; when none does, ``f`` is traced again at those inputs and the new
    tape is kept.  ``.tapes`` lists the tapes kept, most recently used
    first: at most ``cache_size``, the least recently used is dropped (each
    call may try them all, so a function whose every call takes a new branch
    would otherwise keep a tape per call and slow down with each).  A
    :class:`~tapegrad.errors.RetraceWarning` says when most calls trace again.

    Array arguments are a batch of points when ``f`` is elementwise (it is
    traced at one point and replayed on the batch); when ``f`` uses array
    ops (``@``, ``sum``, indexing...) or reads a shape (``x.size``,
    ``x.shape``, ``len(x)``...) it is traced at the arrays themselves, and
    traced again when their shapes change.
    """

    def __init__(self, f: Callable[..., Any], cache_size: int = 16) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise InputTypeError(f"cache_size must be a positive int (how many tapes to keep), got {cache_size!r}")
        functools.update_wrapper(self, f)  # first: it copies f's __dict__, which must not overwrite the cache
        self.f = f
        self.cache_size = cache_size
        self._kept: collections.OrderedDict[Any, Tape] = collections.OrderedDict()  # by branches, newest last
        self._recent: collections.deque[bool] = collections.deque(maxlen=RETRACE_WINDOW)  # did the call trace?
        self._warned = False
        self._lock = threading.Lock()

    @property
    def tapes(self) -> list[Tape]:
        """The tapes kept, one per branch pattern, most recently used first."""
        return list(reversed(self._kept.values()))

    def _run(self, args: Sequence[Any], run: Callable[[Tape], Any]) -> Any:
        for key, tape in reversed(list(self._kept.items())):
            try:
                result = run(tape)
            except StaleTapeError:
                continue
            except ShapeError:
                if not tape.array:
                    raise
                continue  # recorded at other shapes
            self._used(key, tape, traced=False)
            return result
        tape = self._trace(args)
        return run(self._used(_branches(tape), tape, traced=True))

    def _used(self, key: Any, tape: Tape, traced: bool) -> Tape:
        """Keep ``tape`` as the most recently used, drop the least recently used past ``cache_size``.

        A new trace that took the same branches as a kept tape is the same
        program (a batch whose points disagree is traced again on every call):
        the kept tape stays, and is returned.
        """
        with self._lock:
            tape = self._kept.pop(key, tape)
            self._kept[key] = tape
            while len(self._kept) > self.cache_size:
                self._kept.popitem(last=False)
            self._recent.append(traced)
            retraced = sum(self._recent)
            if self._warned or len(self._recent) < RETRACE_WINDOW or 2 * retraced <= RETRACE_WINDOW:
                return tape
            self._warned = True
        name = getattr(self.f, "__name__", "f")
        warnings.warn(
            f"tapegrad.function traced {name} again on {retraced} of its last {RETRACE_WINDOW} calls "
            f"(it keeps at most cache_size={self.cache_size} tapes, and tries each before tracing again): "
            "its calls take different branches of Python conditions on Values, or its arrays change shape. "
            "Write the branches with tapegrad.where(cond, a, b) so that one tape serves every call, or pass a "
            "larger cache_size= if there are only a few branch patterns",
            RetraceWarning,
            stacklevel=4,
        )
        return tape

    def _trace(self, args: Sequence[Any]) -> Tape:
        """A tape at one point of the batch if ``f`` is elementwise, else at the arrays themselves."""
        if not any(isinstance(a, (np.ndarray, list, tuple)) for a in args):
            return trace(self.f, *args)
        try:
            tape = trace(self.f, *[_first_point(a) for a in args])
            elementwise = all(OPS[k].elementwise or OPS[k].arity == 0 or k is OpKind.GUARD for k in set(tape.ops))
            if elementwise and not tape.reads_shape:  # x * x.size at one point would be x * 1
                return tape
        except Exception:  # array ops, len() or x.shape[0] on a scalar point; a real error recurs below
            pass
        return trace(self.f, *args)

    def __call__(self, *args: Any) -> Any:
        return self._run(args, lambda tape: replay(tape, args))

    def gradient(self, *args: Any, seed: Any = None) -> tuple[Any, ...]:
        """As :meth:`Tape.gradient`, with the tape that matches ``args``."""
        return self._run(args, lambda tape: replay_gradient(tape, args, seed)[1])

    def value_and_gradient(self, *args: Any, seed: Any = None) -> tuple[Any, tuple[Any, ...]]:
        """As :meth:`Tape.value_and_gradient`, with the tape that matches ``args``."""
        return self._run(args, lambda tape: replay_gradient(tape, args, seed))


def _branches(tape: Tape) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """What tells two traces of one function apart: the types of the inputs and the branch each guard took."""
    guards = tuple(tape.attrs[slot] for slot, kind in enumerate(tape.ops) if kind is OpKind.GUARD)
    return tuple(tape.type_of(slot) for slot in tape.input_slots), guards


def _first_point(x: Any) -> Any:
    """One point of a batch, to trace at."""
    if isinstance(x, (np.ndarray, list, tuple)):
        flat = np.asarray(x, dtype=np.float64).ravel()
        return float(flat[0]) if flat.size else 0.0
    return x


@overload
def function(f: Callable[..., Any], *, cache_size: int = 16, compile: bool = False) -> Any: ...
@overload
def function(
    f: None = None, *, cache_size: int = 16, compile: bool = False
) -> Callable[[Callable[..., Any]], Any]: ...
def function(f: Callable[..., Any] | None = None, *, cache_size: int = 16, compile: bool = False) -> Any:
    """Wrap ``f`` to record once and replay many times, retracing per branch.

    >>> @tapegrad.function
    ... def f(x):
    ...     return x * 2 if x > 0 else -x
    >>> f(3.0), f(-3.0), len(f.tapes)
    (6.0, 3.0, 2)

    ``cache_size`` is how many tapes (branch patterns) it keeps, least
    recently used dropped first; ``@tapegrad.function(cache_size=64)``.
    ``compile=True`` is :func:`tapegrad.jit`: each tape optimised and run as
    generated code, captured Values made inputs.
    """
    if f is None:
        return functools.partial(function, cache_size=cache_size, compile=compile)
    if compile:
        from .compiled import Compiled  # it builds on this module

        return Compiled(f, cache_size)
    return Function(f, cache_size)

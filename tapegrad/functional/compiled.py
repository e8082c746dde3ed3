"""``tapegrad.jit``: a function recorded once per input signature and branch, then run as generated code.

:func:`tapegrad.function` replays its tapes in the interpreter; ``jit`` goes
one step further on each new kind of call: it traces the function, optimises
the tape (:func:`tapegrad.optimize`), generates code for it with the backend
:func:`backend_for` picks (numpy code for arrays; for floats ``math`` code,
or the C machine for long tapes when a C compiler is found),
keeps that code and runs it on every later call of the same kind::

    >>> @tapegrad.jit
    ... def f(x, y):
    ...     return (x * y).tanh() + x
    >>> f(1.0, 2.0) == float((tapegrad.Value(1.0) * 2.0).tanh() + 1.0)
    True

The rules, each a consequence of running recorded code instead of Python:

* **What is traced**: the arithmetic on Values.  Python runs once per
  program: a ``print`` runs when tracing, not on later calls.
* **When it traces again**: on arguments of another kind (float or array,
  shape, dtype), and when a Python ``if`` on a Value goes the other way: the
  generated code checks every guard before it returns, and a failed one
  makes the jit try its other programs for those arguments, then trace
  again.  At most ``cache_size`` programs (default 16) are kept, the least
  recently used dropped first.
* **What is captured**: a Value the function reads without receiving it
  (a model's parameter) becomes an input of the compiled code, read afresh
  at every call, so the updates of an optimiser are seen.  The jit holds
  the Value itself: assign ``p.data`` (as the optimisers do), do not put a
  new Value in its place (``layer.weight = Value(...)`` is not seen; make a
  new jitted function).  Reading ``.data``, ``.grad`` or ``float()`` of such
  a Value inside the function raises :class:`~tapegrad.errors.ConcretizationError`:
  the compiled code would keep the number read while tracing.
* **backward()**: ``loss.backward()`` inside the function is recorded too;
  after every call the gradients it computed are added to the ``.grad`` of
  the captured Values and of the Value arguments, as an eager
  ``backward()`` would.  So an eager training step keeps its shape::

      @tapegrad.jit
      def step(X, y):
          loss = loss_of(model(X), y)
          loss.backward()
          return loss

      optimizer.zero_grad(); loss = step(X, y); optimizer.step()

* **Results** are numbers and arrays (as :class:`tapegrad.Function`
  returns), not Values.
* Called inside another trace (``tapegrad.grad(jit(f))``), the function
  runs as Python and is recorded there: composed that way it is correct,
  not compiled.  ``jit(value_and_grad(f))`` compiles the gradient.
"""

from __future__ import annotations

import collections
import functools
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from ..core.passes import optimize
from ..core.state import STATE
from ..core.tape import Tape
from ..errors import (
    ArgumentCountError,
    CompileError,
    CompilerNotFoundError,
    ConcretizationError,
    InputTypeError,
    RetraceWarning,
)
from ..values.value import Value
from .tracing import ARGUMENT, RETRACE_WINDOW, _branches, _parameter_names, trace

__all__ = ["jit", "Compiled", "Program", "backend_for", "CACHE_SIZE", "C_RECORDS"]

CACHE_SIZE = 16
"""How many programs (argument signature x branch pattern) a jitted function keeps by default."""

STALE = ("inputs take another branch", "but this code was generated for shape")
"""The ValueErrors of generated code that mean "this program is not for these inputs" (formats/codegen.py)."""


C_RECORDS = 200
"""Scalar tapes of at least this many records run on the C machine (``"c"``) when a compiler is found:
below it a call's fixed cost (about 2 us) outweighs the Python statements it saves (about 50 ns a record)."""


def backend_for(tape: Tape, args: Sequence[Any]) -> str:
    """The code backend to generate ``tape`` with, for calls like ``args``.

    numpy code for a tape of arrays (which runs large batches in blocks on
    every core by itself), the C machine for a long scalar tape, ``math``
    code (plain floats) for a short one.  :func:`_compile` falls back to
    ``math`` where no C compiler is found.
    """
    if tape.array:
        return "numpy"
    return "c" if len(tape.records) >= C_RECORDS else "math"


_C_FAILED: list[str] = []
"""Why the C machine could not be built or loaded in this process, once known: later traces skip it."""


def _compile(tape: Tape, backend: str) -> tuple[str, Callable[..., Any]]:
    """``tape.compile(backend)``, or the ``math`` backend's function where C was asked for and cannot run.

    The C machine is only faster, never needed: no compiler, a compiler that fails or a library that
    does not load makes the jit warn once and use math code from then on.
    """
    if backend == "c" and not _C_FAILED:
        try:
            return backend, tape.compile(backend)
        except (CompilerNotFoundError, CompileError, OSError) as error:
            _C_FAILED.append(str(error))
            warnings.warn(f"tapegrad.jit runs long scalar tapes as Python (math) code: the C machine is not "
                          f"available ({error})", RuntimeWarning, stacklevel=4)  # fmt: skip
    return ("math", tape.compile("math")) if backend == "c" else (backend, tape.compile(backend))


@dataclass(frozen=True, slots=True)
class Program:
    """One trace of a jitted function, compiled: what runs, and how its results are read.

    Attributes:
        tape: the optimised tape the code was generated from (its outputs are
            the function's, then the gradients ``backward()`` computed).
        run: the generated function: the arguments, then the captured Values' data.
        backend: the code backend ``backend_for`` chose.
        captured: the Values read from outside the function, in the order ``run`` takes them.
        value_arguments: some argument is a Value (``run`` takes its data).
        structure, count: how the function's outputs nest (None for one output; see ``_flatten``), how many.
        grad_targets: for each gradient ``run`` returns after the outputs: the argument
            position it belongs to, or the captured Value.
        key: the argument signature and the branch each guard took.
    """

    tape: Tape
    run: Callable[..., Any]
    backend: str
    captured: tuple[Value, ...]
    value_arguments: bool
    structure: Any
    count: int
    grad_targets: tuple[int | Value, ...]
    key: Any


class Compiled:
    """``f`` traced once per kind of call, optimised, compiled to code and run; see :func:`jit`."""

    def __init__(self, f: Callable[..., Any], cache_size: int = CACHE_SIZE) -> None:
        if not callable(f):
            raise InputTypeError(f"tapegrad.jit takes a function, got {type(f).__name__} {f!r:.60}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise InputTypeError(f"cache_size must be a positive int (how many programs to keep), got {cache_size!r}")
        functools.update_wrapper(self, f)  # first: it copies f's __dict__, which must not overwrite the cache
        self.f = f
        self.cache_size = cache_size
        self._by_signature: dict[tuple[Any, ...], list[Program]] = {}  # most recently used first
        self._used: collections.OrderedDict[Any, Program] = collections.OrderedDict()  # by key, newest last
        self._last: Program | None = None  # the program the last call ran
        self._calls = 0
        self._traced_at: collections.deque[int] = collections.deque(maxlen=RETRACE_WINDOW // 2 + 1)  # call numbers
        self._warned = False
        self._lock = threading.Lock()
        self.traces = 0  # how many times f was traced (a figure for tests and users)

    @property
    def programs(self) -> list[Program]:
        """The programs kept, most recently used first."""
        return list(reversed(self._used.values()))

    @property
    def tapes(self) -> list[Tape]:
        """The optimised tapes of the programs, most recently used first; each returns a tuple: outputs, gradients."""
        return [program.tape for program in self.programs]

    def clear(self) -> None:
        """Drop every program: the next call traces again (after replacing a captured Value, say)."""
        with self._lock:
            self._by_signature.clear()
            self._used.clear()
            self._last = None

    def __call__(self, *args: Any, **keywords: Any) -> Any:
        if keywords or STATE.traces:
            return self._not_compiled(args, keywords)
        self._calls += 1
        signature = tuple([float if type(a) is float else _kind(a) for a in args])
        for program in tuple(self._by_signature.get(signature, ())):  # a copy: other threads may change it
            try:
                results = _run(program, args)
            except ValueError as error:
                if not any(text in str(error) for text in STALE):
                    raise
                continue  # another branch, or a captured Value of another shape
            if results is _NOT_FLOATS:
                continue
            if program is not self._last:
                self._note(program)
            return _finish(program, args, results)
        program = self._compile(args, signature)
        return _finish(program, args, _run(program, args))  # traced at these Values: floats where math code runs

    def _not_compiled(self, args: Sequence[Any], keywords: dict[str, Any]) -> Any:
        """Keywords are refused; inside another trace ``f`` runs as Python, recorded there."""
        if keywords:
            name = getattr(self.f, "__name__", "f")
            raise ArgumentCountError(
                f"tapegrad.jit of {name} takes its inputs by position, got keyword argument(s) "
                f"{', '.join(keywords)}; pass them by position, or fix them with functools.partial before jit"
            )
        return self.f(*args)

    def _compile(self, args: Sequence[Any], signature: tuple[Any, ...]) -> Program:
        """Trace ``f`` at ``args`` (captured Values lifted to inputs), optimise, generate code, keep it."""
        names = _parameter_names(self.f, args)  # ArgumentCountError, as tapegrad.function gives
        shape: list[Any] = []

        def outputs_and_gradients(*inputs: Any) -> tuple[Any, ...]:
            result = self.f(*inputs)
            structure, items = _flatten(result)
            shape[:] = [structure, len(items), list(STATE.lifting.lifted_grads)]
            return (*items, *STATE.lifting.lifted_grads.values())

        outputs_and_gradients.__name__ = str(getattr(self.f, "__name__", "f"))
        tape = trace(outputs_and_gradients, *args, names=names, lift=True)
        structure, count, grad_keys = shape
        lifted = tape.lifted or {}  # type: ignore[attr-defined]  # a RecordingTape
        captured = tuple(v for key, (v, _) in lifted.items() if not _is_argument(key))
        targets = tuple(key[1] if _is_argument(key) else lifted[key][0] for key in grad_keys)
        small = optimize(tape)
        backend, run = _compile(small, backend_for(small, args))
        key = (signature, _branches(tape))
        value_arguments = any(isinstance(a, Value) for a in args)
        program = Program(small, run, backend, captured, value_arguments, structure, count,
                          targets, key)  # fmt: skip
        self._keep(program)
        return program

    def _keep(self, program: Program) -> None:
        with self._lock:
            old = self._used.pop(program.key, None)
            if old is not None:  # the same branches again: the new program replaces it
                self._by_signature[old.key[0]].remove(old)
            self._used[program.key] = program
            self._by_signature.setdefault(program.key[0], []).insert(0, program)
            while len(self._used) > self.cache_size:
                _, dropped = self._used.popitem(last=False)
                kept = self._by_signature[dropped.key[0]]
                kept.remove(dropped)
                if not kept:
                    del self._by_signature[dropped.key[0]]
            self._last = program
            self.traces += 1
            self._traced_at.append(self._calls)
        self._warn_if_retracing()

    def _note(self, program: Program) -> None:
        """Mark ``program`` the most recently used (the first tried for its signature, the last dropped)."""
        with self._lock:
            if program.key in self._used:
                self._used.move_to_end(program.key)
                kept = self._by_signature[program.key[0]]
                kept.remove(program)
                kept.insert(0, program)
            self._last = program

    def _warn_if_retracing(self) -> None:
        """Warn once when more than half of the last RETRACE_WINDOW calls traced again."""
        traced_at = self._traced_at
        if self._warned or len(traced_at) <= RETRACE_WINDOW // 2 or self._calls - traced_at[0] >= RETRACE_WINDOW:
            return
        self._warned = True
        warnings.warn(
            f"tapegrad.jit traced {getattr(self.f, '__name__', 'f')} again on {len(traced_at)} of its last "
            f"{RETRACE_WINDOW} calls (it keeps at most cache_size={self.cache_size} programs): its arguments "
            "change shape or kind, or Python conditions on Values take other branches. Write the branches with "
            "tapegrad.where(cond, a, b), keep the shapes fixed, or pass a larger cache_size=",
            RetraceWarning,
            stacklevel=4,
        )


def _kind(x: Any) -> Any:
    """What about an argument selects a program: float, int, an array's shape and dtype, a Value's data's."""
    kind = type(x)
    if kind is np.ndarray:
        return x.shape, x.dtype
    if kind is Value:
        return Value, _kind(x._data)
    if kind is list or kind is tuple:
        return kind, np.shape(x)
    return kind


def _flatten(result: Any) -> tuple[Any, list[Any]]:
    """What ``f`` returned as (its structure, its outputs): tuples and lists nest (``value_and_grad`` returns
    ``(value, (grad_x, grad_y))``); the structure of one output is None, of a tuple ``(tuple, [structures])``."""
    if isinstance(result, (tuple, list)):
        parts = [_flatten(item) for item in result]
        return (type(result), [structure for structure, _ in parts]), [out for _, outs in parts for out in outs]
    return None, [result]


def _rebuild(structure: Any, outputs: Iterator[Any]) -> Any:
    if structure is None:
        return next(outputs)
    kind, parts = structure
    return kind([_rebuild(part, outputs) for part in parts])


def _is_argument(key: Any) -> bool:
    return type(key) is tuple and key[0] == ARGUMENT


_NOT_FLOATS = object()
"""What :func:`_run` returns for math or C code whose captured Values no longer hold floats (an array, say)."""


def _run(program: Program, args: Sequence[Any]) -> Any:
    """The program's code on ``args`` (a Value argument's data) and the captured Values' data."""
    if program.value_arguments:
        args = [a._data if type(a) is Value else a for a in args]
    if not program.captured:
        return program.run(*args)
    captured = [v._data for v in program.captured]
    if program.backend != "numpy" and not all(type(x) is float for x in captured):
        return _NOT_FLOATS  # numpy code checks its inputs' shapes itself
    return program.run(*args, *captured)


def _finish(program: Program, args: Sequence[Any], results: Sequence[Any]) -> Any:
    """Add the gradients to their Values' ``.grad`` (as eager ``backward()`` does); return the outputs."""
    count = program.count
    for target, g in zip(program.grad_targets, results[count:]):
        v: Value = args[target] if isinstance(target, int) else target
        if v._tape is not None:
            raise ConcretizationError(
                f"backward() inside tapegrad.jit reached argument {target}, a Value computed by eager operations: "
                "the compiled code cannot send its gradient on to what it was computed from; pass a leaf Value"
            )
        previous = v._grad
        v._grad = (g.copy() if type(g) is np.ndarray else g) if previous is None else previous + g
    if program.structure is None:
        return results[0]
    return _rebuild(program.structure, iter(results[:count]))


@overload
def jit(f: Callable[..., Any], *, cache_size: int = CACHE_SIZE) -> Compiled: ...
@overload
def jit(f: None = None, *, cache_size: int = CACHE_SIZE) -> Callable[[Callable[..., Any]], Compiled]: ...
def jit(f: Callable[..., Any] | None = None, *, cache_size: int = CACHE_SIZE) -> Any:
    """Compile ``f``: traced once per kind of call, optimised, run as generated code (see the module's rules).

    ``@tapegrad.jit``, ``@tapegrad.jit(cache_size=4)`` or ``tapegrad.jit(f)``;
    the same as ``tapegrad.function(f, compile=True)``.
    """
    if f is None:
        return functools.partial(jit, cache_size=cache_size)
    return Compiled(f, cache_size)

"""Per-thread recording state.

Like JAX's trace state and PyTorch's grad mode, what is being recorded is a
property of the thread: several threads can each record, replay and
differentiate their own computations at once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConcretizationError

if TYPE_CHECKING:
    from .tape import Tape


class _State(threading.local):
    """What this thread is recording into."""

    fast_tape: Any
    """``current`` while no checks are on, else None: the one attribute the scalar hot path reads."""

    def __init__(self) -> None:
        self.traces: list[Tape] = []  # active traces, innermost last
        # Any: the tapes Values record onto are RecordingTapes, a class of the layer above (values/tapes.py).
        self.eager: Any = None  # the open eager tape
        self.debug_nans = False
        self.record_sites = False  # note the user's line for every record (tapegrad.compare)
        self.checks = False  # debug_nans or record_sites
        self.current = None
        self.no_grad = 0  # how many no_grad() blocks are open: eager operations record nothing
        self.lifting: Any = None  # the trace of tapegrad.jit: Values from outside it become its inputs

    # The scalar hot path (values/value.py) reads one attribute per op: each read of a thread-local
    # attribute costs about 30 ns more than a plain one, 2 ms of a 65k-op step for a second read.
    @property
    def current(self) -> Any:
        """The tape operations record onto: ``traces[-1]``, else ``eager`` (None before an op, and in no_grad())."""
        return self._current

    @current.setter
    def current(self, tape: Any) -> None:
        self._current = tape
        self.fast_tape = None if self.checks else tape

    def set_checks(self, debug_nans: bool, record_sites: bool) -> None:
        self.debug_nans, self.record_sites = debug_nans, record_sites
        self.checks = debug_nans or record_sites
        self.fast_tape = None if self.checks else self._current

    def push_trace(self, tape: Tape) -> None:
        self.traces.append(tape)
        self.current = tape

    def pop_trace(self) -> None:
        self.traces.pop()
        self.current = self.traces[-1] if self.traces else None if self.no_grad else self.eager

    def close_eager(self, tape: Tape) -> None:
        """Stop recording onto ``tape``; the next eager op starts a new one."""
        tape.sealed = True
        if self.eager is tape:
            self.eager = None
            if self.current is tape:
                self.current = None


STATE = _State()
_F = TypeVar("_F", bound=Callable[..., Any])


@contextmanager
def debug_nans(enabled: bool = True) -> Iterator[None]:
    """Raise :class:`~tapegrad.errors.NonFiniteError` at the first nan or inf.

    Within the block, every record this thread evaluates (recording, replay
    or the backward sweep) is checked, and the error names the record that
    produced the first non-finite number::

        with tapegrad.debug_nans():
            loss.backward()
    """
    previous = STATE.debug_nans
    STATE.set_checks(enabled, STATE.record_sites)
    try:
        yield
    finally:
        STATE.set_checks(previous, STATE.record_sites)


class no_grad:
    """Compute without recording: for evaluation, inference and metrics.

    Inside the block no eager operation is recorded, so nothing is kept
    for a ``backward()`` and a loop runs in the memory of one step.  Each
    result is a new leaf Value holding the number (as ``Value(y.data)``):
    a later ``backward()`` stops there and gives nothing to the Values it
    was computed from.  As PyTorch's ``torch.no_grad``, it is a context
    manager and a decorator (``@no_grad`` or ``@no_grad()``), blocks nest,
    and it holds for the thread that entered it::

        with tapegrad.no_grad():
            test_loss = float(loss(model, X_test, y_test))

    ``trace`` and ``grad`` inside the block still record (a tape is a
    program, not a gradient); entering it inside a traced function raises
    :class:`~tapegrad.errors.ConcretizationError`, since its results would
    be numbers the tape replays forever.
    """

    def __new__(cls, function: Any = None) -> Any:
        """``no_grad()`` is the context manager; ``no_grad(f)`` (the bare decorator) is ``f`` wrapped in it."""
        self = super().__new__(cls)
        return self if function is None else self(function)

    def __enter__(self) -> None:
        state = STATE
        if state.traces:
            raise ConcretizationError(
                f"tapegrad.no_grad() inside the trace of {state.traces[-1].name!r}: its results would be "
                "numbers the tape replays unchanged forever. Call no_grad() outside the traced function, "
                "or keep the computation recorded"
            )
        state.no_grad += 1
        state.current = None

    def __exit__(self, *exc_info: object) -> None:
        state = STATE
        state.no_grad -= 1
        if not state.no_grad and not state.traces:
            state.current = state.eager

    def __call__(self, function: _F) -> _F:
        @functools.wraps(function)
        def without_grad(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return function(*args, **kwargs)

        return without_grad  # type: ignore[return-value]

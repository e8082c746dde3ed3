"""Per-thread recording state.

Like JAX's trace state and PyTorch's grad mode, what is being recorded is a
property of the thread: several threads can each record, replay and
differentiate their own computations at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tape import Tape


class _State(threading.local):
    """What this thread is recording into."""

    def __init__(self) -> None:
        self.traces: list[Tape] = []  # active traces, innermost last
        self.eager: Tape | None = None  # the open eager tape
        self.current: Tape | None = None  # traces[-1], else eager: read on every op
        self.debug_nans = False
        self.record_sites = False  # note the user's line for every record (tapegrad.compare)
        self.checks = False  # debug_nans or record_sites: the one flag the hot path reads

    def set_checks(self, debug_nans: bool, record_sites: bool) -> None:
        self.debug_nans, self.record_sites = debug_nans, record_sites
        self.checks = debug_nans or record_sites

    def push_trace(self, tape: Tape) -> None:
        self.traces.append(tape)
        self.current = tape

    def pop_trace(self) -> None:
        self.traces.pop()
        self.current = self.traces[-1] if self.traces else self.eager

    def close_eager(self, tape: Tape) -> None:
        """Stop recording onto ``tape``; the next eager op starts a new one."""
        tape.closed = True
        if self.eager is tape:
            self.eager = None
            if self.current is tape:
                self.current = None


STATE = _State()


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

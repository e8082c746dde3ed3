"""Per-thread recording state.

Like JAX's trace state and PyTorch's grad mode, what is being recorded is a
property of the thread: several threads can each record, replay and
differentiate their own computations at once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tape import Tape


class _State(threading.local):
    """What this thread is recording into."""

    def __init__(self) -> None:
        self.traces: list[Tape] = []  # active traces, innermost last
        self.trace: Tape | None = None  # traces[-1], read on every op
        self.eager: weakref.ref[Tape] | None = None  # the open eager tape, if still alive
        self.debug_nans = False


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
    STATE.debug_nans = enabled
    try:
        yield
    finally:
        STATE.debug_nans = previous

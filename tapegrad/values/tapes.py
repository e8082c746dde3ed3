"""The tapes Value arithmetic records onto, with what recording keeps beside the program.

A :class:`~tapegrad.core.tape.Tape` is the program.  Recording onto one
needs more: finding what is already on it (a constant used twice, a leaf
used again), and, for an eager tape, where the adjoints of its inputs go
when ``backward()`` reaches them.  That state lives here, with the code
that uses it (:mod:`tapegrad.values.record`, :mod:`tapegrad.values.eager`),
and only on the tapes that are recorded onto: a tape loaded from a file,
optimised or made from sympy is a plain :class:`Tape`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ..core.tape import Tape

__all__ = ["RecordingTape", "EagerTape"]

_serials = itertools.count()


class RecordingTape(Tape):
    """A tape Values are recorded onto: a trace (:func:`tapegrad.trace`), or an :class:`EagerTape`.

    Attributes:
        const_slots: the slot of each number already on the tape, by ``(type, number)``.
        source_slots: the input standing for each Value of elsewhere, by the Value's id
            (a leaf, a Value of an enclosing trace) or ``(serial, slot)`` (a result of an earlier eager tape).
        grads: the adjoints :attr:`tapegrad.Value.grad` reads, by slot (``backward()`` fills them on eager tapes).
        lifted: on the trace of :func:`tapegrad.jit` only: each Value from outside the trace, as ``(the Value,
            its input on this tape)``, by ``("argument", i)`` for argument ``i``, by id for a captured one.
        lifted_grads: what ``backward()`` inside that trace sends to each of them, by the same keys.
        sources: on an :class:`EagerTape`, where each input's adjoint goes, by slot: a leaf Value, or
            ``(tape, slot)`` of an earlier eager tape (a link); a trace, which takes leaves as constants,
            keeps it empty (the scalar hot path asks it without asking which kind of tape it has).
    """

    def __init__(self, name: str = "tape", traced: bool = False) -> None:
        super().__init__(name, traced)
        self.const_slots: dict[tuple[type, Any], int] = {}
        self.source_slots: dict[Any, int] = {}
        self.grads: list[Any] | None = None
        self.lifted: dict[Any, tuple[Any, Any]] | None = None  # Any: Values (the module above imports this one)
        self.lifted_grads: dict[Any, Any] = {}
        self.sources: dict[int, Any] = {}


class EagerTape(RecordingTape):
    """The tape behind eager Value arithmetic, until ``backward()`` or its size closes it.

    Attributes:
        serial: the order tapes were opened in; ``backward()`` sweeps the newest first.
        view, origin, needed: what later tapes link to (:func:`tapegrad.values.record.linked_view`):
            these records with only the links they need.  On such a view, ``origin`` reaches the
            tape it shares records with, ``needed`` marks its slots.
    """

    def __init__(self, name: str = "eager") -> None:
        super().__init__(name)
        self.serial = next(_serials)
        self.view: EagerTape | None = None
        self.origin: Callable[[], EagerTape | None] | None = None
        self.needed = bytearray()

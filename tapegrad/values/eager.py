"""``Value.backward()``: the reverse sweep over eager tapes, newest first."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.interpret import FLOAT, backward, sweep
from ..core.state import STATE
from ..errors import ConcretizationError, LeakedValueError, NonScalarOutputError
from .domain import VALUE
from .record import _new_value
from .tapes import EagerTape, RecordingTape
from .value import Value

__all__ = ["eager_backward"]


def eager_backward(root: Value) -> None:
    """``root.backward()``: add d(root)/d(v) to ``v.grad`` for everything ``root`` depends on.

    Follows the links from the root's tape to earlier tapes (results of an
    earlier step used again), newest tape first, so each tape is swept once.
    Each swept tape is closed: later operations start a fresh tape.
    """
    if np.shape(root._data) != ():
        raise NonScalarOutputError(
            f"backward() needs a scalar, but this Value is an array of shape {root.shape}; "
            "reduce it first, e.g. loss.sum().backward() or loss.mean().backward()"
        )
    tape = root._tape
    if tape is None:
        root._grad = _added(root._grad, 1.0)
        return
    if tape.traced:
        if tape is STATE.lifting and tape is STATE.current:
            _record_backward(root, tape)
            return
        if tape.sealed:
            raise LeakedValueError(
                f"backward() of a Value that escaped the trace of {tape.name!r}; "
                "differentiate the tape instead: tape.gradient(...) or tapegrad.grad(f)"
            )
        raise ConcretizationError(
            "backward() inside tapegrad.trace would turn traced Values into numbers; "
            "use tapegrad.grad(f) to differentiate inside a traced function"
        )
    one = 1.0 if type(root._data) is float else np.ones_like(root._data)  # a float32 output seeds float32 adjoints
    pending: dict[EagerTape, dict[int, Any]] = {tape: {root._slot: one}}  # type: ignore[dict-item]  # not traced
    while pending:
        tape = max(pending, key=lambda t: t.serial)
        adjoint = sweep(tape, tape.values, pending.pop(tape), FLOAT)
        owner = tape if tape.origin is None else tape.origin()  # a linked view adds to its tape's .grad
        if owner is not None:
            _accumulate(owner, adjoint)
            STATE.close_eager(owner)
        for slot, source in tape.sources.items():
            g = adjoint[slot] if slot < len(adjoint) else None
            if g is None:
                continue
            if isinstance(source, Value):  # a leaf's own array: adjoints may share one (add sends g to both)
                source._grad = _added(source._grad, g.copy() if isinstance(g, np.ndarray) else g)
            else:
                earlier, earlier_slot = source
                seeds = pending.setdefault(earlier, {})
                seeds[earlier_slot] = _added(seeds.get(earlier_slot), g)
        STATE.close_eager(tape)


def _record_backward(root: Value, tape: RecordingTape) -> None:
    """``backward()`` inside :func:`tapegrad.jit`: the reverse sweep recorded onto the trace itself.

    It is the interpreter's backward loop over this trace's own records,
    run on Values so that each rule records (as :func:`tapegrad.grad_tape`
    does); what reaches each Value from outside the trace is kept, and the
    compiled code returns it for the jit to add to that Value's ``.grad``.
    """
    lifted = tape.lifted
    assert lifted is not None
    top = root._slot
    values = [_new_value(tape.values[s], tape, s) for s in range(top + 1)]
    one = 1.0 if type(root._data) is float else np.ones_like(root._data)
    with np.errstate(all="ignore"):
        adjoint = backward(tape, values, {top: one}, VALUE)
    for key, (v, handle) in list(lifted.items()):
        g = adjoint[handle._slot] if handle._slot <= top else None
        if g is None:
            continue
        if v._tape is not None:
            raise ConcretizationError(
                f"backward() inside tapegrad.jit reached {v!r}, a Value computed by eager operations outside "
                "the jitted function: the compiled code cannot send its gradient on to what it was computed from. "
                "Compute it inside the jitted function, or pass a leaf Value (Value(x)) instead"
            )
        tape.lifted_grads[key] = _added(tape.lifted_grads.get(key), g)


def _added(previous: Any, g: Any) -> Any:
    """PyTorch's rule for gradients: the first contribution is the gradient (a -0.0 stays -0.0), later ones add."""
    return g if previous is None else previous + g


def _accumulate(tape: EagerTape, adjoint: list[Any]) -> None:
    grads = tape.grads
    if grads is None:
        tape.grads = adjoint
        return
    if len(grads) < len(adjoint):
        grads.extend([None] * (len(adjoint) - len(grads)))
    for i, g in enumerate(adjoint):
        if g is not None:
            grads[i] = _added(grads[i], g)

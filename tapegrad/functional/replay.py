"""Tapes as functions: calling, differentiating and explaining them.

The loops of :mod:`tapegrad.interpret` work on slot values of one domain;
this module is what ``tape(*args)``, ``tape.gradient(...)``,
``Value.backward()`` and ``tape.explain(...)`` add around them: checking
and converting arguments, choosing the domain (floats, arrays or Values),
seeding the outputs, shaping the results, and following the links between
eager tapes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.interpret import ARRAY, FLOAT, Domain, backward, forward, forward_float, sweep
from ..core.ops import OPS
from ..core.shapes import FLOAT64, dtype_of, type_text
from ..core.state import STATE
from ..errors import (
    ArgumentCountError,
    InputTypeError,
    NonScalarOutputError,
    ShapeError,
)
from ..values.domain import VALUE
from ..values.value import Value, as_data, as_float

if TYPE_CHECKING:
    from ..core.tape import Tape

__all__ = [
    "replay",
    "replay_gradient",
    "output_seeds",
    "input_gradients",
    "restructure",
    "explain",
    "check_scalar_output",
]


def _domain_of(tape: Tape, args: Sequence[Any]) -> Domain:
    """Values if any input is one, or if the tape captured Values of a trace
    still recording (a nested grad); else arrays if any input is an array."""
    if any(isinstance(x, Value) for x in args):
        return VALUE
    if any(v._tape is not None and not v._tape.sealed for _, v in tape.captures):
        return VALUE
    if tape.array or any(isinstance(x, (np.ndarray, list, tuple)) for x in args):
        return ARRAY
    return FLOAT


def _convert(tape: Tape, args: Sequence[Any], domain: Domain) -> list[Any]:
    names = tape.inputs
    if len(args) != len(names):
        plural = "" if len(names) == 1 else "s"
        raise ArgumentCountError(
            f"tape {tape.name!r} takes {len(names)} input{plural} ({', '.join(names)}) "
            f"but was given {len(args)}; pass one value per input, in that order"
        )
    if tape.array:
        return [_convert_typed(tape, slot, name, x) for slot, name, x in zip(tape.input_slots, names, args)]
    converted: list[Any] = []
    for name, x in zip(names, args):
        if isinstance(x, Value):
            converted.append(x)
        elif isinstance(x, (np.ndarray, list, tuple)):
            try:
                array = np.asarray(x)
            except ValueError as error:  # ragged nesting: [1.0, [2.0, 3.0]]
                raise InputTypeError(f"input {name!r} must be a number or a rectangular array: {error}") from None
            if array.dtype.kind not in "fiub":
                raise InputTypeError(f"input {name!r} must be real numbers, got an array of dtype {array.dtype}")
            converted.append(array.astype(np.float64))
        else:
            converted.append(as_float(x, f"input {name!r}"))
    return converted


def _convert_typed(tape: Tape, slot: int, name: str, x: Any) -> Any:
    """An input of an array tape: it must have the shape the tape recorded (shapes are baked into its ops)."""
    recorded = tape.values[slot]
    data = x._data if isinstance(x, Value) else as_data(x, f"input {name!r}")
    if np.shape(data) != np.shape(recorded):
        raise ShapeError(
            f"input {name!r} of tape {tape.name!r} was recorded as {type_text(recorded)} but is given as "
            f"{type_text(data)}; an array tape replays only at the shapes it recorded: trace it again at these shapes"
        )
    if isinstance(x, Value):
        return x
    return data.astype(recorded.dtype) if isinstance(recorded, np.ndarray) else data


def _batch_shape(inputs: Sequence[Any]) -> tuple[int, ...]:
    return np.broadcast_shapes(*[np.shape(x) for x in inputs if isinstance(x, np.ndarray)])


def _finish(values: Sequence[Any], domain: Domain, inputs: Sequence[Any], tape: Tape) -> list[Any]:
    """Outputs as users expect them: floats, or arrays of the batch's shape (an array tape's own shapes)."""
    if domain is FLOAT:
        return [float(v) for v in values]
    if domain is ARRAY and tape.array:
        return [float(v) if np.shape(v) == () and dtype_of(v) == FLOAT64 else v for v in values]
    if domain is ARRAY:
        shape = _batch_shape(inputs)
        return [np.broadcast_to(np.asarray(v, dtype=np.float64), shape).copy() for v in values]
    return list(values)


def restructure(tape: Tape, outputs: list[Any]) -> Any:
    """Outputs in the structure the traced function returned: one value, a tuple or a list."""
    if tape.structure == "tuple":
        return tuple(outputs)
    if tape.structure == "list":
        return outputs
    return outputs[0]


def _forward(tape: Tape, inputs: Sequence[Any], domain: Domain) -> list[Any]:
    if domain is FLOAT and not STATE.debug_nans:
        return forward_float(tape, inputs)
    captured = [v for _, v in tape.captures] if domain is VALUE else None
    return forward(tape, inputs, domain, captured)



def replay(tape: Tape, args: Sequence[Any]) -> Any:
    """``tape(*args)``: the outputs at new inputs, in the traced structure."""
    domain = _domain_of(tape, args)
    inputs = _convert(tape, args, domain)
    with np.errstate(all="ignore"):
        values = _forward(tape, inputs, domain)
    return restructure(tape, _finish([values[s] for s in tape.output_slots], domain, inputs, tape))


def output_seeds(tape: Tape, seed: Any) -> dict[int, Any]:
    """The adjoints of the output slots: 1.0 for one output, else ``seed``."""
    slots = tape.output_slots
    if seed is None:
        if len(slots) != 1:
            raise NonScalarOutputError(
                f"tape {tape.name!r} has {len(slots)} outputs ({', '.join(tape.outputs)}); a gradient needs one "
                "scalar output, or seed=(...) with one cotangent per output for a vector-Jacobian product"
            )
        check_scalar_output(tape)
        seeds = [1.0]
    elif len(slots) == 1 and not isinstance(seed, (tuple, list)):
        seeds = [seed]
    else:
        seeds = list(seed)
        if len(seeds) != len(slots):
            raise ArgumentCountError(
                f"seed has {len(seeds)} entries but tape {tape.name!r} has {len(slots)} outputs; pass one per output"
            )
    result: dict[int, Any] = {}
    for slot, given in zip(slots, seeds):
        s: Any = given if isinstance(given, (Value, np.ndarray)) else as_float(given, "a seed")
        recorded = tape.values[slot]
        if isinstance(recorded, np.ndarray) and not isinstance(s, Value):
            s = np.asarray(s, dtype=recorded.dtype)
        if tape.array and not isinstance(s, Value) and np.shape(s) != np.shape(recorded):
            raise _seed_error(tape, slot, s, np.shape(recorded), type_text(recorded))
        result[slot] = s if slot not in result else result[slot] + s
    return result


def _check_batch_seeds(seeds: dict[int, Any], batch: tuple[int, ...], tape: Tape) -> None:
    """A tape of numbers replayed on a batch: each seed is one number, or an array that broadcasts to the batch."""
    for slot, s in seeds.items():
        if not isinstance(s, Value) and not _broadcasts_to(np.shape(s), batch):
            raise _seed_error(tape, slot, s, batch, f"the batch's shape {batch}")


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _seed_error(tape: Tape, slot: int, seed: Any, shape: tuple[int, ...], what: str) -> ShapeError:
    name = tape.output_names[tape.output_slots.index(slot)]
    return ShapeError(
        f"the seed for output {name!r} of tape {tape.name!r} has shape {np.shape(seed)}, but the output has "
        f"{what}; pass seed= an array of shape {shape} (one per output, in a tuple, for several outputs)"
    )


def check_scalar_output(tape: Tape) -> None:
    """NonScalarOutputError unless the tape's one output is a scalar (a gradient needs a seed otherwise)."""
    out = tape.values[tape.output_slots[0]]
    if np.shape(out) != ():
        raise NonScalarOutputError(
            f"the output {tape.output_names[0]!r} of tape {tape.name!r} is an array ({type_text(out)}); a gradient "
            "needs a scalar output: reduce it (.sum(), .mean()) or pass seed= an array of its shape "
            "(a vector-Jacobian product)"
        )


def replay_gradient(tape: Tape, args: Sequence[Any], seed: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """``tape.value_and_gradient(*args)``: outputs, and d(outputs . seed)/d(each input)."""
    seeds = output_seeds(tape, seed)
    domain = _domain_of(tape, list(args) + list(seeds.values()))
    inputs = _convert(tape, args, domain)
    if domain is ARRAY and not tape.array:
        _check_batch_seeds(seeds, _batch_shape(inputs), tape)
    with np.errstate(all="ignore"):
        values = _forward(tape, inputs, domain)
        adjoint = sweep(tape, values, seeds, domain)
    grads = input_gradients(tape, adjoint)
    outputs = restructure(tape, _finish([values[s] for s in tape.output_slots], domain, inputs, tape))
    return outputs, tuple(_finish(grads, domain, inputs, tape))


def input_gradients(tape: Tape, adjoint: Sequence[Any]) -> list[Any]:
    """The adjoints of the tape's inputs, zero for those nothing flowed to."""
    return [adjoint[s] if s < len(adjoint) and adjoint[s] is not None else _zero(tape, s) for s in tape.input_slots]


def _zero(tape: Tape, slot: int) -> Any:
    recorded = tape.values[slot]
    return np.zeros_like(recorded) if isinstance(recorded, np.ndarray) else 0.0


# ---------------------------------------------------------------- eager backward()



def _show(x: Any) -> str:
    """A slot value for a listing: a float's repr, an array's first few numbers."""
    if isinstance(x, np.ndarray):
        numbers = np.array2string(x, threshold=6, edgeitems=2, precision=6, separator=", ").replace("\n", "")
        return " ".join(numbers.split())
    return repr(float(x)) if isinstance(x, np.floating) else repr(x)


class Explanation(str):
    """The text of :func:`explain`, which shows itself as text where a string would show its quotes.

    It is a ``str`` (``str(e)``, ``print(e)``, ``in``, ``==`` work as on the
    text); typed at a REPL prompt it prints its lines, and in Jupyter it
    shows as a preformatted block.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", self)), default=0))
        return f"{fence}text\n{self}\n{fence}"


def explain(tape: Tape, args: Sequence[Any], seed: Any = None) -> Explanation:
    """The backward pass told step by step: each record in reverse order, with its
    value, its incoming adjoint and what it sends to each operand.

    It is the interpreter's own sweep (:func:`tapegrad.core.interpret.backward`)
    watched through its ``on_adjoint`` hook, so the last line is
    ``tape.gradient``'s answer bit for bit, signed zeros included.  A record
    whose adjoint is zero (or that nothing reaches) and which sends only
    ``+0.0`` is shown as sending nothing (a strong zero); a ``-0.0`` it sends
    is listed, since it sets the sign of a zero gradient.
    """
    domain = ARRAY if tape.array else FLOAT
    inputs = _convert(tape, args, domain)
    seeds = output_seeds(tape, seed)
    steps: dict[int, tuple[Any, list[tuple[int, Any]]]] = {}

    def watch(slot: int, g: Any, sent: list[tuple[int, Any]]) -> None:
        steps[slot] = (g, sent)

    with np.errstate(all="ignore"):
        values = forward(tape, inputs, domain)
        adjoint = backward(tape, values, seeds, domain, on_adjoint=watch)
    point = ", ".join(f"{n}={_show(x)}" for n, x in zip(tape.inputs, inputs))
    lines = [f"backward pass of tape {tape.name!r} at {point}", "  record | value | adjoint | sends"]
    for i in range(len(tape) - 1, -1, -1):
        g, sent = steps.get(i, (None, []))
        line = tape.format_record(i).split("  # ")[0]
        sends = _sends(tape, i, g, sent, domain)
        lines.append(f"  {line} | {_show(values[i])} | {_show(0.0 if g is None else g)} | {sends}")
    gradient = _finish(input_gradients(tape, adjoint), domain, inputs, tape)
    lines.append("gradient: " + ", ".join(f"d/d{n} = {_show(g)}" for n, g in zip(tape.inputs, gradient)))
    return Explanation("\n".join(lines))


def _sends(tape: Tape, slot: int, g: Any, sent: list[tuple[int, Any]], domain: Domain) -> str:
    """The "sends" column of :func:`explain` for one record."""
    if OPS[tape.ops[slot]].vjp is None:
        return f"(the gradient of {tape.attrs[slot]})" if slot in tape.input_slots else "-"
    if g is None or (domain.is_zero(g) and all(_positive_zero(c) for _, c in sent)):
        return "nothing (zero adjoint)"
    return ", ".join(f"%{a} += {_show(c)}" for a, c in sent)


def _positive_zero(x: Any) -> bool:
    """``+0.0`` (or an array of them): adding it changes no partial sum but ``-0.0``."""
    return not np.any(x) and not np.any(np.signbit(x))

"""The closure engine against the tape, on the same programs.

:func:`compare_engines` times both designs (and micrograd when installed)
on random straight-line programs and checks that their gradients agree.
:func:`first_divergence` runs one function through both engines and names
the first operation where they differ: the tool for porting code between a
closure-based engine and a tape-based one.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..core.ops import OpKind
from ..core.passes import optimize
from ..core.state import STATE
from ..errors import InputTypeError
from ..functional.tracing import trace
from ..functional.transforms import grad_tape
from ..values.tapes import EagerTape
from ..values.value import Value
from . import closure
from .testing import random_program

__all__ = ["compare_engines", "first_divergence", "Divergence", "run_engine", "best_seconds"]


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))


def run_engine(value_type: type, f: Callable[..., Any], xs: Sequence[float]) -> tuple[float, list[float]]:
    """``f``'s value and gradient at ``xs`` on one engine: leaves, the eager result, ``backward()``."""
    leaves = [value_type(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def best_seconds(run: Callable[..., Any], *args: Any, repeats: int = 3) -> float:
    """The best of ``repeats`` runs of ``run(*args)``, in seconds."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run(*args)
        best = min(best, time.perf_counter() - start)
    return best


def _bytes_per_op(value_type: type, f: Callable[..., Any], xs: Sequence[float]) -> float:
    gc.collect()
    tracemalloc.start()
    leaves = [value_type(x) for x in xs]
    out = f(*leaves)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    size = len(out._tape) if isinstance(out, Value) and out._tape is not None else out._serial - leaves[0]._serial
    return held / max(size, 1)


def compare_engines(depths: Sequence[int] = (100, 1000, 10_000), inputs: int = 10) -> list[dict[str, Any]]:
    """One row per program length: milliseconds per gradient for each engine, bytes per op, agreement."""
    if any(d < 1 for d in depths):
        raise InputTypeError(f"program lengths must be at least 1, got {list(depths)}")
    xs = [0.1 * (i + 1) for i in range(inputs)]
    rows = []
    for depth in depths:
        f = random_program(depth, inputs=inputs, seed=depth)
        tape = trace(f, *xs)
        compiled = optimize(grad_tape(tape)).compile()
        value_c, grads_c = run_engine(closure.Value, f, xs)
        value_t, grads_t = run_engine(Value, f, xs)
        agree = _close(value_c, value_t, 1e-12) and all(_close(a, b, 1e-12) for a, b in zip(grads_c, grads_t))
        rows.append(
            {
                "ops": depth,
                "closure ms": best_seconds(run_engine, closure.Value, f, xs) * 1e3,
                "tape eager ms": best_seconds(run_engine, Value, f, xs) * 1e3,
                "tape replay ms": best_seconds(tape.gradient, *xs) * 1e3,
                "compiled ms": best_seconds(compiled, *xs) * 1e3,
                "closure bytes/op": _bytes_per_op(closure.Value, f, xs),
                "tape bytes/op": _bytes_per_op(Value, f, xs),
                "gradients agree": agree,
            }
        )
    if STATE.eager is not None:
        STATE.close_eager(STATE.eager)  # leave no open tape behind
    return rows


@dataclass(frozen=True)
class Divergence:
    """Where two engines first disagree: the operation, its operands, the user's line."""

    index: int
    op: str
    operands: tuple[float, ...]
    tape_value: float
    closure_value: float
    what: str
    site: str

    def __str__(self) -> str:
        return (
            f"operation {self.index} ({self.op} of {', '.join(map(repr, self.operands))}) at {self.site}: "
            f"the {self.what} is {self.tape_value!r} on the tape but {self.closure_value!r} in the closure engine"
        )


def first_divergence(
    f: Callable[..., Any], *args: float, tolerance: float = 1e-12, closure_type: type = closure.Value
) -> Divergence | None:
    """Run ``f`` on both engines; where they first differ, or None when they agree.

    Values are compared in the order the operations ran; gradients in the
    reverse order, as the backward pass computes them (so the report names
    the latest operation whose gradient differs: the wrong rule is in it or
    in one of the operations reading it).  Last come the inputs' gradients,
    blamed on the last operation reading the input.  Operations are matched
    in program order, so ``f`` must be deterministic.
    """
    if STATE.eager is not None:
        STATE.close_eager(STATE.eager)  # a fresh tape holds exactly f's operations
    STATE.set_checks(STATE.debug_nans, record_sites=True)
    try:
        leaves = [Value(a) for a in args]
        out = f(*leaves)
    finally:
        STATE.set_checks(STATE.debug_nans, record_sites=False)
    if not isinstance(out, Value) or out._tape is None:
        raise InputTypeError(f"first_divergence needs f to compute a Value from its inputs, got {out!r}")
    out.backward()
    tape = cast(EagerTape, out._tape)  # f ran eagerly
    twins = [closure_type(a) for a in args]
    twin_out = f(*twins)
    twin_out.backward()
    slots = _live_operations(tape, out._slot)
    nodes = _closure_nodes(twin_out)
    pairs = list(zip(slots, nodes))
    for k, (slot, node) in enumerate(pairs):
        if not _close(float(tape.values[slot]), float(node.data), tolerance):
            return _divergence(tape, k, slot, "value", tape.values[slot], node.data)
    grads = tape.grads or []
    position = {slot: k for k, slot in enumerate(slots)}
    for slot, node in reversed(pairs):
        ours = grads[slot] if slot < len(grads) and grads[slot] is not None else 0.0
        if not _close(float(ours), float(node.grad), tolerance):
            return _divergence(tape, position[slot], slot, "gradient", ours, node.grad)
    bound = {id(v): s for s, v in tape.sources.items() if isinstance(v, Value)}
    for k, (leaf, twin) in enumerate(zip(leaves, twins)):
        if not _close(float(leaf.grad), float(twin.grad), tolerance):
            readers = [c for c in slots if bound.get(id(leaf)) in tape.args[c]] or slots
            sender = readers[-1]  # the last operation to read the input sent its gradient last
            return _divergence(tape, position[sender], sender, f"gradient sent to input {k}", leaf.grad, twin.grad)
    return None


def _divergence(tape: Any, index: int, slot: int, what: str, ours: Any, theirs: Any) -> Divergence:
    operands = tuple(float(tape.values[a]) for a in tape.args[slot])
    site = tape.sites.get(slot, "an unknown line")
    return Divergence(index, str(tape.ops[slot]), operands, float(ours), float(theirs), what, site)


def _live_operations(tape: Any, output: int) -> list[int]:
    """The operation records the output depends on, in order (what the closure graph holds)."""
    live = [False] * len(tape)
    live[output] = True
    for i in range(output, -1, -1):
        if live[i]:
            for a in tape.args[i]:
                live[a] = True
    skip = (OpKind.INPUT, OpKind.CONST, OpKind.GUARD)
    return [i for i in range(output + 1) if live[i] and tape.ops[i] not in skip]


def _closure_nodes(root: Any) -> list[Any]:
    """The closure engine's operation nodes in creation order (leaves and constants left out)."""
    seen: dict[int, Any] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node._prev)
    return sorted((n for n in seen.values() if n._prev), key=lambda n: n._serial)

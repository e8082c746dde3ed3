"""The tapes the tape-file tests write and read back, and how they compare them exactly.

Tapes of numbers (``make``: traced, gradient, guarded, captured, special constants) and array tapes
(``make_array``: every array op, float32, special values, empty axes, a batched MLP, an embedding with
cross-entropy), with keys that compare records, attributes and replayed results bit for bit.
The small valid documents (``small``, ``small_array``) are what the validation and fuzz tests mutate.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad
from tapegrad import io, maximum, where
from tapegrad.core.ops import OpKind
from tapegrad.core.shapes import ArrayAttr
from tapegrad.core.tape import portable_site
from tapegrad.errors import StaleTapeError
from tapegrad.lab.testing import random_program
from tapegrad.nn.batched import MLP


def bits(x: Any) -> bytes:
    return struct.pack("<d", float(x))


def record_key(record: tapegrad.Record) -> tuple[Any, ...]:
    """A record with its attribute's bits, so that a nan constant equals itself."""
    attr = bits(record.attr) if isinstance(record.attr, float) else (type(record.attr), record.attr)
    return (record.op, record.args, attr)


def results_bits(result: Any) -> list[bytes]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [bits(x) for x in items]


def branchy(x, y):  # type: ignore[no-untyped-def]
    if x > 0:
        return (x * y).tanh() + x**2 + maximum(x, y) / y + where(x < y, x.exp(), y.log()) + 0.1
    return -x


def captured_tape() -> tapegrad.Tape:
    """A tape whose formula uses a Value of an enclosing trace (a captured input)."""
    inner: dict[str, tapegrad.Tape] = {}

    def outer(x):  # type: ignore[no-untyped-def]
        inner["tape"] = tapegrad.trace(lambda y: (x * y).sin() + y, 2.0)
        return x

    tapegrad.trace(outer, 3.0)
    return inner["tape"]


SPECIAL = [math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 5e-324, 1e-310, 2.2250738585072014e-308,
           1.7976931348623157e308, -2.5, 2**53 - 1, 7]  # fmt: skip


def special_constants(x):  # type: ignore[no-untyped-def]
    return tuple(x * c for c in SPECIAL)


BUILDERS: dict[str, Callable[[], tapegrad.Tape]] = {
    "traced": lambda: tapegrad.trace(branchy, 1.0, 2.0),
    "gradient": lambda: tapegrad.grad_tape(tapegrad.trace(branchy, 1.0, 2.0)),
    "optimized gradient": lambda: tapegrad.optimize(tapegrad.grad_tape(tapegrad.trace(branchy, 1.0, 2.0))),
    "captured": captured_tape,
    "special constants": lambda: tapegrad.trace(special_constants, 1.5),
    "parsed": lambda: tapegrad.parse("where(x > 0, sqrt(x), 0) + x ** 3 - 1e-300 * y"),
    "random program": lambda: tapegrad.trace(random_program(40, inputs=3, seed=7), 0.1, 0.2, 0.3),
    "list of outputs": lambda: tapegrad.trace(lambda x, y: [x, y * 2, 3.0], 1.0, 2.0),
    "no inputs": lambda: tapegrad.parse("2 * 3"),
}


def make(name: str) -> tapegrad.Tape:
    """A fresh tape of each kind (none kept at module level: other test files count live tapes)."""
    return BUILDERS[name]()


POINTS = [0.5, 1.0, 2.0, 1e-310, 1e300, math.inf, 0.0]


def points_for(tape: tapegrad.Tape) -> list[list[float]]:
    rng = random.Random(len(tape))
    return [[rng.choice(POINTS) for _ in tape.inputs] for _ in range(6)] + [
        [float(tape.values[s]) for s in tape.input_slots]
    ]


def replay_bits(tape: tapegrad.Tape, point: list[float]) -> list[bytes] | str:
    try:
        return results_bits(tape(*point))
    except StaleTapeError:
        return "stale"


# ---------------------------------------------------------------- 3. validation


def small() -> dict[str, Any]:
    """A small valid document: x * y, a guard recording x > 0, and a captured input."""
    return {
        "format": "tapegrad.tape", "version": 1, "name": "f",
        "records": [["input", [], "x"], ["input", [], "y"], ["mul", [0, 1]], ["const", [], 0], ["gt", [0, 3]],
                    ["guard", [4], True], ["input", [], "captured:c"]],
        "inputs": [0, 1], "example": ["1.0", "2.0"], "captured": {"6": "4.0"},
        "outputs": [2], "output_names": ["out"], "structure": "value", "sites": {"4": "f.py:3"},
    }  # fmt: skip


def setter(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


# ---------------------------------------------------------------- tapes to round-trip


def every_op(x, w, v):  # type: ignore[no-untyped-def]
    """Every array op of the table, and the composites made of them: x (3, 4), w (4, 2), v (4,)."""
    h = (x @ w).tanh()
    u = x @ v + (v @ w).sum()
    s = h.sum(axis=0).sum() + h.mean(axis=1, keepdims=True).sum() + h.max(axis=(0, 1))
    t = x.T.reshape(2, -1).transpose(1, 0)
    mask = np.arange(12).reshape(3, 4) % 3 == 0  # a boolean index (x.data > 0 is refused inside a trace)
    picked = x[np.array([0, 2, 2]), 1:3].sum() + x[..., None, ::-2][0].sum() + x[mask].sum() + x[-1, 2]
    cat = tapegrad.concatenate([h, h * 2.0, t[:3]], axis=1)
    st = tapegrad.stack([u, u * u], axis=1)
    soft = tapegrad.softmax(cat).max() + tapegrad.log_softmax(st, axis=0).sum() + tapegrad.logsumexp(cat, 1).sum()
    f32 = x.astype(np.float32).sum().astype(np.float64)
    ce = tapegrad.cross_entropy(cat, np.array([0, 3, 1]))
    w2 = tapegrad.where(x > 0.5, x, -x).sum() + tapegrad.maximum(x, 0.1).sum() + (x >= 0).sum()
    return s + picked + soft + f32 + ce + w2 + t.sum()


SPECIAL_ARRAYS = np.array(
    [math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 5e-324, 1e-310, 1.7976931348623157e308]
)


SPECIAL32 = np.array([math.inf, -math.inf, math.nan, -0.0, 0.0, 0.1, 1 / 3, 1e-45, 3.4028235e38], dtype=np.float32)


def special_values(x):  # type: ignore[no-untyped-def]
    return x * SPECIAL_ARRAYS, (x[:9] * SPECIAL32).astype(np.float32) * np.array(1e-45, dtype=np.float32)


def guarded(x):  # type: ignore[no-untyped-def]
    if x.sum() > 0:
        return (x * x).sum()
    return -x.sum()


def mlp_loss() -> Callable[..., Any]:
    model = MLP(2, [8, 8, 1], seed=1)
    return lambda x, y: ((model(x).reshape(-1) - y) ** 2).mean()


def embedding_loss(table):  # type: ignore[no-untyped-def]
    """makemore's model in small: embed two-token contexts, a tanh layer, cross-entropy; table (5, 3)."""
    contexts = np.array([[0, 1], [2, 2], [4, 3], [1, 0]])
    weights = np.random.default_rng(3).normal(size=(6, 5))
    hidden = table[contexts].reshape(4, 6).tanh()
    return tapegrad.cross_entropy(hidden @ weights, np.array([1, 4, 0, 0]))


def transposed_constant(x):  # type: ignore[no-untyped-def]
    """A constant laid out in Fortran order: numpy's sums follow memory order, so the layout must come back."""
    m = np.asfortranarray(np.random.default_rng(5).normal(size=(30, 20)))
    return (x @ m).sum(axis=0).sum()


def rng_arrays(*shapes: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in shapes]


def traced(name: str) -> tapegrad.Tape:
    if name == "every op":
        return tapegrad.trace(every_op, *rng_arrays((3, 4), (4, 2), (4,)))
    if name == "float32":
        return tapegrad.trace(
            lambda x, y: ((x @ y).tanh() * np.float32(0.1)).sum(), *rng_arrays((3, 2), (2, 4), dtype=np.float32)
        )
    if name == "special values":
        return tapegrad.trace(special_values, np.linspace(-1.0, 1.0, 10))
    if name == "empty axes":
        return tapegrad.trace(lambda x, y: (x @ y).sum(axis=0) + x.sum() + y[:, :0].sum(), *rng_arrays((3, 0), (0, 4)))
    if name == "guard":
        return tapegrad.trace(guarded, np.arange(1.0, 4.0))
    if name == "mlp":
        return tapegrad.trace(mlp_loss(), *rng_arrays((20, 2), (20,)))
    if name == "embedding":
        return tapegrad.trace(embedding_loss, *rng_arrays((5, 3)))
    if name == "transposed constant":
        return tapegrad.trace(transposed_constant, *rng_arrays((7, 30)))
    raise KeyError(name)


TRACED = ["every op", "float32", "special values", "empty axes", "guard", "mlp", "embedding", "transposed constant"]
DIFFERENTIABLE = ["every op", "float32", "guard", "mlp", "embedding", "transposed constant"]


def make_array(name: str) -> tapegrad.Tape:
    """A fresh tape of each kind: traced, its gradient tape, or its optimised gradient tape."""
    kind, _, base = name.partition(" of ")
    if kind == "gradient":
        return tapegrad.grad_tape(traced(base))
    if kind == "optimized gradient":
        return tapegrad.optimize(tapegrad.grad_tape(traced(base)))
    return traced(name)


NAMES = TRACED + [f"gradient of {n}" for n in DIFFERENTIABLE] + [f"optimized gradient of {n}" for n in DIFFERENTIABLE]


# ---------------------------------------------------------------- comparing exactly


def value_key(x: Any) -> tuple[Any, ...]:
    """A slot value by type, dtype, shape, bits and memory layout."""
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes(), x.flags.c_contiguous, x.flags.f_contiguous)
    return (type(x).__name__, struct.pack("<d", x))


def attr_key(attr: Any) -> Any:
    if isinstance(attr, float):
        return struct.pack("<d", attr)
    if isinstance(attr, ArrayAttr):
        return ("array", attr.key(), value_key(attr.array))
    return (type(attr).__name__, attr)  # Index and tuples compare by content


def results_key(result: Any) -> list[tuple[Any, ...]]:
    items = result if isinstance(result, (tuple, list)) else [result]
    return [value_key(x) for x in items]


def replay_key(tape: tapegrad.Tape, point: list[Any]) -> Any:
    try:
        return results_key(tape(*point))
    except StaleTapeError:
        return "stale"


def array_points_for(tape: tapegrad.Tape) -> list[list[Any]]:
    """The recorded point and a random one of the same shapes and dtypes."""
    recorded = [tape.values[s] for s in tape.input_slots]
    rng = np.random.default_rng(len(tape))
    other = [rng.normal(size=np.shape(x)).astype(getattr(x, "dtype", np.float64)) for x in recorded]
    return [recorded, [x if np.ndim(x) else float(x) for x in other]]


def assert_same_tape(loaded: tapegrad.Tape, tape: tapegrad.Tape) -> None:
    assert io.dumps(loaded) == io.dumps(tape)
    assert loaded.ops == tape.ops and loaded.args == tape.args
    assert sorted(loaded.attrs) == sorted(tape.attrs)
    assert [attr_key(loaded.attrs[s]) for s in sorted(loaded.attrs)] == [
        attr_key(tape.attrs[s]) for s in sorted(tape.attrs)
    ]
    # A folded constant's slot may hold a view of its array; replays use the attribute, compared above with its layout.
    numbers = [value_key(x)[:4] if kind is OpKind.CONST else value_key(x) for kind, x in zip(tape.ops, tape.values)]
    assert [
        value_key(x)[:4] if kind is OpKind.CONST else value_key(x) for kind, x in zip(loaded.ops, loaded.values)
    ] == numbers
    assert [loaded.type_of(s) for s in range(len(loaded))] == [tape.type_of(s) for s in range(len(tape))]
    assert loaded.array == tape.array and loaded.broadcasts == tape.broadcasts
    assert (loaded.name, loaded.inputs, loaded.outputs, loaded.structure) == (
        tape.name,
        tape.inputs,
        tape.outputs,
        tape.structure,
    )
    assert loaded.input_slots == tape.input_slots
    assert loaded.sites == {s: portable_site(w) for s, w in tape.sites.items()}  # files relative to the cwd
    assert loaded.traced and loaded.sealed


# ---------------------------------------------------------------- 3. validation


def small_array() -> dict[str, Any]:
    """A small valid array document using every array op, a guard and a captured number."""
    return {
        "format": "tapegrad.tape", "version": 2, "name": "f",
        "records": [
            ["input", [], "x"],                                                                        # 0 f64[2,3]
            ["const", [], {"dtype": "float32", "shape": [3], "data": ["1.0", "-0.0", "inf"]}],          # 1 f32[3]
            ["mul", [0, 1]],                                                                           # 2 f64[2,3]
            ["sum", [2], {"axes": [1], "keepdims": False}],                                            # 3 f64[2]
            ["getitem", [0], [{"dtype": "int64", "shape": [3], "data": [1, 0, 1]},
                              {"slice": [None, None, -1]}]],                                            # 4 f64[3,3]
            ["transpose", [4], [1, 0]],                                                                # 5 f64[3,3]
            ["reshape", [5], [-1]],                                                                    # 6 f64[9]
            ["concat", [6, 6], 0],                                                                     # 7 f64[18]
            ["broadcast_to", [3], [4, 2]],                                                             # 8 f64[4,2]
            ["sum_to", [8], [1, 2]],                                                                   # 9 f64[1,2]
            ["scatter", [3], {"index": [{"slice": [None, None, None]}, 0], "shape": [2, 4]}],          # 10 f64[2,4]
            ["astype", [7], "float32"],                                                                # 11 f32[18]
            ["const", [], {"dtype": "float64", "shape": [3, 2], "data": ["1", "2", "3", "4", "5", "6"]}],  # 12
            ["matmul", [0, 12]],                                                                       # 13 f64[2,2]
            ["logsumexp", [13], {"axes": None, "keepdims": True}],                                     # 14 f64[1,1]
            ["max", [11], {"axes": [0], "keepdims": False}],                                           # 15 f32[]
            ["input", [], "captured:c"],                                                               # 16 f64[]
            ["gt", [14, 16]],                                                                          # 17 f64[1,1]
            ["guard", [17], True],                                                                     # 18
            ["add", [14, 16]],                                                                         # 19 f64[1,1]
            ["log_softmax", [13], 1],                                                                  # 20 f64[2,2]
        ],
        "inputs": [0],
        "example": [{"dtype": "float64", "shape": [2, 3], "data": ["0.5", "1.0", "-2.0", "3.0", "0.25", "1e-300"]}],
        "captured": {"16": "4.0"},
        "outputs": [19], "output_names": ["out"], "structure": "value", "sites": {"17": "f.py:3"},
    }  # fmt: skip

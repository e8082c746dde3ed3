"""What the code generation tests share: programs to compile and ways to compare their numbers.

Random programs over the op set (``Step``, ``run``), small models of numbers and of arrays (an MLP, a
makemore-style embedding model, Rosenbrock, a guarded branch), exact comparisons (the same bits, any nan
equal to any nan) and readers of generated source (``imports_of``, ``function_named``).
"""

from __future__ import annotations

import ast
import io
import math
import operator
import struct
import subprocess
import sys
import tokenize
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from support import UNARY

import tapegrad
from tapegrad import maximum, minimum, where
from tapegrad.core.ops import op_named
from tapegrad.values.value import apply

# Known core bugs: each test that shows one is marked strict, so it fails again once the bug is fixed.
INF, NAN = math.inf, math.nan


# ---------------------------------------------------------------- comparing numbers


def same(expected: Any, got: Any) -> bool:
    """Bit for bit (any nan is any nan; -0.0 is not 0.0), else 1e-15 relative."""
    expected, got = float(expected), float(got)
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if expected == got:
        return expected != 0.0 or math.copysign(1.0, expected) == math.copysign(1.0, got)
    finite = math.isfinite(expected) and math.isfinite(got)
    return finite and abs(expected - got) <= 1e-15 * max(abs(expected), abs(got))


def assert_same(expected: Sequence[Any], got: Sequence[Any], what: str) -> None:
    assert len(expected) == len(got), f"{what}: {len(got)} results, expected {len(expected)}"
    for k, (e, g) in enumerate(zip(expected, got)):
        assert same(e, g), f"{what}: result {k} is {g!r}, expected {e!r}"


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def at(result: Any, k: int, shape: tuple[int, ...]) -> float:
    """Point ``k`` of an array result (a scalar result stands for every point)."""
    return float(np.broadcast_to(np.asarray(result, dtype=np.float64), shape)[k])


# ---------------------------------------------------------------- random programs


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,  # x ** constant records pow_const, constant ** x and x ** y record pow
    "maximum": maximum,
    "minimum": minimum,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    # No Value operator records these; gradient tapes do, and so can anyone through apply.
    "eq": lambda x, y: apply(op_named("eq"), x, y),
    "ne": lambda x, y: apply(op_named("ne"), x, y),
    "smul": lambda x, y: apply(op_named("smul"), x, y),
    "sdiv": lambda x, y: apply(op_named("sdiv"), x, y),
    "gate": lambda x, y: apply(op_named("gate"), x, y),
}
COMPARE = [operator.gt, operator.ge, operator.lt, operator.le]


class Step(NamedTuple):
    """``operation`` on earlier results chosen by index (modulo how many there are).

    A binary op takes a constant on the right (``side`` 1) or left (``side``
    2) instead of a second result; ``where`` compares with ``COMPARE[side]``,
    ``select`` is a ``where`` on a result itself (true when nonzero or nan).
    """

    operation: str
    operands: tuple[int, int, int, int]
    side: int
    constant: float
    exponent: float


def steps(operations: Sequence[str], constants: Sequence[float], exponents: Sequence[float]) -> Any:
    """A hypothesis strategy for one ``Step`` (hypothesis imported here: only property tests draw steps)."""
    from hypothesis import strategies as st

    return st.builds(
        Step,
        st.sampled_from(list(operations)),
        st.tuples(*[st.integers(0, 63)] * 4),
        st.integers(0, 3),
        st.sampled_from(list(constants)),
        st.sampled_from(list(exponents)),
    )


def run(program: Sequence[Step], inputs: Sequence[Any]) -> Any:
    """Execute ``program`` on traced Values; the last result is the output."""
    results = list(inputs)
    for step in program:
        x, y, z, w = (results[i % len(results)] for i in step.operands)
        if step.operation in UNARY:
            out = UNARY[step.operation](x)
        elif step.operation == "pow_const":
            out = x**step.exponent
        elif step.operation == "where":
            out = where(COMPARE[step.side](x, y), z, w)
        elif step.operation == "select":
            out = where(x, z, w)
        elif step.side == 1:
            out = BINARY[step.operation](x, step.constant)
        elif step.side == 2:
            out = BINARY[step.operation](step.constant, x)
        else:
            out = BINARY[step.operation](x, y)
        results.append(out)
    return results[-1]


def gradient_tape(tape: tapegrad.Tape) -> tapegrad.Tape:
    """What gradient code is generated from: the optimised gradient tape (value first, then one per input)."""
    return tapegrad.optimize(tapegrad.grad_tape(tape))


def names_outside_strings(source: str) -> list[str]:
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.NAME]


def imports_of(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(f"from {node.module} import ...")
    return found


RUN_PYTEST_HIDDEN = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None
import pytest
raise SystemExit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]]))
"""


def run_written_tests(test_file: Path, hidden: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a written pytest file in a fresh interpreter where the modules ``hidden`` cannot be imported."""
    (test_file.parent / "pytest.ini").write_text("[pytest]\n")  # keep the project's configuration out
    return subprocess.run(
        [sys.executable, "-c", RUN_PYTEST_HIDDEN, test_file.name, *hidden],
        capture_output=True,
        text=True,
        cwd=test_file.parent,
        timeout=120,
    )


def every_op(a: Any, b: Any, c: Any) -> Any:
    """Every op of the table (the gradient adds smul, sdiv, eq...), and a guard."""
    r = -a + b - c * a / b + a**2 + a**b + a.exp() + a.log() + a.tanh() + a.sigmoid() + a.relu()
    r = r + a.sin() + a.cos() + a.sqrt() + abs(a) + maximum(a, b) + minimum(a, b) + where(a, b, c)
    for compare in [*COMPARE, BINARY["eq"], BINARY["ne"]]:
        r = r + where(compare(a, b), a, c)
    r = BINARY["smul"](r, a) + BINARY["sdiv"](r, b)
    if c > 0:
        return r
    return -r


# ---------------------------------------------------------------- 2. readable and deterministic


def loss(x: Any, y: Any) -> Any:
    if x > 0:
        return where(x > y, (x * y).sqrt(), x.exp()) + y**2 / 3.0
    return -x


def function_named(source: str, name: str) -> ast.FunctionDef:
    (function,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    return function


# ---------------------------------------------------------------- 5. export


def rosenbrock(x: Any, y: Any) -> Any:
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2 + (x * y).tanh().exp() / (1.0 + y * y)


POINTS = [(0.5, 0.25), (-1.25, 2.0), (1.0, 1.0), (3.0, -0.5)]


# ---------------------------------------------------------------- 6. guards


def branchy(x: Any, y: Any) -> Any:
    if x > 0:
        return x * y
    return -x * y


# ---------------------------------------------------------------- models and helpers

RNG = np.random.default_rng(20240607)
POINTS_X = RNG.normal(size=(6, 3))
TARGETS = np.array([0.5, -1.0, 0.25, 1.0, 0.0, -0.5])


def mlp(W1: Any, b1: Any, W2: Any, b2: Any, w3: Any) -> Any:
    """A 3 -> 5 -> 4 -> 1 MLP on six points: matmul, broadcasting adds, tanh, relu, mean of squared error."""
    h = (POINTS_X.astype(W1.dtype) @ W1 + b1).tanh()  # data in the weights' precision
    h = (h @ W2 + b2).relu()
    error = h @ w3 - TARGETS.astype(W1.dtype)
    return (error * error).mean() + 0.01 * (W1 * W1).sum()


MLP_SHAPES = [(3, 5), (5,), (5, 4), (4,), (4,)]

CONTEXTS = np.array([[0, 0, 1], [0, 1, 3], [1, 3, 3], [3, 3, 0], [0, 0, 0]])  # token 0 and 3 repeat
NEXT = np.array([1, 3, 3, 0, 2])


def makemore(C: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
    """An embedding lookup (repeated rows), a tanh layer, logits, and three ways to a log-likelihood."""
    emb = C[CONTEXTS].reshape(len(CONTEXTS), -1)  # (5, 3 * 2)
    logits = (emb @ W1 + b1).tanh() @ W2 + b2
    nll = tapegrad.cross_entropy(logits, NEXT)
    picked = tapegrad.log_softmax(logits)[np.arange(len(NEXT)), NEXT]
    return nll + 0.5 * picked.mean() - 0.1 * tapegrad.logsumexp(logits, axis=1).mean()


MAKEMORE_SHAPES = [(4, 2), (6, 7), (7,), (7, 4), (4,)]


def random_args(shapes: Sequence[tuple[int, ...]], dtype: Any = np.float64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in shapes]


def identical(expected: Any, got: Any) -> bool:
    """Bit for bit: the same type, dtype, shape and bytes (so signed zeros and nan count)."""
    if type(expected) is not type(got):
        return False
    e, g = np.asarray(expected), np.asarray(got)
    return e.dtype == g.dtype and e.shape == g.shape and e.tobytes() == g.tobytes()


def assert_close(expected: Any, got: Any, rtol: float = 1e-15) -> None:
    assert np.shape(expected) == np.shape(got)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), rtol=rtol,
                               atol=rtol * float(np.max(np.abs(expected), initial=1.0)))  # fmt: skip

"""Helpers that tests in several folders share (not a test file: pytest collects ``test_*.py`` only).

- finite differences for array gradients (``values/test_arrays_*.py``);
- the fuzz of tape files: every path into a JSON document, and what loading one mutated file must do
  (``formats/io/``);
- importing a generated source file as a module (``formats/codegen/``).

Test files import it as ``from support import ...``: ``pythonpath = ["tests"]`` in pyproject.toml puts
``tests/`` on ``sys.path``.  Helpers that one folder's files share live in that folder (for example
``formats/codegen/programs.py``), imported relatively (``from .programs import ...``).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from tapegrad import io
from tapegrad.errors import TapeFormatError

# ---------------------------------------------------------------- finite differences

# Central differences in float64 with step 1e-6 are accurate to about 1e-9 on
# smooth functions of O(1) inputs; 1e-7, relative to the gradient's largest
# entry (at least 1), leaves a margin of 100.
FD_STEP = 1e-6
FD_TOLERANCE = 1e-7


def numerical_gradients(f: Callable[..., float], xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """d f / d each of ``xs`` by central differences (float64)."""
    grads = []
    for k, x in enumerate(xs):
        grad = np.zeros(np.shape(x))
        for index in np.ndindex(np.shape(x)):
            up = [np.array(a, dtype=np.float64, copy=True) for a in xs]
            down = [np.array(a, dtype=np.float64, copy=True) for a in xs]
            up[k][index] += FD_STEP
            down[k][index] -= FD_STEP
            grad[index] = (f(*up) - f(*down)) / (2 * FD_STEP)
        grads.append(grad)
    return grads


def assert_close_to(actual: Sequence[Any], expected: Sequence[np.ndarray], tolerance: float = FD_TOLERANCE) -> None:
    """Each gradient has its input's shape and is within ``tolerance`` of the expected one (relative to its scale)."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        a = np.asarray(a)
        assert a.shape == e.shape, (a.shape, e.shape)
        scale = 1.0 + np.max(np.abs(e), initial=0.0)
        error = np.max(np.abs(a - e), initial=0.0)
        assert error <= tolerance * scale, f"error {error:.3g} > {tolerance * scale:.3g}\n{a}\n{e}"


# ---------------------------------------------------------------- fuzzing tape files


def json_paths(node: Any) -> list[tuple[Any, ...]]:
    """The path (keys and indices) of every value inside a parsed JSON document, the document itself left out."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(node, ())]
    while stack:
        value, path = stack.pop()
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        for key, child in children:
            found.append(path + (key,))
            stack.append((child, path + (key,)))
    return found


def load_mutated(text: str | bytes) -> str:
    """Load a mutated tape file: ``"error"`` for a TapeFormatError, else ``"tape"``, once the tape has shown
    that it writes stably (written, read and written again: the same text) and replays at its recorded point."""
    try:
        tape = io.loads(text)
    except TapeFormatError:
        return "error"
    once = io.dumps(tape)
    assert io.dumps(io.loads(once)) == once, text
    tape(*[tape.values[s] for s in tape.input_slots])
    return "tape"


# ---------------------------------------------------------------- generated modules

_modules = itertools.count()


def load_module(path: Path, prefix: str = "exported") -> ModuleType:
    """Import the file at ``path`` as a fresh module (named ``prefix_<n>``, so each load is new)."""
    spec = importlib.util.spec_from_file_location(f"{prefix}_{next(_modules)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- random programs

UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "sqrt": lambda x: x.sqrt(),
    "abs": lambda x: abs(x),
}
"""The unary ops of the random-program tests (test_agreement, formats/codegen), as either engine's Value writes them."""

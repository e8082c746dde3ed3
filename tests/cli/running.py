"""How the command-line tests run ``tapegrad`` and read what it prints.

``run`` calls ``main`` in this process and returns the exit status and both streams; ``EXPR`` at
``x=X, y=Y`` is the example whose numbers ``hand`` computes by hand.
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tapegrad.cli import main

EXPR = "tanh(x * y) + x**2"
X, Y = 0.5, -1.2


def hand(x: float, y: float) -> tuple[float, float, float]:
    """EXPR's value and gradient, by hand."""
    t = math.tanh(x * y)
    return t + x**2, (1 - t**2) * y + 2 * x, (1 - t**2) * x


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``tapegrad ARGV``: exit status, stdout, stderr (argparse's SystemExit is an exit status too)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def numbers(out: str) -> dict[str, float]:
    """The ``name: number`` lines that ``--at`` prints."""
    return {m[1]: float(m[2]) for m in re.finditer(r"^(\w+): (\S+)$", out, re.MULTILINE)}


def import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_dot(text: str) -> None:
    """Graphviz accepts ``text`` (when the dot program is installed)."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    if shutil.which("dot"):
        result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr == "", result.stderr


def evaluate_sympy_lines(text: str, point: dict[str, float]) -> dict[str, float]:
    """Evaluate ``name = expression`` lines in order (the cse form), as a reader would."""
    import sympy

    env: dict[str, Any] = {sympy.Symbol(k): v for k, v in point.items()}
    results = {}
    for line in text.splitlines():
        name, _, expression = line.partition(" = ")
        value = sympy.sympify(expression).subs(env)  # test code: the CLI's own output, not user text
        env[sympy.Symbol(name)] = value
        results[name] = float(value)
    return results


USER_FILE = """\
def f(x, y):
    z = (x * y).tanh() + x.exp()
    return z * (y * y + 1).sqrt() - z / y


def g(x):
    return (x * x).sin() + 1 / (1 + x * x)


def skewed(x):
    scale = 2.0 + 1e-9 if type(x).__module__ == "tapegrad.lab.closure" else 2.0
    return (x * scale).tanh()
"""

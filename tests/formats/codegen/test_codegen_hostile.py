"""x"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import keyword
import re
import tokenize
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import load_module

import tapegrad
from tapegrad import codegen
from tapegrad.errors import (
    InputTypeError,
)
from tapegrad.formats.codegen import identifiers, to_source

from .programs import (
    every_op,
    function_named,
    gradient_tape,
    imports_of,
    loss,
    names_outside_strings,
    run_written_tests,
)

# ---------------------------------------------------------------- 3. hostile names

HOSTILE = [
    "lambda", "if", "class", "math", "np", "numpy", "abs", "print", "None", "t0", "t12", "_div", "_f_part0",
    "x-1", "my var", "1x", "λ", "变量", "x", "x", "x_2", '"q"', "'", "'''", '"""', "a\nb", "c\r\nd", "back\\slash",
    "trailing\\", "__import__('os').system('echo pwned')", "\"\"\"; __import__('os').system('echo pwned') #",
    "ﬁ", "fi", "ℌ", "H", "ｘ", "", " ", "\x00", "\u2028", "# comment", "f", "f_grad", "e", "inf", "nan",
]  # fmt: skip
PWNED = {"__import__", "os", "system", "echo", "pwned"}
GUARDED = HOSTILE.index("__import__('os').system('echo pwned')")
HOSTILE_OUTPUT = "out\"\"\"\n__import__('os').system('echo pwned')\n'''#\\"
HOSTILE_TAPE_NAME = 'tape\'\n"""import os'


def weighted_sum(*xs: Any) -> Any:
    """Each input with its own weight, so mixed-up parameters show; a guard on the ``__import__`` input."""
    if xs[GUARDED] > 0:
        total = xs[0] * 2.0
        for k, x in enumerate(xs[1:], start=3):
            total = total + x * float(k)
        out = total.tanh() * 5.0
        out.name = HOSTILE_OUTPUT
        return out
    return xs[0]


def _known_names() -> set[str]:
    """Every name generated code uses for programs over benign inputs ``a, b, c``: keywords, helpers, modules."""
    tape = tapegrad.trace(every_op, 1.0, 2.0, 3.0)
    names: set[str] = set()
    for t in (tape, gradient_tape(tape)):
        for backend in ("math", "numpy"):
            source = to_source(t, "f", backend)
            names |= set(names_outside_strings(source))
    return {n for n in names if n not in {"a", "b", "c", "f"} and not re.fullmatch(r"t[0-9]+", n)}


KNOWN_NAMES = _known_names()


def skeleton(source: str, renames: dict[str, str], function: tuple[str, str] = ("", "")) -> list[tuple[int, str]]:
    """The token stream without comments and strings (where hostile text may live).

    Names in ``renames`` are renamed, and the name defined as ``function[0]``
    (only where it follows ``def``) becomes ``function[1]``.
    """
    result: list[tuple[int, str]] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING, tokenize.NL):
            continue
        text = tok.string
        if tok.type == tokenize.NAME:
            defined = result[-1:] == [(tokenize.NAME, "def")] and text == function[0]
            text = function[1] if defined else renames.get(text, text)
        result.append((tok.type, text))
    return result


def assert_safe_parameters(params: Sequence[str]) -> None:
    for p in params:
        assert p.isidentifier() and not keyword.iskeyword(p) and not keyword.issoftkeyword(p), p
        assert unicodedata.normalize("NFKC", p) == p, p  # as Python reads it
        assert p not in dir(builtins) and p not in {"math", "np", "numpy"}, p
        assert not p.startswith("_") and not re.fullmatch(r"t[0-9]+", p), p
    assert len(set(params)) == len(params)


def hostile_tape() -> tapegrad.Tape:
    """``weighted_sum`` over inputs named ``HOSTILE``; its output and the tape have hostile names too."""
    tape = tapegrad.trace(weighted_sum, *[1.0 / (k + 2) for k in range(len(HOSTILE))], names=HOSTILE)
    tape.name = HOSTILE_TAPE_NAME
    return tape


def test_identifiers_are_safe_unique_and_keep_plain_names() -> None:
    params = identifiers(HOSTILE)
    assert_safe_parameters(params)
    assert params[HOSTILE.index("λ")] == "λ" and params[HOSTILE.index("变量")] == "变量"
    assert params[HOSTILE.index("x")] == "x"
    assert identifiers(["x", "y", "learning_rate"]) == ["x", "y", "learning_rate"]


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("gradient", [False, True], ids=["value", "gradient"])
def test_hostile_input_names_stay_out_of_the_code(backend: str, gradient: bool) -> None:
    tape = hostile_tape()
    benign = tapegrad.trace(weighted_sum, *tape.values[: len(HOSTILE)], names=[f"a{k}" for k in range(len(HOSTILE))])
    if gradient:
        tape, benign = gradient_tape(tape), gradient_tape(benign)
    source, reference = to_source(tape, "generated", backend), to_source(benign, "generated", backend)
    ast.parse(source)
    function = function_named(source, "generated")
    params = [a.arg for a in function.args.args]
    assert params == identifiers(HOSTILE)
    assert_safe_parameters(params)
    # The same code as for plain names, up to the parameters' names, comments and strings: no
    # statement, line or definition was injected.
    rename = {p: f"<input {k}>" for k, p in enumerate(params)}
    assert skeleton(source, rename) == skeleton(reference, {f"a{k}": f"<input {k}>" for k in range(len(params))})
    strays = [n for n in names_outside_strings(source) if n not in KNOWN_NAMES | set(params) | {"generated"}]
    assert [n for n in strays if not re.fullmatch(r"t[0-9]+", n)] == []
    assert not PWNED & set(names_outside_strings(source))
    definitions = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert definitions == [n.name for n in ast.parse(reference).body if isinstance(n, ast.FunctionDef)]
    docstring = ast.get_docstring(function, clean=False)
    assert docstring is not None
    assert all(name in docstring for name in tape.output_names)
    for name, p in zip(HOSTILE, params):
        if name != p:
            assert f"{name!r} -> {p}" in docstring


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_hostile_input_names_compute_correctly(backend: str) -> None:
    tape = hostile_tape()
    point = [0.01 * (k + 1) for k in range(len(HOSTILE))]
    arrays = [np.array([v, 2 * v]) for v in point]
    args = point if backend == "math" else arrays
    f = tape.compile(backend)
    assert list(inspect.signature(f).parameters) == identifiers(HOSTILE)
    expected = tape(*args)
    assert np.array_equal(f(*args), expected)
    assert np.array_equal(f(**dict(zip(identifiers(HOSTILE), args))), expected)
    grads = gradient_tape(tape)
    generated = grads.compile(backend)(*args)
    for e, g in zip(grads(*args), generated):
        assert np.array_equal(np.broadcast_to(g, np.shape(e)), e)
    with pytest.raises(ValueError, match=re.escape("__import__('os').system('echo pwned') > 0")):
        f(*[-1.0] * len(HOSTILE)) if backend == "math" else f(*[np.array([-1.0, 1.0])] * len(HOSTILE))


def test_a_name_that_is_not_valid_text_is_refused_or_escaped() -> None:
    """A lone surrogate cannot be encoded: trace refuses it; set directly, it is still escaped in the source."""
    with pytest.raises(InputTypeError, match=r"the input name '\\ud800' holds a lone surrogate"):
        tapegrad.trace(lambda x, y: x * y, 2.0, 3.0, names=["\ud800", "y"])
    tape = tapegrad.trace(lambda x, y: x * y, 2.0, 3.0)
    tape.name, tape.output_names = "\ud800", ["\udfff"]
    source = to_source(tape)
    ast.parse(source)
    assert tape.compile()(2.0, 5.0) == 10.0
    source.encode("utf-8")


HOSTILE_FUNCTION_NAMES = [
    "lambda", "class", "math", "np", "abs", "_div", "t0", "x", "f g", "1f", "λ", "", '"""', "a\nb",
    "__import__('os').system('echo pwned')", "loss\n\nimport os\nos.system('echo pwned')\n",
]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_FUNCTION_NAMES)
@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_hostile_function_names(name: str, backend: str) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    source = to_source(tape, name, backend)
    (safe,) = identifiers([name])
    reference = to_source(tape, "loss", backend)
    assert skeleton(source, {}, (safe, "<name>")) == skeleton(reference, {}, ("loss", "<name>"))
    assert not PWNED & set(names_outside_strings(source))
    assert_safe_parameters([safe])
    f = codegen.compile_source(source, safe, "<hostile>")
    assert f(3.0, 2.0) == tape(3.0, 2.0)


@pytest.mark.parametrize("name", HOSTILE_FUNCTION_NAMES)
def test_hostile_export_names(name: str, tmp_path: Path) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    path = tapegrad.export(tape, tmp_path / "exported.py", name=name)
    source = path.read_text(encoding="utf-8")
    (safe,) = identifiers([name or "loss"])  # no name: the function's
    functions = {
        n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
    }
    assert functions == {safe, f"{safe}_grad", f"{safe}_value_and_grad"}
    assert not PWNED & set(names_outside_strings(source))
    module = load_module(path)
    assert getattr(module, f"{safe}_value_and_grad")(3.0, 2.0) == tape.value_and_gradient(3.0, 2.0)


def test_hostile_names_in_an_export_with_tests(tmp_path: Path) -> None:
    tape = hostile_tape()
    path = tapegrad.export(tape, tmp_path / "hostile.py", tests=True)
    for written in (path, tmp_path / "test_hostile.py"):
        source = written.read_text(encoding="utf-8")
        ast.parse(source)
        assert not PWNED & set(names_outside_strings(source))
        assert "tapegrad" not in " ".join(imports_of(source))
    assert imports_of(path.read_text(encoding="utf-8")) == ["import math"]
    module = load_module(path)
    point = [0.01 * (k + 1) for k in range(len(HOSTILE))]
    assert module.f_value_and_grad(*point) == tape.value_and_gradient(*point)
    result = run_written_tests(tmp_path / "test_hostile.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

"""x"""

from __future__ import annotations

import ast
import io
import math
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import load_module

import tapegrad
from tapegrad import where
from tapegrad.formats.codegen import array_source, tape_hash, to_source

from .programs import (
    CONTEXTS,
    INF,
    MAKEMORE_SHAPES,
    NAN,
    at,
    bits,
    function_named,
    gradient_tape,
    identical,
    loss,
    makemore,
    random_args,
    same,
)


def statements_per_line(source: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            counts[node.lineno] = counts.get(node.lineno, 0) + 1
    return counts


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("gradient", [False, True], ids=["value", "gradient"])
def test_source_reads_like_code_a_person_wrote(backend: str, gradient: bool) -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    if gradient:
        tape = gradient_tape(tape)
    source = to_source(tape, "loss", backend)
    lines = source.splitlines()
    assert lines[0].startswith("# ") and lines[1].startswith("# ")
    assert f"tapegrad {tapegrad.__version__}" in lines[1]
    assert re.search(r"\bhash [0-9a-f]{8,}\b", lines[1])
    assert all(tok.string != ";" for tok in tokenize.generate_tokens(io.StringIO(source).readline))
    assert max(statements_per_line(source).values()) == 1
    function = function_named(source, "loss")
    assert [a.arg for a in function.args.args] == ["x", "y"]
    docstring = ast.get_docstring(function)
    assert docstring is not None
    assert "Inputs: x, y" in docstring
    assert all(name in docstring for name in tape.output_names)
    body = function.body[1:]
    if backend == "numpy":  # everything inside one `with np.errstate(all="ignore"):`
        (block,) = body
        assert isinstance(block, ast.With)
        body = block.body
    targets = [s.targets[0].id for s in body if isinstance(s, ast.Assign)]  # type: ignore[attr-defined]
    if backend == "numpy":  # the batch's shape, computed once for the outputs (after the floats' early return)
        assert targets[-1] == "_shape" and isinstance(body[-3], ast.If) and isinstance(body[-3].body[0], ast.Return)
        targets = targets[:-1]
    assert targets == [f"t{k}" for k in range(len(targets))]
    assert isinstance(body[-1], ast.Return)
    assert all(isinstance(s, (ast.Assign, ast.If, ast.Return, ast.Delete)) for s in body)  # numpy frees arrays


def test_same_tape_gives_byte_identical_source() -> None:
    tape = tapegrad.trace(loss, 1.0, 2.0)
    again = tapegrad.trace(loss, 1.0, 2.0)
    for backend in ("math", "numpy"):
        assert to_source(tape, "loss", backend) == to_source(tape, "loss", backend) == to_source(again, "loss", backend)
        grads = to_source(gradient_tape(tape), "loss_grad", backend)
        assert grads == to_source(gradient_tape(again), "loss_grad", backend)


def test_the_header_hash_follows_the_program() -> None:
    def header_hash(tape: tapegrad.Tape) -> str:
        match = re.search(r"\bhash ([0-9a-f]+)", to_source(tape).splitlines()[1])
        assert match is not None
        return match.group(1)

    one = header_hash(tapegrad.trace(lambda x: x * 2.0, 1.0))
    assert one == header_hash(tapegrad.trace(lambda x: x * 2.0, 5.0))
    assert one != header_hash(tapegrad.trace(lambda x: x * 3.0, 1.0))
    assert one != header_hash(tapegrad.trace(lambda x: x + 2.0, 1.0))


DETERMINISM_MODULE = """
import tapegrad


def loss(x, y):
    if x > 0:
        return tapegrad.where(x > y, (x * y).sqrt(), x.exp()) + y ** 2 / 3.0 + tapegrad.maximum(x, 0.1)
    return -x


tape = tapegrad.trace(loss, 1.0, 2.0)
"""

DETERMINISM_SCRIPT = """
import importlib.util, sys
import tapegrad
from tapegrad.formats.codegen import to_source
spec = importlib.util.spec_from_file_location("program", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tape = module.tape
grads = tapegrad.optimize(tapegrad.grad_tape(tape))
print(to_source(tape, "loss") + to_source(grads, "loss_grad", "numpy"), end="")
"""


def test_source_is_identical_across_interpreter_runs(tmp_path: Path) -> None:
    """Hash randomisation (set iteration order) must not reach the source."""
    program = tmp_path / "program.py"
    program.write_text(DETERMINISM_MODULE)
    sources = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT, str(program)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        sources.append(result.stdout)
    tape = load_module(program).tape
    here = to_source(tape, "loss") + to_source(gradient_tape(tape), "loss_grad", "numpy")
    assert sources[0] == sources[1] == here


# ---------------------------------------------------------------- 4. literals

LITERALS = [
    0.1, 1 / 3, -2 / 3, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1e308,
    1.7976931348623157e308, -0.0, 0.0, INF, -INF, NAN, 1e22, 1e23, 123456789.12345679, 2.0**-1022 * 1.5,
    9007199254740993.0, 1e-7, 3, 2**60,
]  # fmt: skip


@pytest.mark.parametrize("backend", ["math", "numpy"])
@pytest.mark.parametrize("c", LITERALS, ids=repr)
def test_constants_round_trip_exactly(c: float, backend: str) -> None:
    tape = tapegrad.trace(lambda x: where(x > 0.0, c, x), 1.0)
    got = at(tape.compile(backend)(np.array([1.0]) if backend == "numpy" else 1.0), 0, (1,))
    assert math.isnan(got) if math.isnan(c) else bits(got) == bits(float(c))
    source = to_source(tape, "f", backend)
    module = "math" if backend == "math" else "np"
    if math.isfinite(c):
        assert repr(float(c)) in source
    elif math.isnan(c):
        assert f"{module}.nan" in source
    else:
        assert f"{'-' if c < 0 else ''}{module}.inf" in source


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True))
def test_any_float_constant_round_trips(c: float) -> None:
    tape = tapegrad.trace(lambda x: x * 1.0 + c, 1.0)
    f, f_numpy = tape.compile(), tape.compile("numpy")
    for x in (-0.0, 0.0, 1.0):
        assert same(tape(x), f(x)) and same(tape(x), at(f_numpy(np.array([x])), 0, (1,)))


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_negative_zero_keeps_its_sign(backend: str) -> None:
    def run(fn: Callable[..., Any], x: float) -> float:
        got = tapegrad.trace(fn, 1.0).compile(backend)(np.array([x]) if backend == "numpy" else x)
        return at(got, 0, (1,))

    assert run(lambda x: 1.0 / (x * -0.0), 1.0) == -INF
    assert run(lambda x: 1.0 / (x * 0.0 + (-0.0)), -1.0) == -INF
    assert run(lambda x: 1.0 / (x + (-0.0)), -0.0) == -INF
    assert run(lambda x: 1.0 / (x - 0.0), -0.0) == -INF
    assert run(lambda x: 1.0 / -x, 0.0) == -INF
    assert run(lambda x: x ** (1 / 3), 8.0) == math.pow(8.0, 1 / 3)


# ---------------------------------------------------------------- 2. inputs and outputs


def test_outputs_keep_their_shapes_and_a_float64_scalar_is_a_float() -> None:
    def f(W: Any, x: Any, s: Any) -> Any:
        y = W @ x
        return y, y.sum() * s, (W * s).T

    W, x = random_args([(2, 3), (3,)])
    tape = tapegrad.trace(f, W, x, 2.0)
    compiled = tape.compile("numpy")
    got = compiled(W, x, 3.0)
    expected = tape(W, x, 3.0)
    assert [np.shape(o) for o in got] == [(2,), (), (3, 2)]
    assert type(got[1]) is float
    assert all(identical(e, o) for e, o in zip(expected, got))
    assert "_batch" not in to_source(tape, "f", "numpy")


def test_inputs_are_checked_against_their_recorded_shapes_and_converted() -> None:
    W, x = random_args([(2, 3), (3,)], np.float32)
    tape = tapegrad.trace(lambda W, x: (W @ x).tanh(), W, x)
    compiled = tape.compile("numpy")
    with pytest.raises(ValueError, match=r"input x has shape \(4,\), but this code was generated for shape \(3,\)"):
        compiled(W, np.ones(4))
    with pytest.raises(TypeError, match="real numbers"):
        compiled(W, np.array(["a", "b", "c"]))
    as_lists = compiled(W.tolist(), [1, 2, 3])  # lists and integers, as the interpreter takes them
    assert identical(tape(W.tolist(), [1, 2, 3]), as_lists) and as_lists.dtype == np.float32
    assert identical(tape(W, x.astype(np.float64)), compiled(W, x.astype(np.float64)))


def test_guards_check_array_tapes_too() -> None:
    def f(x: Any) -> Any:
        return x.exp().sum() if x.sum() > 0 else -x.sum()

    tape = tapegrad.trace(f, np.ones(3))
    compiled = tape.compile("numpy")
    assert compiled(np.arange(3.0)) == tape(np.arange(3.0))
    with pytest.raises(ValueError, match="another branch"):
        compiled(-np.ones(3))


# ---------------------------------------------------------------- 3. source


def test_source_is_readable_exact_and_deterministic() -> None:
    args = random_args(MAKEMORE_SHAPES)
    g = tapegrad.optimize(tapegrad.grad_tape(tapegrad.trace(makemore, *args)))
    source = to_source(g, "makemore_grad", "numpy")
    assert source == to_source(g, "makemore_grad", "numpy")
    tree = ast.parse(source)
    assert [a.name for a in ast.walk(tree) if isinstance(a, ast.alias)] == ["numpy"]
    assert all(len(line) <= 120 for line in source.splitlines())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"makemore_grad", "_scatter", "_logsumexp", "_sum_to", "_array_input", "_frozen"} <= functions
    assert "C[_c0]" in source  # the embedding lookup, its index a module constant
    assert f"_c0 = _frozen({array_source(CONTEXTS.astype(np.intp))})" in source
    assert "_log_softmax(t" in source and "_logsumexp(t" in source and "((1,), False))" in source
    assert "return (float(t" in source
    for line in source.splitlines():  # one statement a line, named t0, t1... after the inputs
        assert not line.strip().startswith(("import tapegrad", "from tapegrad"))


def test_array_constants_are_exact_and_read_only() -> None:
    weights = np.array([np.inf, -np.inf, np.nan, -0.0, 5e-324, 1 / 3])
    tape = tapegrad.trace(lambda x: x * weights + np.full(6, 2.5), np.ones(6))
    source = to_source(tape, "f", "numpy")
    assert "np.full((6,), 2.5, dtype=np.float64)" in source
    assert "np.inf, -np.inf, np.nan, -0.0, 5e-324, 0.3333333333333333" in source
    namespace: dict[str, Any] = {}
    exec(compile(source, "<test>", "exec"), namespace)  # noqa: S102 - our own generated source
    x = np.array([1.0, 2.0, 0.0, 3.0, -1.0, 3.0])
    assert identical(tape(x), namespace["f"](x))
    constants = [v for k, v in namespace.items() if k.startswith("_c")]
    assert constants and not any(c.flags.writeable for c in constants)


def test_array_source_round_trips() -> None:
    arrays = [np.arange(6.0).reshape(2, 3), np.zeros((0, 3)), np.array(7.0, dtype=np.float32), np.array([1, -2, 3])]
    arrays += [np.array([[True, False]]), np.full((3, 2), -0.0), np.array([np.nan, 1e308, -np.inf])]
    for array in arrays:
        rebuilt = eval(array_source(array), {"np": np})  # noqa: S307 - source we wrote
        assert rebuilt.shape == array.shape and rebuilt.dtype.kind == array.dtype.kind
        assert rebuilt.astype(array.dtype).tobytes() == array.tobytes()


def test_the_hash_reads_every_element_of_an_array_constant() -> None:
    a, b = np.zeros(100), np.zeros(100)
    b[50] = 1.0  # a listing abbreviates both as <f64[100]>
    tapes = [tapegrad.trace(lambda x, c=c: (x * c).sum(), np.ones(100)) for c in (a, b)]
    assert str(tapes[0]) == str(tapes[1])
    assert tape_hash(tapes[0]) != tape_hash(tapes[1])

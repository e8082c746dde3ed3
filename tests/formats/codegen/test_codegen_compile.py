"""x"""

from __future__ import annotations

import ast
import gc
import inspect
import linecache
import math
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import load_module

import tapegrad
from tapegrad import codegen, minimum, where
from tapegrad.formats.codegen import to_source
from tapegrad.lab.testing import random_program

from .programs import INF, NAN, POINTS, bits, branchy, function_named, gradient_tape, rosenbrock


def test_guard_becomes_a_check_in_math_code() -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    for f in (tape.compile(), gradient_tape(tape).compile()):
        assert f(3.0, 2.0) in (6.0, (6.0, 2.0, 3.0))
        for other in (-1.0, 0.0, -0.0, NAN):
            with pytest.raises(ValueError, match=re.escape("x > 0")) as error:
                f(other, 2.0)
            assert "programs.py" in str(error.value)  # where the branch was written (branchy)


def test_guard_recorded_false_rejects_the_true_branch() -> None:
    tape = tapegrad.trace(branchy, -1.0, 2.0)
    f = tape.compile()
    assert f(-3.0, 2.0) == 6.0 and f(0.0, 2.0) == -0.0
    with pytest.raises(ValueError, match=re.escape("x > 0")):
        f(3.0, 2.0)


def test_guard_checks_every_point_of_an_array() -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    for f in (tape.compile("numpy"), gradient_tape(tape).compile("numpy")):
        f(np.array([1.0, 2.0, 1e-300]), np.array([2.0, 3.0, 4.0]))
        for bad in ([1.0, -1.0, 2.0], [NAN, 1.0, 2.0], [1.0, 2.0, 0.0]):
            with pytest.raises(ValueError, match=re.escape("x > 0")):
                f(np.array(bad), np.array([2.0, 3.0, 4.0]))


def test_guard_on_a_truth_value() -> None:
    def nonzero(x: Any) -> Any:
        return x * 2.0 if x else x + 1.0

    tape = tapegrad.trace(nonzero, 1.0)
    f, f_numpy = tape.compile(), tape.compile("numpy")
    assert f(3.0) == 6.0 and math.isnan(f(NAN))  # nan is true, as for Python's bool
    with pytest.raises(ValueError, match=r"bool\(x\)"):
        f(0.0)
    assert list(f_numpy(np.array([1.0, -2.0]))) == [2.0, -4.0]
    with pytest.raises(ValueError, match=r"bool\(x\)"):
        f_numpy(np.array([1.0, -0.0]))


def test_exported_functions_check_guards(tmp_path: Path) -> None:
    module = load_module(tapegrad.export(branchy, tmp_path / "branchy.py"))
    assert module.branchy_value_and_grad(2.0, 5.0) == (10.0, (5.0, 2.0))
    for function in (module.branchy, module.branchy_grad, module.branchy_value_and_grad):
        with pytest.raises(ValueError, match=re.escape("x > 0")):
            function(-2.0, 5.0)


def test_a_failing_guard_shows_its_generated_line() -> None:
    f = tapegrad.trace(branchy, 1.0, 2.0).compile()
    with pytest.raises(ValueError) as error:
        f(-1.0, 2.0)
    assert "raise ValueError(" in "".join(traceback.format_exception(error.value))  # linecache has the source


def test_compiled_source_leaves_linecache_with_its_function() -> None:
    """1,500 compiled tapes kept 21 MB of source in linecache for good; now each source goes with its function."""

    def ours() -> set[str]:
        gc.collect()
        return {name for name in linecache.cache if name.startswith("<tapegrad ")}

    before = ours()
    kept = tapegrad.trace(branchy, 1.0, 2.0).compile()
    for i in range(200):  # distinct tapes: distinct sources
        tapegrad.trace(lambda x, y, c=float(i): x * y + c, 1.0, 2.0).compile()(1.0, 2.0)
    assert len(ours() - before) == 1
    same = tapegrad.trace(branchy, 1.0, 2.0).compile()  # the same source under a name of its own
    assert len(ours() - before) == 2
    del same
    with pytest.raises(ValueError) as error:
        kept(-1.0, 2.0)
    assert "raise ValueError(" in "".join(traceback.format_exception(error.value))
    del kept, error
    assert not ours() - before


# ---------------------------------------------------------------- 8. large tapes


def test_a_tape_of_100000_records_compiles_and_agrees() -> None:
    tape = tapegrad.trace(random_program(62_000, inputs=10, seed=3), *[0.1 * k for k in range(1, 11)])
    assert len(tape) >= 100_000
    f = tape.compile()
    point = [0.05 * k - 0.2 for k in range(10)]
    assert bits(f(*point)) == bits(tape(*point))
    assert any(name.startswith(f"_{f.__name__}_part") for name in f.__globals__)  # split into parts


@pytest.fixture
def part_size(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set how many statements a part holds.

    ``_render`` binds its ``part_size`` default from ``_PART_SIZE`` when it is
    defined, so patching the module constant would change nothing; its
    ``__defaults__`` are what ``to_source``, ``compile`` and ``export`` use.
    """

    def set_size(size: int) -> None:
        monkeypatch.setattr(codegen._render, "__defaults__", (size,))

    return set_size


def program_with_everything(x: Any, y: Any, z: Any) -> Any:
    r = x
    for k in range(12):
        r = where(r > y, (r * y + 1.0).tanh(), minimum(r, z) - 0.5 * k) + (z * z + 1.0).log()
        if k == 5 and x > 0:  # a guard in the middle
            r = r + x
    return (r, x, 2.0, r * z)


def work_of(function: ast.FunctionDef) -> list[ast.stmt]:
    """The statements that compute: no docstring, ``with np.errstate``, or return (with its batch shape)."""
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if isinstance(body[0], ast.With):
        body = body[0].body
    return [s for s in body if not isinstance(s, (ast.Return, ast.Delete)) and not _moves_a_value(s)
            and not _returns(s)]  # fmt: skip


def _returns(statement: ast.stmt) -> bool:
    """The return of numpy code: ``if type(x) is float ...: return ...`` and ``_shape = _batch_shape(...)``."""
    if isinstance(statement, ast.If):
        return isinstance(statement.body[0], ast.Return)
    return isinstance(statement, ast.Assign) and ast.unparse(statement.targets[0]) == "_shape"


def _moves_a_value(statement: ast.stmt) -> bool:
    """``t5 = s[3]`` or ``s[3] = t5``: a part reading or storing a value shared across parts."""
    if not isinstance(statement, ast.Assign):
        return False
    return isinstance(statement.value, ast.Subscript) or isinstance(statement.targets[0], ast.Subscript)


@pytest.mark.parametrize("size", [1, 2, 7, 50])
@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_parts_give_the_same_results(size: int, backend: str, part_size: Callable[[int], None]) -> None:
    whole = tapegrad.trace(program_with_everything, 1.0, 0.5, 2.0)
    whole_grad = gradient_tape(tapegrad.trace(lambda x, y, z: program_with_everything(x, y, z)[0], 1.0, 0.5, 2.0))
    reference = [whole.compile(backend), whole_grad.compile(backend)]
    statements = len(work_of(function_named(to_source(whole_grad, "f", backend), "f")))
    part_size(size)
    split = tapegrad.trace(program_with_everything, 1.0, 0.5, 2.0)
    split_grad = gradient_tape(tapegrad.trace(lambda x, y, z: program_with_everything(x, y, z)[0], 1.0, 0.5, 2.0))
    tree = ast.parse(to_source(split_grad, "f", backend))
    parts = [n for n in tree.body if isinstance(n, ast.FunctionDef) and re.fullmatch(r"_f_part[0-9]+", n.name)]
    assert len(parts) == math.ceil(statements / size) >= 2
    assert all(len(work_of(part)) <= size for part in parts)
    compiled = [split.compile(backend), split_grad.compile(backend)]
    points = [(1.0, 0.5, 2.0), (2.0, -1.0, 0.0), (0.1, 3.0, -2.0), (1e-300, 0.0, INF)]
    columns = [np.array(c) for c in zip(*points)]
    for f, g in zip(reference, compiled):
        for args in points if backend == "math" else [columns]:
            expected, got = f(*args), g(*args)
            assert type(got) is type(expected)
            assert all(np.array_equal(e, o, equal_nan=True) for e, o in zip(expected, got))
        with pytest.raises(ValueError, match=re.escape("x > 0")):
            g(-1.0, 0.5, 2.0) if backend == "math" else g(*[np.array([1.0, -1.0])] * 3)


def test_exported_parts(part_size: Callable[[int], None], tmp_path: Path) -> None:
    part_size(10)
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "parts.py"))
    assert any(name.startswith("_rosenbrock_value_and_grad_part") for name in vars(module))
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    for point in POINTS:
        assert module.rosenbrock_value_and_grad(*point) == tape.value_and_gradient(*point)


def test_generated_names_never_clash_with_user_names_past_20000_statements(tmp_path: Path) -> None:
    """An input named ``s`` gave ``SyntaxError: duplicate argument 's'`` once a function was split into parts."""
    names = ["s", "t0", "t1", "math", "np", "_s", "_batch", "_log", "_f_part0", "f", "x"]

    def long(*xs: Any) -> Any:
        y = xs[0]
        for _ in range(10_001):  # two records a step: over 20,000 statements, so two parts
            y = y * 1.0001 + xs[-1]
        return y + sum(xs[1:-1], 0.0)

    tape = tapegrad.trace(long, *[0.5] * len(names), names=names)
    point = [0.01 * (k + 1) for k in range(len(names))]
    for backend in ("math", "numpy"):
        source = to_source(tape, "f", backend)
        assert "def _f_part1(" in source
        assert bits(tape.compile(backend)(*point)) == bits(tape(*point))
    module = load_module(tapegrad.export(tape, tmp_path / "long.py", name="f"))
    assert "_f_value_and_grad_part1" in vars(module)
    assert module.f_value_and_grad(*point) == tape.value_and_gradient(*point)


# ---------------------------------------------------------------- 9. Tape.compile


def test_compile_is_cached_with_the_tapes_signature_and_a_docstring() -> None:
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    f = tape.compile()
    assert tape.compile() is f and tape.compile("math") is f
    assert tape.compile("numpy") is tape.compile("numpy") is not f
    for compiled in (f, tape.compile("numpy")):
        assert list(inspect.signature(compiled).parameters) == ["x", "y"]
        assert compiled.__doc__ and "x, y" in compiled.__doc__ and "out" in compiled.__doc__
        assert compiled.__name__ == "rosenbrock"
    assert f(0.5, 0.25) == tape(0.5, 0.25)


def test_compile_of_a_tape_named_like_nothing_python_allows() -> None:
    tape = tapegrad.trace(lambda x: x * 3.0, 1.0)
    f = tape.compile()
    assert f.__name__.isidentifier() and f(2.0) == 6.0
    assert f.__doc__ and "Inputs: x" in f.__doc__

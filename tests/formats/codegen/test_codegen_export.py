"""x"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from support import load_module

import tapegrad
from tapegrad.errors import (
    ArgumentCountError,
    InputTypeError,
    NonScalarOutputError,
    UnknownNameError,
    UnsupportedOpError,
)
from tapegrad.formats.codegen import to_source

from .programs import (
    MAKEMORE_SHAPES,
    MLP_SHAPES,
    POINTS,
    assert_close,
    assert_same,
    branchy,
    identical,
    imports_of,
    makemore,
    mlp,
    names_outside_strings,
    random_args,
    rosenbrock,
    run_written_tests,
    same,
)


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_export_writes_value_gradient_and_both(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend)
    assert path == tmp_path / "rosen.py"
    source = path.read_text(encoding="utf-8")
    assert imports_of(source) == (["import math"] if backend == "math" else ["import numpy as np"])
    assert "tapegrad" not in names_outside_strings(source)
    if backend == "numpy":
        assert "math" not in names_outside_strings(source)
    module = load_module(path)
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    if backend == "math":
        for point in POINTS:
            assert module.rosenbrock(*point) == tape(*point)
            assert module.rosenbrock_grad(*point) == tape.gradient(*point)
            assert module.rosenbrock_value_and_grad(*point) == tape.value_and_gradient(*point)
            assert type(module.rosenbrock_grad(*point)) is tuple
    else:
        x, y = (np.array(column) for column in zip(*POINTS))
        assert np.array_equal(module.rosenbrock(x, y), tape(x, y))
        for got, expected in zip(module.rosenbrock_grad(x, y), tape.gradient(x, y)):
            assert np.array_equal(got, expected)
        value, gradient = module.rosenbrock_value_and_grad(x, y)
        assert np.array_equal(value, tape(x, y)) and len(gradient) == 2


def test_export_names_default_to_the_function_or_tape(tmp_path: Path) -> None:
    def public(module: ModuleType) -> set[str]:
        return {n for n, v in vars(module).items() if callable(v) and not n.startswith("_")}

    assert public(load_module(tapegrad.export(rosenbrock, tmp_path / "a.py"))) == {
        "rosenbrock",
        "rosenbrock_grad",
        "rosenbrock_value_and_grad",
    }
    square = load_module(tapegrad.export(lambda x: x * x, tmp_path / "b.py"))
    assert public(square) == {"f", "f_grad", "f_value_and_grad"}
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    assert "rosenbrock_grad" in public(load_module(tapegrad.export(tape, tmp_path / "c.py")))
    assert "energy_grad" in public(load_module(tapegrad.export(tape, tmp_path / "d.py", name="energy")))


@pytest.mark.parametrize("structure", ["tuple", "list"])
def test_export_keeps_the_output_structure(structure: str, tmp_path: Path) -> None:
    """A function returning ``(y,)`` or ``[y]`` exports functions returning what the tape returns."""

    def boxed(x: Any) -> Any:
        y = x * x.sin()
        return (y,) if structure == "tuple" else [y]

    tape = tapegrad.trace(boxed, 1.0)
    module = load_module(tapegrad.export(tape, tmp_path / f"boxed_{structure}.py"))
    assert module.boxed(2.0) == tape(2.0)
    assert module.boxed_grad(2.0) == tape.gradient(2.0)
    assert module.boxed_value_and_grad(2.0) == tape.value_and_gradient(2.0)


HIDDEN_RUN = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # `import name` now fails: the module must not need it
import importlib.util
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
points = [(0.5, 0.25), (-1.25, 2.0), (1.0, 1.0), (3.0, -0.5)]
def plain(v):
    return v.tolist() if hasattr(v, "tolist") else v
results = [[plain(module.rosenbrock(*p)), [plain(g) for g in module.rosenbrock_grad(*p)]] for p in points]
print(json.dumps(results))
"""


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_exported_module_runs_without_tapegrad(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend)
    hidden = ["tapegrad"] + (["numpy"] if backend == "math" else [])
    result = subprocess.run(
        [sys.executable, "-c", HIDDEN_RUN, str(path), *hidden],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    for (value, gradient), point in zip(json.loads(result.stdout), POINTS):
        assert same(tape(*point), value)
        assert_same(tape.gradient(*point), gradient, f"gradient at {point}")


def test_export_with_tests_of_a_boxed_output(tmp_path: Path) -> None:
    """``tests=True`` for a function returning ``(y,)``: the written tests pass."""

    def boxed(x: Any) -> Any:
        return ((x * x.sin()).exp(),)

    tapegrad.export(boxed, tmp_path / "boxed.py", tests=True)
    result = run_written_tests(tmp_path / "test_boxed.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize("backend", ["math", "numpy"])
def test_export_with_tests_writes_a_passing_pytest_file(backend: str, tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", backend=backend, tests=True)
    test_file = tmp_path / "test_rosen.py"
    assert test_file.exists()
    source = test_file.read_text(encoding="utf-8")
    assert "tapegrad" not in names_outside_strings(source)
    assert path.name in source
    result = run_written_tests(test_file, ["tapegrad"] + (["numpy"] if backend == "math" else []))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b[1-9][0-9]* passed", result.stdout)
    assert "failed" not in result.stdout and "error" not in result.stdout


def test_written_tests_catch_a_wrong_module(tmp_path: Path) -> None:
    path = tapegrad.export(rosenbrock, tmp_path / "rosen.py", tests=True)
    path.write_text(path.read_text(encoding="utf-8").replace("100.0", "100.5"), encoding="utf-8")
    result = run_written_tests(tmp_path / "test_rosen.py", ["tapegrad", "numpy"])
    assert result.returncode != 0 and "failed" in result.stdout


def test_written_tests_work_for_a_module_file_name_that_is_no_identifier(tmp_path: Path) -> None:
    """``export(f, "my-model.py", tests=True)``: the test file must parse and import the module by its path."""
    tapegrad.export(rosenbrock, tmp_path / "my-model.py", tests=True)
    (test_file,) = tmp_path.glob("test_*.py")
    ast.parse(test_file.read_text(encoding="utf-8"))
    result = run_written_tests(test_file, ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_refuses_several_outputs(tmp_path: Path) -> None:
    with pytest.raises(NonScalarOutputError):
        tapegrad.export(lambda x, y: (x * y, x + y), tmp_path / "two.py")
    assert not (tmp_path / "two.py").exists()


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    tape = tapegrad.trace(rosenbrock, 1.0, 2.0)
    with pytest.raises(UnknownNameError, match="numpy"):
        to_source(tape, backend="jax")
    with pytest.raises(UnknownNameError):
        tape.compile("torch")
    with pytest.raises(UnknownNameError):
        tapegrad.export(tape, tmp_path / "out.py", backend="fortran")
    assert not (tmp_path / "out.py").exists()


# ---------------------------------------------------------------- 8. export options: wrt, test points, batch axes


def outside_unit_range(x: Any, y: Any) -> Any:
    """Finite only for x < 0 and y > 20: no point of [0.2, 1.5]^2 works (a physics formula's domain)."""
    return (-x).sqrt() * (y - 20.0).log()


def test_export_wrt_differentiates_only_those_inputs(tmp_path: Path) -> None:
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "rosen.py", wrt=["y"]))
    tape = tapegrad.trace(rosenbrock, 1.0, 1.0)
    assert module.rosenbrock_grad(0.5, 2.0) == (tape.gradient(0.5, 2.0)[1],)
    assert module.rosenbrock_value_and_grad(0.5, 2.0) == (tape(0.5, 2.0), (tape.gradient(0.5, 2.0)[1],))
    module = load_module(tapegrad.export(rosenbrock, tmp_path / "rosen_x.py", wrt=0))
    assert module.rosenbrock_grad(0.5, 2.0) == (tape.gradient(0.5, 2.0)[0],)
    with pytest.raises(UnknownNameError, match="names no input"):
        tapegrad.export(rosenbrock, tmp_path / "bad.py", wrt=["z"])


def test_export_tests_search_for_finite_points(tmp_path: Path) -> None:
    tapegrad.export(outside_unit_range, tmp_path / "domain.py", tests=True)
    source = (tmp_path / "test_domain.py").read_text(encoding="utf-8")
    rows = [line.strip().rstrip(",") for line in source.splitlines() if line.startswith("    ([")]
    points = [ast.literal_eval(row)[0] for row in rows]
    assert len(points) == 3 and all(x < 0 and y > 20 for x, y in points)
    again = tmp_path / "again"
    again.mkdir()
    tapegrad.export(outside_unit_range, again / "domain.py", tests=True)
    assert (again / "test_domain.py").read_text(encoding="utf-8") == source  # the search is deterministic
    result = run_written_tests(tmp_path / "test_domain.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_tests_at_the_users_points(tmp_path: Path) -> None:
    tapegrad.export(outside_unit_range, tmp_path / "domain.py", tests=True, wrt="y", test_points=[[-4.0, 21.0]])
    source = (tmp_path / "test_domain.py").read_text(encoding="utf-8")
    assert "WRT = [1]" in source and "    ([-4.0, 21.0], 0.0, [2.0])," in source
    result = run_written_tests(tmp_path / "test_domain.py", ["tapegrad", "numpy"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_export_tests_refuse_bad_points_and_nowhere_finite_functions(tmp_path: Path) -> None:
    with pytest.raises(InputTypeError, match=r"at test_points\[0\] the function or its gradient is not finite"):
        tapegrad.export(outside_unit_range, tmp_path / "a.py", tests=True, test_points=[[1.0, 2.0]])
    with pytest.raises(ArgumentCountError, match=r"test_points\[0\] has 1 entries.*takes 2 inputs"):
        tapegrad.export(outside_unit_range, tmp_path / "b.py", tests=True, test_points=[[1.0]])
    with pytest.raises(InputTypeError, match="test_points is empty"):
        tapegrad.export(outside_unit_range, tmp_path / "c.py", tests=True, test_points=[])
    with pytest.raises(InputTypeError, match=r"not finite .* at any of the \d+ test points tried.*pass test_points="):
        tapegrad.export(lambda x: (x - x).log(), tmp_path / "d.py", tests=True)
    assert not list(tmp_path.glob("test_*.py"))


def test_guard_messages_name_the_file_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = tapegrad.trace(branchy, 1.0, 2.0)
    here = Path(branchy.__code__.co_filename).resolve()  # the file the guard is written in (programs.py)
    monkeypatch.chdir(here.parents[3])  # the repository
    source = to_source(tape)
    assert f"at tests/formats/codegen/{here.name}:" in source and str(here) not in source
    monkeypatch.chdir(tmp_path)  # the file is not below the working directory: its name alone
    source = to_source(tape)
    assert f"at {here.name}:" in source and str(here.parent) not in source
    with pytest.raises(ValueError, match=rf"x > 0 \(recorded True\) at {here.name}:\d+"):
        load_module(tapegrad.export(tape, tmp_path / "branchy.py")).branchy(-1.0, 2.0)


# ---------------------------------------------------------------- 5. export

RUN_HIDDEN = """
import json, sys
sys.modules["tapegrad"] = None  # `import tapegrad` now fails: the module must not need it
import numpy as np
import importlib.util
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
args = [np.array(a) for a in json.loads(sys.argv[2])]
value, grads = module.makemore_value_and_grad(*args)
print(json.dumps([module.makemore(*args), value, [g.tolist() for g in module.makemore_grad(*args)],
                  [g.tolist() for g in grads]]))
"""


def test_an_exported_array_module_runs_without_tapegrad(tmp_path: Path) -> None:
    args = random_args(MAKEMORE_SHAPES)
    tape = tapegrad.trace(makemore, *args)
    path = tapegrad.export(tape, tmp_path / "makemore.py", name="makemore", backend="numpy")
    result = subprocess.run(
        [sys.executable, "-c", RUN_HIDDEN, str(path), json.dumps([a.tolist() for a in args])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    value, also, grads, grads_too = json.loads(result.stdout)
    expected_value, expected_grads = tape.value_and_gradient(*args)
    assert value == also == expected_value
    for e, g, h in zip(expected_grads, grads, grads_too):
        assert_close(e, np.array(g))
        assert g == h
    module = load_module(path)
    assert all(identical(e, g) for e, g in zip(module.makemore_grad(*args), tapegrad.optimize(
        tapegrad.functional.transforms.select_outputs(tapegrad.grad_tape(tape), range(1, 6)))(*args)))  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_export_with_tests_writes_passing_array_tests(dtype: Any, tmp_path: Path) -> None:
    args = random_args(MLP_SHAPES, dtype, seed=3)
    tapegrad.export(tapegrad.trace(mlp, *args), tmp_path / "mlp.py", name="mlp", backend="numpy", tests=True)
    test_file = tmp_path / "test_mlp.py"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep the project's configuration out
    runner = "import sys; sys.modules['tapegrad'] = None; import pytest; raise SystemExit(pytest.main(['-q', '-p', "
    runner += f"'no:cacheprovider', {test_file.name!r}]))"
    result = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout


def test_written_array_tests_catch_a_wrong_module(tmp_path: Path) -> None:
    tape = tapegrad.trace(lambda W, x: (W @ x).tanh().sum(), *random_args([(2, 3), (3,)], np.float32))
    path = tapegrad.export(tape, tmp_path / "f.py", name="f", backend="numpy", tests=True)
    path.write_text(path.read_text(encoding="utf-8").replace("np.tanh(", "np.sin("), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_f.py"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode != 0 and "failed" in result.stdout


# ---------------------------------------------------------------- 6. the math backend


def test_the_math_backend_refuses_array_tapes(tmp_path: Path) -> None:
    tape = tapegrad.trace(mlp, *random_args(MLP_SHAPES))
    for attempt in (lambda: tape.compile(), lambda: to_source(tape), lambda: tapegrad.export(tape, tmp_path / "m.py")):
        with pytest.raises(UnsupportedOpError, match='backend="numpy"') as error:
            attempt()
        assert "W1: f64[3,5]" in str(error.value)
    assert not (tmp_path / "m.py").exists()


# ---------------------------------------------------------------- batch axes (issue 19)


def one_layer(W: Any, x: Any) -> Any:
    return (W @ x).tanh().sum()


def test_export_batch_axes_maps_over_leading_axes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    W, xs = rng.normal(size=(2, 3)), rng.normal(size=(5, 4, 3))
    tape = tapegrad.trace(one_layer, W, xs[0, 0])
    module = load_module(tapegrad.export(tape, tmp_path / "layer.py", backend="numpy", batch_axes=2))
    values = module.one_layer(W, xs)
    grad_W, grad_x = module.one_layer_grad(W, xs)
    assert values.shape == (5, 4) and grad_W.shape == (5, 4, 2, 3) and grad_x.shape == (5, 4, 3)
    for i, j in np.ndindex(5, 4):  # each element exactly as the tape computes it
        assert values[i, j] == tape(W, xs[i, j])
        assert np.array_equal(grad_W[i, j], tape.gradient(W, xs[i, j])[0])
        assert np.array_equal(grad_x[i, j], tape.gradient(W, xs[i, j])[1])
    value, (g_W, g_x) = module.one_layer_value_and_grad(W, xs)
    assert np.array_equal(value, values) and np.array_equal(g_W, grad_W) and np.array_equal(g_x, grad_x)
    assert module.one_layer(W, xs[0, 0]) == tape(W, xs[0, 0])  # the recorded shapes: one result
    empty = module.one_layer_grad(W, xs[:0])
    assert empty[0].shape == (0, 4, 2, 3) and empty[1].shape == (0, 4, 3)
    with pytest.raises(ValueError, match=r"input 1 has shape \(5, 4, 2\); expected \(3,\), or 2 leading batch axes"):
        module.one_layer(W, np.ones((5, 4, 2)))


def test_batch_axes_is_for_array_tapes_on_numpy(tmp_path: Path) -> None:
    tape = tapegrad.trace(one_layer, np.ones((2, 3)), np.ones(3))
    with pytest.raises(InputTypeError, match='use backend="numpy"'):
        tapegrad.export(tape, tmp_path / "a.py", batch_axes=1)
    with pytest.raises(InputTypeError, match="already takes arrays of any shape"):
        tapegrad.export(lambda x: x * x, tmp_path / "b.py", backend="numpy", batch_axes=1)
    with pytest.raises(InputTypeError, match="batch_axes must be a whole number >= 0"):
        tapegrad.export(tape, tmp_path / "c.py", backend="numpy", batch_axes=-1)
    assert not list(tmp_path.iterdir())

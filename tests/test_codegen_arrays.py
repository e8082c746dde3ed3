"""Generated numpy source for array tapes (tapegrad.codegen with ``Value`` holding arrays).

The specification, section by section:

1. agreement: for an MLP (matmul, broadcasting add, tanh and relu, sum and
   mean) and a makemore-style model (an embedding lookup with repeated rows,
   cross-entropy, log_softmax, logsumexp), eager ``backward()``, replay
   (``tape(...)``, ``tape.gradient(...)``) and the compiled numpy code give
   the same numbers: generated code and the interpreter replaying the same
   tape agree bit for bit, and with the eager sweep to 1e-15 relative;
   so do concatenate/stack, reshape/transpose, slicing and float32 inputs;
2. what a generated function takes and returns: arrays of the recorded
   shapes (checked, converted to the recorded dtype), outputs of their own
   shapes (never broadcast to a batch), a float for a float64 scalar;
3. readable, exact source: attributes as literal source, array constants as
   read-only module constants built once, the helpers copied in;
4. strong zeros through broadcasting records;
5. export: a standalone module (imported with tapegrad blocked), and its
   written tests;
6. the math backend refuses array tapes, pointing to ``backend="numpy"``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import load_module

import tapegrad
from tapegrad.errors import InputTypeError, UnsupportedOpError
from tapegrad.formats.codegen import array_source, tape_hash, to_source

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


def shapes_and_slices(a: Any, b: Any) -> Any:
    """concatenate, stack, reshape, transpose, slices with steps, max and logsumexp over axes."""
    joined = tapegrad.concatenate([a, 2.0 * b, a.T.reshape(2, 3)], axis=0)  # (8, 3)
    stacked = tapegrad.stack([a, a.exp(), a * b[1]], axis=1)  # (2, 3, 3)
    top = joined.max(axis=1, keepdims=True)
    r = (joined - top).sum() + stacked.transpose(2, 0, 1)[1].sum() + tapegrad.logsumexp(joined, axis=0).sum()
    r = r + a[:, 1:3].sum() + a[1, ::-1].sum() + stacked[..., None, -1].sum() + joined[::3, 0].sum()
    return r + tapegrad.concatenate([a, b[:2]], axis=0).mean(axis=0).sum()


def random_args(shapes: Sequence[tuple[int, ...]], dtype: Any = np.float64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in shapes]


def eager_value_and_grad(f: Callable[..., Any], args: Sequence[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    params = [tapegrad.Value(a) for a in args]
    loss = f(*params)
    loss.backward()
    return float(loss.data), [p.grad for p in params]


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


def gradient_code(tape: tapegrad.Tape) -> tuple[tapegrad.Tape, Callable[..., Any]]:
    g = tapegrad.optimize(tapegrad.grad_tape(tape))
    return g, g.compile("numpy")


# ---------------------------------------------------------------- 1. agreement


@pytest.mark.parametrize("f, shapes", [(mlp, MLP_SHAPES), (makemore, MAKEMORE_SHAPES)], ids=["mlp", "makemore"])
def test_eager_replay_and_compiled_agree(f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    args = random_args(shapes)
    tape = tapegrad.trace(f, *args)
    eager_value, eager_grads = eager_value_and_grad(f, args)
    value, grads = tape.value_and_gradient(*args)
    g, compiled_grad = gradient_code(tape)
    compiled = tape.compile("numpy")
    assert identical(value, compiled(*args)) and identical(eager_value, value)
    for other in random_args(shapes, seed=1), args:  # the recorded point and a new one
        assert identical(tape(*other), compiled(*other))
        replayed, generated = g(*other), compiled_grad(*other)
        assert all(identical(r, c) for r, c in zip(replayed, generated)), "generated code vs replay of its tape"
        for e, c in zip(tape.gradient(*other), generated[1:]):
            assert_close(e, c)
    for e, r in zip(eager_grads, grads):
        assert_close(e, r)


def test_embedding_rows_used_twice_get_both_gradients() -> None:
    """The backward of ``C[contexts]`` adds every pick (``np.add.at``), so a row used twice gets both shares."""
    args = random_args(MAKEMORE_SHAPES)
    tape = tapegrad.trace(makemore, *args)
    g, compiled_grad = gradient_code(tape)
    source = to_source(g, "f", "numpy")
    assert "np.add.at" in source and "_scatter(" in source
    grad_C = compiled_grad(*args)[1]
    h = 1e-6
    for row, col in [(0, 0), (3, 1), (2, 0)]:  # token 0 is picked seven times, token 2 never
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[0][row, col] += h
        down[0][row, col] -= h
        estimate = (tape(*up) - tape(*down)) / (2 * h)
        assert grad_C[row, col] == pytest.approx(estimate, rel=1e-6, abs=1e-9)
    assert np.all(grad_C[2] == 0.0)


def test_concatenate_stack_reshape_transpose_and_slices() -> None:
    args = random_args([(2, 3), (4, 3)])
    tape = tapegrad.trace(shapes_and_slices, *args)
    g, compiled_grad = gradient_code(tape)
    source = to_source(g, "f", "numpy")
    for piece in ["np.concatenate([a, ", "axis=0)", "np.transpose(", "[:, 1:3]", "[1, ::-1]", "[..., None, -1]",
                  "[::3, 0]", "axis=(1,), keepdims=True"]:  # fmt: skip
        assert piece in source, piece
    compiled = tape.compile("numpy")
    for point in args, random_args([(2, 3), (4, 3)], seed=5):
        assert identical(tape(*point), compiled(*point))
        assert all(identical(r, c) for r, c in zip(g(*point), compiled_grad(*point)))
        for e, c in zip(tape.gradient(*point), compiled_grad(*point)[1:]):
            assert_close(e, c)


def test_boolean_masks_negative_indices_and_integer_arrays() -> None:
    mask = np.array([True, False, True])

    def f(x: Any) -> Any:
        return x[mask].sum() + (x[-1] * x[np.array([2, 2, 0])]).sum() + x[1:, mask][::-1].max()

    x = random_args([(3, 3)])[0]
    tape = tapegrad.trace(f, x)
    g, compiled_grad = gradient_code(tape)
    assert "dtype=np.bool_" in to_source(g, "f", "numpy")
    assert identical(tape(x), tape.compile("numpy")(x))
    assert all(identical(r, c) for r, c in zip(g(x), compiled_grad(x)))


@pytest.mark.parametrize("f, shapes", [(mlp, MLP_SHAPES), (makemore, MAKEMORE_SHAPES)], ids=["mlp", "makemore"])
def test_float32_inputs(f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    """float32 arithmetic all the way, as the interpreter does it."""
    args = random_args(shapes, np.float32)
    tape = tapegrad.trace(f, *args)
    compiled = tape.compile("numpy")
    out = compiled(*args)
    assert identical(tape(*args), out) and np.asarray(out).dtype == np.float32
    g, compiled_grad = gradient_code(tape)
    assert all(identical(r, c) for r, c in zip(g(*args), compiled_grad(*args)))
    for e, c in zip(tape.gradient(*args), compiled_grad(*args)[1:]):
        assert_close(e, c, rtol=1e-5)
    assert ", np.float32)" in to_source(g, "f", "numpy")


def test_gradient_code_of_a_float32_tape_gives_float32_gradients() -> None:
    x = np.ones(3, dtype=np.float32)
    for f in (lambda x: x.sum(), lambda x: (x**2).mean(), lambda x: x.max(), tapegrad.logsumexp):
        tape = tapegrad.trace(f, x)
        _, compiled_grad = gradient_code(tape)
        assert tape.gradient(x)[0].dtype == compiled_grad(x)[1].dtype == np.float32
        assert np.asarray(tape.compile("numpy")(x)).dtype == np.float32


def weak_scalar(x: Any, y: Any) -> Any:
    return (y * x.sum()).sum() * x.mean()  # float64 scalars meeting float32: recorded as float32


def test_a_float64_scalar_does_not_promote_float32_as_recorded() -> None:
    x, y = np.arange(3.0), np.ones(3, dtype=np.float32)
    tape = tapegrad.trace(weak_scalar, x, y)
    assert type(tape.values[tape.output_slots[0]]) is not float  # recorded: float32
    source = to_source(tape, "f", "numpy")
    assert "y * float(t0)" in source  # numpy's float64 scalar is strong; a Python float is weak
    out = tape.compile("numpy")(x, y)
    assert out.dtype == np.float32 and out == 9.0


def test_a_float64_scalar_meeting_float32_arrays_replays_as_recorded() -> None:
    x, y = np.arange(3.0), np.ones(3, dtype=np.float32)
    tape = tapegrad.trace(weak_scalar, x, y)
    assert identical(tape.compile("numpy")(x, y), tape(x, y))


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


# ---------------------------------------------------------------- 4. strong zeros


def test_strong_zeros_survive_broadcasting_records() -> None:
    """Where ``where`` sends a zero adjoint, sqrt's infinite derivative must not make a nan, broadcast or not."""

    def f(x: Any, b: Any) -> Any:
        return tapegrad.where(x > 0.0, (x * b).sqrt(), 0.0).sum()

    x = np.array([[0.0, 1.0, 4.0], [-1.0, 0.0, 9.0]])
    b = np.array([1.0, 0.0, 2.0])  # x * b is 0 at (0, 0), (0, 1), (1, 1)
    tape = tapegrad.trace(f, x, b)
    g, compiled_grad = gradient_code(tape)
    assert tape.broadcasts
    grads = compiled_grad(x, b)[1:]
    assert all(identical(r, c) for r, c in zip(g(x, b)[1:], grads))
    assert np.all(np.isfinite(grads[0][x <= 0.0])), grads
    for e, c in zip(tape.gradient(x, b), grads):
        np.testing.assert_array_equal(e, c)


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


def test_exported_module_runs_without_tapegrad(tmp_path: Path) -> None:
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

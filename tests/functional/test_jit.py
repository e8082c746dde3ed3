"""tapegrad.jit: compiled code equal to eager, retracing per shape and branch, captured parameters as inputs."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.errors import ArgumentCountError, ConcretizationError, InputTypeError, RetraceWarning
from tapegrad.functional.compiled import STALE, Compiled, backend_for
from tapegrad.nn import MLP as ScalarMLP
from tapegrad.nn import SGD, Adam, functional_call
from tapegrad.nn.batched import MLP
from tests.test_examples import load  # the examples, imported from their files


def same(a: Any, b: Any) -> bool:
    """Bit for bit: equal numbers, nan where nan, and the same sign of every zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b)))) and bool(
        np.all(np.signbit(a) == np.signbit(b))
    )


def scalar_f(x: Any, y: Any) -> Any:
    return (x * y).tanh() + (x / (1 + y * y)).exp() - x.relu() * 0.5


def array_f(W: Any, x: Any) -> Any:
    return ((x @ W).tanh() ** 2).sum() + W.max() * 0.25


# ---------------------------------------------------------------- values and gradients


@pytest.mark.parametrize("point", [(0.3, -1.2), (-2.0, 0.0), (0.0, -0.0), (1e300, 3.0), (float("nan"), 1.0)])
def test_scalar_values_equal_eager_bit_for_bit_on_math_code(point: tuple[float, float]) -> None:
    f = tapegrad.jit(scalar_f)
    got = f(*point)
    assert type(got) is float and f.programs[0].backend == "math"
    assert same(got, scalar_f(Value(point[0]), Value(point[1])).data)


@pytest.mark.parametrize("point", [(0.3, -1.2), (-2.0, 0.0), (0.0, -0.0)])
def test_scalar_gradients_of_a_jitted_value_and_grad_equal_eager_backward(point: tuple[float, float]) -> None:
    f = tapegrad.jit(tapegrad.value_and_grad(scalar_f, argnums=(0, 1)))
    value, (gx, gy) = f(*point)
    x, y = Value(point[0]), Value(point[1])
    out = scalar_f(x, y)
    out.backward()
    assert same(value, out.data) and same(gx, x.grad) and same(gy, y.grad)
    assert f.programs[0].backend == "math"


def test_array_values_and_backward_gradients_equal_eager_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    W0, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    W = Value(W0.copy())

    @tapegrad.jit
    def loss(x: Any) -> Any:
        out = array_f(W, x)
        out.backward()
        return out

    got = loss(x)
    eager_W = Value(W0.copy())
    want = array_f(eager_W, x)
    want.backward()
    assert loss.programs[0].backend == "numpy"
    assert same(got, want.data) and same(W.grad, eager_W.grad)


def test_backward_inside_adds_to_grad_as_eager_backward_does() -> None:
    W = Value(np.array([1.0, -2.0]))
    f = tapegrad.jit(lambda x: _backward_of((W * x).sum()))
    f(np.array([3.0, 4.0]))
    f(np.array([3.0, 4.0]))  # a second call adds again, as a second backward() would
    assert same(W.grad, [6.0, 8.0])


def _backward_of(loss: Any) -> Any:
    loss.backward()
    return loss


def test_value_arguments_receive_their_gradients() -> None:
    f = tapegrad.jit(lambda a, b: _backward_of((a * b).sum()))
    a, b = Value(np.array([1.0, 2.0])), Value(np.array([3.0, 5.0]))
    f(a, b)
    assert same(a.grad, [3.0, 5.0]) and same(b.grad, [1.0, 2.0])
    c = Value(np.array([7.0, 7.0]))
    f(c, b)  # the same program, this call's Values
    assert same(c.grad, [3.0, 5.0]) and same(b.grad, [1.0 + 7.0, 2.0 + 7.0]) and f.traces == 1


# ---------------------------------------------------------------- retracing and the cache


def test_traces_again_on_new_shapes_and_keeps_the_old_program() -> None:
    f = tapegrad.jit(lambda x: (x * x).sum())
    assert f(np.ones(3)) == 3.0 and f(np.ones(4)) == 4.0 and f(np.ones(3)) == 3.0
    assert f.traces == 2 and len(f.programs) == 2
    assert f(np.ones((2, 2), dtype=np.float32)) == 4.0 and f.traces == 3  # a dtype is part of the signature


def test_traces_again_on_another_branch_and_never_runs_a_stale_one() -> None:
    @tapegrad.jit
    def f(x: Any) -> Any:
        return x * 2 if x > 0 else -x

    assert f(3.0) == 6.0 and f(-3.0) == 3.0 and f(2.0) == 4.0 and f(-1.0) == 1.0
    assert f.traces == 2 and (f.tapes[0](-5.0), f.tapes[1](5.0)) == ((5.0,), (10.0,))  # guards kept
    assert {p.key[1][1] for p in f.programs} == {(True,), (False,)}


def test_array_guards_are_checked_in_the_generated_code() -> None:
    @tapegrad.jit
    def f(x: Any) -> Any:
        return x.sum() * 2 if x.sum() > 0 else x.sum()

    assert f(np.array([1.0, 2.0])) == 6.0 and f(np.array([-1.0, -2.0])) == -3.0 and f.traces == 2


def test_the_cache_keeps_at_most_cache_size_programs_least_recently_used_dropped() -> None:
    f = tapegrad.jit(lambda x: x.sum(), cache_size=2)
    for n in (1, 2, 1, 3):
        f(np.ones(n))
    assert len(f.programs) == 2 and f.traces == 3
    assert [p.key[0][0][0] for p in f.programs] == [(3,), (1,)]  # 2 was the least recently used
    f(np.ones(2))
    assert f.traces == 4
    assert tapegrad.jit(lambda x: x).cache_size == 16


def test_clear_drops_every_program() -> None:
    f = tapegrad.jit(lambda x: x + 1.0)
    f(1.0)
    f.clear()
    assert f.programs == [] and f(1.0) == 2.0 and f.traces == 2


def test_many_retraces_warn_once() -> None:
    f = tapegrad.jit(lambda x: x.sum(), cache_size=2)
    with pytest.warns(RetraceWarning, match="traced <lambda> again on 11 of its last 20 calls"):
        for n in range(1, 15):
            f(np.ones(n))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in range(15, 40):
            f(np.ones(n))


def test_backend_for_chooses_numpy_for_arrays_and_math_for_floats() -> None:
    assert backend_for(tapegrad.trace(lambda x: x * 2, 1.0), [1.0]) == "math"
    assert backend_for(tapegrad.trace(lambda x: x * 2, np.ones(2)), [np.ones(2)]) == "numpy"


def test_the_stale_messages_are_the_generated_codes() -> None:
    """The jit tells "not this program" from other errors by these texts: they must stay codegen's."""
    tape = tapegrad.trace(lambda x: x * 2 if x > 0 else -x, 1.0)
    with pytest.raises(ValueError, match=STALE[0]):
        tape.compile("math")(-1.0)
    array = tapegrad.trace(lambda x: x.sum(), np.ones(2))
    with pytest.raises(ValueError, match=STALE[1]):
        array.compile("numpy")(np.ones(3))


def test_other_errors_of_the_generated_code_are_raised() -> None:
    table = Value(np.ones((3, 2)))
    f = tapegrad.jit(lambda ids: table[ids].sum())
    assert f(np.array([0, 2])) == 4.0
    with pytest.raises(ValueError, match=r"indices must be whole numbers in \[0, 3\)"):
        f(np.array([0, 5]))


# ---------------------------------------------------------------- captured Values


def test_captured_parameters_are_inputs_so_optimiser_updates_are_used() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    model = MLP(2, [4, 1], seed=0)
    twin = MLP(2, [4, 1], seed=0)

    def step_of(m: MLP) -> Any:
        def step(X: Any, y: Any) -> Any:
            loss = ((m(X) - y) ** 2).mean()
            loss.backward()
            return loss

        return step

    jitted, eager = tapegrad.jit(step_of(model)), step_of(twin)
    optimizer, twin_optimizer = Adam(model.parameters(), lr=0.05), Adam(twin.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        twin_optimizer.zero_grad()
        loss, want = jitted(X, y), eager(X, y)
        optimizer.step()
        twin_optimizer.step()
        assert same(loss, want.data)
        losses.append(loss)
    assert losses[-1] < losses[0] and jitted.traces == 1
    assert all(same(p.data, q.data) for p, q in zip(model.parameters(), twin.parameters()))
    assert len(jitted.programs[0].captured) == 4  # two weights, two biases


def test_a_captured_value_of_a_new_shape_traces_again() -> None:
    W = Value(np.ones(2))
    f = tapegrad.jit(lambda x: (W * x).sum())
    assert f(2.0) == 4.0
    W.data = np.ones(3)
    assert f(2.0) == 6.0 and f.traces == 2


def test_a_captured_float_that_becomes_an_array_traces_again() -> None:
    w = Value(2.0)
    f = tapegrad.jit(lambda x: w * x)
    assert f(3.0) == 6.0 and f.programs[0].backend == "math"
    w.data = np.array([1.0, 2.0])
    assert same(f(3.0), [3.0, 6.0]) and f.programs[0].backend == "numpy" and f.traces == 2


def test_parameters_in_a_jitted_value_and_grad_are_inputs_too() -> None:
    """A trace nested in the jit's (value_and_grad traces f) captures the jit's input, not a constant."""
    w = Value(2.0)
    f = tapegrad.jit(tapegrad.value_and_grad(lambda x: w * x * x))
    assert f(3.0) == (18.0, 12.0)
    w.data = 5.0
    assert f(3.0) == (45.0, 30.0) and f.traces == 1


def test_reading_or_writing_numbers_of_a_value_inside_is_refused() -> None:
    W = Value(np.ones(2))
    optimizer = SGD([W], lr=0.1)
    for body in (lambda x: x * W.data, lambda x: x * W.grad):
        with pytest.raises(ConcretizationError, match="inside a function tapegrad.jit is tracing"):
            tapegrad.jit(body)(1.0)
    with pytest.raises(ConcretizationError, match="float\\(\\) of a traced Value"):  # W.sum() is traced
        tapegrad.jit(lambda x: x * float(W.sum()))(1.0)

    def steps_inside(x: Any) -> Any:
        loss = (W * x).sum()
        loss.backward()
        optimizer.step()
        return loss

    with pytest.raises(ConcretizationError, match="optimizer.step\\(\\) and read .data or .grad outside"):
        tapegrad.jit(steps_inside)(1.0)
    assert same(W.data, [1.0, 1.0])  # nothing was updated


def test_repr_of_a_captured_value_inside_is_allowed() -> None:
    w = Value(2.0, name="w")
    shown: list[str] = []
    f = tapegrad.jit(lambda x: shown.append(repr(w)) or w * x)
    assert f(3.0) == 6.0 and shown == ["Value(data=2.0, grad=0.0, name='w')"]


def test_backward_cannot_reach_past_an_eager_result() -> None:
    W = Value(np.ones(2))
    doubled = W * 2.0  # eager, not a leaf
    with pytest.raises(ConcretizationError, match="computed by eager operations outside the jitted function"):
        tapegrad.jit(lambda x: _backward_of((doubled * x).sum()))(1.0)
    g = tapegrad.jit(lambda a: _backward_of((a * a).sum()))
    g(Value(np.ones(2)))
    with pytest.raises(ConcretizationError, match="argument 0, a Value computed by eager operations"):
        g(W * 3.0)


# ---------------------------------------------------------------- composition and errors


def test_value_and_grad_of_a_jitted_function_is_correct() -> None:
    f = tapegrad.jit(scalar_f)
    value, grad = tapegrad.value_and_grad(f, argnums=(0, 1))(0.3, -1.2)
    want_value, want_grad = tapegrad.value_and_grad(scalar_f, argnums=(0, 1))(0.3, -1.2)
    assert same(value, want_value) and same(grad, want_grad)
    assert tapegrad.grad(tapegrad.grad(tapegrad.jit(lambda x: x**3)))(2.0) == 12.0


def test_function_compile_true_is_jit() -> None:
    f = tapegrad.function(scalar_f, compile=True)
    g = tapegrad.function(cache_size=3, compile=True)(scalar_f)
    assert isinstance(f, Compiled) and isinstance(g, Compiled) and g.cache_size == 3
    assert f(0.5, 2.0) == tapegrad.function(scalar_f)(0.5, 2.0)
    assert f.__name__ == "scalar_f" and isinstance(tapegrad.jit(cache_size=2), functools.partial)


def test_misuse_raises_clear_errors() -> None:
    f = tapegrad.jit(scalar_f)
    with pytest.raises(ArgumentCountError, match=r"scalar_f\(x: 'Any', y: 'Any'\) -> 'Any' cannot be traced with 1 "):
        f(1.0)
    with pytest.raises(ArgumentCountError, match="takes its inputs by position, got keyword argument\\(s\\) y"):
        f(1.0, y=2.0)
    with pytest.raises(InputTypeError, match="cache_size must be a positive int"):
        tapegrad.jit(scalar_f, cache_size=0)
    with pytest.raises(InputTypeError, match="tapegrad.jit takes a function, got int"):
        tapegrad.jit(3)  # type: ignore[arg-type]
    with pytest.raises(tapegrad.errors.OutputTypeError, match="must return Values, numbers or arrays"):
        tapegrad.jit(lambda x: "text")(1.0)


# ---------------------------------------------------------------- functional_call


def test_functional_call_equals_the_module_call_and_puts_the_parameters_back() -> None:
    model = MLP(2, [3, 1], seed=4)
    X = np.random.default_rng(2).standard_normal((5, 2))
    own = model.parameters()
    doubled = [Value(p.data * 2.0) for p in own]
    twin = MLP(2, [3, 1], seed=4)
    for p, q in zip(twin.parameters(), doubled):
        p.data = q.data
    assert same(functional_call(model, doubled, X).data, twin(X).data)
    assert same(functional_call(model, own, X).data, model(X).data)
    assert all(p is q for p, q in zip(model.parameters(), own))


def test_functional_call_on_microgrades_scalar_mlp_gives_gradients_by_value_and_grad() -> None:
    model = ScalarMLP(2, [3, 1], seed=0)
    params = [p.data for p in model.parameters()]

    def loss(*ps: Any) -> Any:
        return (functional_call(model, ps, [0.5, -1.0]) - 1.0) ** 2

    value, grads = tapegrad.value_and_grad(loss, argnums=tuple(range(len(params))))(*params)
    eager = loss(*model.parameters())
    eager.backward()
    assert same(value, eager.data) and all(same(g, p.grad) for g, p in zip(grads, model.parameters()))


def test_functional_call_refuses_misuse_and_restores_after_an_error() -> None:
    model = MLP(2, [3, 1], seed=4)
    own = model.parameters()
    with pytest.raises(ArgumentCountError, match="has 4 parameters but functional_call was given 1"):
        functional_call(model, [own[0]], np.ones((1, 2)))
    with pytest.raises(InputTypeError, match="as a list or tuple"):
        functional_call(model, {"w": 1}, np.ones((1, 2)))  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="takes a tapegrad.nn Module"):
        functional_call(object(), own, np.ones((1, 2)))  # type: ignore[arg-type]
    with pytest.raises(tapegrad.errors.ShapeError):
        functional_call(model, own, np.ones((1, 5)))
    assert all(p is q for p, q in zip(model.parameters(), own))


# ---------------------------------------------------------------- the examples


def test_moons_batched_with_jit_equals_the_eager_run_bit_for_bit() -> None:
    moons = load("moons_batched")
    eager, jitted = moons.train(8), moons.train(8, jit=True)
    assert jitted.losses == eager.losses and jitted.accuracies == eager.accuracies
    assert jitted.losses[-1] < jitted.losses[0]


def test_makemore_with_jit_equals_the_eager_run_bit_for_bit() -> None:
    makemore = load("makemore_mlp")
    eager, jitted = makemore.train(6, num_samples=1), makemore.train(6, num_samples=1, jit=True)
    assert jitted["losses"] == eager["losses"] and jitted["dev_loss"] == eager["dev_loss"]
    assert np.mean(jitted["losses"][-3:]) < jitted["losses"][0]


def test_an_error_while_tracing_leaves_nothing_behind() -> None:
    from tapegrad.core.state import STATE

    W = Value(np.ones(2))

    def broken(x: Any) -> Any:
        (W * x).sum()
        raise RuntimeError("boom")

    f = tapegrad.jit(broken)
    with pytest.raises(RuntimeError, match="boom"):
        f(1.0)
    assert STATE.lifting is None and not STATE.traces and f.programs == []
    assert W.data.sum() == 2.0 and same(W.grad, [0.0, 0.0])  # readable again outside


def test_long_scalar_tapes_run_on_the_c_machine_with_the_same_bits() -> None:
    """A scalar tape of C_RECORDS records or more runs compiled C (where a compiler is found), else math code."""
    from tapegrad.functional.compiled import C_RECORDS

    def chain(x: Any, y: Any) -> Any:
        for i in range(C_RECORDS):
            x = (x * y + float(i)).tanh() if i % 2 else x - y * 0.5
        return x

    f = tapegrad.jit(chain)
    got = f(0.3, 0.7)
    want = tapegrad.trace(chain, 0.3, 0.7)(0.3, 0.7)
    assert got == want and f.programs[0].backend in ("c", "math")
    assert f(-0.4, 1.5) == tapegrad.trace(chain, 0.3, 0.7)(-0.4, 1.5)
    assert backend_for(tapegrad.trace(chain, 0.3, 0.7), [0.3, 0.7]) == "c"


def test_without_a_compiler_long_scalar_tapes_fall_back_to_math_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from tapegrad.errors import CompilerNotFoundError
    from tapegrad.functional import compiled

    original = tapegrad.Tape.compile

    def compile_without_c(self: tapegrad.Tape, backend: str = "math", **options: Any) -> Any:
        if backend == "c":
            raise CompilerNotFoundError("no C compiler")
        return original(self, backend, **options)

    monkeypatch.setattr(compiled, "C_RECORDS", 3)
    monkeypatch.setattr(compiled, "_C_FAILED", [])
    monkeypatch.setattr(tapegrad.Tape, "compile", compile_without_c)

    def f(x: Any) -> Any:
        return ((x * 2.0).sin() * x + 1.0).exp()

    with pytest.warns(RuntimeWarning, match="the C machine is not available"):
        jitted = tapegrad.jit(f)
        assert jitted(0.5) == tapegrad.trace(f, 0.5)(0.5)
    assert jitted.programs[0].backend == "math"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per process: later traces go straight to math code
        assert tapegrad.jit(f)(0.25) == tapegrad.trace(f, 0.25)(0.25)


def test_a_failing_compiler_also_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from tapegrad.errors import CompileError
    from tapegrad.functional import compiled

    original = tapegrad.Tape.compile

    def broken_compiler(self: tapegrad.Tape, backend: str = "math", **options: Any) -> Any:
        if backend == "c":
            raise CompileError("the C compiler failed (exit status 1)")
        return original(self, backend, **options)

    monkeypatch.setattr(compiled, "C_RECORDS", 3)
    monkeypatch.setattr(compiled, "_C_FAILED", [])
    monkeypatch.setattr(tapegrad.Tape, "compile", broken_compiler)
    with pytest.warns(RuntimeWarning, match="exit status 1"):
        jitted = tapegrad.jit(lambda x: (x * x + 1.0).log())
        assert jitted(2.0) == math.log(5.0)
    assert jitted.programs[0].backend == "math"

"""tapegrad.nn: micrograd's Module, Neuron, Layer and MLP, seedable, on any Value engine."""

from __future__ import annotations

import gc
import importlib.util
import random
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.tape import Tape
from tapegrad.errors import ConflictingArgumentsError, ShapeError
from tapegrad.lab.closure import Value as ClosureValue
from tapegrad.nn import MLP, Layer, Module, Neuron

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "moons.py"

# micrograd's tiny dataset from the lecture: four points, targets +-1.
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


@pytest.fixture(scope="module")
def moons() -> ModuleType:
    """examples/moons.py, imported from its path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("moons_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def data(model: Module) -> list[float]:
    return [p.data for p in model.parameters()]


def mse_step(model: MLP, learning_rate: float = 0.05) -> float:
    """One step of gradient descent on the tiny dataset; returns the loss before it."""
    predictions = [model([Value(x) for x in row]) for row in XS]
    loss = sum((p - y) ** 2 for p, y in zip(predictions, YS, strict=True))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return float(loss.data)


def count_tapes() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Tape))


# ---------------------------------------------------------------- construction


def test_same_seed_builds_the_same_model() -> None:
    assert data(MLP(2, [16, 16, 1], seed=7)) == data(MLP(2, [16, 16, 1], seed=7))
    assert data(MLP(2, [16, 16, 1], seed=7)) != data(MLP(2, [16, 16, 1], seed=8))


def test_an_rng_is_shared_down_the_model() -> None:
    assert data(MLP(3, [4, 1], rng=random.Random(5))) == data(MLP(3, [4, 1], seed=5))
    assert data(Layer(3, 4, rng=random.Random(5))) == data(Layer(3, 4, seed=5))
    assert data(Neuron(3, rng=random.Random(5))) == data(Neuron(3, seed=5))


def test_a_seed_leaves_the_global_random_state_alone() -> None:
    random.seed(0)
    expected = random.random()
    random.seed(0)
    MLP(2, [16, 16, 1], seed=1)
    assert random.random() == expected


def test_without_a_seed_weights_come_from_the_global_random_module() -> None:
    random.seed(3)
    first = data(MLP(2, [4, 1]))
    random.seed(3)
    assert data(MLP(2, [4, 1])) == first


def test_seed_and_rng_together_are_refused() -> None:
    with pytest.raises(ConflictingArgumentsError, match="not both"):
        MLP(2, [1], seed=1, rng=random.Random(1))


def test_weights_are_uniform_in_minus_one_one_and_biases_zero() -> None:
    model = MLP(4, [8, 8, 1], seed=0)
    for layer in model.layers:
        for n in layer.neurons:
            assert all(-1.0 <= w.data <= 1.0 for w in n.w)
            assert n.b.data == 0.0
    assert all(isinstance(p, Value) for p in model.parameters())


def test_parameter_counts() -> None:
    assert len(Neuron(3, seed=0).parameters()) == 4
    assert len(Layer(3, 4, seed=0).parameters()) == 16
    assert len(MLP(2, [16, 16, 1], seed=0).parameters()) == 337
    assert Module().parameters() == []


def test_relu_everywhere_but_the_last_layer_and_micrograd_repr() -> None:
    model = MLP(2, [3, 1], seed=0)
    assert [n.nonlin for layer in model.layers for n in layer.neurons] == [True, True, True, False]
    assert repr(model) == (
        "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(3)]]"
    )


def test_a_layer_of_one_neuron_returns_a_bare_value() -> None:
    x = [Value(1.0), Value(-2.0)]
    assert isinstance(Layer(2, 1, seed=0)(x), Value)
    assert len(Layer(2, 3, seed=0)(x)) == 3


def test_a_neuron_computes_relu_of_w_dot_x_plus_b() -> None:
    n = Neuron(2, seed=0)
    n.b.data = 0.5
    x = [1.5, -2.0]
    act = n.w[0].data * x[0] + n.w[1].data * x[1] + 0.5
    assert n(x).data == pytest.approx(max(act, 0.0))
    assert Neuron(2, nonlin=False, seed=0)(x).data == pytest.approx(n.w[0].data * x[0] + n.w[1].data * x[1])


def test_same_weights_as_micrograd_after_the_same_global_seed() -> None:
    micrograd_nn = pytest.importorskip("micrograd.nn")
    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    assert data(ours) == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)


def test_value_type_builds_the_model_on_another_engine() -> None:
    engine = pytest.importorskip("micrograd.engine")
    model = MLP(2, [4, 1], seed=0, value_type=engine.Value)
    assert all(isinstance(p, engine.Value) for p in model.parameters())
    assert data(model) == data(MLP(2, [4, 1], seed=0))
    out = model([engine.Value(0.5), engine.Value(-1.0)])
    out.backward()
    assert isinstance(out, engine.Value)


def test_value_type_closure_engine_when_available() -> None:
    closure = pytest.importorskip("tapegrad.lab.closure")
    model = MLP(2, [4, 1], seed=0, value_type=closure.Value)
    assert all(isinstance(p, closure.Value) for p in model.parameters())
    reference = MLP(2, [4, 1], seed=0)
    x = [0.5, -1.0]
    assert model([closure.Value(v) for v in x]).data == pytest.approx(reference([Value(v) for v in x]).data)


# ---------------------------------------------------------------- gradients and training


def test_zero_grad_resets_every_parameter() -> None:
    model = MLP(3, [4, 4, 1], seed=1)
    mse_step(model, learning_rate=0.0)
    loss = sum((model([Value(x) for x in row]) - y) ** 2 for row, y in zip(XS, YS, strict=True))
    loss.backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_parameter_gradients_match_finite_differences() -> None:
    model = MLP(3, [4, 4, 1], seed=2)
    x = [Value(v) for v in XS[0]]

    def loss() -> Any:
        return (model(x) - 1.0) ** 2

    model.zero_grad()
    loss().backward()
    h = 1e-6
    for p in model.parameters():
        saved = p.data
        p.data = saved + h
        up = loss().data
        p.data = saved - h
        down = loss().data
        p.data = saved
        assert p.grad == pytest.approx((up - down) / (2 * h), abs=1e-6)


def test_a_short_training_run_decreases_the_loss() -> None:
    model = MLP(3, [4, 4, 1], seed=0)
    losses = [mse_step(model) for _ in range(20)]
    assert losses[-1] < 0.5 * losses[0]


def test_make_moons_labels_and_shape(moons: ModuleType) -> None:
    X, y = moons.make_moons(100, noise=0.1, seed=1337)
    assert X.shape == (100, 2)
    assert sorted(set(y.tolist())) == [-1.0, 1.0]
    assert (y == 1).sum() == 50
    again, _ = moons.make_moons(100, noise=0.1, seed=1337)
    assert (X == again).all()


def test_moons_training_reaches_full_accuracy(moons: ModuleType) -> None:
    history = moons.train(steps=100)
    assert len(history.losses) == 100
    assert history.accuracies[-1] == 1.0
    assert history.losses[-1] < 0.02
    assert history.losses[-1] < history.losses[0]


# ---------------------------------------------------------------- memory


def test_memory_stays_bounded_over_100_steps() -> None:
    model = MLP(3, [8, 8, 1], seed=0)
    gc.collect()
    tracemalloc.start()
    try:
        mse_step(model)
        tapes: list[int] = []
        memory: dict[int, int] = {}
        for step in range(1, 101):
            mse_step(model)
            tapes.append(count_tapes())
            memory[step] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert max(tapes) <= 2
    assert memory[100] <= 1.5 * memory[10]


def test_training_steps_create_no_reference_cycles() -> None:
    model = MLP(3, [8, 8, 1], seed=0)
    mse_step(model)
    gc.collect()
    gc.disable()
    try:
        mse_step(model)
        mse_step(model)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
    assert count_tapes() <= 1


def test_the_cycle_check_detects_micrograd_closures() -> None:
    """The no-cycles test above can fail: micrograd's per-node closures do make cycles."""
    engine = pytest.importorskip("micrograd.engine")
    model = MLP(3, [8, 8, 1], seed=0, value_type=engine.Value)
    gc.collect()
    gc.disable()
    try:
        predictions = [model([engine.Value(x) for x in row]) for row in XS]
        loss = sum((p - y) ** 2 for p, y in zip(predictions, YS, strict=True))
        loss.backward()
        del predictions, loss
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable > 0


def test_trace_of_a_model_replays_its_scores(moons: ModuleType) -> None:
    """The example draws its decision boundary by replaying one traced forward pass on a grid."""
    import numpy as np

    model = MLP(2, [4, 4, 1], seed=3)
    xx, yy = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    scores = moons.decision_scores(model, xx, yy, tapegrad.Value)
    pointwise = [
        [model([Value(a), Value(b)]).data for a, b in zip(r0, r1, strict=True)] for r0, r1 in zip(xx, yy, strict=True)
    ]
    assert scores.shape == xx.shape
    assert np.allclose(scores, pointwise)


@pytest.mark.parametrize("value_type", [Value, ClosureValue])
def test_a_wrong_number_of_inputs_is_a_shape_error(value_type: type[Any]) -> None:
    model = MLP(2, [4, 1], seed=0, value_type=value_type)
    for x, count in (([1.0, 2.0, 3.0], "got 3"), ([1.0], "got 1"), ([], "got 0")):
        with pytest.raises(ShapeError, match=rf"MLP\(2, \.\.\.\) takes 2 inputs, {count}"):
            model(x)  # micrograd's zip would drop the third input (or the second weight) without a word
    with pytest.raises(ShapeError, match=r"takes a list of 2 inputs, got float 1.0"):
        model(1.0)
    with pytest.raises(ShapeError, match=r"Neuron\(3\) takes 3 inputs, got 2"):
        Neuron(3, seed=0, value_type=value_type)([1.0, 2.0])
    assert isinstance(model([1.0, 2.0]), value_type)

"""tapegrad.nn.batched and tapegrad.nn.optim: batched layers against numpy and the scalar MLP; SGD and Adam."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.errors import ConflictingArgumentsError, HyperparameterError, InputTypeError, ShapeError, UnknownNameError
from tapegrad.nn import MLP as ScalarMLP
from tapegrad.nn import SGD, Adam, Embedding, Linear, Module
from tapegrad.nn.batched import MLP

# Central differences in float64 with step 1e-6 are exact to about 1e-9 on these smooth, O(1) functions.
FD_STEP = 1e-6
FD_TOLERANCE = 1e-7


def numerical_gradient(f: Callable[[], float], array: np.ndarray) -> np.ndarray:
    """d f / d array by central differences, perturbing ``array`` in place (f reads it)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + FD_STEP
        up = f()
        array[index] = saved - FD_STEP
        down = f()
        array[index] = saved
        grad[index] = (up - down) / (2 * FD_STEP)
    return grad


def numpy_mlp(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, activation: str) -> np.ndarray:
    """The batched MLP's forward pass written in plain numpy, for reference."""
    for i, (W, b) in enumerate(layers):
        x = x @ W + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0) if activation == "relu" else np.tanh(x)
    return x


def weights(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(layer.weight.data, layer.bias.data) for layer in model.layers if layer.bias is not None]


# ---------------------------------------------------------------- Linear


def test_linear_is_x_at_w_plus_b_for_values_and_raw_arrays() -> None:
    layer = Linear(3, 4, seed=0)
    layer.bias.data = np.arange(4.0)  # type: ignore[union-attr]
    x = np.random.default_rng(1).normal(size=(5, 3))
    expected = x @ layer.weight.data + np.arange(4.0)
    assert layer.weight.shape == (3, 4)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-14)
    np.testing.assert_allclose(layer(Value(x)).data, expected, rtol=1e-14)
    batch = np.random.default_rng(2).normal(size=(2, 6, 3))  # any leading batch axes
    assert layer(batch).shape == (2, 6, 4)
    np.testing.assert_allclose(layer(batch).data, batch @ layer.weight.data + np.arange(4.0), rtol=1e-14)


def test_linear_without_bias_has_only_a_weight() -> None:
    layer = Linear(3, 2, bias=False, seed=0)
    assert layer.bias is None
    assert layer.parameters() == [layer.weight]
    x = np.ones((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data, rtol=1e-14)
    assert repr(layer) == "Linear(3, 2, bias=False)"


def test_linear_init_is_kaiming_uniform_with_zero_bias() -> None:
    layer = Linear(50, 400, seed=0)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 50)
    assert layer.weight.dtype == np.float64
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound  # uses the whole range
    assert np.all(layer.bias.data == 0.0)  # type: ignore[union-attr]
    assert layer.weight.data.var() == pytest.approx(2.0 / 50, rel=0.05)


def test_linear_gain_scales_the_init_range() -> None:
    layer = Linear(12, 500, gain=0.1, seed=0)
    assert np.abs(layer.weight.data).max() <= 0.1 * math.sqrt(3.0 / 12)
    with pytest.raises(ValueError, match=r"Linear's gain must be a number >= 0, got -1.0"):
        Linear(2, 3, gain=-1.0)


def test_same_seed_builds_the_same_layers_and_rng_is_shared() -> None:
    def data(model: Module) -> list[np.ndarray]:
        return [p.data for p in model.parameters()]

    for build in (lambda **k: Linear(3, 4, **k), lambda **k: MLP(3, [4, 2], **k), lambda **k: Embedding(5, 2, **k)):
        a, b, c = data(build(seed=7)), data(build(seed=7)), data(build(seed=8))
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
        shared = data(build(rng=np.random.default_rng(7)))
        assert all(np.array_equal(x, y) for x, y in zip(a, shared, strict=True))


@pytest.mark.parametrize(
    "build", [lambda **k: Linear(3, 4, **k), lambda **k: MLP(3, [4], **k), lambda **k: Embedding(3, 4, **k)]
)
def test_seed_and_rng_together_are_refused(build: Callable[..., Module]) -> None:
    with pytest.raises(ConflictingArgumentsError, match=r"seed= or rng=, not both"):
        build(seed=1, rng=np.random.default_rng(1))


def test_linear_names_the_layer_on_a_wrong_input_width() -> None:
    with pytest.raises(ShapeError, match=r"Linear\(3, 4\) takes inputs of shape \(\.\.\., 3\), got shape \(5, 2\)"):
        Linear(3, 4, seed=0)(np.ones((5, 2)))


def test_batched_mlp_refuses_three_inputs_for_two() -> None:
    """Issue 19: the batched MLP, like the scalar one, never drops an extra input column."""
    with pytest.raises(ShapeError, match=r"Linear\(2, 16\) takes inputs of shape \(\.\.\., 2\), got shape \(5, 3\)"):
        MLP(2, [16, 1], seed=0)(np.ones((5, 3)))
    with pytest.raises(ShapeError, match=r"got shape \(3,\)"):
        MLP(2, [16, 1], seed=0)([1.0, 2.0, 3.0])


@pytest.mark.parametrize("nin, nout", [(0, 3), (3, 0), (-1, 2), (2.5, 3), (True, 3)])
def test_linear_sizes_must_be_positive_ints(nin: Any, nout: Any) -> None:
    with pytest.raises(ValueError, match=r"Linear's n(in|out) must be a positive int"):
        Linear(nin, nout)


# ---------------------------------------------------------------- MLP


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_equals_numpy(activation: str) -> None:
    model = MLP(3, [8, 5, 2], activation=activation, seed=3)
    x = np.random.default_rng(4).normal(size=(7, 3))
    out = model(x)
    assert out.shape == (7, 2)
    np.testing.assert_allclose(out.data, numpy_mlp(weights(model), x, activation), rtol=1e-13, atol=1e-15)
    assert len(model.parameters()) == 6
    assert sum(p.size for p in model.parameters()) == 3 * 8 + 8 + 8 * 5 + 5 + 5 * 2 + 2


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_gradients_match_finite_differences(activation: str) -> None:
    model = MLP(3, [5, 4, 2], activation=activation, seed=5)
    x = np.random.default_rng(6).normal(size=(6, 3))
    targets = np.random.default_rng(7).normal(size=(6, 2))
    layers = weights(model)

    def reference() -> float:
        return float(((numpy_mlp(layers, x, activation) - targets) ** 2).mean())

    inputs = Value(x)
    loss = ((model(inputs) - targets) ** 2).mean()
    assert loss.data == pytest.approx(reference(), rel=1e-13)
    loss.backward()
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, numerical_gradient(reference, p.data), atol=FD_TOLERANCE)
    np.testing.assert_allclose(inputs.grad, numerical_gradient(reference, x), atol=FD_TOLERANCE)


def test_batched_mlp_equals_the_scalar_mlp_point_by_point() -> None:
    """Copy micrograd-style weights into the batched MLP: same scores, same gradients."""
    scalar = ScalarMLP(2, [16, 16, 1], seed=11)
    batched = MLP(2, [16, 16, 1], seed=0)
    for layer, batched_layer in zip(scalar.layers, batched.layers, strict=True):
        batched_layer.weight.data = np.array([[w.data for w in n.w] for n in layer.neurons]).T
        batched_layer.bias.data = np.array([n.b.data for n in layer.neurons])  # type: ignore[union-attr]
    points = np.random.default_rng(12).normal(size=(20, 2))

    scores = batched(points)
    scores.sum().backward()
    scalar_scores = [scalar([Value(a), Value(b)]) for a, b in points.tolist()]
    sum(scalar_scores).backward()

    np.testing.assert_allclose(scores.data[:, 0], [s.data for s in scalar_scores], rtol=1e-12, atol=1e-14)
    for layer, batched_layer in zip(scalar.layers, batched.layers, strict=True):
        np.testing.assert_allclose(
            batched_layer.weight.grad, np.array([[w.grad for w in n.w] for n in layer.neurons]).T, rtol=1e-12
        )
        np.testing.assert_allclose(
            batched_layer.bias.grad,  # type: ignore[union-attr]
            [n.b.grad for n in layer.neurons],
            rtol=1e-12,
            atol=1e-14,
        )


def test_mlp_refuses_an_unknown_activation_and_no_layers() -> None:
    with pytest.raises(UnknownNameError, match=r"activation must be one of 'relu', 'tanh', got 'sigmoid'"):
        MLP(2, [3], activation="sigmoid")
    with pytest.raises(ValueError, match=r"at least one layer size"):
        MLP(2, [])


def test_zero_grad_resets_array_gradients() -> None:
    model = MLP(2, [3, 1], seed=0)
    model(np.ones((4, 2))).sum().backward()
    assert any(np.any(p.grad != 0) for p in model.parameters())
    model.zero_grad()
    model(np.ones((4, 2))).sum().backward()
    first = [np.array(p.grad) for p in model.parameters()]
    model.zero_grad()
    model(np.ones((4, 2))).sum().backward()
    assert all(np.array_equal(p.grad, g) for p, g in zip(model.parameters(), first, strict=True))


# ---------------------------------------------------------------- Embedding


def test_embedding_looks_up_rows_and_scatter_adds_gradients() -> None:
    embedding = Embedding(5, 3, seed=0)
    idx = np.array([[0, 4, 4], [2, 0, 4]])
    out = embedding(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, embedding.weight.data[idx])
    upstream = np.random.default_rng(1).normal(size=(2, 3, 3))
    (out * upstream).sum().backward()
    expected = np.zeros((5, 3))
    np.add.at(expected, idx, upstream)  # a repeated token gets the sum of its rows' gradients
    np.testing.assert_allclose(embedding.weight.grad, expected, rtol=1e-14)
    assert np.all(embedding.weight.grad[[1, 3]] == 0.0)


def test_embedding_refuses_floats_and_ids_out_of_range() -> None:
    embedding = Embedding(5, 3, seed=0)
    with pytest.raises(InputTypeError, match=r"Embedding\(5, 3\) looks up integer token ids, got .* float64"):
        embedding(np.array([0.0, 1.0]))
    with pytest.raises(ShapeError, match=r"got token id 5; ids must be in \[0, 5\)"):
        embedding(np.array([1, 5]))
    with pytest.raises(ShapeError, match=r"got token id -1"):
        embedding(np.array([-1, 2]))


# ---------------------------------------------------------------- optimisers


def gradient_sequence(shape: tuple[int, ...], steps: int, seed: int = 0) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).normal(size=(steps, *shape)))


def numpy_sgd(
    p: np.ndarray, grads: list[np.ndarray], lr: float, momentum: float, weight_decay: float
) -> list[np.ndarray]:
    """torch.optim.SGD, written out (dampening 0, no Nesterov)."""
    history, buf = [], None
    for g in grads:
        g = g + weight_decay * p
        buf = g if buf is None else momentum * buf + g
        p = p - lr * (buf if momentum else g)
        history.append(p)
    return history


def numpy_adam(
    p: np.ndarray, grads: list[np.ndarray], lr: float, betas: tuple[float, float], eps: float, weight_decay: float
) -> list[np.ndarray]:
    """torch.optim.Adam (the textbook algorithm with bias correction), written out."""
    beta1, beta2 = betas
    m, v, history = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p)
    return history


def run(optimizer_for: Callable[[list[Any]], Any], start: np.ndarray, grads: list[np.ndarray]) -> list[np.ndarray]:
    """Drive an optimiser with given gradients (set on the leaf directly), recording the parameter after each step."""
    p = Value(start)
    optimizer = optimizer_for([p])
    history = []
    for g in grads:
        p.grad = g
        optimizer.step()
        history.append(p.data)
    return history


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.8, 0.1)])
def test_sgd_matches_numpy(momentum: float, weight_decay: float) -> None:
    start, grads = np.random.default_rng(1).normal(size=(3, 2)), gradient_sequence((3, 2), 5)
    ours = run(lambda ps: SGD(ps, lr=0.1, momentum=momentum, weight_decay=weight_decay), start, grads)
    for a, b in zip(ours, numpy_sgd(start, grads, 0.1, momentum, weight_decay), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "lr, betas, eps, weight_decay", [(1e-3, (0.9, 0.999), 1e-8, 0.0), (0.05, (0.8, 0.99), 1e-6, 0.01)]
)
def test_adam_matches_numpy(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    start, grads = np.random.default_rng(2).normal(size=(4,)), gradient_sequence((4,), 6, seed=3)
    ours = run(lambda ps: Adam(ps, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay), start, grads)
    for a, b in zip(ours, numpy_adam(start, grads, lr, betas, eps, weight_decay), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_sgd_and_adam_match_torch_optim_when_installed() -> None:
    torch = pytest.importorskip("torch")
    start, grads = np.random.default_rng(4).normal(size=(3, 2)), gradient_sequence((3, 2), 5, seed=5)
    cases: list[tuple[Any, Any, dict[str, Any]]] = [
        (SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
        (Adam, torch.optim.Adam, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.01}),
    ]
    for ours_type, torch_type, hyperparameters in cases:
        ours = run(lambda ps: ours_type(ps, **hyperparameters), start, grads)  # noqa: B023
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        optimizer = torch_type([p], **hyperparameters)
        for g, mine in zip(grads, ours, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
            optimizer.step()
            np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient() -> None:
    """With bias correction, m̂ / sqrt(v̂) = g / |g| on step 1: the textbook property."""
    p = Value(np.array([1.0, 2.0, 3.0]))
    p.grad = np.array([0.5, -20.0, 1e-3])
    Adam([p], lr=0.01, eps=0.0).step()
    np.testing.assert_allclose(p.data, [0.99, 2.01, 2.99], rtol=1e-14)


def test_optimisers_update_scalar_values_as_floats() -> None:
    for optimizer_type in (SGD, Adam):
        p = Value(2.0)
        optimizer = optimizer_type([p], lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            assert p.grad == 0.0
            (p * p).backward()
            optimizer.step()
        assert type(p.data) is float
        assert p.data < 2.0
    p = Value(2.0)
    sgd = SGD([p], lr=0.1)
    (p * p).backward()  # gradient 4
    sgd.step()
    assert p.data == pytest.approx(1.6)


def test_optimisers_assign_new_arrays_and_never_write_in_place() -> None:
    for optimizer_type in (SGD, Adam):
        model = MLP(2, [3, 1], seed=0)
        optimizer = optimizer_type(model.parameters(), lr=0.1)
        before = [p.data for p in model.parameters()]
        copies = [a.copy() for a in before]
        model(np.ones((4, 2))).sum().backward()
        optimizer.step()
        for p, old, copy in zip(model.parameters(), before, copies, strict=True):
            assert p.data is not old
            np.testing.assert_array_equal(old, copy)
        optimizer.zero_grad()
        assert all(np.array_equal(p.grad, np.zeros_like(p.data)) for p in model.parameters())


def test_optimisers_keep_a_float32_parameter_float32() -> None:
    for optimizer_type in (SGD, Adam):
        p = Value(np.ones(3, dtype=np.float32))
        optimizer = optimizer_type([p], lr=0.1, weight_decay=0.01)
        for _ in range(2):
            p.grad = np.full(3, 0.5)  # a float64 gradient must not promote the weights
            optimizer.step()
        assert p.data.dtype == np.float32
        assert np.all(p.data < 1.0)


def test_optimisers_train_a_small_regression() -> None:
    """Both optimisers fit y = x @ [1, -2] + 0.5 with a Linear layer."""
    x = np.random.default_rng(0).normal(size=(64, 2))
    y = x @ np.array([[1.0], [-2.0]]) + 0.5
    for optimizer_type, lr in ((SGD, 0.1), (Adam, 0.05)):
        layer = Linear(2, 1, seed=1)
        optimizer = optimizer_type(layer.parameters(), lr=lr)
        for _ in range(300):
            loss = ((layer(x) - y) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert float(loss.data) < 1e-4
        np.testing.assert_allclose(layer.weight.data[:, 0], [1.0, -2.0], atol=1e-2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: SGD(p, lr=-0.1), r"lr must be a number >= 0, got -0.1"),
        (lambda p: SGD(p, lr=float("nan")), r"lr must be a number >= 0, got nan"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), r"momentum must be a number >= 0"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1), r"weight_decay must be a number >= 0"),
        (lambda p: Adam(p, lr=-1e-3), r"lr must be a number >= 0"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), r"betas must be two numbers in \[0, 1\)"),
        (lambda p: Adam(p, betas=(-0.1, 0.999)), r"betas must be two numbers in \[0, 1\)"),
        (lambda p: Adam(p, betas=(0.9,)), r"betas must be two numbers in \[0, 1\)"),  # type: ignore[arg-type]
        (lambda p: Adam(p, eps=-1e-8), r"eps must be a number >= 0"),
        (lambda p: Adam(p, weight_decay=-0.1), r"weight_decay must be a number >= 0"),
        (lambda p: SGD(p, lr=10**400), r"lr must be a number >= 0, got 10000000000000000000\.\.\. \(401 digits\)"),
        (lambda p: Adam(p, lr=10**400), r"lr must be a number >= 0, got 1000.*; pass a finite float"),
        (lambda p: SGD(p, lr=float("inf")), r"lr must be a number >= 0, got inf; pass a finite float"),
        (lambda p: SGD(p, lr=0.1, momentum=-(10**400)), r"momentum must be a number >= 0"),
        (lambda p: Adam(p, eps=10**309), r"eps must be a number >= 0"),
        (lambda p: Adam(p, betas=0.9), r"betas must be two numbers in \[0, 1\)"),  # type: ignore[arg-type]
        (lambda p: Adam(p, betas=(10**400, 0.9)), r"betas must be two numbers in \[0, 1\)"),
    ],
)
def test_optimisers_refuse_bad_hyperparameters(make: Callable[[list[Any]], Any], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):  # a ValueError too
        make([Value(1.0)])


@pytest.mark.parametrize("optimizer_type", [SGD, Adam])
def test_optimisers_refuse_bad_parameter_lists(optimizer_type: type[Any]) -> None:
    with pytest.raises(ValueError, match=r"got no parameters: pass model.parameters\(\)"):
        optimizer_type([], lr=0.1)
    with pytest.raises(ValueError, match=r"got no parameters"):
        optimizer_type(iter([]), lr=0.1)
    p = Value(1.0)
    with pytest.raises(ValueError, match=r"parameter 1 is the same Value as parameter 0"):
        optimizer_type([p, p], lr=0.1)
    with pytest.raises(TypeError, match=r"parameter 0 is a float, not a Value"):
        optimizer_type([1.0], lr=0.1)


def test_optimisers_accept_a_generator_of_parameters() -> None:
    model = MLP(2, [3, 1], seed=0)
    optimizer = SGD(iter(model.parameters()), lr=0.1)
    assert len(optimizer.params) == 4
    assert repr(optimizer) == "SGD(4 parameters, lr=0.1)"


def test_nn_reexports_the_batched_classes() -> None:
    assert tapegrad.nn.Linear is Linear and tapegrad.nn.Embedding is Embedding
    assert tapegrad.nn.MLP is ScalarMLP and tapegrad.nn.batched.MLP is MLP
    assert issubclass(Linear, Module) and issubclass(MLP, Module) and issubclass(Embedding, Module)

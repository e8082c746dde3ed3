"""The checks every corpus case goes through, as a new user would try a numpy function on tapegrad.

A case is a function written with plain numpy (``np.einsum``, ``np.linalg.solve``, ``v.sum(axis=0)``...), its
arguments (float64 arrays), and optionally the same function written with PyTorch.  The checks:

- value: the function on Values equals the function on arrays, bit for bit where tapegrad makes numpy's own
  call (``exact=True``), else within 1e-13 relative (a composition that rounds differently; the case says why);
- gradient: ``tapegrad.grad`` of a fixed weighted sum of the outputs against central differences
  (``support.numerical_gradients``) and against PyTorch's float64 autograd where the case has a torch version;
- forward mode: ``tapegrad.jvp`` of every output along a random direction against central differences; second
  order: ``tapegrad.hvp`` of the weighted sum against central differences of ``tapegrad.grad``;
- replay: the function traced once, replayed on new inputs (the arguments moved by a random step), equals the
  function on those inputs; the generated numpy code (``tape.compile("numpy")``) equals the interpreter bit for
  bit, for the function and for its gradient tape, and so do the tape written to a tape file and read back and
  the optimised gradient tape; the replayed gradient equals ``tapegrad.grad`` there.

The weights make every output element matter, so a gradient that drops or misplaces an element shows.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from support import FD_STEP, assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value, io

VALUE_TOLERANCE = 1e-13
"""Relative tolerance of values computed by a composition that groups sums differently from numpy's call."""

TORCH_TOLERANCE = 1e-10
"""Relative tolerance against PyTorch's float64 gradients (different but equally accurate formulas)."""


@dataclass(frozen=True)
class Case:
    """One function of the corpus: ``f`` written with numpy, its float64 ``args``, and how to check it."""

    name: str
    f: Callable[..., Any]
    args: tuple[np.ndarray, ...]
    torch: Callable[..., Any] | None = None
    exact: bool = True
    """True: the values are numpy's bit for bit (the same numpy call); False: to ``VALUE_TOLERANCE``."""
    step: float = 0.25
    """Size of the random move that makes the replay's new inputs (small enough to stay well conditioned)."""
    new_args: Callable[..., tuple[np.ndarray, ...]] | None = field(default=None)
    """Makes the replay's inputs from the moved arguments when they must keep a structure (ties, integers)."""


def case(name: str, f: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """A ``pytest.param`` for ``Case(name, f, args)``, with the case's name as the test id."""
    arrays = tuple(np.asarray(a, dtype=np.float64) for a in args)
    return pytest.param(Case(name, f, arrays, **options), id=name)


def rng(name: str) -> np.random.Generator:
    """A generator seeded by the case's name, so each case draws the same numbers in every run and alone."""
    return np.random.default_rng(zlib.crc32(name.encode()))


# ---------------------------------------------------------------- outputs


def flatten(out: Any) -> list[Any]:
    """The arrays a function returned: one, or several in a (named) tuple or list."""
    if isinstance(out, (tuple, list)):
        return [x for part in out for x in flatten(part)]
    return [out]


def as_array(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Value) else x, dtype=np.float64)


def weights(c: Case) -> list[np.ndarray]:
    """One fixed random array per output, of its shape: the loss is the weighted sum of every output element."""
    draw = rng(c.name)
    return [draw.normal(size=np.shape(out)) for out in flatten(c.f(*c.args))]


def scalar_loss(c: Case) -> Callable[..., Any]:
    """``f``'s outputs reduced to one number, written with numpy so it runs on arrays and Values alike."""
    ws = weights(c)

    def loss(*args: Any) -> Any:
        return sum(np.sum(out * w) for out, w in zip(flatten(c.f(*args)), ws))

    return loss


def assert_same(actual: Any, expected: Any, exact: bool, what: str) -> None:
    actual, expected = as_array(actual), as_array(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if exact:
        np.testing.assert_array_equal(actual, expected, err_msg=what, strict=True)
    else:
        np.testing.assert_allclose(actual, expected, rtol=VALUE_TOLERANCE, atol=VALUE_TOLERANCE, err_msg=what)


def moved(c: Case) -> tuple[np.ndarray, ...]:
    """New inputs for the replay: the arguments moved by a random step (shapes kept)."""
    draw = rng("new " + c.name)
    args = tuple(a + c.step * draw.normal(size=a.shape) for a in c.args)
    return c.new_args(*args) if c.new_args is not None else args


# ---------------------------------------------------------------- the checks


def check_value(c: Case) -> None:
    """On Values, the function returns what numpy returns on the arrays: the same structure, shapes and numbers."""
    expected = flatten(c.f(*c.args))
    actual = flatten(c.f(*[Value(a) for a in c.args]))
    assert len(actual) == len(expected)
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert isinstance(a, Value), f"output {k} is {type(a).__name__}, not a recorded Value"
        assert_same(a, e, c.exact, f"{c.name} output {k}")


def argnums(c: Case) -> tuple[int, ...]:
    return tuple(range(len(c.args)))


def check_central_differences(c: Case) -> None:
    loss = scalar_loss(c)
    grads = tapegrad.grad(loss, argnums=argnums(c))(*c.args)
    assert_close_to(grads, numerical_gradients(lambda *a: float(loss(*a)), c.args))


def check_torch(c: Case) -> None:
    torch = pytest.importorskip("torch")
    assert c.torch is not None
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in c.args]
    outs = flatten(c.torch(*tensors))
    ws = weights(c)
    assert len(outs) == len(ws)
    sum((out * torch.tensor(w)).sum() for out, w in zip(outs, ws)).backward()
    grads = tapegrad.grad(scalar_loss(c), argnums=argnums(c))(*c.args)
    for k, (ours, theirs) in enumerate(zip(grads, tensors)):
        expected = np.zeros(c.args[k].shape) if theirs.grad is None else theirs.grad.numpy()
        np.testing.assert_allclose(ours, expected, rtol=TORCH_TOLERANCE, atol=1e-12, err_msg=f"{c.name} arg {k}")


def _direction(c: Case) -> list[np.ndarray]:
    draw = rng("direction " + c.name)
    return [draw.normal(size=a.shape) for a in c.args]


def check_forward_mode(c: Case) -> None:
    """Each output's tangent along a random direction is the central difference of numpy's function there."""
    direction = _direction(c)
    _, tangents = tapegrad.jvp(lambda *a: tuple(flatten(c.f(*a))), c.args, direction)
    h = FD_STEP
    up = flatten(c.f(*[a + h * d for a, d in zip(c.args, direction)]))
    down = flatten(c.f(*[a - h * d for a, d in zip(c.args, direction)]))
    expected = [(np.asarray(u) - np.asarray(d)) / (2 * h) for u, d in zip(up, down)]
    assert_close_to([np.asarray(t) for t in flatten(tangents)], expected)


def check_second_order(c: Case) -> None:
    """The Hessian-vector product of the weighted sum is the central difference of its gradient."""
    loss, direction = scalar_loss(c), _direction(c)
    products = tapegrad.hvp(loss, c.args, direction)
    gradient = tapegrad.grad(loss, argnums=argnums(c))
    h = 1e-5
    up = gradient(*[a + h * d for a, d in zip(c.args, direction)])
    down = gradient(*[a - h * d for a, d in zip(c.args, direction)])
    assert_close_to(list(products), [(u - d) / (2 * h) for u, d in zip(up, down)], tolerance=1e-5)


def check_replay(c: Case) -> None:
    """Traced once, replayed elsewhere: the function's value there, in the interpreter and in generated code."""
    new = moved(c)
    tape = tapegrad.trace(c.f, *c.args)
    replayed = flatten(tape(*new))
    expected = flatten(c.f(*new))
    assert len(replayed) == len(expected)
    for k, (r, e) in enumerate(zip(replayed, expected)):
        assert_same(r, e, c.exact, f"{c.name} replayed output {k}")
    compiled = flatten(tape.compile("numpy")(*new))
    for k, (g, r) in enumerate(zip(compiled, replayed)):
        assert_same(g, r, True, f"{c.name} generated numpy output {k}")
    loaded = flatten(io.loads(io.dumps(tape))(*new))
    for k, (g, r) in enumerate(zip(loaded, replayed)):
        assert_same(g, r, True, f"{c.name} tape file output {k}")


def check_gradient_replay(c: Case) -> None:
    """The gradient tape, replayed and as generated numpy code at new inputs, is tapegrad.grad's gradient there."""
    new = moved(c)
    loss = scalar_loss(c)
    tape = tapegrad.grad_tape(tapegrad.trace(loss, *c.args))
    interpreted = flatten(tape(*new))
    value, fresh = tapegrad.value_and_grad(loss, argnums=argnums(c))(*new)
    generated = flatten(tape.compile("numpy")(*new))
    optimized = flatten(tapegrad.optimize(tape)(*new))
    assert len(interpreted) == len(generated) == len(c.args) + 1
    assert_same(interpreted[0], value, True, f"{c.name} replayed loss vs tapegrad.value_and_grad")
    assert_same(generated[0], interpreted[0], True, f"{c.name} generated loss vs interpreter")
    for k in range(len(c.args)):
        k_out = k + 1
        assert_same(interpreted[k_out], fresh[k], True, f"{c.name} replayed gradient {k} vs tapegrad.grad")
        assert_same(generated[k_out], interpreted[k_out], True, f"{c.name} generated gradient {k} vs interpreter")
        assert_same(optimized[k_out], interpreted[k_out], True, f"{c.name} optimized gradient tape {k}")

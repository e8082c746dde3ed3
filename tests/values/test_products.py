"""numpy's products on Values: dot, vdot, inner, outer, tensordot, kron, cross, matmul with batches, trace.

Each is written with einsum or other rows (tapegrad/values/products.py), so
each is checked here for what it computes: values against numpy (bit for
bit where numpy multiplies elementwise: kron, cross, outer, trace; to
1e-14 relative where numpy's dot, inner, tensordot and matmul call BLAS,
which sums in another order), gradients against central differences and
PyTorch where installed, forward mode, generated numpy code, and numpy's
refusals as tapegrad errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tapegrad.numpy as tnp

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OpKind
from tapegrad.errors import InputTypeError, ShapeError
from tests.support import FD_STEP, assert_close_to, numerical_gradients

# (name, function of the operands, operand shapes, exact): numpy's own function runs on Values and on arrays.
CASES: list[tuple[str, Callable[..., Any], tuple[tuple[int, ...], ...], bool]] = [
    ("dot[scalar,2d]", np.dot, ((), (2, 3)), True),
    ("dot[1d,1d]", np.dot, ((4,), (4,)), False),
    ("dot[2d,1d]", np.dot, ((3, 4), (4,)), False),
    ("dot[1d,2d]", np.dot, ((4,), (4, 3)), False),
    ("dot[2d,2d]", np.dot, ((3, 4), (4, 2)), False),
    ("dot[3d,1d]", np.dot, ((2, 3, 4), (4,)), False),
    ("dot[2d,3d]", np.dot, ((3, 4), (2, 4, 5)), False),
    ("dot[3d,3d]", np.dot, ((2, 3, 4), (3, 4, 2)), False),
    ("dot[1d,3d]", np.dot, ((4,), (2, 4, 3)), False),
    ("vdot[2d,2d]", np.vdot, ((2, 3), (3, 2)), False),
    ("inner[1d,1d]", np.inner, ((4,), (4,)), False),
    ("inner[2d,3d]", np.inner, ((2, 4), (3, 2, 4)), False),
    ("inner[scalar]", np.inner, ((), (2, 3)), True),
    ("outer[2d,1d]", np.outer, ((2, 2), (3,)), True),
    ("tensordot[axes=2]", np.tensordot, ((2, 3, 4), (3, 4, 5)), False),
    ("tensordot[axes=0]", lambda a, b: np.tensordot(a, b, axes=0), ((2, 3), (2,)), True),
    ("tensordot[axes=1]", lambda a, b: np.tensordot(a, b, axes=1), ((2, 3), (3, 4)), False),
    ("tensordot[pairs]", lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 1])), ((2, 3, 4), (5, 4, 2)), False),
    ("tensordot[int pair]", lambda a, b: np.tensordot(a, b, axes=(1, 0)), ((2, 3), (3, 4)), False),
    ("kron[2d,2d]", np.kron, ((2, 3), (3, 2)), True),
    ("kron[1d,2d]", np.kron, ((3,), (2, 2)), True),
    ("kron[3d,1d]", np.kron, ((2, 1, 2), (3,)), True),
    ("cross[3,3]", np.cross, ((3,), (3,)), True),
    ("cross[batched, broadcast]", np.cross, ((4, 3), (3,)), True),
    ("cross[axis=0]", lambda a, b: np.cross(a, b, axis=0), ((3, 4), (3, 4)), True),
    ("cross[axisa, axisb, axisc]", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), ((3, 2), (2, 3)), True),
    ("cross[2,3]", np.cross, ((5, 2), (5, 3)), True),
    ("cross[3,2]", np.cross, ((5, 3), (5, 2)), True),
    ("matmul[batch broadcast]", np.matmul, ((2, 1, 3, 4), (5, 4, 2)), False),
    ("matmul[1d,3d]", np.matmul, ((4,), (2, 4, 3)), False),
    ("matmul[3d,1d]", np.matmul, ((2, 3, 4), (4,)), False),
    ("trace[2d]", np.trace, ((3, 3),), True),
    ("trace[offset=1]", lambda a: np.trace(a, offset=1), ((3, 4),), True),
    ("trace[offset=-2]", lambda a: np.trace(a, offset=-2), ((4, 3),), True),
    ("trace[offset beyond]", lambda a: np.trace(a, offset=5), ((3, 3),), True),
    ("trace[axes]", lambda a: np.trace(a, axis1=1, axis2=2), ((2, 3, 3),), True),
    ("trace[axes reversed]", lambda a: np.trace(a, offset=1, axis1=2, axis2=0), ((3, 2, 4),), True),
]
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")  # numpy's own
PARAMS = [pytest.param(f, shapes, exact, id=name) for name, f, shapes, exact in CASES]


def inputs(shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, size=shape) for shape in shapes]


def loss(f: Callable[..., Any], xs: list[np.ndarray]) -> Callable[..., Any]:
    weight = np.random.default_rng(7).normal(size=np.shape(f(*xs)))
    return lambda *a: np.sum(f(*a) * weight)


def data(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


@pytest.mark.parametrize(("f", "shapes", "exact"), PARAMS)
def test_values_agree_with_numpy(f: Callable[..., Any], shapes: Any, exact: bool) -> None:
    xs = inputs(shapes)
    expected = f(*xs)
    for operands in ([Value(x) for x in xs], [Value(xs[0]), *xs[1:]], [*xs[:-1], Value(xs[-1])]):
        actual = np.asarray(data(f(*operands)))
        assert actual.shape == np.shape(expected)
        if exact:
            assert actual.tobytes() == np.asarray(expected, dtype=np.float64).tobytes()
        else:
            np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(("f", "shapes", "exact"), PARAMS)
def test_gradients_match_central_differences(f: Callable[..., Any], shapes: Any, exact: bool) -> None:
    xs = inputs(shapes)
    total = loss(f, xs)
    grads = tapegrad.grad(total, argnums=tuple(range(len(xs))))(*xs)
    assert_close_to(grads, numerical_gradients(lambda *a: float(total(*a)), xs))


@pytest.mark.parametrize(("f", "shapes", "exact"), PARAMS)
def test_forward_mode_and_generated_code(f: Callable[..., Any], shapes: Any, exact: bool) -> None:
    xs, directions = inputs(shapes), inputs(shapes, seed=3)
    _, tangent = tapegrad.jvp(f, xs, directions)
    up = f(*[x + FD_STEP * t for x, t in zip(xs, directions)])
    down = f(*[x - FD_STEP * t for x, t in zip(xs, directions)])
    assert_close_to([tangent], [np.asarray((up - down) / (2 * FD_STEP))])
    tape = tapegrad.trace(loss(f, xs), *xs)
    gradient_tape = tapegrad.grad_tape(tape)
    fresh = inputs(shapes, seed=9)
    for ours, expected in zip(gradient_tape.compile("numpy")(*fresh), gradient_tape(*fresh)):
        assert np.asarray(ours).tobytes() == np.asarray(expected).tobytes()


@pytest.mark.parametrize(
    ("name", "shapes"),
    [("dot", ((2, 3, 4), (3, 4, 2))), ("tensordot", ((2, 3, 4), (3, 4, 5))), ("kron", ((2, 3), (3, 2))),
     ("cross", ((4, 3), (4, 3))), ("inner", ((2, 4), (3, 4)))],
)
def test_gradients_match_torch(name: str, shapes: Any) -> None:
    torch = pytest.importorskip("torch")
    xs = inputs(shapes)
    f = getattr(np, name)
    weight = np.random.default_rng(7).normal(size=np.shape(f(*xs)))
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    torch_f = {"dot": lambda a, b: torch.tensordot(a, b, dims=([2], [1])),
               "tensordot": lambda a, b: torch.tensordot(a, b, dims=2), "kron": torch.kron,
               "cross": lambda a, b: torch.linalg.cross(a, b), "inner": torch.inner}[name]
    (torch_f(*leaves) * torch.tensor(weight)).sum().backward()
    grads = tapegrad.grad(lambda *a: np.sum(f(*a) * weight), argnums=(0, 1))(*xs)
    for ours, leaf in zip(grads, leaves):
        np.testing.assert_allclose(ours, leaf.grad.numpy(), rtol=1e-13, atol=1e-13)


def test_second_order_through_cross_and_trace() -> None:
    """The Hessian-vector product of a cubic in ``a``: ``trace(A @ A) . cross(a, b)``."""
    a, b, direction = inputs(((3,), (3,), (3,)))

    def f(a: Any) -> Any:
        m = np.einsum("i,j->ij", a, a)
        return np.trace(m @ m) * np.sum(np.cross(a, b))

    gradient = tapegrad.grad(f)
    hvp = tapegrad.grad(lambda a: np.sum(gradient(a) * direction))(a)
    expected = numerical_gradients(lambda a: float(np.sum(gradient(a) * direction)), [a])
    assert_close_to([hvp], expected, 1e-6)


# ---------------------------------------------------------------- Value methods and the namespace


def test_value_methods_dot_and_trace() -> None:
    a, b = inputs(((3, 3), (3, 2)))
    np.testing.assert_allclose(Value(a).dot(b).data, a.dot(b), rtol=1e-14)
    assert Value(a).trace().data == a.trace()
    assert Value(a).trace(offset=1).data == a.trace(offset=1)
    grad = tapegrad.grad(lambda a: a.trace())(a)
    assert np.array_equal(grad, np.eye(3))


def test_the_namespace_has_every_product() -> None:
    for name in ("einsum", "dot", "vdot", "inner", "outer", "tensordot", "kron", "cross", "trace", "matmul"):
        assert callable(getattr(tnp, name))
        assert f"np.{name}" in tnp.SUPPORTED
    a, b = inputs(((3,), (3,)))
    assert tnp.cross(a, b).tobytes() == np.cross(a, b).tobytes()  # plain arrays: it simply computes


def test_dot_and_tensordot_are_matrix_products() -> None:
    """As numpy's, they call BLAS: the operands rearranged (transpose, reshape) around one matmul."""
    cases = [(np.dot, ((2, 3, 4), (3, 4, 2))), (np.dot, ((3, 4), (4,))), (np.tensordot, ((2, 3, 4), (3, 4, 5))),
             (np.inner, ((2, 4), (3, 4)))]
    for f, shapes in cases:
        tape = tapegrad.trace(lambda a, b, f=f: f(a, b).sum(), *inputs(shapes))
        assert tape.ops.count(OpKind.MATMUL) == 1 and OpKind.EINSUM not in tape.ops, str(tape)


# ---------------------------------------------------------------- misuse


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda v: np.dot(v, np.ones((4, 2))), ShapeError, "must match"),
        (lambda v: np.dot(v, np.ones((2, 4, 2))), ShapeError, "summed axes differ"),
        (lambda v: np.vdot(v, np.ones(5)), ShapeError, "same size"),
        (lambda v: np.inner(v, np.ones((2, 4))), ShapeError, "summed axes differ"),
        (lambda v: np.tensordot(v, np.ones((3, 3)), axes=3), ShapeError, "axes=3"),
        (lambda v: np.tensordot(v, np.ones((3, 3)), axes=([0], [0, 1])), ShapeError, "1 axes of a paired with 2"),
        (lambda v: np.tensordot(v, np.ones((3, 3)), axes=([0, 0], [0, 1])), ShapeError, "repeated axis"),
        (lambda v: np.tensordot(v, np.ones((3, 3)), axes="x"), InputTypeError, "a pair of axis lists"),
        (lambda v: np.cross(v, np.ones((2, 4))), ShapeError, "2 or 3 components"),
        (lambda v: np.trace(v[0]), ShapeError, "at least two axes"),
        (lambda v: np.trace(v, axis1=1, axis2=-1), ShapeError, "same axis"),
        (lambda v: np.trace(v, axis1=5), ShapeError, "out of range"),
        (lambda v: np.dot(v, np.ones((3, 3)), out=np.zeros((2, 3))), InputTypeError, "out="),
    ],
)
def test_misuse_raises_tapegrad_errors(call: Callable[[Value], Any], error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        call(Value(np.ones((2, 3))))

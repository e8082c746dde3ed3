"""numpy's shape functions on Values (issue 17, tapegrad/values/shaping.py): values, gradients, every engine.

Each case is numpy code, run unchanged on plain arrays (the reference) and
on Values.  The functions are linear, so their exact gradient is numpy's
own pullback: the gradient of ``sum(w * f(x))`` at element ``i`` of ``x`` is
``sum(w * (f(e_i) - f(0)))``, computed by numpy from basis arrays.  Every case is
checked for values (bit for bit against numpy, shapes and signs of zero
included), that pullback, central differences, a second derivative, forward
mode, replay on new inputs, ``grad_tape``, ``optimize``, generated numpy
code, tape files and sympy export; a hypothesis test runs the functions over
random shapes with empty and size-1 axes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tapegrad.numpy as tnp
from hypothesis import given, settings
from hypothesis import strategies as st
from support import assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Tape, Value
from tapegrad.errors import InputTypeError, ShapeError, UnsupportedOpError
from tapegrad.formats import dot, io
from tapegrad.formats.symbolic import to_sympy


def joined(parts: Any) -> Any:
    """The outputs of a function returning several arrays, as one vector (on arrays and Values alike)."""
    return np.concatenate([np.ravel(p) for p in parts])


# name: (f, shapes of its arguments)
CASES: dict[str, tuple[Callable[..., Any], list[tuple[int, ...]]]] = {
    "squeeze": (np.squeeze, [(1, 3, 1, 2)]),
    "squeeze_axis": (lambda x: np.squeeze(x, axis=(0, -2)), [(1, 3, 1, 2)]),
    "squeeze_method": (lambda x: x.squeeze(2), [(1, 3, 1, 2)]),
    "expand_dims": (lambda x: np.expand_dims(x, (0, -1)), [(2, 3)]),
    "ravel": (np.ravel, [(2, 3)]),
    "ravel_F": (lambda x: np.ravel(x, order="F"), [(2, 3, 2)]),
    "ravel_method": (lambda x: x.ravel(), [(2, 3)]),
    "flatten_method": (lambda x: x.flatten(), [(2, 3)]),
    "moveaxis": (lambda x: np.moveaxis(x, (0, 1), (-1, 0)), [(2, 3, 4)]),
    "swapaxes": (lambda x: np.swapaxes(x, 0, -1), [(2, 3, 4)]),
    "swapaxes_method": (lambda x: x.swapaxes(1, 2), [(2, 3, 4)]),
    "T_3d": (lambda x: x.T, [(2, 3, 4)]),
    "T_1d": (lambda x: x.T, [(3,)]),
    "transpose_method": (lambda x: x.transpose(1, 2, 0), [(2, 3, 4)]),
    "reshape_method": (lambda x: x.reshape(4, -1) + x.reshape((4, -1)), [(2, 3, 2)]),
    "stack": (lambda x, y: np.stack([x, y], axis=1), [(2, 3), (2, 3)]),
    "hstack": (lambda x, y: np.hstack([x, y]), [(2, 3), (2, 1)]),
    "hstack_vectors": (lambda x, y: np.hstack((x, y)), [(3,), (2,)]),
    "vstack": (lambda x, y: np.vstack([x, y]), [(3,), (2, 3)]),
    "dstack": (lambda x, y: np.dstack([x, y]), [(2, 3), (2, 3)]),
    "dstack_vectors": (lambda x, y: np.dstack([x, y]), [(3,), (3,)]),
    "column_stack": (lambda x, y: np.column_stack([x, y]), [(3,), (3, 2)]),
    "split": (lambda x: joined(np.split(x, 3, axis=1)), [(2, 6)]),
    "split_indices": (lambda x: joined(np.split(x, [1, -2, 9], axis=1)), [(2, 6)]),
    "array_split": (lambda x: joined(np.array_split(x, 4)), [(7,)]),
    "array_split_indices": (lambda x: joined(np.array_split(x, [2, 1], axis=-1)), [(2, 4)]),
    "tile": (lambda x: np.tile(x, (2, 1, 3)), [(2, 3)]),
    "tile_int": (lambda x: np.tile(x, 2), [(3,)]),
    "tile_fewer_reps": (lambda x: np.tile(x, 2), [(2, 3)]),
    "repeat": (lambda x: np.repeat(x, 2, axis=0), [(2, 3)]),
    "repeat_each": (lambda x: np.repeat(x, [2, 0, 1], axis=1), [(2, 3)]),
    "repeat_flat": (lambda x: np.repeat(x, 3), [(2, 2)]),
    "repeat_method": (lambda x: x.repeat(2, axis=-1), [(2, 3)]),
    "roll": (lambda x: np.roll(x, (1, -2), axis=(0, 1)), [(3, 4)]),
    "roll_repeated_axis": (lambda x: np.roll(x, (1, 2), axis=(1,)), [(3, 4)]),
    "roll_flat": (lambda x: np.roll(x, 5), [(3, 4)]),
    "pad_constant": (lambda x: np.pad(x, ((1, 2), (0, 3)), constant_values=((-1.5, 2.0), (3.0, 4.0))), [(2, 3)]),
    "pad_zeros": (lambda x: np.pad(x, 1), [(2, 3)]),
    "pad_one_pair": (lambda x: np.pad(x, (2, 1)), [(2, 3)]),
    "pad_dict": (lambda x: np.pad(x, {-1: (1, 2), 0: 1}, mode="symmetric"), [(2, 3)]),
    "pad_edge": (lambda x: np.pad(x, 2, mode="edge"), [(2, 3)]),
    "pad_reflect": (lambda x: np.pad(x, ((3, 1), (2, 4)), mode="reflect"), [(3, 3)]),
    "pad_symmetric": (lambda x: np.pad(x, ((0, 3), (2, 1)), mode="symmetric"), [(2, 3)]),
    "pad_wrap": (lambda x: np.pad(x, 4, mode="wrap"), [(3,)]),
    "flip": (np.flip, [(2, 3)]),
    "flip_axes": (lambda x: np.flip(x, (0, 2)), [(2, 3, 2)]),
    "fliplr": (np.fliplr, [(2, 3)]),
    "flipud": (np.flipud, [(2, 3)]),
    "diag_vector": (lambda x: np.diag(x, k=-1), [(3,)]),
    "diag_vector_above": (lambda x: np.diag(x, 2), [(2,)]),
    "diag_matrix": (lambda x: np.diag(x, 1), [(3, 4)]),
    "diagonal": (lambda x: np.diagonal(x, offset=-1, axis1=2, axis2=0), [(3, 2, 4)]),
    "diagonal_method": (lambda x: x.diagonal(1), [(3, 4)]),
    "tril": (lambda x: np.tril(x, -1), [(2, 3, 3)]),
    "triu": (lambda x: np.triu(x, 1), [(3, 4)]),
    "tril_vector": (np.tril, [(3,)]),
    "atleast_1d": (lambda x, y: joined(np.atleast_1d(x, y)), [(), (2,)]),
    "atleast_2d": (np.atleast_2d, [(3,)]),
    "atleast_3d": (lambda x, y, z: joined(np.atleast_3d(x, y, z)), [(), (3,), (2, 3)]),
    "atleast_3d_vector": (np.atleast_3d, [(3,)]),
    "broadcast_arrays": (lambda x, y: joined(np.broadcast_arrays(x, y)), [(3, 1), (4,)]),
    "broadcast_to": (lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    "concatenate_flat": (lambda x, y: np.concatenate([x, y], axis=None), [(2, 2), (3,)]),
}
NAMES = list(CASES)


def inputs(name: str, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) if shape else float(rng.normal()) for shape in CASES[name][1]]


def weights(name: str) -> np.ndarray:
    out = np.asarray(CASES[name][0](*inputs(name)))
    return np.random.default_rng(7).normal(size=out.shape)


def identical(actual: Any, expected: Any) -> bool:
    """The same shape and float64 bits (signed zeros differ, nan equals nan)."""
    a, b = np.asarray(actual), np.asarray(expected)
    same = (a == b) & (np.signbit(a) == np.signbit(b)) | (a != a) & (b != b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.all(same))


def loss(name: str) -> Callable[..., Any]:
    f, w = CASES[name][0], weights(name)
    return lambda *xs: np.sum(w * f(*xs))


def pullback(name: str, k: int, cotangent: np.ndarray) -> np.ndarray:
    """``J_k^T cotangent`` for argument ``k``, from numpy alone: f is linear, so column ``i`` is ``f(e_i) - f(0)``."""
    f, shapes = CASES[name]
    zeros = [np.zeros(s) for s in shapes]
    base = np.asarray(f(*zeros))
    out = np.zeros(shapes[k])
    for i in np.ndindex(shapes[k]):
        e = [z.copy() for z in zeros]
        e[k][i] = 1.0
        out[i] = np.sum(cotangent * (np.asarray(f(*e)) - base))
    return out


@pytest.fixture(scope="module")
def tapes() -> dict[str, Tape]:
    return {name: tapegrad.trace(CASES[name][0], *inputs(name)) for name in NAMES}


# ---------------------------------------------------------------- values and gradients


@pytest.mark.parametrize("name", NAMES)
def test_values_are_numpys_bit_for_bit(name: str) -> None:
    f, xs = CASES[name][0], inputs(name)
    out = f(*[Value(x) for x in xs])
    assert isinstance(out, Value)
    assert identical(out.data, np.asarray(f(*[np.asarray(x) for x in xs])))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_numpys_pullback_and_central_differences(name: str) -> None:
    xs = inputs(name)
    grads = tapegrad.grad(loss(name), argnums=tuple(range(len(xs))))(*xs)
    w = weights(name)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, pullback(name, k, w), rtol=1e-14, atol=1e-14)
    assert_close_to(grads, numerical_gradients(loss(name), [np.asarray(x, dtype=float) for x in xs]))


@pytest.mark.parametrize("name", NAMES)
def test_second_derivative_of_a_cube(name: str) -> None:
    """``hvp`` of ``sum(w * f(x)**3)`` is ``J^T (6 w f(x) f(v))`` (f linear, ``f(v)`` without its constants)."""
    f, shapes = CASES[name]
    w, xs = weights(name), inputs(name)
    vs = inputs(name, seed=3)
    zeros = [np.zeros(s) for s in shapes]
    tangent = np.asarray(f(*vs)) - np.asarray(f(*zeros))
    hv = tapegrad.hvp(lambda *a: np.sum(w * f(*a) ** 3), xs, vs)
    assert len(hv) == len(xs)
    for k, h in enumerate(hv):
        part = pullback(name, k, 6.0 * w * np.asarray(f(*xs)) * tangent)
        np.testing.assert_allclose(h, part, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_moves_the_tangent_as_the_values(name: str, tapes: dict[str, Tape]) -> None:
    f, shapes = CASES[name]
    xs, ts = inputs(name, seed=1), inputs(name, seed=2)
    value, tangent = tapegrad.jvp(tapes[name], xs, ts)
    assert identical(value, f(*[np.asarray(x) for x in xs]))
    zeros = [np.zeros(s) for s in shapes]
    expected = np.asarray(f(*ts)) - np.asarray(f(*zeros))
    # (equal, with zeros of either sign: where's forward rule multiplies the tangent by 0.0 where it selects 0)
    assert np.shape(tangent) == expected.shape and np.array_equal(tangent, expected)


# ---------------------------------------------------------------- every engine, on new inputs


@pytest.mark.parametrize("name", NAMES)
def test_replay_and_generated_code_on_new_inputs(name: str, tapes: dict[str, Tape]) -> None:
    f, tape = CASES[name][0], tapes[name]
    new = inputs(name, seed=5)
    expected = np.asarray(f(*[np.asarray(x) for x in new]))
    assert identical(tape(*new), expected)
    assert identical(tape.compile("numpy")(*new), expected)
    assert identical(tapegrad.optimize(tape)(*new), expected)
    assert identical(io.loads(io.dumps(tape))(*new), expected)
    assert "digraph" in dot.to_dot(tape)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_tape_optimised_and_generated_agree_with_the_interpreter(name: str) -> None:
    new = inputs(name, seed=5)
    tape = tapegrad.trace(loss(name), *inputs(name))
    value, grads = tape(*new), tuple(tape.gradient(*new))
    gradient = tapegrad.grad_tape(tape)
    for program in (gradient, tapegrad.optimize(gradient), io.loads(io.dumps(gradient))):
        out = program(*new)
        assert identical(out[0], value)
        assert all(identical(a, b) for a, b in zip(out[1:], grads))
    out = gradient.compile("numpy")(*new)
    assert all(identical(a, b) for a, b in zip(out, (value, *grads)))


SMALL = [n for n in NAMES if len(CASES[n][1]) == 1 and np.prod(CASES[n][1][0]) <= 12]


@pytest.mark.parametrize("name", SMALL)
def test_sympy_export_of_small_arrays(name: str) -> None:
    xs = inputs(name)
    tape = tapegrad.trace(loss(name), *xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formula = to_sympy(tape)
    (x,) = xs
    points = {f"{tape.inputs[0]}_{'_'.join(map(str, i))}": float(np.asarray(x)[i]) for i in np.ndindex(np.shape(x))}
    if not np.shape(x):
        points = {tape.inputs[0]: float(x)}
    value = float(formula.subs({s: points[s.name] for s in formula.free_symbols}))
    assert value == pytest.approx(float(tape(*xs)), rel=1e-12)


def test_the_math_backend_refuses_array_programs_clearly(tapes: dict[str, Tape]) -> None:
    with pytest.raises(UnsupportedOpError, match="math backend"):
        tapes["tile"].compile("math")


# ---------------------------------------------------------------- conventions


def test_tril_and_triu_select_exact_zeros_with_no_gradient_even_from_inf_and_nan() -> None:
    x = np.array([[1.0, np.inf, np.nan], [-0.0, 2.0, -np.inf], [np.nan, 3.0, 4.0]])
    lower = tapegrad.grad(lambda m: np.sum(np.tril(m) * 2.0))(x)
    assert identical(tnp.tril(Value(x)).data, np.tril(x))
    assert identical(lower, np.tril(np.full((3, 3), 2.0)))
    upper = tapegrad.grad(lambda m: np.sum(np.triu(m, 1) ** 2))(np.where(np.tri(3, k=0, dtype=bool), np.inf, x))
    assert np.all(upper[np.tri(3, k=0, dtype=bool)] == 0.0)


def test_pad_constant_gives_no_gradient_to_the_padding_and_keeps_float32() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = np.pad(Value(x), 1, constant_values=7.0)
    assert identical(out.data, np.pad(x, 1, constant_values=7.0))
    g = tapegrad.grad(lambda v: np.sum(np.pad(v, 1, mode="reflect")))(np.arange(3.0))
    assert identical(g, np.array([1.0, 3.0, 1.0]))  # the middle element is copied to both sides


def test_diag_of_a_vector_has_exact_zeros_off_the_diagonal_and_float32_stays() -> None:
    v = np.array([np.inf, -1.0, np.nan], dtype=np.float32)
    out = np.diag(Value(v), -1)
    assert identical(out.data, np.diag(v, -1))
    g = tapegrad.grad(lambda v: np.sum(np.diag(v) * np.arange(9.0).reshape(3, 3)))(np.ones(3))
    assert identical(g, np.array([0.0, 4.0, 8.0]))


def test_repeat_and_tile_add_the_gradients_of_their_copies() -> None:
    g = tapegrad.grad(lambda x: np.sum(np.repeat(x, [3, 0, 2]) * np.arange(5.0)))(np.ones(3))
    assert identical(g, np.array([0.0 + 1.0 + 2.0, 0.0, 3.0 + 4.0]))
    g = tapegrad.grad(lambda x: np.sum(np.tile(x, (2, 2))))(np.ones((1, 2)))
    assert identical(g, np.full((1, 2), 4.0))


def test_split_returns_a_list_of_values_as_numpy_returns_a_list() -> None:
    parts = np.split(Value(np.arange(6.0)), [2, 3])
    assert isinstance(parts, list) and [p.shape for p in parts] == [(2,), (1,), (3,)]
    assert all(isinstance(p, Value) for p in parts)
    assert isinstance(np.broadcast_arrays(Value(np.ones(2)), np.ones((3, 1))), tuple)
    assert isinstance(np.atleast_2d(Value(1.0), Value(np.ones(2))), tuple)


def test_functions_of_plain_arrays_compute_with_numpy() -> None:
    x = np.arange(12.0).reshape(3, 4)
    assert identical(tnp.pad(x, ((1, 0), (2, 2)), mode="edge"), np.pad(x, ((1, 0), (2, 2)), mode="edge"))
    assert identical(tnp.diagonal(x, 1), np.diagonal(x, 1))
    assert identical(tnp.roll(x, -1), np.roll(x, -1))
    assert identical(tnp.moveaxis(x, 0, 1), np.moveaxis(x, 0, 1))


def test_value_methods_take_numpys_arguments() -> None:
    x = Value(np.arange(24.0).reshape(2, 3, 4))
    data = np.arange(24.0).reshape(2, 3, 4)
    assert identical(x.transpose(np.int64(2), 0, 1).data, data.transpose(2, 0, 1))
    assert identical(x.transpose((2, 0, 1)).data, data.transpose((2, 0, 1)))
    assert identical(x.var(axis=1, ddof=1).data, data.var(axis=1, ddof=1))
    assert identical(x.std(axis=(0, 2), keepdims=True).data, data.std(axis=(0, 2), keepdims=True))
    assert identical(x.sum(axis=-1, keepdims=True).data, data.sum(axis=-1, keepdims=True))
    assert identical(x.prod(axis=0).data, data.prod(axis=0))
    assert identical(x.cumsum(axis=1).data, data.cumsum(axis=1))
    with pytest.raises(InputTypeError, match="dtype= and out="):
        x.var(dtype=np.float32)


# ---------------------------------------------------------------- bad arguments

X = Value(np.arange(6.0).reshape(2, 3))
BAD: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: np.squeeze(X, 0), ShapeError, "squeeze: axis 0 of f64[2,3] has size 2"),
    (lambda: np.squeeze(X, 5), ShapeError, "axis 5 is out of range"),
    (lambda: np.expand_dims(X, 3), ShapeError, "expand_dims: axis 3 is out of range"),
    (lambda: np.expand_dims(X, (0, 0)), ShapeError, "repeated axis"),
    (lambda: np.ravel(X, order="K"), InputTypeError, "order must be 'C' or 'F'"),
    (lambda: np.moveaxis(X, (0, 1), 0), ShapeError, "as many axes"),
    (lambda: np.moveaxis(X, 0, 2), ShapeError, "axis 2 is out of range"),
    (lambda: np.swapaxes(X, 0, 1.0), InputTypeError, "an axis must be an int"),
    (lambda: np.broadcast_to(X, (3, 3)), ShapeError, "cannot be broadcast to shape (3, 3)"),
    (lambda: np.broadcast_arrays(X, np.ones(2)), ShapeError, "do not broadcast together"),
    (lambda: tnp.hstack([]), ShapeError, "at least one array"),
    (lambda: np.vstack([X, np.ones(2)]), ShapeError, "differ outside axis 0"),
    (lambda: np.split(X, 2, axis=1), ShapeError, "does not divide into 2 equal sections"),
    (lambda: np.array_split(X, 0), ShapeError, "at least 1"),
    (lambda: np.split(X, [1.5]), InputTypeError, "split index must be an int"),
    (lambda: np.split(Value(1.0), 2), ShapeError, "a scalar has no axis"),
    (lambda: np.tile(X, -1), ShapeError, "must not be negative"),
    (lambda: np.tile(X, 2.0), InputTypeError, "repetition count must be an int"),
    (lambda: np.repeat(X, [1, 2], axis=1), ShapeError, "2 repetition counts for axis 1"),
    (lambda: np.repeat(X, -1), ShapeError, "must not be negative"),
    (lambda: np.repeat(X, 2, axis=2), ShapeError, "axis 2 is out of range"),
    (lambda: np.roll(X, (1, 2), axis=(0, 1, 0)), ShapeError, "do not pair up"),
    (lambda: np.pad(X, -1), ShapeError, "must not be negative"),
    (lambda: np.pad(X, 1.5), InputTypeError, "pad_width must hold integers"),
    (lambda: np.pad(X, ((1, 2), (3, 4), (5, 6))), ShapeError, "does not fit an array of 2 axes"),
    (lambda: np.pad(X, {2: 1}), ShapeError, "pad: axis 2 is out of range"),
    (lambda: np.pad(X, 1, mode="median"), UnsupportedOpError, "mode 'median' is not supported"),
    (lambda: np.pad(X, 1, mode="edge", constant_values=3), InputTypeError, "takes no argument constant_values"),
    (lambda: np.pad(X, 1, mode="reflect", reflect_type="odd"), UnsupportedOpError, "only 'even'"),
    (lambda: np.pad(Value(np.ones((0, 2))), 1, mode="edge"), ShapeError, "is empty; only mode 'constant'"),
    (lambda: np.pad(X, 1, constant_values=Value(1.0)), InputTypeError, "must be numbers, not a Value"),
    (lambda: np.flip(X, 2), ShapeError, "flip: axis 2 is out of range"),
    (lambda: np.fliplr(Value(np.ones(3))), ShapeError, "fliplr: needs an array of at least two axes"),
    (lambda: np.flipud(Value(1.0)), ShapeError, "flipud: needs an array of at least one axis"),
    (lambda: np.diag(Value(np.ones((2, 2, 2)))), ShapeError, "diag: takes a vector"),
    (lambda: np.diag(X, 0.5), InputTypeError, "diag: k must be an int"),
    (lambda: np.diagonal(X, 0, 1, 1), ShapeError, "axis1 and axis2 are the same axis"),
    (lambda: np.diagonal(Value(np.ones(3))), ShapeError, "at least two axes"),
    (lambda: np.tril(Value(2.0)), ShapeError, "tril: needs a matrix"),
    (lambda: np.triu(X, None), InputTypeError, "triu: k must be an int"),
    (lambda: np.stack([X], out=np.ones(3)), UnsupportedOpError, "np.stack with these arguments"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_raise_tapegrad_errors(call: Callable[[], Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert fragment in str(caught.value), str(caught.value)


# ---------------------------------------------------------------- random shapes

FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "squeeze": lambda x, d: np.squeeze(x),
    "expand_dims": lambda x, d: np.expand_dims(x, d.draw(st.integers(-x.ndim - 1, x.ndim))),
    "ravel_F": lambda x, d: np.ravel(x, order="F"),
    "moveaxis": lambda x, d: np.moveaxis(x, d.draw(st.integers(-x.ndim, x.ndim - 1)), -1),
    "swapaxes": lambda x, d: np.swapaxes(x, 0, d.draw(st.integers(0, x.ndim - 1))),
    "T": lambda x, d: x.T,
    "flip": lambda x, d: np.flip(x, d.draw(st.integers(0, x.ndim - 1))),
    "roll": lambda x, d: np.roll(x, d.draw(st.integers(-7, 7)), axis=d.draw(st.none() | st.integers(0, x.ndim - 1))),
    "tile": lambda x, d: np.tile(x, tuple(d.draw(st.lists(st.integers(0, 3), max_size=3)))),
    "repeat": lambda x, d: np.repeat(x, d.draw(st.integers(0, 3)), axis=d.draw(st.integers(0, x.ndim - 1))),
    "repeat_each": lambda x, d: np.repeat(
        x, d.draw(st.lists(st.integers(0, 3), min_size=x.shape[0], max_size=x.shape[0])), axis=0
    ),
    "pad_constant": lambda x, d: np.pad(x, d.draw(st.integers(0, 2)), constant_values=-2.5),
    "pad_edge": lambda x, d: np.pad(x, [(d.draw(st.integers(0, 2)), 1)] * x.ndim, mode="edge") if x.size else x,
    "pad_reflect": lambda x, d: np.pad(x, d.draw(st.integers(0, 4)), mode="reflect") if x.size else x,
    "array_split": lambda x, d: joined(np.array_split(x, d.draw(st.integers(1, 4)), axis=-1)),
    "split_at": lambda x, d: joined(np.split(x, d.draw(st.lists(st.integers(-4, 5), max_size=3)))),
    "diagonal": lambda x, d: np.diagonal(x, d.draw(st.integers(-3, 3))) if x.ndim >= 2 else x,
    "tril": lambda x, d: np.tril(x, d.draw(st.integers(-2, 2))),
    "triu": lambda x, d: np.triu(x, d.draw(st.integers(-2, 2))),
    "diag": lambda x, d: np.diag(x, d.draw(st.integers(-2, 2))) if x.ndim <= 2 else x,
    "hstack": lambda x, d: np.hstack([x, x]),
    "vstack": lambda x, d: np.vstack([x, x]),
    "column_stack": lambda x, d: np.column_stack([x, x]) if x.ndim <= 2 else x,
    "atleast_3d": lambda x, d: np.atleast_3d(x),
}


def _pullback_of(f: Callable[[Any], Any], x: np.ndarray, w: np.ndarray) -> np.ndarray:
    base = np.asarray(f(np.zeros_like(x)))
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1.0
        out[i] = np.sum(w * (np.asarray(f(e)) - base))
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(FUNCTIONS)),
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
    st.data(),
)
def test_random_shapes_match_numpy_and_the_pullback(name: str, shape: list[int], data: Any) -> None:
    x = np.random.default_rng(len(shape)).normal(size=shape)
    draws: list[Any] = []

    class Replay:  # the same draws for the numpy run and the Value run
        def draw(self, strategy: Any) -> Any:
            if len(draws) < len(log):
                draws.append(log[len(draws)])
                return draws[-1]
            value = data.draw(strategy)
            log.append(value)
            draws.append(value)
            return value

    log: list[Any] = []

    def f(a: Any) -> Any:
        draws.clear()
        return FUNCTIONS[name](a, Replay())

    try:
        expected = np.asarray(f(x))
    except (ValueError, IndexError):  # numpy refuses this shape (an empty axis to split...): so must tapegrad
        with pytest.raises(ShapeError):
            f(Value(x))
        return
    out = f(Value(x))
    assert identical(out.data if isinstance(out, Value) else out, expected)
    w = np.random.default_rng(1).normal(size=expected.shape)
    g = tapegrad.grad(lambda v: np.sum(w * f(v)))(x)
    np.testing.assert_allclose(g, _pullback_of(f, x, w), rtol=1e-14, atol=1e-14)

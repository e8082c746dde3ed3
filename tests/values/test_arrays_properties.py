"""Array Values on random shapes (hypothesis): gradients against finite differences.

Shapes are drawn with numpy's own broadcasting and indexing strategies
(``hypothesis.extra.numpy``), including size-1 axes, empty axes and 0-d
arrays; the numbers come from a numpy generator seeded by hypothesis, away
from the kinks of max, maximum and where with probability 1 - 1e-6.  Each
property checks the value against numpy and the gradient, by eager
``backward()`` and by ``tapegrad.grad``, against central differences of a
numpy reference in float64.  The last properties compare random elementwise
programs run on arrays with the scalar tape run point by point, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from support import assert_close_to, numerical_gradients

import tapegrad
from tapegrad import Value, maximum, minimum, where
from tapegrad.errors import ShapeError

EXAMPLES = settings(max_examples=40, deadline=None)
FEW_EXAMPLES = settings(max_examples=25, deadline=None)

seeds = st.integers(0, 2**32 - 1)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def check_against_numpy(
    f: Callable[..., Any], reference: Callable[..., Any], xs: Sequence[np.ndarray], seed: int
) -> None:
    """``f`` on Values equals ``reference`` on arrays, and its gradients equal central differences."""
    expected = reference(*xs)
    out = f(*[Value(x) for x in xs])
    assert out.shape == np.shape(expected)
    # absolute: cancellation (x - logsumexp(x)) loses the ulps of the inputs' magnitude
    magnitude = max((np.max(np.abs(x), initial=0.0) for x in xs), default=0.0)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-15 * (1.0 + magnitude))
    w = np.random.default_rng(seed + 1).normal(size=np.shape(expected))
    w = float(w) if w.shape == () else w

    def loss(*args: Any) -> Any:
        return total(f(*args) * w)

    numeric = numerical_gradients(lambda *a: float(np.sum(reference(*a) * w)), xs)
    leaves = [Value(x) for x in xs]
    loss(*leaves).backward()
    assert_close_to([leaf.grad for leaf in leaves], numeric)
    assert_close_to(tapegrad.grad(loss, argnums=tuple(range(len(xs))))(*xs), numeric)


def total(v: Value) -> Value:
    """The sum of an array Value; a scalar as it is (array ops on float Values: see test_arrays_tapes.py)."""
    return v.sum() if v.ndim else v


def draw_arrays(seed: int, shapes: Sequence[tuple[int, ...]], low: float = -2.0, high: float = 2.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.uniform(low, high, size=shape)) for shape in shapes]


# ---------------------------------------------------------------- elementwise ops with broadcasting

BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / (y * y + 0.5), lambda x, y: x / (y * y + 0.5)),
    "pow": (lambda x, y: (x * x + 0.5) ** y, lambda x, y: (x * x + 0.5) ** y),
    "maximum": (maximum, np.maximum),
    "minimum": (minimum, np.minimum),
    "where": (lambda x, y: where(x > y, x * y, x - y), lambda x, y: np.where(x > y, x * y, x - y)),
}
UNARY = {
    "neg": (lambda x: -x, np.negative),
    "pow_const": (lambda x: x**3, lambda x: x**3),
    "exp": (lambda x: x.exp(), np.exp),
    "log": (lambda x: (x * x + 0.5).log(), lambda x: np.log(x * x + 0.5)),
    "tanh": (lambda x: x.tanh(), np.tanh),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1.0 / (1.0 + np.exp(-x))),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0.0)),
    "sin": (lambda x: x.sin(), np.sin),
    "cos": (lambda x: x.cos(), np.cos),
    "sqrt": (lambda x: (x * x + 0.5).sqrt(), lambda x: np.sqrt(x * x + 0.5)),
    "abs": (lambda x: x.abs(), np.abs),
}


@EXAMPLES
@given(
    st.sampled_from(sorted(BINARY)),
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
    seeds,
)
def test_binary_ops_broadcast_and_match_finite_differences(name: str, shapes: Any, seed: int) -> None:
    f, reference = BINARY[name]
    xs = draw_arrays(seed, shapes.input_shapes)
    check_against_numpy(f, reference, xs, seed)
    assert f(*[Value(x) for x in xs]).shape == shapes.result_shape


@EXAMPLES
@given(st.sampled_from(sorted(UNARY)), small_shapes, seeds)
def test_unary_ops_on_any_shape_match_finite_differences(name: str, shape: tuple[int, ...], seed: int) -> None:
    f, reference = UNARY[name]
    check_against_numpy(f, reference, draw_arrays(seed, [shape]), seed)


@EXAMPLES
@given(small_shapes, seeds, st.sampled_from([1.5, -0.5, 3.0]))
def test_a_scalar_value_broadcast_against_an_array_gets_the_summed_gradient(
    shape: tuple[int, ...], seed: int, scale: float
) -> None:
    (x,) = draw_arrays(seed, [shape])
    check_against_numpy(lambda s, a: (s * a).tanh() + s, lambda s, a: np.tanh(s * a) + s, [np.asarray(scale), x], seed)


# ---------------------------------------------------------------- shape-changing ops


@EXAMPLES
@given(
    st.sampled_from(sorted(set(BINARY) - {"pow"})),  # float32 powers: a known bug, see test_arrays_dtypes.py
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
    seeds,
)
def test_float32_stays_float32_and_its_gradients_are_float32(name: str, shapes: Any, seed: int) -> None:
    f, _ = BINARY[name]
    xs = [x.astype(np.float32) for x in draw_arrays(seed, shapes.input_shapes)]
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    assert out.dtype == np.float32 and out.shape == shapes.result_shape
    total(out.tanh() * 2.0).backward()
    as64 = [Value(x.astype(np.float64)) for x in xs]
    total(f(*as64).tanh() * 2.0).backward()
    for leaf, wide in zip(leaves, as64):
        assert leaf.grad.dtype == np.float32 and leaf.grad.shape == leaf.shape
        # float32 rounding (6e-8) through a few ops and sums of up to 27 terms
        np.testing.assert_allclose(leaf.grad, wide.grad, rtol=1e-4, atol=1e-5)


@st.composite
def reductions(draw: Any) -> tuple[str, tuple[int, ...], Any, bool]:
    name = draw(st.sampled_from(["sum", "mean", "max", "logsumexp"]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0 if name == "sum" else 1, max_side=4))
    ndim = len(shape)
    axis = draw(
        st.none()
        | st.integers(-ndim, ndim - 1)
        | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    )
    return name, shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(axis=a, keepdims=k), lambda x, a, k: np.sum(x, axis=a, keepdims=k)),
    "mean": (lambda x, a, k: x.mean(axis=a, keepdims=k), lambda x, a, k: np.mean(x, axis=a, keepdims=k)),
    "max": (lambda x, a, k: x.max(axis=a, keepdims=k), lambda x, a, k: np.max(x, axis=a, keepdims=k)),
    "logsumexp": (
        lambda x, a, k: x.logsumexp(axis=a, keepdims=k),
        lambda x, a, k: np.log(np.sum(np.exp(x), axis=a, keepdims=k)),
    ),
}


@EXAMPLES
@given(reductions(), seeds)
def test_reductions_over_any_axes_match_finite_differences(reduction: Any, seed: int) -> None:
    name, shape, axis, keepdims = reduction
    f, reference = REDUCTIONS[name]
    check_against_numpy(
        lambda x: f(x, axis, keepdims), lambda x: reference(x, axis, keepdims), draw_arrays(seed, [shape]), seed
    )


@st.composite
def reshapes(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = draw(nonempty_shapes)
    size = int(np.prod(shape))
    k = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    target = draw(st.permutations([size // k, k, 1]))
    unknown = draw(st.integers(-1, 2))
    return shape, tuple(-1 if i == unknown else n for i, n in enumerate(target))


@EXAMPLES
@given(reshapes(), seeds)
def test_reshape_with_and_without_minus_one_matches_finite_differences(shapes: Any, seed: int) -> None:
    shape, target = shapes
    check_against_numpy(lambda x: x.reshape(*target), lambda x: x.reshape(target), draw_arrays(seed, [shape]), seed)


@st.composite
def permutations(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=3))
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return shape, axes


@EXAMPLES
@given(permutations(), seeds)
def test_transpose_by_any_permutation_matches_finite_differences(case: Any, seed: int) -> None:
    shape, axes = case
    f = (lambda x: x.T) if axes is None else (lambda x: x.transpose(axes))
    check_against_numpy(f, lambda x: np.transpose(x, axes), draw_arrays(seed, [shape]), seed)


@st.composite
def basic_indexing(draw: Any) -> tuple[tuple[int, ...], Any]:
    shape = draw(nonempty_shapes)
    return shape, draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))


@EXAMPLES
@given(basic_indexing(), seeds)
def test_basic_indexing_with_slices_steps_none_and_ellipsis_matches_finite_differences(case: Any, seed: int) -> None:
    shape, index = case
    check_against_numpy(lambda x: x[index], lambda x: x[index], draw_arrays(seed, [shape]), seed)


@st.composite
def gathers(draw: Any) -> tuple[tuple[int, int], np.ndarray]:
    rows, width = draw(st.integers(1, 5)), draw(st.integers(0, 3))
    ids = draw(
        hnp.arrays(
            np.intp,
            hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4),
            elements=st.integers(-rows, rows - 1),
        )
    )
    return (rows, width), ids


@EXAMPLES
@given(gathers(), seeds)
def test_embedding_lookups_scatter_add_their_gradient_exactly(case: Any, seed: int) -> None:
    shape, ids = case
    (table,) = draw_arrays(seed, [shape])
    w = np.random.default_rng(seed + 1).normal(size=ids.shape + shape[1:])
    expected = np.zeros(shape)
    np.add.at(expected, ids, w)  # every pick of a repeated row adds
    leaf = Value(table)
    rows = leaf[ids]
    np.testing.assert_array_equal(rows.data, table[ids])
    (rows * w).sum().backward()
    np.testing.assert_allclose(leaf.grad, expected, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(tapegrad.grad(lambda t: (t[ids] * w).sum())(table), expected, rtol=1e-15, atol=1e-15)


@EXAMPLES
@given(nonempty_shapes, seeds)
def test_boolean_masks_send_the_gradient_to_the_picked_elements(shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=shape)
    mask = rng.uniform(size=shape) < 0.5
    w = rng.normal(size=int(mask.sum()))
    leaf = Value(x)
    (leaf[mask] * w).sum().backward()
    expected = np.zeros(shape)
    expected[mask] = w
    np.testing.assert_array_equal(leaf.grad, expected)
    column_mask = rng.uniform(size=shape[-1]) < 0.5
    check_against_numpy(lambda v: v[..., column_mask], lambda v: v[..., column_mask], [x], seed)


@st.composite
def matmuls(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n, k, m = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(1, 3))
    batches = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=2))
    left = draw(st.sampled_from(["vector", "matrix"]))
    right = draw(st.sampled_from(["vector", "matrix"]))
    a = (k,) if left == "vector" else batches.input_shapes[0] + (n, k)
    b = (k,) if right == "vector" else batches.input_shapes[1] + (k, m)
    return a, b


@EXAMPLES
@given(matmuls(), seeds)
def test_matmul_of_vectors_matrices_and_batches_matches_finite_differences(shapes: Any, seed: int) -> None:
    check_against_numpy(lambda a, b: a @ b, np.matmul, draw_arrays(seed, shapes), seed)


@st.composite
def joins(draw: Any) -> tuple[str, int, list[tuple[int, ...]]]:
    name = draw(st.sampled_from(["concatenate", "stack"]))
    shape = list(draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3)))
    count = draw(st.integers(1, 3))
    if name == "stack":
        return name, draw(st.integers(-len(shape) - 1, len(shape))), [tuple(shape)] * count
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(count):
        shape[axis] = draw(st.integers(0, 3))
        parts.append(tuple(shape))
    return name, axis, parts


@EXAMPLES
@given(joins(), seeds)
def test_concatenate_and_stack_match_finite_differences(case: Any, seed: int) -> None:
    name, axis, shapes = case
    join = getattr(tapegrad, name)
    reference = getattr(np, name)
    check_against_numpy(
        lambda *xs: join(list(xs), axis=axis),
        lambda *xs: reference(list(xs), axis=axis),
        draw_arrays(seed, shapes),
        seed,
    )


def _np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


@st.composite
def softmaxes(draw: Any) -> tuple[str, tuple[int, ...], int]:
    name = draw(st.sampled_from(["softmax", "log_softmax", "cross_entropy"]))
    if name == "cross_entropy":
        return name, (draw(st.integers(1, 4)), draw(st.integers(1, 4))), -1
    shape = draw(nonempty_shapes)
    return name, shape, draw(st.integers(-len(shape), len(shape) - 1))


@EXAMPLES
@given(softmaxes(), seeds, st.sampled_from([1.0, 30.0]))
def test_softmax_family_matches_finite_differences(case: Any, seed: int, scale: float) -> None:
    name, shape, axis = case
    (x,) = draw_arrays(seed, [shape], -scale, scale)
    if name == "softmax":
        check_against_numpy(lambda v: tapegrad.softmax(v, axis), lambda v: np.exp(_np_log_softmax(v, axis)), [x], seed)
    elif name == "log_softmax":
        check_against_numpy(lambda v: v.log_softmax(axis), lambda v: _np_log_softmax(v, axis), [x], seed)
    else:
        targets = np.random.default_rng(seed).integers(0, shape[1], size=shape[0])
        check_against_numpy(
            lambda v: tapegrad.cross_entropy(v, targets),
            lambda v: -np.mean(_np_log_softmax(v, -1)[np.arange(shape[0]), targets]),
            [x],
            seed,
        )


@FEW_EXAMPLES
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=3), seeds)
def test_shapes_that_do_not_broadcast_raise_shape_error_naming_both(shapes: Any, seed: int) -> None:
    a, b = shapes.input_shapes
    a = (*a[:-1], a[-1] + 1)  # a last axis of 2 or more ...
    b = (*b[:-1], a[-1] + 1)  # ... and one that is neither it nor 1
    text = r"mul: operands f64\[{}\] and f64\[{}\] do not fit".format(*(",".join(map(str, s)) for s in (a, b)))
    with pytest.raises(ShapeError, match=text):
        Value(np.ones(a)) * Value(np.ones(b))
    with pytest.raises(ShapeError, match=r"add: operands"):
        tapegrad.trace(lambda x, y: x + y, np.ones(a), np.ones(b))


# ---------------------------------------------------------------- arrays equal the scalar tape point by point

# Correctly rounded operations and exact selections only: numpy and Python's
# float arithmetic give the same bits (numpy's vectorised exp, tanh... may not).
EXACT_OPS: list[tuple[str, int, Callable[..., Any]]] = [
    ("add", 2, lambda x, y: x + y),
    ("sub", 2, lambda x, y: x - y),
    ("mul", 2, lambda x, y: x * y),
    ("div", 2, lambda x, y: x / (y * y + 1.0)),
    ("neg", 1, lambda x: -x),
    ("square", 1, lambda x: x**2),
    ("sqrt", 1, lambda x: (x * x + 0.25).sqrt()),
    ("relu", 1, lambda x: x.relu()),
    ("abs", 1, lambda x: abs(x)),
    ("maximum", 2, maximum),
    ("minimum", 2, minimum),
    ("where", 2, lambda x, y: where(x > y, x * 2.0, y - x)),
    ("const", 1, lambda x: x * 0.5 + 1.25),
]


@st.composite
def programs(draw: Any) -> tuple[int, list[tuple[int, int, int]]]:
    """A straight-line program over ``n`` inputs: (op, operand, operand) per step, operands earlier registers."""
    n = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, 8))):
        registers = n + k
        steps.append(
            (
                draw(st.integers(0, len(EXACT_OPS) - 1)),
                draw(st.integers(0, registers - 1)),
                draw(st.integers(0, registers - 1)),
            )
        )
    return n, steps


def run(program: tuple[int, list[tuple[int, int, int]]], *inputs: Any) -> Any:
    _, steps = program
    registers = list(inputs)
    for op, a, b in steps:
        _, arity, f = EXACT_OPS[op]
        registers.append(f(registers[a], registers[b]) if arity == 2 else f(registers[a]))
    return registers[-1]


@EXAMPLES
@given(programs(), st.integers(1, 6), seeds)
def test_elementwise_programs_on_arrays_equal_the_scalar_tape_point_by_point(
    program: Any, points: int, seed: int
) -> None:
    n = program[0]
    columns = draw_arrays(seed, [(points,)] * n)
    leaves = [Value(c) for c in columns]
    out = run(program, *leaves)
    out = out if isinstance(out, Value) else Value(out)
    out.sum().backward()
    scalar_tape = tapegrad.trace(lambda *xs: run(program, *xs), *[0.5] * n)
    for k in range(points):
        point = [float(c[k]) for c in columns]
        value, grads = scalar_tape.value_and_gradient(*point)
        assert same_bits(value, out.data[k])
        for leaf, g in zip(leaves, grads):
            assert same_bits(leaf.grad[k], g), (k, leaf.grad[k], g)
    # the array program traced, replayed, differentiated and compiled: the same bits again, signed zeros included
    array_tape = tapegrad.trace(lambda *xs: run(program, *xs).sum(), *columns)
    value, grads = array_tape.value_and_gradient(*columns)
    eager = [leaf.grad for leaf in leaves]
    assert same_bits(grads, eager)
    recorded = tapegrad.grad_tape(array_tape)
    assert same_bits(recorded(*columns)[1:], eager)
    optimized = tapegrad.optimize(recorded)
    assert same_bits(optimized(*columns)[1:], eager)
    assert same_bits(optimized.compile("numpy")(*columns)[1:], eager)


def same_bits(a: Any, b: Any) -> bool:
    """Equal, element by element, with -0.0 not 0.0 and any nan equal to any nan."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    return bool(
        np.array_equal(nan, np.isnan(b))
        and np.array_equal(a[~nan], b[~nan])
        and np.array_equal(np.signbit(a[~nan]), np.signbit(b[~nan]))
    )


@EXAMPLES
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), seeds)
def test_a_batched_layer_equals_the_scalar_tape_of_one_neuron_row_by_row(
    rows: int, inputs: int, units: int, seed: int
) -> None:
    """tanh(x @ W + b) per row and unit, against the scalar neuron tanh(sum_k x_k w_k + b) traced once."""
    X, W, b = draw_arrays(seed, [(rows, inputs), (inputs, units), (units,)])
    out = (Value(X) @ W + b).tanh()

    def neuron(*args: Any) -> Any:
        xs, ws, bias = args[:inputs], args[inputs:-1], args[-1]
        return sum((x * w for x, w in zip(xs, ws)), bias).tanh()

    tape = tapegrad.trace(neuron, *[0.5] * (2 * inputs + 1))
    for r in range(rows):
        for u in range(units):
            expected = tape(*X[r], *W[:, u], b[u])
            # matmul may sum in another order (and fuse multiply-adds) than the neuron's left-to-right sum:
            # a few ulps of the terms' magnitude, which tanh (slope <= 1) does not magnify
            magnitude = abs(b[u]) + np.sum(np.abs(X[r] * W[:, u]))
            assert abs(out.data[r, u] - expected) <= 8 * np.finfo(float).eps * magnitude

"""The array computations every array test checks, each written twice: on Values and in numpy alone.

A ``Case`` runs ``f`` on Values and ``reference`` on float64 numpy arrays; ``ALL_CASES`` covers every
array op and every elementwise op applied to arrays with broadcasting (``test_arrays_ops.py`` checks
each one's values and gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value, maximum, minimum, where
from tapegrad.core.ops import OPS, OpKind
from tapegrad.core.shapes import Index
from tapegrad.values.value import apply

# FD_STEP and FD_TOLERANCE, for first derivatives, are support.py's.
# Second derivatives are central differences of gradients: same step, a
# looser tolerance (the gradients themselves carry rounding of 1e-16 / 1e-6).
FD2_TOLERANCE = 1e-6


# ---------------------------------------------------------------- helpers


def assert_identical(actual: Sequence[Any], expected: Sequence[Any]) -> None:
    """Bit for bit (nan equal to nan; -0.0 equal to 0.0), with equal shapes."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert np.shape(a) == np.shape(e)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


def weighted(out: Any, weight: Any) -> Any:
    """A scalar summarising ``out`` (a Value or a numpy array): ``sum(out * weight)``."""
    return (out * weight).sum()


@dataclass(frozen=True)
class Case:
    """One array computation, written twice.

    ``f`` runs on Values; ``reference`` on float64 numpy arrays, with numpy
    alone.  Inputs are drawn uniformly from ``ranges`` (one ``(low, high)``
    per input, default (-2, 2)), with a fixed seed, away from the kinks of
    relu, abs, max and where with probability 1 - 1e-6.
    """

    name: str
    f: Callable[..., Any]
    reference: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    ranges: tuple[tuple[float, float], ...] = ()

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        ranges = self.ranges or ((-2.0, 2.0),) * len(self.shapes)
        return [np.asarray(rng.uniform(low, high, size=shape)) for shape, (low, high) in zip(self.shapes, ranges)]

    def weight(self, seed: int = 1) -> Any:
        """Random weights of the output's shape (a float for a scalar output)."""
        shape = np.shape(self.reference(*self.inputs()))
        w = np.random.default_rng(seed).normal(size=shape)
        return float(w) if shape == () else w

    def loss(self) -> Callable[..., Any]:
        w = self.weight()
        return lambda *args: weighted(self.f(*args), w)


POSITIVE = (0.5, 2.0)
ANY = (-2.0, 2.0)


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


TARGETS = np.array([1, 0, 3, 3, 1])
EMBED = np.array([0, 2, 0, 1, 0])  # row 0 three times: scatter-add
EMBED_2D = np.array([[0, 1], [2, 0], [0, 0]])
ROWS = np.array([2, 0, 1, 1])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
COLUMN_MASK = np.array([True, False, True, True])
CONST_34 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def _scatter_reference(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


# fmt: off
# Ops that change shapes, through the public API (methods, operators and functions).
ARRAY_CASES: list[Case] = [
    # matmul in every form numpy has
    Case("matmul[mat@mat]", lambda a, b: a @ b, np.matmul, ((3, 4), (4, 5))),
    Case("matmul[vec@mat]", lambda a, b: a @ b, np.matmul, ((4,), (4, 5))),
    Case("matmul[mat@vec]", lambda a, b: a @ b, np.matmul, ((3, 4), (4,))),
    Case("matmul[vec@vec]", lambda a, b: a @ b, np.matmul, ((4,), (4,))),
    Case("matmul[batch@mat]", lambda a, b: a @ b, np.matmul, ((2, 3, 4), (4, 5))),
    Case("matmul[batch@batch]", lambda a, b: a @ b, np.matmul, ((2, 3, 4), (2, 4, 2))),
    Case("matmul[broadcast batch]", lambda a, b: a @ b, np.matmul, ((2, 1, 3, 4), (3, 4, 2))),
    Case("matmul[vec@batch]", lambda a, b: a @ b, np.matmul, ((3,), (2, 3, 2))),
    Case("matmul[function]", tapegrad.matmul, np.matmul, ((3, 4), (4, 2))),
    Case("matmul[numpy@Value]", lambda b: CONST_34 @ b, lambda b: CONST_34 @ b, ((4, 2),)),
    Case("matmul[Value@numpy]", lambda a: a @ CONST_34, lambda a: a @ CONST_34, ((2, 3),)),
    Case("matmul[empty inner]", lambda a, b: a @ b, np.matmul, ((2, 0), (0, 3))),
    # reductions
    Case("sum[all]", lambda x: x.sum(), np.sum, ((3, 4),)),
    Case("sum[axis=0]", lambda x: x.sum(axis=0), lambda x: np.sum(x, axis=0), ((3, 4),)),
    Case("sum[axis=1,keepdims]", lambda x: x.sum(axis=1, keepdims=True),
         lambda x: np.sum(x, axis=1, keepdims=True), ((3, 4),)),
    Case("sum[axis=(0,2)]", lambda x: x.sum(axis=(0, 2)), lambda x: np.sum(x, axis=(0, 2)), ((2, 3, 4),)),
    Case("sum[axis=-1]", lambda x: x.sum(axis=-1), lambda x: np.sum(x, axis=-1), ((2, 3, 4),)),
    Case("sum[keepdims all]", lambda x: x.sum(keepdims=True), lambda x: np.sum(x, keepdims=True), ((2, 3),)),
    Case("sum[empty axis]", lambda x: x.sum(axis=0), lambda x: np.sum(x, axis=0), ((0, 3),)),
    Case("mean[all]", lambda x: x.mean(), np.mean, ((3, 4),)),
    Case("mean[axis=1]", lambda x: x.mean(axis=1), lambda x: np.mean(x, axis=1), ((3, 4),)),
    Case("mean[axis=0,keepdims]", lambda x: x.mean(axis=0, keepdims=True),
         lambda x: np.mean(x, axis=0, keepdims=True), ((3, 4),)),
    Case("mean[axis=(1,2)]", lambda x: x.mean(axis=(1, 2)), lambda x: np.mean(x, axis=(1, 2)), ((2, 3, 4),)),
    Case("max[all]", lambda x: x.max(), np.max, ((3, 4),)),
    Case("max[axis=1]", lambda x: x.max(axis=1), lambda x: np.max(x, axis=1), ((3, 4),)),
    Case("max[axis=0,keepdims]", lambda x: x.max(axis=0, keepdims=True),
         lambda x: np.max(x, axis=0, keepdims=True), ((3, 4),)),
    Case("max[axis=(0,2)]", lambda x: x.max(axis=(0, 2)), lambda x: np.max(x, axis=(0, 2)), ((2, 3, 4),)),
    Case("max[axis=-2]", lambda x: x.max(axis=-2), lambda x: np.max(x, axis=-2), ((2, 3, 4),)),
    # numpy's other reductions (issue 16): prod and cumsum are rows, the rest compose
    Case("prod[axis=1]", lambda x: x.prod(axis=1), lambda x: np.prod(x, axis=1), ((3, 4),)),
    Case("prod[all,keepdims]", lambda x: np.prod(x, keepdims=True), lambda x: np.prod(x, keepdims=True), ((2, 3),)),
    Case("cumsum[axis=1]", lambda x: x.cumsum(axis=1), lambda x: np.cumsum(x, axis=1), ((3, 4),)),
    Case("cumsum[flat]", np.cumsum, np.cumsum, ((2, 3),)),
    Case("cumprod[axis=0]", lambda x: x.cumprod(axis=0), lambda x: np.cumprod(x, axis=0), ((3, 4),)),
    Case("min[axis=0]", lambda x: np.min(x, axis=0), lambda x: np.min(x, axis=0), ((3, 4),)),
    Case("var[axis=1,ddof=1]", lambda x: x.var(axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1), ((3, 4),)),
    Case("std[all]", np.std, np.std, ((3, 4),)),
    # products (issue 17): einsum is a row, the others compose it (more: tests/values/test_einsum.py, test_products.py)
    Case("einsum[ij,jk->ik]", lambda x, y: np.einsum("ij,jk->ik", x, y), lambda x, y: np.einsum("ij,jk->ik", x, y),
         ((3, 4), (4, 2))),
    Case("einsum[...ii->...i]", lambda x: np.einsum("...ii->...i", x), lambda x: np.einsum("...ii->...i", x),
         ((2, 3, 3),)),
    Case("dot[3d,3d]", np.dot, np.dot, ((2, 3, 4), (2, 4, 3))),
    Case("cross[batched]", np.cross, np.cross, ((4, 3), (4, 3))),
    # reshaping
    Case("reshape[(4,3)]", lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), ((3, 4),)),
    Case("reshape[tuple]", lambda x: x.reshape((2, 6)), lambda x: x.reshape((2, 6)), ((3, 4),)),
    Case("reshape[-1]", lambda x: x.reshape(-1), lambda x: x.reshape(-1), ((3, 4),)),
    Case("reshape[(2,-1,3)]", lambda x: x.reshape(2, -1, 3), lambda x: x.reshape(2, -1, 3), ((4, 3),)),
    Case("reshape[scalar to (1,1)]", lambda x: x.reshape(1, 1), lambda x: np.reshape(x, (1, 1)), ((),)),
    Case("reshape[empty]", lambda x: x.reshape(3, 0), lambda x: x.reshape(3, 0), ((0, 3),)),
    Case("T[2d]", lambda x: x.T, lambda x: x.T, ((3, 4),)),
    Case("T[3d]", lambda x: x.T, lambda x: x.T, ((2, 3, 4),)),
    Case("T[1d]", lambda x: x.T, lambda x: x.T, ((4,),)),
    Case("transpose[(2,0,1)]", lambda x: x.transpose(2, 0, 1), lambda x: x.transpose(2, 0, 1), ((2, 3, 4),)),
    Case("transpose[tuple]", lambda x: x.transpose((1, 0, 2)), lambda x: x.transpose((1, 0, 2)), ((2, 3, 4),)),
    Case("transpose[negative]", lambda x: x.transpose(-1, 0, 1), lambda x: x.transpose(-1, 0, 1), ((2, 3, 4),)),
    Case("transpose[default]", lambda x: x.transpose(), lambda x: x.transpose(), ((2, 3, 4),)),
    # indexing
    Case("index[int]", lambda x: x[1], lambda x: x[1], ((3, 4),)),
    Case("index[negative int]", lambda x: x[-1, 2], lambda x: x[-1, 2], ((3, 4),)),
    Case("index[slice]", lambda x: x[:, 1:3], lambda x: x[:, 1:3], ((3, 4),)),
    Case("index[negative steps]", lambda x: x[::-1, ::-2], lambda x: x[::-1, ::-2], ((3, 4),)),
    Case("index[reverse slice]", lambda x: x[2:0:-1, -1:], lambda x: x[2:0:-1, -1:], ((3, 4),)),
    Case("index[None]", lambda x: x[None, :, None], lambda x: x[None, :, None], ((3, 4),)),
    Case("index[Ellipsis]", lambda x: x[..., 1], lambda x: x[..., 1], ((2, 3, 4),)),
    Case("index[int, Ellipsis, None]", lambda x: x[1, ..., None], lambda x: x[1, ..., None], ((2, 3, 4),)),
    Case("index[empty slice]", lambda x: x[2:2], lambda x: x[2:2], ((3, 4),)),
    Case("index[embedding rows]", lambda x: x[EMBED], lambda x: x[EMBED], ((3, 4),)),
    Case("index[embedding 2d ids]", lambda x: x[EMBED_2D], lambda x: x[EMBED_2D], ((3, 4),)),
    Case("index[list of ints]", lambda x: x[[0, 0, 2]], lambda x: x[[0, 0, 2]], ((3, 4),)),
    Case("index[negative int array]", lambda x: x[np.array([-1, 2, -1])], lambda x: x[np.array([-1, 2, -1])],
         ((3, 4),)),
    Case("index[empty int array]", lambda x: x[np.array([], dtype=np.intp)],
         lambda x: x[np.array([], dtype=np.intp)], ((3, 4),)),
    Case("index[columns with repeats]", lambda x: x[:, np.array([3, 3, 0])], lambda x: x[:, np.array([3, 3, 0])],
         ((3, 4),)),
    Case("index[rows and slice]", lambda x: x[ROWS, 1:3], lambda x: x[ROWS, 1:3], ((3, 4),)),
    Case("index[boolean mask]", lambda x: x[MASK], lambda x: x[MASK], ((3, 4),)),
    Case("index[boolean column mask]", lambda x: x[:, COLUMN_MASK], lambda x: x[:, COLUMN_MASK], ((3, 4),)),
    Case("index[arange, targets]", lambda x: x[np.arange(5), TARGETS], lambda x: x[np.arange(5), TARGETS],
         ((5, 4),)),
    # joining
    Case("concatenate[axis=0]", lambda a, b: tapegrad.concatenate([a, b]), lambda a, b: np.concatenate([a, b]),
         ((2, 3), (1, 3))),
    Case("concatenate[axis=1, three]", lambda a, b, c: tapegrad.concatenate([a, b, c], axis=1),
         lambda a, b, c: np.concatenate([a, b, c], axis=1), ((2, 3), (2, 1), (2, 2))),
    Case("concatenate[axis=-1, same Value twice]", lambda a: tapegrad.concatenate([a, a * a], axis=-1),
         lambda a: np.concatenate([a, a * a], axis=-1), ((2, 3),)),
    Case("concatenate[with a numpy constant]", lambda a: tapegrad.concatenate([a, CONST_34[:2]], axis=0),
         lambda a: np.concatenate([a, CONST_34[:2]], axis=0), ((3, 4),)),
    Case("concatenate[empty part]", lambda a, b: tapegrad.concatenate([a, b]), lambda a, b: np.concatenate([a, b]),
         ((0, 3), (2, 3))),
    Case("stack[axis=0]", lambda a, b: tapegrad.stack([a, b]), lambda a, b: np.stack([a, b]), ((2, 3), (2, 3))),
    Case("stack[axis=1]", lambda a, b: tapegrad.stack([a, b], axis=1), lambda a, b: np.stack([a, b], axis=1),
         ((2, 3), (2, 3))),
    Case("stack[axis=-1, three]", lambda a, b, c: tapegrad.stack([a, b, c], axis=-1),
         lambda a, b, c: np.stack([a, b, c], axis=-1), ((4,), (4,), (4,))),
    Case("stack[scalars]", lambda a, b: tapegrad.stack([a, b]), lambda a, b: np.stack([a, b]), ((), ())),
    # softmax family
    Case("softmax[method]", lambda x: x.softmax(), _np_softmax, ((3, 4),)),
    Case("softmax[axis=0]", lambda x: tapegrad.softmax(x, axis=0), lambda x: _np_softmax(x, axis=0), ((3, 4),)),
    Case("softmax[vector]", tapegrad.softmax, _np_softmax, ((5,),)),
    Case("log_softmax[method]", lambda x: x.log_softmax(), _np_log_softmax, ((3, 4),)),
    Case("log_softmax[axis=0]", lambda x: tapegrad.log_softmax(x, axis=0), lambda x: _np_log_softmax(x, axis=0),
         ((3, 4),)),
    Case("logsumexp[all]", tapegrad.logsumexp, _np_logsumexp, ((3, 4),)),
    Case("logsumexp[axis=1,keepdims]", lambda x: x.logsumexp(axis=1, keepdims=True),
         lambda x: _np_logsumexp(x, axis=1, keepdims=True), ((3, 4),)),
    Case("logsumexp[axis=(0,2)]", lambda x: tapegrad.logsumexp(x, axis=(0, 2)),
         lambda x: _np_logsumexp(x, axis=(0, 2)), ((2, 3, 4),)),
    Case("cross_entropy", lambda x: tapegrad.cross_entropy(x, TARGETS),
         lambda x: -np.mean(_np_log_softmax(x)[np.arange(5), TARGETS]), ((5, 4),)),
    Case("cross_entropy[list targets]", lambda x: tapegrad.cross_entropy(x, [2, 2]),
         lambda x: -np.mean(_np_log_softmax(x)[np.arange(2), [2, 2]]), ((2, 3),)),
    # Indices held by a Value stay an operand (take), so a tape replays with new ones.
    Case("take[Value ids, repeated rows]", lambda x: x[Value(EMBED.astype(float))], lambda x: x[EMBED], ((3, 4),)),
    Case("take[Value 2d ids]", lambda x: x[Value(np.array([[0.0, 2.0], [2.0, 0.0]]))],
         lambda x: x[np.array([[0, 2], [2, 0]])], ((3, 2),)),
    Case("cross_entropy[Value targets]", lambda x: tapegrad.cross_entropy(x, Value(TARGETS.astype(float))),
         lambda x: -np.mean(_np_log_softmax(x)[np.arange(5), TARGETS]), ((5, 4),)),
    Case("astype[float64]", lambda x: x.astype(np.float64), lambda x: x.astype(np.float64), ((3, 4),)),
    Case("astype[float64 of a product]", lambda x: (x * x).astype("float64"), lambda x: x * x, ((3,),)),
]

# Ops only backward passes record, called directly through the op table.
DIRECT_CASES: list[Case] = [
    Case("broadcast_to", lambda x: apply(OPS[OpKind.BROADCAST_TO], x, attr=(2, 3, 4)),
         lambda x: np.broadcast_to(x, (2, 3, 4)), ((3, 1),)),
    Case("sum_to", lambda x: apply(OPS[OpKind.SUM_TO], x, attr=(3, 1)),
         lambda x: np.sum(x, axis=(0, 2)).reshape(3, 1), ((2, 3, 4),)),
    Case("scatter[repeated rows]", lambda g: apply(OPS[OpKind.SCATTER], g, attr=(Index(EMBED), (3, 4))),
         lambda g: _scatter_reference(g, EMBED, (3, 4)), ((5, 4),)),
    Case("scatter[slice]", lambda g: apply(OPS[OpKind.SCATTER], g, attr=(Index((slice(None), slice(1, 3))), (3, 4))),
         lambda g: _scatter_reference(g, (slice(None), slice(1, 3)), (3, 4)), ((3, 2),)),
    Case("take_grad[repeated rows]", lambda g: apply(OPS[OpKind.TAKE_GRAD], g, Value(EMBED.astype(float)), attr=3),
         lambda g: _scatter_reference(g, EMBED, (3, 4)), ((5, 4),)),
    Case("smatmul[batch@mat]", lambda a, b: apply(OPS[OpKind.SMATMUL], a, b), np.matmul, ((2, 3, 4), (4, 5))),
    Case("seinsum[ii,i->i]", lambda a, b: apply(OPS[OpKind.SEINSUM], a, b, attr="ii,i->i"),
         lambda a, b: np.einsum("ii,i->i", a, b), ((3, 3), (3,))),
]

# Every elementwise op of the table, applied to arrays with broadcasting.
ELEMENTWISE_CASES: list[Case] = [
    Case("add[(3,4)+(4,)]", lambda x, y: x + y, np.add, ((3, 4), (4,))),
    Case("add[scalar Value + (2,3)]", lambda x, y: x + y, np.add, ((), (2, 3))),
    Case("add[(1,)+(3,1)]", lambda x, y: x + y, np.add, ((1,), (3, 1))),
    Case("add[numpy + Value]", lambda y: CONST_34[0] + y, lambda y: CONST_34[0] + y, ((3, 4),)),
    Case("add[(0,3)+(3,)]", lambda x, y: x + y, np.add, ((0, 3), (3,))),
    Case("sub[(3,1)-(1,4)]", lambda x, y: x - y, np.subtract, ((3, 1), (1, 4))),
    Case("sub[float - Value]", lambda y: 2.5 - y, lambda y: 2.5 - y, ((2, 3),)),
    Case("mul[(2,1,3)*(4,1)]", lambda x, y: x * y, np.multiply, ((2, 1, 3), (4, 1))),
    Case("mul[(1,1)*(3,4)]", lambda x, y: x * y, np.multiply, ((1, 1), (3, 4))),
    Case("mul[numpy * Value]", lambda y: CONST_34 * y, lambda y: CONST_34 * y, ((3, 1),)),
    Case("mul[(0,3)*(1,3)]", lambda x, y: x * y, np.multiply, ((0, 3), (1, 3))),
    Case("mul[(2,0)*(2,1)]", lambda x, y: x * y, np.multiply, ((2, 0), (2, 1))),
    Case("div[(3,4)/(3,1)]", lambda x, y: x / y, np.divide, ((3, 4), (3, 1)), (ANY, POSITIVE)),
    Case("div[float / Value]", lambda y: 1.5 / y, lambda y: 1.5 / y, ((4,),), (POSITIVE,)),
    Case("neg", lambda x: -x, np.negative, ((3, 4),)),
    Case("pow_const[3]", lambda x: x**3, lambda x: x**3, ((3, 4),)),
    Case("pow_const[0.5]", lambda x: x**0.5, np.sqrt, ((3, 4),), (POSITIVE,)),
    Case("pow_const[-1]", lambda x: x**-1, lambda x: 1.0 / x, ((2, 3),), (POSITIVE,)),
    Case("pow[(3,1)**(4,)]", lambda x, y: x**y, np.power, ((3, 1), (4,)), (POSITIVE, ANY)),
    Case("pow[float ** Value]", lambda y: 1.7**y, lambda y: 1.7**y, ((2, 3),)),
    Case("exp", lambda x: x.exp(), np.exp, ((3, 4),)),
    Case("log", lambda x: x.log(), np.log, ((3, 4),), (POSITIVE,)),
    Case("tanh", lambda x: x.tanh(), np.tanh, ((3, 4),)),
    Case("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, ((3, 4),)),
    Case("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0.0), ((3, 4),)),
    Case("sin", lambda x: x.sin(), np.sin, ((3, 4),)),
    Case("cos", lambda x: x.cos(), np.cos, ((3, 4),)),
    Case("sqrt", lambda x: x.sqrt(), np.sqrt, ((3, 4),), (POSITIVE,)),
    Case("abs", lambda x: x.abs(), np.abs, ((3, 4),)),
    Case("abs[builtin]", lambda x: abs(x), np.abs, ((2, 3),)),
    Case("maximum[(3,4),(4,)]", maximum, np.maximum, ((3, 4), (4,))),
    Case("maximum[Value, float]", lambda x: maximum(x, 0.25), lambda x: np.maximum(x, 0.25), ((3, 4),)),
    Case("minimum[(3,1),(1,4)]", minimum, np.minimum, ((3, 1), (1, 4))),
    Case("where[>]", lambda x, y: where(x > y, x * y, x - y), lambda x, y: np.where(x > y, x * y, x - y),
         ((3, 4), (4,))),
    Case("where[>=]", lambda x, y: where(x >= y, x, y * y), lambda x, y: np.where(x >= y, x, y * y),
         ((3, 1), (1, 4))),
    Case("where[<]", lambda x, y: where(x < 0.0, y, x), lambda x, y: np.where(x < 0.0, y, x), ((3, 4), ())),
    Case("where[<=, numpy condition]", lambda x: where(CONST_34 <= 0.0, x.exp(), -x),
         lambda x: np.where(CONST_34 <= 0.0, np.exp(x), -x), ((3, 4),)),
    Case("smul", lambda x, y: apply(OPS[OpKind.SMUL], x, y), np.multiply, ((3, 4), (4,))),
    Case("sdiv", lambda x, y: apply(OPS[OpKind.SDIV], x, y), np.divide, ((3, 1), (1, 4)), (ANY, POSITIVE)),
    Case("composite[mlp layer]", lambda x, w, b: (x @ w + b).tanh(), lambda x, w, b: np.tanh(x @ w + b),
         ((4, 3), (3, 2), (2,))),
]
# fmt: on

ALL_CASES = ARRAY_CASES + DIRECT_CASES + ELEMENTWISE_CASES
CASE_PARAMS = [pytest.param(case, id=case.name) for case in ALL_CASES]


def eager_gradients(case: Case, xs: Sequence[np.ndarray]) -> list[Any]:
    leaves = [Value(x) for x in xs]
    case.loss()(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def reference_loss(case: Case) -> Callable[..., float]:
    w = case.weight()
    return lambda *xs: float(np.sum(case.reference(*xs) * w))

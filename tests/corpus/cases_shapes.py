"""Corpus: numpy's shape functions, with the argument forms other projects' tests use.

Negative axes, axis tuples, ``None``, unequal splits, repeats with ``axis=None`` and per-element counts,
tiles with more repetitions than axes, rolls by negative and tuple shifts, every ``pad`` mode with tuple
widths, ``diag`` of a vector and of a matrix with ``k`` below and above, empty arrays and axes of size 1.
"""

from __future__ import annotations

import numpy as np

from .harness import case, rng

R = rng("shapes")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def _torch() -> object:
    import torch  # the optional comparison

    return torch


AXES = [
    case("squeeze all", lambda x: np.squeeze(x), r(1, 3, 1, 2), torch=lambda x: x.squeeze()),
    case("squeeze axis", lambda x: np.squeeze(x, axis=2), r(1, 3, 1, 2)),
    case("squeeze axis tuple", lambda x: np.squeeze(x, axis=(0, -2)), r(1, 3, 1, 2)),
    case("squeeze 1x1 to scalar", lambda x: np.squeeze(x), r(1, 1)),
    case("expand_dims 0", lambda x: np.expand_dims(x, 0), r(3, 2), torch=lambda x: x.unsqueeze(0)),
    case("expand_dims -1", lambda x: np.expand_dims(x, -1), r(3, 2), torch=lambda x: x.unsqueeze(-1)),
    case("expand_dims tuple", lambda x: np.expand_dims(x, (0, 3)), r(3, 2)),
    case("expand_dims of a scalar", lambda x: np.expand_dims(x, 0), 1.5),
    case("ravel", lambda x: np.ravel(x), r(2, 3, 2), torch=lambda x: x.ravel()),
    case("ravel order F", lambda x: np.ravel(x, order="F"), r(2, 3)),
    case("reshape -1", lambda x: np.reshape(x, (3, -1)), r(2, 3, 2)),
    case("reshape order F", lambda x: np.reshape(x, (3, 2), order="F"), r(2, 3)),
    case("transpose default", lambda x: np.transpose(x), r(2, 3, 4), torch=lambda x: x.permute(2, 1, 0)),
    case("transpose axes", lambda x: np.transpose(x, (1, 2, 0)), r(2, 3, 4), torch=lambda x: x.permute(1, 2, 0)),
    case("transpose negative axes", lambda x: np.transpose(x, (-1, 0, 1)), r(2, 3, 4)),
    case("moveaxis", lambda x: np.moveaxis(x, 0, -1), r(2, 3, 4), torch=lambda x: _torch().movedim(x, 0, -1)),
    case("moveaxis lists", lambda x: np.moveaxis(x, [0, 1], [-1, -2]), r(2, 3, 4)),
    case("swapaxes", lambda x: np.swapaxes(x, 0, 2), r(2, 3, 4), torch=lambda x: x.transpose(0, 2)),
    case("swapaxes negative", lambda x: np.swapaxes(x, -1, -2), r(2, 3, 4)),
    case("atleast_1d scalar", lambda x: np.atleast_1d(x), 1.2),
    case("atleast_2d vector", lambda x: np.atleast_2d(x), r(4)),
    case("atleast_3d vector", lambda x: np.atleast_3d(x), r(4)),
    case("atleast_3d matrix", lambda x: np.atleast_3d(x), r(2, 4)),
    case("atleast_3d 4-d", lambda x: np.atleast_3d(x), r(2, 1, 3, 2)),
    case("atleast_2d of several", lambda x, y: np.atleast_2d(x, y), 0.5, r(3)),
    case("broadcast_to", lambda x: np.broadcast_to(x, (2, 3, 4)), r(3, 1), torch=lambda x: x.expand(2, 3, 4)),
    case("broadcast_arrays", lambda x, y: np.broadcast_arrays(x, y), r(3, 1), r(1, 4),
         torch=lambda x, y: _torch().broadcast_tensors(x, y)),
    case("broadcast_arrays with a scalar", lambda x, y, z: np.broadcast_arrays(x, y, z), 2.0, r(2, 1), r(3)),
]  # fmt: skip

JOINING = [
    case("stack axis 0", lambda x, y: np.stack([x, y]), r(2, 3), r(2, 3), torch=lambda x, y: _torch().stack([x, y])),
    case("stack axis -1", lambda x, y: np.stack((x, y), axis=-1), r(2, 3), r(2, 3),
         torch=lambda x, y: _torch().stack([x, y], dim=-1)),
    case("stack of scalars", lambda x, y, z: np.stack([x, y, z]), 1.0, 2.0, 3.0),
    case("hstack vectors", lambda x, y: np.hstack([x, y]), r(2), r(3), torch=lambda x, y: _torch().hstack([x, y])),
    case("hstack matrices", lambda x, y: np.hstack([x, y]), r(2, 1), r(2, 3)),
    case("vstack vectors", lambda x, y: np.vstack([x, y]), r(3), r(3), torch=lambda x, y: _torch().vstack([x, y])),
    case("vstack matrix and vector", lambda x, y: np.vstack((x, y)), r(2, 3), r(3)),
    case("dstack matrices", lambda x, y: np.dstack([x, y]), r(2, 3), r(2, 3),
         torch=lambda x, y: _torch().dstack([x, y])),
    case("dstack vectors", lambda x, y: np.dstack([x, y]), r(3), r(3)),
    case("column_stack vectors", lambda x, y: np.column_stack([x, y]), r(3), r(3),
         torch=lambda x, y: _torch().column_stack([x, y])),
    case("column_stack vector and matrix", lambda x, y: np.column_stack((x, y)), r(3), r(3, 2)),
    case("concatenate axis -1", lambda x, y: np.concatenate([x, y], axis=-1), r(2, 1), r(2, 3)),
    case("concatenate axis None", lambda x, y: np.concatenate([x, y], axis=None), r(2, 2), r(3)),
    case("concatenate with an empty part", lambda x, y: np.concatenate([x, y]), r(0, 3), r(2, 3)),
    case("mixing a Value and an array", lambda x: np.vstack([x, np.ones(3)]), r(2, 3)),
]  # fmt: skip

SPLITTING = [
    case("split equal", lambda x: np.split(x, 3), r(6, 2), torch=lambda x: _torch().chunk(x, 3)),
    case("split at indices", lambda x: np.split(x, [1, 4], axis=1), r(2, 6),
         torch=lambda x: _torch().tensor_split(x, [1, 4], dim=1)),
    case("split at repeated and far indices", lambda x: np.split(x, [2, 2, 9]), r(5)),
    case("split axis -1", lambda x: np.split(x, 2, axis=-1), r(3, 4)),
    case("array_split unequal", lambda x: np.array_split(x, 3), r(7), torch=lambda x: _torch().tensor_split(x, 3)),
    case("array_split more parts than elements", lambda x: np.array_split(x, 5), r(3)),
    case("array_split axis 1", lambda x: np.array_split(x, 2, axis=1), r(2, 5)),
    case("split then join", lambda x: np.concatenate(np.split(x, 2)[::-1]), r(4)),
]  # fmt: skip

REPEATING = [
    case("tile int", lambda x: np.tile(x, 2), r(3), torch=lambda x: x.tile(2)),
    case("tile reps longer than ndim", lambda x: np.tile(x, (2, 1, 2)), r(2, 3), torch=lambda x: x.tile(2, 1, 2)),
    case("tile reps shorter than ndim", lambda x: np.tile(x, 2), r(2, 3)),
    case("tile a scalar", lambda x: np.tile(x, (2, 2)), 0.7),
    case("repeat axis None", lambda x: np.repeat(x, 2), r(2, 3), torch=lambda x: x.flatten().repeat_interleave(2)),
    case("repeat axis 0", lambda x: np.repeat(x, 3, axis=0), r(2, 3), torch=lambda x: x.repeat_interleave(3, 0)),
    case("repeat counts per element", lambda x: np.repeat(x, [1, 0, 2], axis=1), r(2, 3),
         torch=lambda x: x.repeat_interleave(_torch().tensor([1, 0, 2]), dim=1)),
    case("v.repeat", lambda x: x.repeat(2, axis=-1), r(2, 2)),
    case("roll flat", lambda x: np.roll(x, 2), r(2, 3), torch=lambda x: _torch().roll(x, 2)),
    case("roll negative", lambda x: np.roll(x, -1, axis=1), r(2, 3), torch=lambda x: _torch().roll(x, -1, 1)),
    case("roll larger than the axis", lambda x: np.roll(x, 7, axis=0), r(3, 2)),
    case("roll tuples", lambda x: np.roll(x, (1, -2), axis=(0, 1)), r(3, 4),
         torch=lambda x: _torch().roll(x, (1, -2), (0, 1))),
    case("roll the same axis twice", lambda x: np.roll(x, (1, 1), axis=(0, 0)), r(4)),
]  # fmt: skip


def _tpad(x: object, widths: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> object:
    """torch's pad: widths for the last axis first; reflect and replicate need a batch axis, so one is added."""
    import torch.nn.functional as F  # the optional comparison

    if mode == "constant":
        return F.pad(x, widths, mode=mode, value=value)
    return F.pad(x[None], widths, mode=mode)[0]


SELECTING = [
    case("pad int", lambda x: np.pad(x, 1), r(2, 3), torch=lambda x: _tpad(x, (1, 1, 1, 1))),
    case("pad tuple per axis", lambda x: np.pad(x, ((1, 2), (0, 1))), r(2, 3), torch=lambda x: _tpad(x, (0, 1, 1, 2))),
    case("pad constant value", lambda x: np.pad(x, (2, 1), constant_values=3.5), r(3),
         torch=lambda x: _tpad(x, (2, 1), value=3.5)),
    case("pad edge", lambda x: np.pad(x, ((1, 1), (2, 0)), mode="edge"), r(2, 3),
         torch=lambda x: _tpad(x, (2, 0, 1, 1), "replicate")),
    case("pad reflect", lambda x: np.pad(x, 2, mode="reflect"), r(4), torch=lambda x: _tpad(x, (2, 2), "reflect")),
    case("pad reflect 2-d", lambda x: np.pad(x, ((1, 0), (2, 1)), mode="reflect"), r(3, 4),
         torch=lambda x: _tpad(x, (2, 1, 1, 0), "reflect")),
    case("pad reflect wider than the axis", lambda x: np.pad(x, 5, mode="reflect"), r(3)),
    case("pad symmetric", lambda x: np.pad(x, (1, 2), mode="symmetric"), r(3)),
    case("pad wrap", lambda x: np.pad(x, (2, 3), mode="wrap"), r(3), torch=lambda x: _tpad(x, (2, 3), "circular")),
    case("flip all", lambda x: np.flip(x), r(2, 3), torch=lambda x: _torch().flip(x, (0, 1))),
    case("flip axis", lambda x: np.flip(x, axis=-1), r(2, 3), torch=lambda x: _torch().flip(x, (-1,))),
    case("flip axis tuple", lambda x: np.flip(x, axis=(0, 2)), r(2, 2, 3)),
    case("fliplr", lambda x: np.fliplr(x), r(2, 3), torch=lambda x: _torch().fliplr(x)),
    case("flipud", lambda x: np.flipud(x), r(2, 3), torch=lambda x: _torch().flipud(x)),
    case("diag of a vector", lambda x: np.diag(x), r(3), torch=lambda x: _torch().diag(x)),
    case("diag of a vector k=1", lambda x: np.diag(x, k=1), r(3), torch=lambda x: _torch().diag(x, 1)),
    case("diag of a vector k=-2", lambda x: np.diag(x, -2), r(2), torch=lambda x: _torch().diag(x, -2)),
    case("diag of a matrix", lambda x: np.diag(x), r(3, 4), torch=lambda x: _torch().diag(x)),
    case("diag of a matrix k=-1", lambda x: np.diag(x, k=-1), r(3, 4), torch=lambda x: _torch().diag(x, -1)),
    case("diag of a matrix k=2", lambda x: np.diag(x, 2), r(3, 4)),
    case("diag k past the edge", lambda x: np.diag(x, 5), r(3, 4)),
    case("diag of diag", lambda x: np.diag(np.diag(x)), r(3, 3)),
    case("diagonal", lambda x: np.diagonal(x), r(3, 4), torch=lambda x: _torch().diagonal(x)),
    case("diagonal offset -1 of a stack", lambda x: np.diagonal(x, -1, 1, 2), r(2, 4, 3),
         torch=lambda x: _torch().diagonal(x, -1, 1, 2)),
    case("diagonal axes reversed", lambda x: np.diagonal(x, 1, axis1=2, axis2=0), r(3, 2, 4)),
    case("tril", lambda x: np.tril(x), r(3, 4), torch=lambda x: _torch().tril(x)),
    case("tril k=-1", lambda x: np.tril(x, -1), r(4, 3), torch=lambda x: _torch().tril(x, -1)),
    case("tril of a stack k=1", lambda x: np.tril(x, k=1), r(2, 3, 3), torch=lambda x: _torch().tril(x, 1)),
    case("triu", lambda x: np.triu(x), r(3, 3), torch=lambda x: _torch().triu(x)),
    case("triu k=2", lambda x: np.triu(x, 2), r(3, 4), torch=lambda x: _torch().triu(x, 2)),
    case("triu k=-1 of a stack", lambda x: np.triu(x, -1), r(2, 3, 4)),
    case("tril of a vector (numpy broadcasts it)", lambda x: np.tril(x), r(3)),
]  # fmt: skip


def _distinct(*args: np.ndarray) -> tuple[np.ndarray, ...]:
    return args


SORTING = [
    case("sort last axis", lambda x: np.sort(x), r(3, 4), torch=lambda x: _torch().sort(x).values),
    case("sort axis 0", lambda x: np.sort(x, axis=0), r(4, 3), torch=lambda x: _torch().sort(x, dim=0).values),
    case("sort axis None", lambda x: np.sort(x, axis=None), r(2, 3)),
    case("sort a vector", lambda x: np.sort(x), r(7)),
    case("sort descending", lambda x: -np.sort(-x, axis=1), r(2, 5),
         torch=lambda x: _torch().sort(x, dim=1, descending=True).values),
    case("sort kind stable", lambda x: np.sort(x, kind="stable"), r(5)),
    case("top-k by sort", lambda x: np.sort(x, axis=-1)[..., -2:], r(3, 5),
         torch=lambda x: _torch().topk(x, 2, dim=-1, sorted=True).values.flip(-1)),
    case("take_along_axis argsort", lambda x: np.take_along_axis(x, np.argsort(x, axis=1), axis=1), r(3, 4)),
    case("take_along_axis fixed indices", lambda x: np.take_along_axis(x, np.array([[0, 0], [2, 1]]), axis=1),
         r(2, 3), torch=lambda x: _torch().take_along_dim(x, _torch().tensor([[0, 0], [2, 1]]), dim=1)),
    case("take_along_axis axis 0", lambda x: np.take_along_axis(x, np.array([[1, 0, 1]]), axis=0), r(2, 3)),
    case("take_along_axis axis None", lambda x: np.take_along_axis(x, np.array([5, 0, 5]), axis=None), r(2, 3)),
    case("sort an empty axis", lambda x: np.sort(x, axis=0), r(0, 3)),
]  # fmt: skip

CASES = AXES + JOINING + SPLITTING + REPEATING + SELECTING + SORTING

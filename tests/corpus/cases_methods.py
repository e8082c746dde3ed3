"""Corpus: ndarray's methods on a Value (``v.T``, ``v.sum(axis=..., keepdims=...)``, ``v.var(ddof=1)``...).

autograd's systematic tests run every reduction over no axis, each axis, negative axes and ``keepdims``; these
do the same through the methods a user types.  All are bit for bit numpy's: ``mean`` is a sum divided by the
count and ``var``/``std`` the sum of squared deviations divided by ``n - ddof``, as numpy computes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .harness import case, rng

R = rng("methods")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def _method(name: str, exact: bool = True, **keywords: Any) -> Any:
    words = " ".join(f"{k}={v}" for k, v in keywords.items())
    return case(f"v.{name}({words})", lambda v: getattr(v, name)(**keywords), r(2, 3, 4), exact=exact)


SHAPES = [
    case("v.T 2-d", lambda v: v.T, r(2, 3)),
    case("v.T 3-d", lambda v: v.T, r(2, 3, 4)),
    case("v.T of a vector", lambda v: v.T, r(3)),
    case("v.ravel()", lambda v: v.ravel(), r(2, 3)),
    case("v.ravel('F')", lambda v: v.ravel("F"), r(2, 3)),
    case("v.flatten()", lambda v: v.flatten(), r(2, 1, 3)),
    case("v.squeeze()", lambda v: v.squeeze(), r(1, 3, 1)),
    case("v.squeeze(axis)", lambda v: v.squeeze(-1), r(1, 3, 1)),
    case("v.reshape ints", lambda v: v.reshape(3, -1), r(2, 3, 2)),
    case("v.reshape tuple", lambda v: v.reshape((4, 3)), r(2, 3, 2)),
    case("v.reshape order F", lambda v: v.reshape((4, 3), order="F"), r(2, 3, 2)),
    case("v.reshape(-1)", lambda v: v.reshape(-1), r(2, 3)),
    case("v.transpose ints", lambda v: v.transpose(2, 0, 1), r(2, 3, 4)),
    case("v.transpose tuple", lambda v: v.transpose((1, 0, 2)), r(2, 3, 4)),
    case("v.swapaxes", lambda v: v.swapaxes(0, -1), r(2, 3, 4)),
    case("v.diagonal", lambda v: v.diagonal(1), r(3, 4)),
    case("v[::-1, 1:]", lambda v: v[::-1, 1:], r(3, 4)),
    case("v[None, :, 0]", lambda v: v[None, :, 0], r(3, 4)),
    case("v[..., [2, 0]]", lambda v: v[..., [2, 0]], r(2, 3, 4)),
]  # fmt: skip

REDUCTIONS = [
    _method("sum"), _method("sum", axis=0), _method("sum", axis=-1), _method("sum", axis=(0, 2)),
    _method("sum", axis=1, keepdims=True), _method("sum", axis=(-1, -3), keepdims=True),
    _method("mean"), _method("mean", axis=1), _method("mean", axis=(0, 1), keepdims=True),
    _method("max"), _method("max", axis=2), _method("max", axis=-2, keepdims=True),
    _method("min"), _method("min", axis=0), _method("min", axis=(0, 2), keepdims=True),
    _method("prod", axis=1), _method("prod", axis=(1, 2)), _method("prod", axis=0, keepdims=True),
    _method("var"), _method("var", axis=1), _method("var", axis=-1, ddof=1),
    _method("var", axis=(0, 2), keepdims=True),
    _method("std"), _method("std", axis=0, ddof=1), _method("std", axis=2, keepdims=True),
    _method("cumsum", axis=1), _method("cumprod", axis=-1),
    case("np.sum of an empty axis", lambda v: np.sum(v, axis=0), r(0, 3)),
    case("np.mean keepdims negative axis", lambda v: np.mean(v, axis=-1, keepdims=True), r(3, 4)),
    case("np.max of a vector", lambda v: np.max(v), r(5)),
]  # fmt: skip

CASES = SHAPES + REDUCTIONS

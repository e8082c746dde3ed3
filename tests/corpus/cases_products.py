"""Corpus: products (einsum and what numpy writes with it), as autograd's, JAX's and PyTorch's tests try them.

Subscripts cover explicit and implicit outputs, ellipses, repeated letters (diagonals, traces), a scalar
operand, one operand given twice, chains of three and four operands, and axes of size 0 and 1.

Values are numpy's bit for bit, except (to ``VALUE_TOLERANCE``) ``einsum(..., optimize=...)`` (pairwise matrix
products), ``np.dot`` of an operand with more than two axes (numpy sums those in its own loop, tapegrad as
one matrix product) and ``tensordot`` over axes given out of order (the operands are rearranged first).
"""

from __future__ import annotations

import numpy as np

from .harness import case, rng

R = rng("products")


def r(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def _einsum(subscripts: str, *shapes: tuple[int, ...], torch: bool = True, **options: object) -> object:
    """An einsum case: numpy's call on arrays of the shapes (and torch.einsum, which takes numpy's subscripts)."""

    def f(*xs: object) -> object:
        return np.einsum(subscripts, *xs, **options)

    def t(*xs: object) -> object:
        import torch as th  # the optional comparison; only imported when the torch check runs

        return th.einsum(subscripts, *xs)

    exact = not options.get("optimize")  # optimize= contracts pairwise with matmul: numpy's rounding, not its bits
    sizes = " ".join("x".join(map(str, s)) or "()" for s in shapes)
    return case(f"einsum[{subscripts}] {sizes}" + (" optimize" if options else ""), f, *[r(*s) for s in shapes],
                torch=t if torch else None, exact=exact)  # fmt: skip


EINSUM = [
    _einsum("ij->ji", (3, 4)),
    _einsum("ij->", (3, 4)),
    _einsum("i->", (5,)),
    _einsum("ijk->", (2, 3, 2)),
    _einsum("ii->i", (4, 4)),
    _einsum("ii", (4, 4)),
    _einsum("iii->i", (3, 3, 3)),
    _einsum("ijj->ij", (2, 3, 3)),
    _einsum("iji->j", (3, 2, 3)),
    _einsum("i,i", (5,), (5,)),
    _einsum("i,i->i", (5,), (5,)),
    _einsum("i,j->ij", (3,), (4,)),
    _einsum("i,j", (3,), (4,)),
    _einsum("ij,jk->ik", (2, 3), (3, 4)),
    _einsum("ij,jk", (2, 3), (3, 4)),
    _einsum("kj,ji->ik", (2, 3), (3, 4)),
    _einsum("ij,kj->ik", (3, 4), (5, 4)),
    _einsum("ij,ij->i", (2, 3), (2, 3)),
    _einsum("ij,ij->", (2, 3), (2, 3)),
    _einsum("ij,j->i", (3, 4), (4,)),
    _einsum("ij,i->", (3, 4), (3,)),
    _einsum(",ij->i", (), (3, 4)),
    _einsum("ijk,i->jk", (4, 2, 3), (4,)),
    _einsum("ijk,i->ijk", (4, 2, 3), (4,)),
    _einsum("ijk,ikl->ijl", (2, 3, 4), (2, 4, 3)),
    _einsum("bij,ij->bi", (5, 2, 4), (2, 4)),
    _einsum("ijk,lji->lki", (3, 4, 4), (4, 4, 3)),
    _einsum("ij,jk,kl->il", (5, 2), (2, 3), (3, 4)),
    _einsum("ij,jk,kl->il", (5, 2), (2, 3), (3, 4), optimize=True),
    _einsum("ijk,lji,lli->lki", (3, 4, 4), (4, 4, 3), (4, 4, 3)),
    _einsum("ea,fb,abcd,gc,hd->efgh", (2, 3), (2, 2), (3, 2, 2, 3), (2, 2), (2, 3)),
    _einsum("ea,fb,abcd,gc,hd->efgh", (2, 3), (2, 2), (3, 2, 2, 3), (2, 2), (2, 3), optimize="greedy"),
    _einsum("...ij,...jk->...ik", (2, 3, 4), (2, 4, 2)),
    _einsum("...ij,...jk->...ik", (2, 1, 3, 4), (3, 4, 2)),
    _einsum("...jk,...lj->...lk", (3, 4, 4), (3, 4, 4)),
    _einsum("...,...->...", (3, 4), (3, 4)),
    _einsum("...ii->...i", (2, 3, 3)),
    _einsum("i...->...", (3, 2, 2)),
    _einsum("ij...,j...->i...", (2, 3, 4), (3, 4)),
    _einsum("bhqd,bhkd->bhqk", (1, 2, 3, 4), (1, 2, 5, 4)),
    _einsum("ij,jk->ik", (0, 3), (3, 2)),
    _einsum("ij,jk->ik", (2, 0), (0, 3)),
    _einsum("i,ij->j", (1,), (1, 3)),
    _einsum("ji", (3, 2)),
    _einsum("ba,ac", (2, 3), (3, 4)),
    _einsum("ii,i->i", (3, 3), (3,)),
    _einsum("a,b,ab->ab", (2,), (3,), (2, 3)),
    _einsum("...i,...i", (2, 3), (3,), torch=False),
    _einsum("abc->cba", (2, 3, 4)),
    _einsum("aab->b", (2, 2, 3)),
    _einsum("ab...,bc...->ac...", (2, 3, 2), (3, 1, 2)),
    _einsum("i,i,i", (4,), (4,), (4,)),
    _einsum("ij,ij,ij->", (2, 3), (2, 3), (2, 3)),
    case("einsum[x,x same operand]", lambda x: np.einsum("ij,ij->", x, x), r(3, 4),
         torch=lambda x: __import__("torch").einsum("ij,ij->", x, x)),
    case("einsum[x,x,x same operand]", lambda x: np.einsum("i,i,i->i", x, x, x), r(4)),
    case("einsum[x,x.T gram]", lambda x: np.einsum("ik,jk->ij", x, x), r(3, 2)),
    case("einsum interleaved", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), r(2, 3), r(3, 2)),
    case("einsum with a constant operand", lambda x: np.einsum("ij,jk->ik", x, np.arange(6.0).reshape(3, 2)),
         r(2, 3)),
]  # fmt: skip


def _torch() -> object:
    import torch  # the optional comparison

    return torch


PRODUCTS = [
    case("dot scalars", lambda a, b: np.dot(a, b), 1.5, 0.3, torch=lambda a, b: a * b),
    case("dot vectors", lambda a, b: np.dot(a, b), r(3), r(3), torch=lambda a, b: _torch().dot(a, b)),
    case("dot matrix vector", lambda a, b: np.dot(a, b), r(2, 3), r(3), torch=lambda a, b: a @ b),
    case("dot vector matrix", lambda a, b: np.dot(a, b), r(3), r(3, 4), torch=lambda a, b: a @ b),
    case("dot matrices", lambda a, b: np.dot(a, b), r(2, 3), r(3, 4), torch=lambda a, b: a @ b),
    case("dot 3-d with vector", lambda a, b: np.dot(a, b), r(2, 3, 4), r(4), exact=False),
    case("dot 3-d with 3-d", lambda a, b: np.dot(a, b), r(2, 3, 4), r(2, 4, 3), exact=False),
    case("v.dot(w)", lambda a, b: a.dot(b), r(2, 3), r(3, 2)),
    case("vdot vectors", lambda a, b: np.vdot(a, b), r(4), r(4)),
    case("vdot matrices (flattened)", lambda a, b: np.vdot(a, b), r(2, 3), r(3, 2)),
    case("inner vectors", lambda a, b: np.inner(a, b), r(4), r(4),
         torch=lambda a, b: _torch().inner(a, b)),
    case("inner matrices", lambda a, b: np.inner(a, b), r(2, 3), r(4, 3),
         torch=lambda a, b: _torch().inner(a, b)),
    case("inner 3-d with matrix", lambda a, b: np.inner(a, b), r(2, 2, 3), r(4, 3)),
    case("outer vectors", lambda a, b: np.outer(a, b), r(3), r(4), torch=lambda a, b: _torch().outer(a, b)),
    case("outer matrices flattened", lambda a, b: np.outer(a, b), r(2, 2), r(3)),
    case("tensordot axes=0", lambda a, b: np.tensordot(a, b, axes=0), r(2, 3), r(2)),
    case("tensordot axes=1", lambda a, b: np.tensordot(a, b, axes=1), r(2, 3), r(3, 4),
         torch=lambda a, b: _torch().tensordot(a, b, dims=1)),
    case("tensordot axes=2", lambda a, b: np.tensordot(a, b, axes=2), r(4, 2, 2), r(2, 2, 4),
         torch=lambda a, b: _torch().tensordot(a, b, dims=2)),
    case("tensordot axes lists", lambda a, b: np.tensordot(a, b, axes=([1, 0], [2, 1])), r(2, 3, 4), r(5, 2, 3),
         exact=False, torch=lambda a, b: _torch().tensordot(a, b, dims=([1, 0], [2, 1]))),
    case("tensordot axes single ints", lambda a, b: np.tensordot(a, b, axes=(0, 1)), r(3), r(2, 3, 2)),
    case("kron vectors", lambda a, b: np.kron(a, b), r(3), r(2), torch=lambda a, b: _torch().kron(a, b)),
    case("kron matrices", lambda a, b: np.kron(a, b), r(2, 3), r(2, 2), torch=lambda a, b: _torch().kron(a, b)),
    case("kron matrix and vector", lambda a, b: np.kron(a, b), r(2, 2), r(3)),
    case("kron 3-d and matrix", lambda a, b: np.kron(a, b), r(2, 1, 2), r(2, 2)),
    case("cross 3-vectors", lambda a, b: np.cross(a, b), r(3), r(3),
         torch=lambda a, b: _torch().linalg.cross(a, b)),
    case("cross batched rows", lambda a, b: np.cross(a, b), r(4, 3), r(4, 3),
         torch=lambda a, b: _torch().linalg.cross(a, b)),
    case("cross broadcast", lambda a, b: np.cross(a, b), r(2, 4, 3), r(3),
         torch=lambda a, b: _torch().linalg.cross(a, b.expand(2, 4, 3))),
    case("cross 2-vectors", lambda a, b: np.cross(a, b), r(2), r(2)),
    case("cross 2-vector with 3-vector", lambda a, b: np.cross(a, b), r(2), r(3)),
    case("cross axis=0", lambda a, b: np.cross(a, b, axis=0), r(3, 4), r(3, 4),
         torch=lambda a, b: _torch().linalg.cross(a, b, dim=0)),
    case("cross axisa axisb axisc", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), r(3, 2), r(2, 3)),
    case("matmul batched", lambda a, b: np.matmul(a, b), r(2, 3, 4), r(2, 4, 2), torch=lambda a, b: a @ b),
    case("matmul broadcast batch", lambda a, b: a @ b, r(2, 1, 3, 4), r(5, 4, 2), torch=lambda a, b: a @ b),
    case("matmul vector @ stack", lambda a, b: a @ b, r(3), r(2, 3, 4), torch=lambda a, b: a @ b),
    case("matmul stack @ vector", lambda a, b: a @ b, r(2, 3, 4), r(4), torch=lambda a, b: a @ b),
    case("matmul empty inner", lambda a, b: a @ b, r(2, 0), r(0, 3)),
    case("trace", lambda a: np.trace(a), r(4, 4), torch=lambda a: _torch().trace(a)),
    case("trace offset 1 wide", lambda a: np.trace(a, offset=1), r(4, 5)),
    case("trace offset -1 tall", lambda a: np.trace(a, offset=-1), r(5, 4)),
    case("trace axes of a stack", lambda a: np.trace(a, axis1=1, axis2=2), r(2, 3, 3),
         torch=lambda a: _torch().diagonal(a, dim1=1, dim2=2).sum(-1)),
    case("v.trace()", lambda a: a.trace(), r(3, 3)),
]  # fmt: skip

CASES = EINSUM + PRODUCTS

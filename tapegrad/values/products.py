"""Products of arrays on Values: ``einsum``, and numpy's other products written with it.

``einsum`` records one ``einsum`` op whose attribute is the contraction in
normal form (:mod:`tapegrad.core.einsum`): the ellipsis and the implicit
output written out as letters from the operands' shapes, so the tape, its
listing and generated code say exactly what is summed.  Its gradient is again
an einsum (with strong products: a zero adjoint sends nothing past an
infinite operand), so second derivatives and forward mode come for free.

``dot``, ``vdot``, ``inner`` and ``tensordot`` are einsums with subscripts
built from their arguments, contracted as matrix products (``matmul``:
BLAS, as numpy's own); ``trace`` is an einsum with a repeated letter,
``kron`` an outer einsum and a reshape; ``cross`` is written with products
and differences, as numpy computes it, so its values agree with numpy's bit
for bit.

>>> import numpy as np, tapegrad
>>> tapegrad.grad(lambda a: np.einsum("ii", a))(np.ones((2, 2)))
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.einsum import LETTERS, MAX_OPERANDS, normal_text, normalize, parse_normal
from ..core.ops import OPS, OpKind
from ..core.shapes import type_text
from ..errors import InputTypeError, ShapeError
from . import arrays
from .record import apply
from .shaping import _shape
from .value import Value, _no_out

__all__ = ["einsum", "dot", "vdot", "inner", "tensordot", "kron", "cross", "trace"]


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Value) else np.asarray(x)


# ---------------------------------------------------------------- einsum


def einsum(*operands: Any, out: Any = None, dtype: Any = None, order: str = "K", casting: str = "safe",
           optimize: Any = False) -> Any:
    """numpy's ``einsum`` on Values: ``einsum("ij,jk->ik", a, b)``, or interleaved ``einsum(a, [0, 1], b, [1, 2])``.

    Every subscript string numpy accepts: an explicit or implicit output,
    ``...``, letters repeated in an operand (``"ii->i"`` a diagonal,
    ``"ii"`` a trace) and axes of size 1 that broadcast.  With the default
    ``optimize=False`` it is one ``einsum`` record, computed by
    ``np.einsum`` as numpy computes it.  ``optimize`` (``True``,
    ``"greedy"``, ``"optimal"`` or a path from ``np.einsum_path``) does what
    numpy's does: contracts two operands at a time in the order
    ``einsum_path`` picks, each pair as a matrix product (``transpose``,
    ``reshape``, ``matmul``: BLAS) where its letters allow; the sums then
    group differently, so values differ from ``np.einsum``'s in the last bits.
    """
    _no_out("einsum", dtype, out)
    if order != "K" or casting != "safe":
        raise InputTypeError("einsum: order= and casting= are not supported on Values (the result is float)")
    subscripts, arrays_ = _subscripts_and_operands(operands)
    text, reshapes = normalize(subscripts, [_shape(x) for x in arrays_])
    arrays_ = [x if shape is None else arrays.reshape(x, shape) for x, shape in zip(arrays_, reshapes)]
    if optimize is not False and len(arrays_) > 1:
        return _pairwise(text, arrays_, optimize)
    return apply(OPS[OpKind.EINSUM], *arrays_, attr=text)


def _subscripts_and_operands(operands: Sequence[Any]) -> tuple[str, list[Any]]:
    """The subscripts as text and the arrays, from either of numpy's two calling forms."""
    if not operands:
        raise InputTypeError("einsum: give the subscripts and at least one operand")
    if isinstance(operands[0], str):
        if len(operands) == 1:
            raise InputTypeError("einsum: give at least one operand after the subscripts")
        return operands[0], list(operands[1:])
    pairs, output = list(operands), None
    if len(pairs) % 2:
        output = pairs.pop()
    if len(pairs) // 2 > MAX_OPERANDS:
        raise InputTypeError(f"einsum of {len(pairs) // 2} operands; tapegrad takes at most {MAX_OPERANDS}")
    terms = [_sublist(pairs[k], k // 2) for k in range(1, len(pairs), 2)]
    text = ",".join(terms) + ("" if output is None else "->" + _sublist(output, "output"))
    return text, pairs[0::2]


def _sublist(items: Any, where: Any) -> str:
    """An interleaved-form sublist (``[0, 1]``, ``[Ellipsis, 1]``) as letters, numbering as numpy does."""
    if not isinstance(items, (list, tuple)):
        raise InputTypeError(f"einsum: the sublist of operand {where} must list ints or Ellipsis, got {items!r}")
    text = ""
    for item in items:
        if item is Ellipsis:
            text += "..."
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < len(LETTERS):
            text += LETTERS[int(item)]
        else:
            raise InputTypeError(f"einsum: sublist items are ints in [0, {len(LETTERS)}) or Ellipsis, got {item!r}")
    return text


def _pairwise(text: str, operands: list[Any], optimize: Any) -> Any:
    """The contraction two operands at a time, in the order of ``np.einsum_path``."""
    inputs, output = parse_normal(text)
    try:
        path = np.einsum_path(text, *[_data(x) for x in operands], optimize=optimize)[0]
    except (TypeError, ValueError, KeyError) as error:
        raise InputTypeError(f"einsum: optimize={optimize!r} is not a path np.einsum_path takes: {error}") from None
    terms, values = list(inputs), list(operands)
    for step in path[1:]:
        picked = sorted(step, reverse=True)
        chosen = [(terms.pop(k), values.pop(k)) for k in picked][::-1]
        needed = set(output).union(*terms)
        letters = "".join(dict.fromkeys(ch for term, _ in chosen for ch in term if ch in needed)) if terms else output
        terms.append(letters)
        if len(chosen) == 2:
            values.append(_pair(*chosen[0], *chosen[1], letters))
        else:
            subscripts = normal_text([term for term, _ in chosen], letters)
            values.append(apply(OPS[OpKind.EINSUM], *[value for _, value in chosen], attr=subscripts))
    if terms[0] != output:
        return apply(OPS[OpKind.EINSUM], values[0], attr=normal_text(terms, output))
    return values[0]


def _pair(ta: str, a: Any, tb: str, b: Any, letters: str) -> Any:
    """``einsum(ta,tb->letters)`` as a batched matrix product, when each letter is a batch, kept or summed axis.

    Batch letters (in both and the result) lead, ``a``'s kept letters are
    the rows, ``b``'s the columns, the summed ones the inner axis.  A letter
    repeated in an operand, or summed within one operand, stays an einsum.
    """
    alone = set(ta).symmetric_difference(tb) - set(letters)
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb) or alone:
        return apply(OPS[OpKind.EINSUM], a, b, attr=normal_text([ta, tb], letters))
    sizes = dict(zip(ta, _shape(a))) | dict(zip(tb, _shape(b)))
    batch = [ch for ch in ta if ch in tb and ch in letters]
    inner = [ch for ch in ta if ch in tb and ch not in letters]
    rows, columns = [ch for ch in ta if ch not in tb], [ch for ch in tb if ch not in ta]

    def arranged(x: Any, term: str, groups: list[list[str]]) -> Any:
        order = [term.index(ch) for group in groups for ch in group]
        x = x if order == sorted(order) else arrays.transpose(x, order)
        shape = tuple(math.prod(sizes[ch] for ch in group) for group in groups)
        return x if _shape(x) == shape else arrays.reshape(x, shape)

    lead = [batch] if batch else []
    product = arrays.matmul(arranged(a, ta, [*lead, rows, inner]), arranged(b, tb, [*lead, inner, columns]))
    made = batch + rows + columns
    shape = tuple(sizes[ch] for ch in made)
    product = product if _shape(product) == shape else arrays.reshape(product, shape)
    order = [made.index(ch) for ch in letters]
    return product if order == sorted(order) else arrays.transpose(product, order)


# ---------------------------------------------------------------- numpy's other products


def _letters(count: int, skip: str = "") -> str:
    return "".join(ch for ch in LETTERS if ch not in skip)[:count]


def _multiply(a: Any, b: Any) -> Any:
    return apply(OPS[OpKind.MUL], a, b)


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """numpy's ``dot``: a product with a scalar, else a sum over ``a``'s last axis and ``b``'s second-to-last.

    Up to two axes in ``b`` that is ``matmul``; with more, a matrix product
    of rearranged operands (``einsum``'s ``optimize``), as numpy's BLAS call.
    """
    _no_out("dot", None, out)
    na, nb = len(_shape(a)), len(_shape(b))
    if not na or not nb:
        return _multiply(a, b)
    if nb <= 2:
        return arrays.matmul(a, b)
    left = _letters(na - 1, "z") + "z"
    kept = _letters(na + nb - 2, "z")[na - 1 :]  # b's axes other than the summed one
    right = kept[: nb - 2] + "z" + kept[nb - 2 :] if nb > 1 else "z"
    output = left[:-1] + kept
    _check_sizes("dot", a, b, _shape(a)[-1], _shape(b)[-2 if nb > 1 else 0])
    return einsum(f"{left},{right}->{output}", a, b, optimize=True)


def _check_sizes(name: str, a: Any, b: Any, n: int, m: int) -> None:
    if n != m:
        raise ShapeError(f"{name}: {type_text(_data(a))} and {type_text(_data(b))}: the summed axes differ ({n}, {m})")


def vdot(a: Any, b: Any) -> Any:
    """The sum of the products of the flattened arrays (real numbers: nothing to conjugate)."""
    if math.prod(_shape(a)) != math.prod(_shape(b)):
        raise ShapeError(f"vdot: {type_text(_data(a))} and {type_text(_data(b))} must have the same size")
    return einsum("i,i->", arrays.reshape(a, (-1,)), arrays.reshape(b, (-1,)), optimize=True)


def inner(a: Any, b: Any) -> Any:
    """numpy's ``inner``: a sum over the last axes of both (a product with a scalar)."""
    na, nb = len(_shape(a)), len(_shape(b))
    if not na or not nb:
        return _multiply(a, b)
    _check_sizes("inner", a, b, _shape(a)[-1], _shape(b)[-1])
    letters = _letters(na + nb - 2, "z")
    return einsum(f"{letters[: na - 1]}z,{letters[na - 1 :]}z->{letters}", a, b, optimize=True)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """numpy's ``tensordot``: ``axes`` an int N (``a``'s last N with ``b``'s first N) or a pair of axis lists."""
    na, nb = len(_shape(a)), len(_shape(b))
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        if not 0 <= axes <= min(na, nb):
            raise ShapeError(f"tensordot: axes={axes} for operands of {na} and {nb} axes")
        pairs = list(zip(range(na - int(axes), na), range(int(axes))))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise InputTypeError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
        if len(axes_a) != len(axes_b):
            raise ShapeError(f"tensordot: {len(axes_a)} axes of a paired with {len(axes_b)} of b")
        pairs = [(_axis(i, na), _axis(j, nb)) for i, j in zip(axes_a, axes_b)]
    if len({i for i, _ in pairs}) != len(pairs) or len({j for _, j in pairs}) != len(pairs):
        raise ShapeError(f"tensordot: repeated axis in {axes!r}")
    for i, j in pairs:
        _check_sizes("tensordot", a, b, _shape(a)[i], _shape(b)[j])
    letters = iter(LETTERS)
    left = [next(letters) for _ in range(na)]
    right = [next(letters) for _ in range(nb)]
    for i, j in pairs:
        right[j] = left[i]
    summed = {left[i] for i, _ in pairs}
    output = [ch for ch in left + right if ch not in summed]
    return einsum(f"{''.join(left)},{''.join(right)}->{''.join(output)}", a, b, optimize=True)


def _axis(axis: Any, ndim: int) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise InputTypeError(f"an axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of range for an array of {ndim} axes")
    return int(axis) % ndim


def kron(a: Any, b: Any) -> Any:
    """numpy's ``kron``: every product ``a[i] * b[j]`` at ``i * b.shape + j`` (the shorter shape padded with 1s)."""
    sa, sb = _shape(a), _shape(b)
    ndim = max(len(sa), len(sb))
    sa, sb = (1,) * (ndim - len(sa)) + sa, (1,) * (ndim - len(sb)) + sb
    if not ndim:
        return _multiply(a, b)
    letters = _letters(2 * ndim)
    left, right = letters[:ndim], letters[ndim:]
    output = "".join(x + y for x, y in zip(left, right))
    outer = einsum(f"{left},{right}->{output}", arrays.reshape(a, sa), arrays.reshape(b, sb))
    return arrays.reshape(outer, tuple(x * y for x, y in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """numpy's ``cross`` of 3-vectors (or 2-vectors: their z component), batched and broadcast over other axes."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _vectors_last(a, axisa, "a"), _vectors_last(b, axisb, "b")
    na, nb = _shape(a)[-1], _shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError(f"cross: vectors have 2 or 3 components, got {na} and {nb}")
    x = [_component(a, k) for k in range(na)] + [None] * (3 - na)
    y = [_component(b, k) for k in range(nb)] + [None] * (3 - nb)
    z = x[0] * y[1] - x[1] * y[0]
    if na == 2 and nb == 2:
        return z
    out = arrays.stack(_broadcast_all([_difference(x[1], y[2], x[2], y[1]), _difference(x[2], y[0], x[0], y[2]), z]),
                       axis=-1)
    ndim = len(_shape(out))
    axisc = _axis(axisc, ndim)
    if axisc == ndim - 1:
        return out
    order = list(range(ndim - 1))
    order.insert(axisc, ndim - 1)  # numpy's moveaxis(out, -1, axisc)
    return arrays.transpose(out, order)


def _vectors_last(x: Any, axis: int, name: str) -> Any:
    shape = _shape(x)
    if not shape:
        raise ShapeError(f"cross: {name} must hold vectors, got a scalar")
    axis = _axis(axis, len(shape))
    if axis == len(shape) - 1:
        return x
    order = [d for d in range(len(shape)) if d != axis] + [axis]
    return arrays.transpose(x, order)


def _difference(p: Any, q: Any, r: Any, s: Any) -> Any:
    """``p * q - r * s`` where a None (the z of a 2-vector) is zero, as numpy leaves those products out."""
    if p is None or q is None:
        return -(r * s)
    return p * q if r is None or s is None else p * q - r * s


def _component(x: Any, k: int) -> Any:
    return arrays.getitem(x, (Ellipsis, k))


def _broadcast_all(parts: list[Any]) -> list[Any]:
    shape = np.broadcast_shapes(*[_shape(p) for p in parts])
    return [p if _shape(p) == shape else apply(OPS[OpKind.BROADCAST_TO], p, attr=shape) for p in parts]


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    """numpy's ``trace``: the sum along the ``offset`` diagonal of the ``axis1``, ``axis2`` plane."""
    _no_out("trace", dtype, out)
    shape = _shape(a)
    if len(shape) < 2:
        raise ShapeError(f"trace: needs an array of at least two axes, got {type_text(_data(a))}")
    if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool):
        raise InputTypeError(f"trace: offset must be an int, got {offset!r}")
    i, j = _axis(axis1, len(shape)), _axis(axis2, len(shape))
    if i == j:
        raise ShapeError(f"trace: axis1 and axis2 name the same axis ({axis1}, {axis2})")
    square = a
    if offset or shape[i] != shape[j]:  # the offset diagonal of a square cut out of the plane
        start_i, start_j = max(0, -offset), max(0, offset)
        length = max(0, min(shape[i] - start_i, shape[j] - start_j))
        key = [slice(None)] * len(shape)
        key[i], key[j] = slice(start_i, start_i + length), slice(start_j, start_j + length)
        square = arrays.getitem(a, tuple(key))
    letters = list(_letters(len(shape), "z"))
    letters[i] = letters[j] = "z"
    rest = "".join(ch for ch in letters if ch != "z")
    return einsum(f"{''.join(letters)}->{rest}", square)

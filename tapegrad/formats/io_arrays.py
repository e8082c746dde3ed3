"""Arrays in tape files (format version 2): array documents, index attributes, and result sizes.

Writing: an array is ``{"dtype": ..., "shape": [...], "data": [...]}`` (data
in C order, floats as exact ``repr`` strings; ``"layout"`` for an array laid
out otherwise in memory), an index a list of items.  Reading checks each
field of such a document against its JSON path with the loader's checker
(``c``, from :mod:`tapegrad.io`), and charges every array to the element
budget before it is made.  :func:`result_size` estimates the size of an
array op's result from its operands' shapes, so a small file cannot ask for
a huge array, and refuses shapes and attributes that recording never makes;
:func:`result_work` its cost in element operations, so that a small file
cannot ask for hours of replay either.
The format itself is described in :mod:`tapegrad.io`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.einsum import letter_sizes, parse_normal, term_count
from ..core.ops import OPS, OpKind
from ..core.shapes import ArrayAttr, Index
from ..core.tape import Attr

if TYPE_CHECKING:
    from .io import _Checker

# What a file may ask for; tapegrad.io reads its integers and shapes with these too.
MAX_INT = 2**53  # integers from JSON are exact below this
MAX_NDIM = 32
FLOATS = ("float64", "float32")
INDEX_DTYPES = ("int64", "bool")
REDUCTIONS = frozenset(op.kind for op in OPS if op.reduction)


# ---------------------------------------------------------------- writing


def array_json(a: np.ndarray) -> dict[str, Any]:
    """An array as a document: ``{"dtype": "float64", "shape": [2, 3], "data": ["1.0", ...]}``."""
    if a.dtype.kind == "f":
        data: list[Any] = [repr(x) for x in a.ravel().tolist()]  # float32 values are exact float64s
    else:
        data = a.ravel().tolist()
    dtype = "int64" if a.dtype.kind in "iu" else a.dtype.name
    document = {"dtype": dtype, "shape": list(a.shape), "data": data}
    if not a.flags.c_contiguous:  # a transposed constant: numpy's sums and products follow the memory order
        document["layout"] = [int(axis) for axis in np.argsort([-stride for stride in a.strides], kind="stable")]
    return document


def index_json(index: Index) -> list[Any]:
    """An index as a list of items: integers, null (a new axis), "...", ``{"slice": [...]}`` or arrays."""
    items: list[Any] = []
    for item in index.items:
        if isinstance(item, slice):
            items.append({"slice": [None if p is None else int(p) for p in (item.start, item.stop, item.step)]})
        elif item is Ellipsis:
            items.append("...")
        elif isinstance(item, ArrayAttr):
            items.append(array_json(item.array))
        else:
            items.append(item)  # an int, or None for a new axis
    return items


# ---------------------------------------------------------------- reading


def read_floats(c: _Checker, data: list[Any], path: str) -> np.ndarray:
    """An array document's float data, fast when every item is a short string."""
    if all(type(x) is str and len(x) <= 40 for x in data):
        try:
            return np.array([float(x) for x in data], dtype=np.float64)
        except ValueError:
            pass  # the slow path names the bad item
    return np.array([c.number(x, f"{path}[{k}]") for k, x in enumerate(data)], dtype=np.float64)


def read_array(c: _Checker, value: Any, path: str, dtypes: tuple[str, ...]) -> np.ndarray:
    """The array an array document holds, of one of ``dtypes``, with its memory layout."""
    keys = {"dtype", "shape", "data"}
    raw = c.keys(value, keys | {"layout"} if isinstance(value, dict) and "layout" in value else keys, path)
    dtype = raw["dtype"]
    if not isinstance(dtype, str) or dtype not in dtypes:
        raise c.fail(f"{path}.dtype", f"expected {' or '.join(dtypes)}, got {str(dtype)[:40]!r}")
    shape = c.shape(raw["shape"], f"{path}.shape")
    data = raw["data"]
    if not isinstance(data, list):
        raise c.fail(f"{path}.data", f"expected list, got {type(data).__name__}")
    count = math.prod(shape)
    if len(data) != count:
        raise c.fail(f"{path}.data", f"{len(data):,} numbers, but shape {list(shape)} holds {count:,}")
    c.charge(count, path)
    if dtype in FLOATS:
        array = read_floats(c, data, f"{path}.data")
        if dtype == "float32":
            with np.errstate(over="ignore"):
                narrow = array.astype(np.float32)
            inexact = (narrow.astype(np.float64) != array) & ~np.isnan(array)
            if inexact.any():
                k = int(np.argmax(inexact))
                raise c.fail(f"{path}.data[{k}]", f"{data[k]!r:.40} is not a float32 number")
            array = narrow
    else:
        kind = bool if dtype == "bool" else int
        for k, x in enumerate(data):
            if type(x) is not kind or kind is int and not -MAX_INT < x < MAX_INT:
                raise c.fail(f"{path}.data[{k}]", f"expected {dtype} items, got {str(x)[:40]}")
        array = np.array(data, dtype=np.intp if kind is int else np.bool_)
    array = array.reshape(shape)
    if "layout" not in raw:
        return array
    layout = c.shape(raw["layout"], f"{path}.layout")
    if sorted(layout) != list(range(len(shape))):
        raise c.fail(f"{path}.layout", f"expected a permutation of the {len(shape)} axes")
    return np.transpose(np.ascontiguousarray(np.transpose(array, layout)), np.argsort(layout))


def read_index(c: _Checker, value: Any, path: str) -> Index:
    """A ``getitem`` or ``scatter`` index, item by item."""
    if not isinstance(value, list) or len(value) > MAX_NDIM:
        raise c.fail(path, f"expected an index: a list of at most {MAX_NDIM} items")
    items: list[Any] = []
    for k, item in enumerate(value):
        here = f"{path}[{k}]"
        if item is None or item == "...":
            items.append(None if item is None else Ellipsis)
        elif type(item) is int:
            items.append(c.integer(item, here))
        elif isinstance(item, dict) and "slice" in item:
            bounds = c.keys(item, {"slice"}, here)["slice"]
            if not isinstance(bounds, list) or len(bounds) != 3:
                raise c.fail(f"{here}.slice", "expected [start, stop, step]")
            parts = [None if b is None else c.integer(b, f"{here}.slice[{j}]") for j, b in enumerate(bounds)]
            if parts[2] == 0:
                raise c.fail(f"{here}.slice[2]", "a slice's step cannot be zero")
            items.append(slice(*parts))
        elif isinstance(item, dict):
            array = read_array(c, item, here, INDEX_DTYPES)
            if array.dtype == np.bool_ and array.ndim == 0:
                raise c.fail(here, "a boolean index array needs at least one axis")
            items.append(array)
        else:
            raise c.fail(
                here,
                'expected an index item: an integer, null, "...", {"slice": [start, stop, step]} '
                "or an int64/bool array",
            )
    return Index(tuple(items))


# ---------------------------------------------------------------- sizes, before numpy makes an array


def result_size(kind: OpKind, shapes: list[tuple[int, ...]], attr: Attr, budget: int) -> int:
    """The size of the op's result (at least), found before numpy makes it.

    Raises ValueError when the operands' shapes and the attribute are not
    ones the array ops record (axes in range, matrices for matmul...).
    Elementwise ops need no branch; each array op has its own, as the
    loader's check of untrusted shapes (numpy would allocate first), which
    only the loader needs, so it stays here rather than in the table.
    """
    x = shapes[0]
    if OPS[kind].elementwise:
        return math.prod(np.broadcast_shapes(*shapes))
    if kind is OpKind.MATMUL or kind is OpKind.SMATMUL:
        y = shapes[1]
        if len(x) < 2 or len(y) < 2 or x[-1] != y[-2]:
            raise ValueError("matmul records matrices (or stacks of them) whose inner sizes agree")
        return math.prod(np.broadcast_shapes(x[:-2], y[:-2])) * x[-2] * y[-1]
    if kind is OpKind.EINSUM or kind is OpKind.SEINSUM:
        inputs, output = parse_normal(attr, len(shapes))
        sizes = letter_sizes(inputs, shapes)
        return math.prod(sizes[ch] for ch in output)
    if kind is OpKind.SOLVE:  # b a vector, or a stack of matrices whose batch axes broadcast with a's
        y = shapes[1]
        core = y[-1:] if len(y) == 1 else y[-2:]
        if len(x) < 2 or not core or core[0] != x[-1]:
            raise ValueError("solve records a stack of square matrices and a right-hand side with as many rows")
        return math.prod(np.broadcast_shapes(x[:-2], y[:-2])) * math.prod(core)
    if kind in REDUCTIONS:
        axes = range(len(x)) if attr[0] is None else attr[0]
        if axes and axes[-1] >= len(x):
            raise ValueError(f"axis {axes[-1]} is out of range for {len(x)} axes")
        return math.prod(n for d, n in enumerate(x) if d not in axes)
    if kind is OpKind.TRANSPOSE and sorted(attr) != list(range(len(x))):
        raise ValueError(f"{list(attr)} is not a permutation of {len(x)} axes")
    if kind is OpKind.SUM_TO:
        lead = len(x) - len(attr)
        if lead < 0 or any(n not in (1, m) for n, m in zip(attr, x[lead:])):
            raise ValueError(f"{list(attr)} does not broadcast to {list(x)}")
        return math.prod(attr)
    if kind is OpKind.BROADCAST_TO:
        return math.prod(attr)
    if kind is OpKind.GETITEM:
        if not x:
            raise ValueError("a scalar has no items")
        return index_size(attr, x)
    if kind is OpKind.SCATTER:
        index, shape = attr
        if index_size(index, shape) > budget:
            return index_size(index, shape)
        picked = np.broadcast_to(np.empty((), np.uint8), shape)[index.key].shape
        if picked != x:
            raise ValueError(f"{index!r} of an array of shape {list(shape)} has shape {list(picked)}, not {list(x)}")
        return math.prod(shape)
    if kind in (OpKind.CONCAT, OpKind.LOG_SOFTMAX, OpKind.ARGSORT) and not 0 <= attr < len(x):
        raise ValueError(f"axis {attr} is out of range for {len(x)} axes")
    if kind is OpKind.CONCAT:
        return sum(math.prod(s) for s in shapes)
    if kind is OpKind.TAKE:
        if not x:
            raise ValueError("a scalar has no rows")
        return math.prod(shapes[1]) * math.prod(x[1:])
    if kind is OpKind.TAKE_GRAD:
        if x[: len(shapes[1])] != shapes[1]:
            raise ValueError(f"rows of shape {list(x)} cannot come from indices of shape {list(shapes[1])}")
        return attr * math.prod(x[len(shapes[1]) :])
    return math.prod(x)


LINEAR_ALGEBRA = frozenset(op.kind for op in OPS if op.matrix)
"""The numpy.linalg rows: ``m * n * min(m, n)`` operations per ``(m, n)`` matrix, not ``m * n``."""


MATRIX_WORK = 1000
"""Work charged per matrix of a linear-algebra record, besides its arithmetic: where numpy's batched call
fails (one singular or nan matrix), the kernels go matrix by matrix in Python, about 6 us each."""


def result_work(kind: OpKind, shapes: list[tuple[int, ...]], size: int, attr: Attr = None) -> int:
    """The element operations of computing a result of ``size`` elements (at least one).

    A matrix product ``(n, k) @ (k, m)`` takes ``n * m * k``, a factorisation of
    an ``(m, n)`` matrix ``m * n * min(m, n)`` plus :data:`MATRIX_WORK`; an indexing
    takes its result's size; an einsum its terms (the product of every
    letter's size) times its operands; any other op the larger of its result's size
    and its operands' (a sum reads every element it adds).
    """
    if kind is OpKind.MATMUL:
        return max(size * shapes[0][-1], 1)
    if kind in LINEAR_ALGEBRA and len(shapes[0]) >= 2:  # a factorisation: about min(m, n) passes over each matrix
        matrices = math.prod(np.broadcast_shapes(*[shape[:-2] for shape in shapes if len(shape) >= 2]))
        passes = sum(math.prod(shape) for shape in shapes) * min(shapes[0][-2:])
        return max(size, passes + MATRIX_WORK * matrices, 1)
    if kind is OpKind.GETITEM:
        return max(size, 1)
    if kind is OpKind.EINSUM or kind is OpKind.SEINSUM:  # every term, once per operand (a strong one: a few times)
        return max(term_count(parse_normal(attr)[0], shapes) * len(shapes), size, 1)
    return max(size, sum(math.prod(shape) for shape in shapes), 1)


def index_size(index: Index, shape: tuple[int, ...]) -> int:
    """At least the size of ``x[index]`` for ``x`` of ``shape``: numpy's rules, without making it."""
    arrays = [item.array for item in index.items if isinstance(item, ArrayAttr)]
    if not arrays:
        return math.prod(shape)  # ints, slices and new axes never make an array larger
    picks = [a.shape if a.dtype != np.bool_ else (int(np.count_nonzero(a)),) for a in arrays]
    count = math.prod(np.broadcast_shapes(*picks))

    def width(item: Any) -> int:
        if item is None:
            return 0
        return item.array.ndim if isinstance(item, ArrayAttr) and item.array.dtype == np.bool_ else 1

    rest = len(shape) - sum(width(item) for item in index.items if item is not Ellipsis)
    if rest < 0:
        raise IndexError(f"too many indices for an array of {len(shape)} axes")
    axis, picked = 0, set[int]()
    for item in index.items:
        if item is Ellipsis:
            axis += rest
            continue
        if isinstance(item, ArrayAttr):
            picked.update(range(axis, axis + width(item)))
        axis += width(item)
    return count * math.prod(n for d, n in enumerate(shape) if d not in picked)

"""Blocked, multi-core numpy code: a large batch evaluated in cache-sized blocks on all cores.

The numpy backend's function walks the whole batch once per statement: at
10^5 points each temporary is 800 kB, so every statement streams its
operands from memory and allocates a new array.  The blocked form runs the
same statements on slices of ``block`` points (default :data:`BLOCK`), each
written with ``out=`` into a row of a buffer that is reused once its value
is dead (a register allocation over the straight-line code: liveness from
the statements' reads), so the working set stays in the core's cache; and
it spreads the blocks over ``workers`` threads (numpy ufuncs release the
GIL while they loop).

The generated module holds three functions for a function ``f``:

``_f_whole``
    the unblocked numpy code, exactly as :func:`~tapegrad.formats.codegen.to_source` writes it;
``_f_block``
    the same statements for one block, each ufunc call (``np.sin``, ``+``,
    the strong-zero kernels) given an ``out=`` buffer;
``f``
    runs ``_f_block`` over the blocks (:func:`_run_blocks`) when every input
    is a C-contiguous float64 array of one shape with at least
    :data:`THRESHOLD` points, and ``_f_whole`` otherwise (scalars, mixed
    shapes that broadcast, other dtypes, small batches).

Every op of a scalar tape is elementwise, so each point's numbers come from
the same ufunc calls on the same operands whether the batch is split or not:
the blocked results are bit-for-bit those of the unblocked code, signed zeros
included, except the sign of a nan: numpy's loops themselves return the first
operand's nan of ``-nan + nan`` in their vector body and the second's in the
scalar tail, so that sign depends on where a point falls in a call.  An array
tape (``Value`` holding arrays) has ops that reduce or mix points, so it is
never blocked; nor is a tape long enough for its function to be split into
parts (more than 20,000 statements).

Measured (benchmarks/bench_blocked.py, 2 cores): see the guide's
"Large batches" section; numexpr was measured too and not used, because its
``exp``, ``log`` and ``tanh`` differ from numpy's in the last bit.
"""

from __future__ import annotations

import ast
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import kernels
from ..core.tape import Tape
from ..errors import InputTypeError
from . import codegen
from .literals import Constants, identifiers

__all__ = ["BLOCK", "THRESHOLD", "blocked_source", "check_options", "emit_blocked_function"]

BLOCK = 16384
"""Points per block by default: the fastest of 512 to 32,768 on one worker for both the 30-op and the
1,000-op program (``python benchmarks/bench_blocked.py --blocks``; 8,192 was as fast at 30 ops)."""

THRESHOLD = 2 * BLOCK
"""Batches below this many points (or below two blocks, for a smaller ``block``) run the unblocked code.

Two default blocks: below that a second thread's start costs more than it saves (a 3-record gradient
at 10^4 points took 318 us on two threads, 43 on one and 31 unblocked; the 30-op gradient at 2 x 10^4
points 3.4 ms on two threads against 2.8 unblocked)."""

MAX_WORKERS = 256
"""The most threads a call may ask for (each holds its own buffers)."""

_BINARY = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply", ast.Div: "np.true_divide"}


def check_options(workers: Any, block: Any) -> None:
    """``workers`` and ``block`` are whole numbers (or None for the defaults): anything else is refused here."""
    for name, value, most in [("workers", workers, MAX_WORKERS), ("block", block, None)]:
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputTypeError(f"{name} must be a whole number or None, got {type(value).__name__} {value!r}")
        if value < 1 or (most is not None and value > most):
            bound = f"between 1 and {most}" if most else "at least 1"
            raise InputTypeError(f"{name} must be {bound}, got {value}; None uses the default")


def _run_blocks(block_function, inputs, outputs, buffers, block, workers, smallest):
    """The outputs of ``block_function`` over slices of ``inputs`` of at most ``block`` points, on ``workers`` threads.

    None unless every input is a C-contiguous float64 array of one shape
    with at least ``smallest`` points: the caller then runs its unblocked
    code.  Each thread takes the next block until none is left, computing
    into its own ``buffers`` rows; ``workers=None`` uses every core this
    process may run on.  A batch smaller than ``workers`` blocks is split
    evenly, so that every thread has work.
    """
    if not inputs or type(inputs[0]) is not np.ndarray or inputs[0].size < smallest:
        return None  # the common small calls leave after two checks
    shape, size = inputs[0].shape, inputs[0].size
    for x in inputs:
        if type(x) is not np.ndarray or x.shape != shape or x.dtype != np.float64 or not x.flags.c_contiguous:
            return None
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    block = min(block, -(-size // workers))
    flat = [x.reshape(-1) for x in inputs]
    results = [np.empty(size) for _ in range(outputs)]
    starts = iter(range(0, size, block))
    lock = threading.Lock()
    failures = []

    def work():
        rows = list(np.empty((buffers, block)))
        while not failures:
            with lock:  # one block per thread at a time
                lo = next(starts, None)
            if lo is None:
                return
            hi = min(lo + block, size)
            if hi - lo < block:
                rows = [row[: hi - lo] for row in rows]
            try:
                block_function(*[x[lo:hi] for x in flat], [r[lo:hi] for r in results], rows)
            except BaseException as error:
                failures.append(error)

    threads = []
    try:
        for _ in range(min(workers, -(-size // block)) - 1):
            threads.append(threading.Thread(target=work))
            threads[-1].start()
        work()
    except BaseException as error:  # a thread that would not start, or an interrupt: the others stop too
        failures.append(error)
        raise
    finally:
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    if failures:
        raise failures[0]
    return [r.reshape(shape) for r in results]


# ---------------------------------------------------------------- statements written into buffers


def _ufunc_form(code: str) -> tuple[str, str] | None:
    """``code`` (one numpy statement's expression) as a function taking ``out=`` and its operands, or None.

    A numpy ufunc call keeps its function; ``a + b``, ``a - b``, ``a * b``,
    ``-a`` become the ufuncs these operators call on arrays; a kernel taking
    ``out`` (``_smul_array``, ``_sdiv_array``) keeps its name.  Anything
    else (``np.where``, ``_truth_array``...) has no such form and keeps
    allocating its result.
    """
    tree = ast.parse(code, mode="eval").body
    if isinstance(tree, ast.BinOp) and type(tree.op) in _BINARY:
        function, operands = _BINARY[type(tree.op)], [tree.left, tree.right]
    elif isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub) and not isinstance(tree.operand, ast.Constant):
        function, operands = "np.negative", [tree.operand]
    elif isinstance(tree, ast.Call) and not tree.keywords and _writes_into(tree.func):
        function, operands = ast.unparse(tree.func), list(tree.args)
    else:
        return None
    if not all(_is_operand(o) for o in operands):
        return None
    return function, ", ".join(ast.unparse(o) for o in operands)


def _writes_into(function: ast.expr) -> bool:
    """A numpy ufunc giving float64 for float64 operands, or a kernel with an ``out`` parameter."""
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "np":
        ufunc = getattr(np, function.attr, None)
        if not isinstance(ufunc, np.ufunc) or ufunc.nout != 1:
            return False
        try:
            types = ufunc.resolve_dtypes((np.dtype(np.float64),) * ufunc.nin + (None,))
        except TypeError:
            return False
        return types[-1] == np.float64
    if isinstance(function, ast.Name) and callable(getattr(kernels, function.id, None)):
        return "out" in inspect.signature(getattr(kernels, function.id)).parameters
    return False


def _is_operand(node: ast.expr) -> bool:
    """A name or a number: an operand the ufunc reads as it is (no expression allocating on the way)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float)))


class _Buffers:
    """Which buffer rows hold which names, freeing a row once no live name may refer to it.

    A statement written with ``out=`` makes its target hold its own row; any
    other statement's result might be one of its operands or a view of one
    (a kernel may return its argument), so it holds all of their rows too.
    """

    def __init__(self) -> None:
        self.count = 0
        self.free: list[int] = []
        self.rows: dict[str, set[int]] = {}  # name -> rows it may refer to
        self.holders: dict[int, int] = {}  # row -> how many live names refer to it

    def take(self) -> int:
        row = self.free.pop() if self.free else self.count
        self.count = max(self.count, row + 1)
        return row

    def hold(self, name: str, rows: set[int]) -> None:
        self.rows[name] = rows
        for row in rows:
            self.holders[row] = self.holders.get(row, 0) + 1

    def release(self, name: str) -> None:
        for row in self.rows.pop(name, ()):
            self.holders[row] -= 1
            if not self.holders[row]:
                self.free.append(row)


def _block_body(function: codegen._Function) -> tuple[list[str], int]:
    """The statements of one block, and how many buffer rows they use.

    A statement depending on an input is written into a free row of ``_b``
    (or into its output's slice ``_out[k]`` when its value is returned);
    rows are freed after each name's last read, never during the statement
    that reads it, so a result never overwrites its own operands.
    """
    statements, params = function.statements, set(function.params)
    outputs = function.outputs()
    last_read: dict[str, int] = {}
    for k, (_, _, reads) in enumerate(statements):
        for name in reads:
            last_read[name] = k
    into_output = {name: k for k, name in reversed(list(enumerate(outputs)))}  # each name's first output
    written_into: dict[str, int] = {}
    varying, buffers, lines = set(params), _Buffers(), []
    for k, (target, code, reads) in enumerate(statements):
        if target is not None and any(r in varying for r in reads):
            varying.add(target)
            lines.append(f"{target} = {_varying(target, code, reads, buffers, into_output, written_into)}")
        else:
            lines += codegen._assign(target, code)
        for name in reads:
            if last_read[name] == k and name not in outputs:
                buffers.release(name)
    lines += [f"np.copyto(_out[{k}], {name})" for k, name in enumerate(outputs) if written_into.get(name) != k]
    return lines, buffers.count


def _varying(
    target: str, code: str, reads: list[str], buffers: _Buffers, into_output: dict[str, int], written: dict[str, int]
) -> str:
    """A statement whose result has the block's shape: written into its output's slice, a free row, or as it is."""
    form = _ufunc_form(code)
    if form is None:
        buffers.hold(target, set().union(*(buffers.rows.get(r, set()) for r in reads)))
        return code
    function, operands = form
    if target in into_output:
        written[target] = into_output[target]
        return f"{function}({operands}, out=_out[{into_output[target]}])"
    row = buffers.take()
    buffers.hold(target, {row})
    return f"{function}({operands}, out=_b[{row}])"


# ---------------------------------------------------------------- the module


def emit_blocked_function(
    tape: Tape,
    name: str,
    summary: str,
    returns: Callable[[list[str]], str],
    constants: Constants,
    block: int | None = None,
    workers: int | None = None,
    batch_axes: int = 0,
) -> tuple[codegen._Function, list[str]]:
    """``name`` computing ``tape`` in blocks where it can, with ``_name_whole`` and ``_name_block``; its lines.

    An array tape (mapped over ``batch_axes``, as :func:`codegen.emit_function`
    does), a tape without inputs, or one long enough to be written in parts
    gets the unblocked function only (see the module docstring).
    """
    check_options(workers, block)
    if tape.array or not tape.inputs:
        return codegen.emit_function(tape, name, summary, returns, "numpy", constants, batch_axes)
    function, whole = codegen.emit_function(tape, f"_{name}_whole", summary, returns, "numpy", constants)
    if len(function.statements) > codegen._PART_SIZE:
        return codegen.emit_function(tape, name, summary, returns, "numpy", constants)
    body, rows = _block_body(function)
    params = ", ".join(function.params)
    outputs = function.outputs()
    block_lines = [
        f"def _{name}_block({params}, _out, _b):",
        f'    """One block of {name}: the statements of _{name}_whole on slices of the inputs, each written into',
        "    its output's slice _out[k] or into a row of the buffers _b, reused once the value it held is dead.",
        '    """',
        '    with np.errstate(all="ignore"):',
        *["        " + line for line in body],
        "    return None",
    ]
    docstring = codegen._docstring(summary, tape.inputs, function.params, tape.output_names)
    smallest = min(THRESHOLD, 2 * (block or BLOCK))
    note = (
        f"    # A batch of at least {smallest:,} points, every input a C-contiguous float64 array of one shape: "
        f"in blocks of {block or BLOCK:,} points on {workers or 'all'} cores; else the unblocked code."
    )
    call = f"_run_blocks(_{name}_block, ({params},), {len(outputs)}, {rows}, {block or BLOCK}, {workers}, {smallest})"
    dispatch = [
        f"def {name}({params}):",
        *["    " + line if line else "" for line in docstring],
        note,
        f"    _outputs = {call}",
        "    if _outputs is None:",
        f"        return _{name}_whole({params})",
        "    " + returns([f"_outputs[{k}]" for k in range(len(outputs))]),
    ]
    function.printer.imports.update(["import os", "import threading"])  # what the block runner uses
    return function, [*whole, "", "", *block_lines, "", "", *dispatch]


def runner_source() -> list[str]:
    """The lines of :func:`_run_blocks`, which a module of blocked functions carries (it imports no tapegrad)."""
    return [codegen._without_annotations(inspect.getsource(_run_blocks)).rstrip("\n"), ""]


def blocked_source(tape: Tape, name: str = "f", block: int | None = None, workers: int | None = None) -> str:
    """The source of a module defining ``name``: ``tape`` as numpy code evaluated in blocks over threads.

    The blocked counterpart of ``to_source(tape, name, backend="numpy")``;
    ``Tape.compile("numpy")`` compiles it, and ``export(..., blocked=True)``
    writes it with the gradient functions.
    """
    check_options(workers, block)
    (function_name,) = identifiers([name])
    summary = codegen.summary_of(tape)
    function, lines = emit_blocked_function(
        tape, function_name, summary, codegen.returns_of(tape), Constants(), block, workers
    )
    return module_source([(function, lines)], f"{function_name}: {summary}", tape)


def module_source(functions: list[tuple[codegen._Function, list[str]]], title: str, tape: Tape) -> str:
    """:func:`codegen.module_source` of blocked functions: with the block runner and the imports it needs."""
    if any("import threading" in function.printer.imports for function, _ in functions):
        functions = [(functions[0][0], runner_source() + functions[0][1]), *functions[1:]]
    return codegen.module_source(functions, "numpy", title, tape)

"""Generated source: a tape as a standalone Python function.

One statement per record, named after the user's inputs and numbered
``t0, t1, ...`` in between, with a header saying what it computes, from which
tape (by hash) and with which tapegrad version; the same tape always gives
byte-identical source.  Two backends:

``"math"``
    scalar floats; imports only ``math``, so it runs on a bare Python.
``"numpy"``
    arrays with broadcasting; for a scalar tape it calls only numpy ufuncs
    and ``np.where``, so the same function runs on dask arrays too.  An
    array tape (``Value`` holding arrays) needs this backend: its function
    takes arrays of the recorded shapes, converted to the recorded dtypes,
    and returns what calling the tape returns.

Each backend is a printer object (:mod:`tapegrad.formats.printers`) that
writes each op from its table row; the IEEE-safe helpers they call
(``_log``, ``_div``, ``_sum_to``...) are the interpreter's own
functions, copied into the generated module by their source, so generated
code and interpreter give the same numbers, strong zeros included.  An
array constant (a recorded array, the integer index of an embedding lookup)
becomes a read-only module constant ``_c0, _c1...``, built once on import.

Safety: nothing a user typed reaches the source except as a sanitised
identifier, a float literal, or escaped text inside a comment, a docstring or
an error message's string literal (``tapegrad.literals`` writes those), and
never the first two lines, where Python would read an encoding declaration
(:func:`~tapegrad.literals.fixed_header`).  Names the code adds start with
``_`` (helpers, constants, parts and their list ``_s``), which no parameter does.
:func:`~tapegrad.formats.export.export` (a module of a function and its
gradient, with a tests file) is a pipeline over this emitter, in its own module.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import linecache
import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..core.ops import OPS, OpKind
from ..core.passes import dead_code
from ..core.shapes import FLOAT64, ArrayAttr, Index, dtype_of
from ..core.tape import Tape, portable_site, side_table
from ..errors import InputTypeError, UnknownNameError, UnsupportedOpError
from .literals import TEMPORARY, Attribute, Constants, docstring_text, fixed_header, identifiers, literal, printable
from .literals import array_source as array_source  # re-exported: the array source of a constant
from .printers import PRINTERS, kernel, kernel_dependencies

__all__ = ["to_source", "compile_tape", "identifiers", "BACKENDS", "emit_function", "module_source"]

BACKENDS = tuple(PRINTERS)
# Past this many statements a function is split into parts, which keeps
# CPython's compiler fast and within its limits on huge tapes.
_PART_SIZE = 20_000


# ---------------------------------------------------------------- fingerprints


def tape_hash(tape: Tape) -> str:
    """A short, stable fingerprint of the program (not of where it was recorded)."""
    text = "\n".join(tape.format_record(i).split("  # ")[0] for i in range(len(tape)))
    text += f"\ninputs {tape.inputs!r} outputs {tape.output_slots!r} {tape.output_names!r}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    for slot in sorted(tape.attrs) if tape.array else ():  # a listing abbreviates big arrays: <f64[100,16]>
        for array in _arrays_in(tape.attrs[slot]):
            digest.update(f"\n%{slot} {array.dtype.str} {array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _arrays_in(attr: Any) -> list[np.ndarray]:
    """The numpy arrays inside an attribute (an array constant, an index, a tuple holding an index)."""
    if isinstance(attr, ArrayAttr):
        return [attr.array]
    if isinstance(attr, Index):
        return [item.array for item in attr.items if isinstance(item, ArrayAttr)]
    if isinstance(attr, tuple):
        return [array for part in attr for array in _arrays_in(part)]
    return []


# ---------------------------------------------------------------- statements




class _Function:
    """The statements of one generated function, before they are laid out."""

    def __init__(self, tape: Tape, backend: str, constants: Constants | None = None) -> None:
        if backend not in PRINTERS:
            raise UnknownNameError(
                f"no backend {backend!r}; the backends are {', '.join(BACKENDS)} (and c, for tape.compile and export)"
            )
        self.tape = dead_code(tape)
        self.backend = backend
        self.printer = PRINTERS[backend]()
        self.constants = Constants() if constants is None else constants
        if backend == "math":
            check_scalar(self.tape)
        self.params = identifiers(self.tape.inputs)
        self.statements: list[tuple[str | None, str, list[str]]] = []  # (target, code, names it reads)
        self.helpers = self.printer.helpers  # the kernels and helpers the statements call, collected while printing
        self.temporaries = 0
        self.names = self._lay_out()

    def _constant(self, value: Any) -> str:
        if isinstance(value, np.ndarray):
            return self.constants.name(ArrayAttr(value))
        if isinstance(value, ArrayAttr):
            return self.constants.name(value)
        return literal(value, self.backend)

    def _lay_out(self) -> list[str]:
        tape, backend = self.tape, self.backend
        names = [""] * len(tape)
        params = dict(zip(tape.input_slots, self.params))
        for i, kind in enumerate(tape.ops):
            args = [names[a] for a in tape.args[i]]
            if kind is OpKind.INPUT:
                names[i] = params.get(i) or self._constant(tape.values[i])  # captured: a constant
            elif kind is OpKind.CONST:
                names[i] = self._constant(tape.attrs[i])
            elif kind is OpKind.GUARD:
                self._guard(i, args[0])
                names[i] = args[0]
            else:
                op = OPS[kind]
                attr: Any = ""
                if i in tape.attrs and op.elementwise:
                    attr = literal(tape.attrs[i], backend)
                elif i in tape.attrs:
                    attr = Attribute(tape.attrs[i], self.constants)
                operands = self._weak_scalars(i, args) if tape.array else args
                code = self.printer.record(op, operands, attr)
                target = f"t{self.temporaries}"
                self.temporaries += 1
                self.statements.append((target, code, [a for a in args if _is_local(a)]))
                names[i] = target
        return names

    def _weak_scalars(self, slot: int, args: list[str]) -> list[str]:
        """Operands as numpy should see them: a float64 scalar as a Python float, which does not promote.

        The tape holds such a scalar (a sum of float64s, say) as a float, so
        ``y * s`` stayed float32 when recorded; numpy's own float64 scalar
        would make it float64.  Only a record whose result is not float64 can tell.
        """
        tape = self.tape
        if not OPS[tape.ops[slot]].elementwise or dtype_of(tape.values[slot]) == FLOAT64:
            return args
        return [
            f"float({a})" if TEMPORARY.fullmatch(a) and type(tape.values[s]) is float else a
            for a, s in zip(args, tape.args[slot])
        ]

    def _guard(self, slot: int, condition: str) -> None:
        expected = bool(self.tape.attrs[slot])
        where = portable_site(self.tape.sites.get(slot, ""))
        message = f"inputs take another branch than the one recorded: {self.tape.describe_guard(slot)} at {where}"
        if self.backend == "math":
            test = f"not {condition}" if expected else condition
        else:
            test = f"np.any(({condition} != 0.0) != {expected})"
        code = f"if {test}:\n    raise ValueError({message!r})"
        self.statements.append((None, code, [condition] if _is_local(condition) else []))

    def outputs(self) -> list[str]:
        return [self.names[s] for s in self.tape.output_slots]

    def input_checks(self) -> list[str]:
        """Array tapes: each input checked against its recorded shape and converted to its dtype."""
        if not self.tape.array:
            return []
        self.helpers.add("_array_input")
        lines = []
        for param, slot in zip(self.params, self.tape.input_slots):
            recorded = self.tape.values[slot]
            dtype = dtype_of(recorded).name
            lines.append(f'{param} = _array_input({param}, "{param}", {np.shape(recorded)!r}, np.{dtype})')
        return lines


def _is_local(name: str) -> bool:
    """A name the function itself binds (a parameter or temporary), not a literal or a module constant."""
    return name.isidentifier() and not name.startswith("_")


_SCALAR_BACKENDS = {"math": "the math backend (Python floats)", "c": "the c backend (C doubles)"}


def check_scalar(tape: Tape, backend: str = "math") -> None:
    """The math and C backends compute with floats: array tapes and array ops are refused, naming ``backend``."""
    array_ops = sorted({str(kind) for kind in tape.ops if OPS[kind].scalar is None and OPS[kind].array is not None})
    if tape.array or array_ops:
        what = f"uses array ops ({', '.join(array_ops)})" if array_ops else "holds arrays"
        shapes = ", ".join(f"{n}: {tape.type_of(s)}" for n, s in zip(tape.inputs, tape.input_slots))
        raise UnsupportedOpError(
            f"tape {tape.name!r} {what}, which {_SCALAR_BACKENDS[backend]} cannot compute; "
            f'generate it with backend="numpy" (inputs {shapes or "none"})'
        )


def _array_input(x, name, shape, dtype):
    """An input as the tape recorded it: the same shape, converted to its dtype (a float64 scalar is a float)."""
    if type(x) is np.ndarray and x.shape == shape and x.dtype == dtype and shape:
        return x  # the usual call, checked in three comparisons
    x = np.asarray(x)
    if x.shape != shape:
        raise ValueError(f"input {name} has shape {x.shape}, but this code was generated for shape {shape}; "
                         "trace the function at the new shape and generate it again")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"input {name} must hold real numbers, not {x.dtype}")
    x = x.astype(np.float64 if x.dtype.kind in "iub" else x.dtype, copy=False).astype(dtype, copy=False)
    return float(x) if x.shape == () and x.dtype == np.float64 else x


def _frozen(array):
    """A module constant, made read-only so that no caller can change it for the next call."""
    array.flags.writeable = False
    return array


def _batch_shape(*_inputs):
    _shapes = {np.shape(_x) for _x in _inputs}
    return _shapes.pop() if len(_shapes) == 1 else np.broadcast_shapes(*_shapes)


def _fit(_value, _shape):
    return _value if np.shape(_value) == _shape else np.broadcast_to(_value, _shape).copy()


def _map_batch(one, inputs, shapes, axes):
    """``one`` on each element of the extra leading axes of ``inputs``; an input of its recorded shape is shared."""
    inputs = [np.asarray(x) for x in inputs]
    batch = None
    for k, (x, shape) in enumerate(zip(inputs, shapes)):
        if x.shape == shape:
            continue
        if x.shape[x.ndim - len(shape):] != shape or x.ndim != len(shape) + axes or batch not in (None, x.shape[:axes]):
            raise ValueError(f"input {k} has shape {x.shape}; expected {shape}, or {axes} leading batch axes "
                             f"{'of sizes ' + str(batch) + ' ' if batch else ''}before it")
        batch = x.shape[:axes]
    if batch is None:
        return one(*inputs)
    mapped = [x.shape != shape for x, shape in zip(inputs, shapes)]
    results = [one(*[x[i] if m else x for x, m in zip(inputs, mapped)]) for i in np.ndindex(batch)]
    # An empty batch still has the shapes of one result: computed at zeros.
    first = results[0] if results else one(*[np.zeros(s) if m else x for x, s, m in zip(inputs, shapes, mapped)])
    return _stack(results, first, batch)


def _stack(results, first, batch):
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([r[k] for r in results], part, batch) for k, part in enumerate(first))
    stacked = np.empty(batch + np.shape(first), dtype=np.asarray(first).dtype)
    for i, r in zip(np.ndindex(batch), results):
        stacked[i] = r
    return stacked


_OWN_HELPERS = ("_batch_shape", "_fit", "_array_input", "_frozen", "_map_batch", "_stack")


def _helper(name: str) -> Any:
    """A helper of generated code: a kernel of the op table, or one of the functions above."""
    return globals()[name] if name in _OWN_HELPERS else kernel(name)


def _helper_sources(names: set[str]) -> list[str]:
    """The source of each helper named, and of the kernels those call (read from their code objects)."""
    pending, seen = sorted(names), set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            function = _helper(name)
            pending += kernel_dependencies(function) + [n for n in function.__code__.co_names if n in _OWN_HELPERS]
    return [_without_annotations(inspect.getsource(_helper(name))) for name in sorted(seen)]


def _without_annotations(text: str) -> str:
    """A helper's source without comment lines and type hints: the generated module imports nothing for them."""
    text = re.sub(r"^( *)# .*\n", "", text, flags=re.M)
    (definition,) = ast.parse(text).body
    assert isinstance(definition, ast.FunctionDef)
    arguments = definition.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
        if argument is not None:
            argument.annotation = None
    body = text.splitlines(keepends=True)[definition.body[0].lineno - 1 :]
    return f"def {definition.name}({ast.unparse(arguments)}):\n" + "".join(body)


def _docstring(summary: str, inputs: Sequence[str], params: Sequence[str], outputs: Sequence[str]) -> list[str]:
    lines = [f'"""{docstring_text(summary)}', "", f"Inputs: {', '.join(params) or 'none'}"]
    lines.append(f"Outputs: {', '.join(docstring_text(o) for o in outputs)}")
    renamed = [(n, p) for n, p in zip(inputs, params) if n != p]
    if renamed:
        lines += ["", "Input names as recorded, and their names here:"]
        lines += [f"    {docstring_text(repr(n))} -> {p}" for n, p in renamed]
    return lines + ['"""']


def _render(
    function: _Function, name: str, summary: str, returns: Callable[[list[str]], str], part_size: int = _PART_SIZE
) -> list[str]:
    """The lines of the function (and of its parts, for a very long one)."""
    statements = function.statements
    indent = "    " if function.backend == "math" else "        "
    header = [f"def {name}({', '.join(function.params)}):"]
    docstring = _docstring(summary, function.tape.inputs, function.params, function.tape.output_names)
    header += ["    " + line if line else "" for line in docstring]
    header += ["    " + line for line in function.input_checks()]
    if len(statements) > part_size:
        return _render_parts(function, name, header, indent, returns, part_size)
    outputs = function.outputs()
    body_open = [] if function.backend == "math" else ['    with np.errstate(all="ignore"):']
    body = []
    dying = _dying_after(function) if function.backend == "numpy" else {}
    for k, (target, code, _) in enumerate(statements):
        body += [indent + line for line in _assign(target, code)]
        if k in dying:  # numpy: free each array after its last use, as a person would
            body.append(f"{indent}del {', '.join(dying[k])}")
    body = body or [indent + "pass"]
    return header + body_open + body + [indent + line for line in _return_lines(function, outputs, returns)]


def _dying_after(function: _Function) -> dict[int, list[str]]:
    """For each statement, the temporaries read there for the last time (outputs excluded)."""
    last_use: dict[str, int] = {}
    for k, (_, _, reads) in enumerate(function.statements):
        for r in reads:
            last_use[r] = k
    keep = set(function.outputs()) | set(function.params)
    dying: dict[int, list[str]] = {}
    for v, k in last_use.items():
        if v not in keep:
            dying.setdefault(k, []).append(v)
    return {k: sorted(vs, key=_order) for k, vs in dying.items()}


def _return_lines(function: _Function, outputs: list[str], returns: Callable[[list[str]], str]) -> list[str]:
    """The return statement, with the outputs as the interpreter returns them.

    numpy backend: every output of a scalar tape gets the batch's shape, the
    inputs' broadcast shape computed once (``_fit`` per output).  When every
    input is a Python float, so is the batch (no shape at all): that call
    returns at once, saving the 2-5 µs per output that shapes cost.  An array
    tape's outputs keep their own shapes, and a float64 scalar is a float.
    """
    if function.tape.array:
        recorded = [function.tape.values[s] for s in function.tape.output_slots]
        return [returns([f"float({out})" if type(r) is float else out for out, r in zip(outputs, recorded)])]
    if function.backend != "numpy" or not function.params:
        return [returns(outputs)]
    function.helpers.update(("_batch_shape", "_fit"))
    floats = " and ".join(f"type({p}) is float" for p in function.params)
    return [f"if {floats}:", "    " + returns(outputs), f"_shape = _batch_shape({', '.join(function.params)})",
            returns([f"_fit({out}, _shape)" for out in outputs])]  # fmt: skip


def _assign(target: str | None, code: str) -> list[str]:
    return code.split("\n") if target is None else [f"{target} = {code}"]


def _render_parts(
    function: _Function,
    name: str,
    header: list[str],
    indent: str,
    returns: Callable[[list[str]], str],
    part_size: int,
) -> list[str]:
    """A long function as parts; values used across parts travel in one list ``_s``.

    Each part reads the values it needs from ``_s`` and stores those it makes
    for later parts, so the source stays linear in the tape's length.  Like
    every name generated code adds, ``_s`` starts with ``_``, which no
    parameter does (:func:`identifiers`), so an input named ``s`` cannot clash.
    """
    statements = function.statements
    part_of = {target: k // part_size for k, (target, _, _) in enumerate(statements) if target}
    crossing: dict[str, int] = {}
    reads_by_part: list[list[str]] = [[] for _ in range(0, len(statements), part_size)]
    for k, (_, _, reads) in enumerate(statements):
        for r in reads:
            if r in part_of and part_of[r] != k // part_size:
                crossing.setdefault(r, len(crossing))
                reads_by_part[k // part_size].append(r)
    for out in function.outputs():
        if out in part_of:
            crossing.setdefault(out, len(crossing))
    params = ", ".join([*function.params, "_s"])
    lines, calls = [], []
    for number, start in enumerate(range(0, len(statements), part_size)):
        part = f"_{name}_part{number}"
        lines.append(f"def {part}({params}):")
        if function.backend == "numpy":
            lines.append('    with np.errstate(all="ignore"):')
        for v in sorted(set(reads_by_part[number]), key=_order):
            lines.append(f"{indent}{v} = _s[{crossing[v]}]")
        for target, code, _ in statements[start : start + part_size]:
            lines += [indent + line for line in _assign(target, code)]
            if target in crossing:
                lines.append(f"{indent}_s[{crossing[target]}] = {target}")
        lines += [f"{indent}return None", "", ""]
        calls.append(f"    {part}({params})")
    outputs = [f"_s[{crossing[out]}]" if out in crossing else out for out in function.outputs()]
    main = header + [f"    _s = [None] * {len(crossing)}"] + calls
    return lines + main + ["    " + line for line in _return_lines(function, outputs, returns)]


def _order(name: str) -> tuple[int, str]:
    return (int(name[1:]), "") if TEMPORARY.fullmatch(name) else (-1, name)


def returns_of(tape: Tape) -> Callable[[list[str]], str]:
    """The return statement of a function computing ``tape``, in the structure the traced function returned."""

    def returns(outputs: list[str]) -> str:
        if tape.structure == "value":
            return f"return {outputs[0]}"
        if tape.structure == "list":
            return f"return [{', '.join(outputs)}]"
        return f"return ({', '.join(outputs)}{',' if len(outputs) == 1 else ''})"

    return returns


def module_source(functions: list[tuple[_Function, list[str]]], backend: str, title: str, tape: Tape) -> str:
    """The module holding ``functions`` (from :func:`emit_function`), with its header, helpers and constants."""
    helpers: set[str] = set().union(*(f.helpers for f, _ in functions))
    imports: set[str] = set().union(*(f.printer.imports for f, _ in functions))
    constants = functions[0][0].constants.lines()  # the functions of one module share their constants
    if constants:
        helpers.add("_frozen")
    lines = [
        *fixed_header(f"Generated by tapegrad {__version__} ({backend} backend), tape hash {tape_hash(tape)}."),
        f"# {printable(title)}",
        f"# From tape {printable(repr(tape.name))}. Do not edit: regenerate.",
        "",
        PRINTERS[backend].module,
        *sorted(imports),
        "",
    ]
    for source in _helper_sources(helpers):
        lines += ["", source.rstrip("\n"), ""]
    if constants:
        lines += ["", *constants, ""]
    for _, body in functions:
        lines += ["", *body, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def summary_of(tape: Tape) -> str:
    """The first line of the docstring of a function computing ``tape``."""
    return f"Compute {', '.join(tape.output_names)} of {', '.join(tape.inputs) or 'nothing'} (tape {tape.name!r})."


def to_source(tape: Tape, name: str = "f", backend: str = "math") -> str:
    """The source of a module defining one function ``name`` that computes ``tape``'s outputs.

    Gradient code is the source of the (optimised) gradient tape::

        >>> tape = tapegrad.trace(lambda x, y: (x * y).tanh() + x.exp() * y, 1.0, 2.0)
        >>> print(to_source(tapegrad.optimize(tapegrad.grad_tape(tape)), "f_grad"))
        # -*- coding: utf-8 -*-
        # Generated by tapegrad ... (math backend), tape hash 15d458c2903e003c.
        # f_grad: Compute out, grad_x, grad_y of x, y (tape 'grad_<lambda>').
        ...
        def f_grad(x, y):
        ...
            t5 = y if y == 0.0 else t2 if t2 == 0.0 and y - y != 0.0 else y * t2
        ...
            return (t4, t10, t11)
        <BLANKLINE>

    A tape of arrays needs ``backend="numpy"``; its function checks each
    input against the recorded shape (a ValueError otherwise) and returns
    arrays of the recorded shapes, with a float for a float64 scalar::

        >>> tape = tapegrad.trace(lambda W, x: (W @ x).tanh().sum(), np.ones((2, 3)), np.ones(3))
        >>> print(to_source(tapegrad.optimize(tapegrad.grad_tape(tape)), "f_grad", backend="numpy"))
        # -*- coding: utf-8 -*-
        ...
        import numpy as np
        ...
    """
    (function_name,) = identifiers([name])
    function = _Function(tape, backend)
    body = _render(function, function_name, summary_of(tape), returns_of(tape))
    return module_source([(function, body)], backend, f"{function_name}: {summary_of(tape)}", tape)


# ---------------------------------------------------------------- compiling


def compile_source(source: str, name: str, filename: str) -> Callable[..., Any]:
    """Run generated ``source`` (never user text) and return its function ``name``.

    The source waits in :mod:`linecache` so that tracebacks show the
    generated lines, and leaves it when the function is freed: kept for
    good, 1,500 compiled gradient tapes held 21 MB of source.
    """
    entry = (len(source), None, source.splitlines(True), filename)
    linecache.cache[filename] = entry
    namespace: dict[str, Any] = {"__name__": "tapegrad.generated"}
    try:
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the source is generated, see module docstring
        function = namespace[name]
    except BaseException:
        _forget_source(filename, entry)
        raise
    weakref.finalize(function, _forget_source, filename, entry).atexit = False
    return function


def _forget_source(filename: str, entry: tuple[Any, ...]) -> None:
    """Drop ``filename``'s source from linecache, unless a later compile has put its own there."""
    if linecache.cache.get(filename) is entry:
        linecache.cache.pop(filename, None)


_compiles = itertools.count()  # gives each compiled tape its own linecache name, so each frees its own source


_COMPILED = side_table()  # each tape's generated functions, by backend


def compile_tape(
    tape: Tape, backend: str = "math", *, workers: int | None = None, block: int | None = None
) -> Callable[..., Any]:
    """``tape`` as a Python function (cached with the tape), from :func:`to_source`.

    The numpy backend's function evaluates a large batch in blocks of
    ``block`` points on ``workers`` threads (:mod:`tapegrad.formats.blocked`;
    None: the measured block size, all cores), with the same numbers.
    ``backend="c"`` gives a :class:`~tapegrad.formats.cbuild.CFunction` instead: the tape run by a small
    compiled C machine (:mod:`tapegrad.formats.cvm`), called the same way.
    """
    from .blocked import blocked_source, check_options  # same layer; the blocked module builds on this one

    check_options(workers, block)
    if backend != "numpy" and (workers, block) != (None, None):
        raise InputTypeError(f"workers and block are options of the numpy backend, not of backend {backend!r}")
    cache = _COMPILED.setdefault(tape, {})
    key = backend if (workers, block) == (None, None) else f"{backend} workers={workers} block={block}"
    if backend == "c" and key not in cache:
        from .cbuild import compile_c  # same layer; cbuild builds on this module

        cache[key] = compile_c(tape)
    if key not in cache:
        (name,) = identifiers([tape.name if tape.name.isidentifier() else "f"])
        source = blocked_source(tape, name, block, workers) if backend == "numpy" else to_source(tape, name, backend)
        filename = f"<tapegrad {backend} {tape_hash(tape)} #{next(_compiles)}>"
        cache[key] = compile_source(source, name, filename)
    return cache[key]


# ---------------------------------------------------------------- functions of a module
# What the export pipeline (tapegrad.formats.export) asks of the emitter.


def emit_function(
    tape: Tape,
    name: str,
    summary: str,
    returns: Callable[[list[str]], str],
    backend: str,
    constants: Constants,
    batch_axes: int = 0,
) -> tuple[_Function, list[str]]:
    """One function of a module, ``name``, computing ``tape``: its printer state and its lines.

    The functions of one module share ``constants``; with ``batch_axes``, the
    function written is ``_NAME_one`` and ``NAME`` maps it over the extra
    leading axes.
    """
    function = _Function(tape, backend, constants)
    if not batch_axes:
        return function, _render(function, name, summary, returns)
    function.helpers.add("_map_batch")
    body = _render(function, f"_{name}_one", summary, returns) + ["", ""]
    return function, body + _batched(function, name, summary, batch_axes)


def __getattr__(name: str) -> Any:
    """``codegen.export``: the export pipeline lives in :mod:`tapegrad.formats.export`, which builds on this module."""
    if name == "export":
        from .export import export  # same layer; imported on use, as export imports this module

        return export
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _batched(function: _Function, name: str, summary: str, batch_axes: int) -> list[str]:
    """The public function of a ``batch_axes`` export: ``_NAME_one`` mapped over the extra leading axes."""
    shapes = tuple(np.shape(function.tape.values[s]) for s in function.tape.input_slots)
    params = ", ".join(function.params)
    note = f"Inputs may have {batch_axes} extra leading axes: the result has one entry per batch element."
    docstring = _docstring(f"{summary} {note}", function.tape.inputs, function.params, function.tape.output_names)
    return [f"def {name}({params}):", *["    " + line if line else "" for line in docstring],
            f"    return _map_batch(_{name}_one, ({params}{',' if len(function.params) == 1 else ''}), "
            f"{shapes!r}, {batch_axes})"]  # fmt: skip


def value_and_grads_returns(structure: str) -> Callable[[list[str]], str]:
    """The return statement of ``NAME_value_and_grad``: the value in the traced structure, then the gradients."""

    def returns(outputs: list[str]) -> str:
        value, grads = outputs[0], outputs[1:]
        value = {"value": value, "tuple": f"({value},)", "list": f"[{value}]"}[structure]
        return f"return {value}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})"

    return returns

"""``export``: a function and its gradient as a standalone module, with a tests file.

A small pipeline over the code emitter (:mod:`tapegrad.formats.codegen`):
trace the function (unless given a tape), record its gradient tape
(:func:`~tapegrad.grad_tape`), optimise both, emit three functions into one
module (``NAME``, ``NAME_grad``, ``NAME_value_and_grad``, sharing their
constants), and with ``tests=True`` write ``test_NAME.py`` beside it
(:mod:`tapegrad.formats.exported_tests`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.passes import optimize
from ..core.tape import Tape
from ..errors import InputTypeError, NonScalarOutputError
from ..functional.tracing import as_tape
from ..functional.transforms import grad_tape, input_positions, select_outputs
from .blocked import emit_blocked_function
from .blocked import module_source as blocked_module_source
from .codegen import emit_function, module_source, returns_of, summary_of, value_and_grads_returns
from .exported_tests import write_tests
from .literals import Constants, identifiers

__all__ = ["export"]


def export(
    f_or_tape: Callable[..., Any] | Tape,
    path: str | Path,
    name: str | None = None,
    backend: str = "math",
    tests: bool = False,
    *,
    wrt: Sequence[str | int] | str | int | None = None,
    test_points: Sequence[Sequence[Any]] | None = None,
    batch_axes: int = 0,
    blocked: bool = False,
) -> Path:
    """Write a standalone module with ``NAME``, ``NAME_grad`` and ``NAME_value_and_grad``.

    They return what ``tape(...)``, ``tape.gradient(...)`` and
    ``tape.value_and_gradient(...)`` return; ``wrt`` (input names or
    positions) keeps the gradient's entries for those inputs only.  The
    module imports only ``math`` (or ``numpy``, and ``scipy.special`` if it uses ``erf``),
    never tapegrad.  With
    ``tests=True`` it also writes ``test_NAME.py`` beside it: pytest checks of
    the exported gradient against finite differences and against values
    recorded now, at ``test_points`` (one sequence of inputs each) or else at
    points it searches for where the function and gradient are finite.

    ``backend="c"`` writes a C file instead (``.c``): ``int NAME(const double
    *x, double *y)`` and ``NAME_batch``, ``NAME_grad``..., one statement per
    record, for your own build (see :mod:`tapegrad.formats.csource`).

    ``batch_axes=k`` (numpy backend, array tapes) lets each function take
    inputs with ``k`` extra leading axes of any sizes: it maps over them, as
    ``jax.vmap`` does, and returns one result per batch element; an input of
    the recorded shape is shared by every element::

        >>> W, x = np.ones((2, 3)), np.ones(3)
        >>> export(tapegrad.trace(lambda w, x: (w @ x).tanh().sum(), W, x), "m.py", backend="numpy", batch_axes=1)
        PosixPath('m.py')
        >>> import runpy
        >>> m = runpy.run_path("m.py")
        >>> xs = np.stack([x, 2 * x])       # xs of shape (n, *x.shape): n values
        >>> m["f"](W, xs)
        array([1.99010951, 1.99997542])

    ``blocked=True`` (numpy backend, tapes of numbers) writes each function
    so that a large batch of float64 arrays runs in cache-sized blocks on
    all cores, with the same numbers (:mod:`tapegrad.formats.blocked`).
    """
    tape = as_tape(f_or_tape)
    _check_batch_axes(tape, backend, batch_axes)
    if blocked is not False and (blocked is not True or backend != "numpy"):
        raise InputTypeError(
            f'blocked=True is an option of backend="numpy", got blocked={blocked!r} with backend={backend!r}'
        )
    if len(tape.output_slots) != 1:
        raise NonScalarOutputError(
            f"export writes gradients of one scalar output, but tape {tape.name!r} has {len(tape.output_slots)}; "
            "export each output's tape, or to_source(grad_tape(tape)) for a vector-Jacobian product"
        )
    default = getattr(f_or_tape, "__name__", tape.name)
    (base,) = identifiers([name or (default if default.isidentifier() else "f")])
    positions = input_positions(tape, wrt)
    full = optimize(grad_tape(tape, None if wrt is None else positions))
    grads = optimize(select_outputs(full, range(1, 1 + len(positions))))
    parts = [
        (optimize(tape), base, summary_of(tape), returns_of(tape)),
        (grads, f"{base}_grad", f"The gradient of {base}: one entry per input.", returns_of(grads)),
        (full, f"{base}_value_and_grad", f"{base} and its gradient, as ({base}, {base}_grad).",
         value_and_grads_returns(tape.structure)),  # fmt: skip
    ]
    title = f"{base}(...) and its gradient, exported from tape {tape.name!r} with inputs {', '.join(tape.inputs)}"
    target = Path(path)
    if backend == "c":
        return _export_c(parts, target, title, tests)
    constants = Constants()
    if blocked:
        functions = [emit_blocked_function(*part, constants, batch_axes=batch_axes) for part in parts]
        source = blocked_module_source(functions, title, tape)
    else:
        functions = [emit_function(*part, backend, constants, batch_axes) for part in parts]
        source = module_source(functions, backend, title, tape)
    target.write_text(source, encoding="utf-8")
    if tests:
        write_tests(tape, target, base, positions, test_points)
    return target


def _export_c(parts: list[tuple[Tape, str, Any, Any]], target: Path, title: str, tests: bool) -> Path:
    """The three functions as one C file (:mod:`tapegrad.formats.csource`): one statement per record."""
    from .csource import CFunctionSource, c_source  # same layer; only C exports need it

    if tests:
        raise InputTypeError(
            'tests=True writes Python tests of a Python module; with backend="c", load the compiled file with '
            'ctypes and compare it with tape.value_and_gradient (or export with backend="math" for tests)'
        )
    target.write_text(c_source([CFunctionSource(tape, name) for tape, name, *_ in parts], title), encoding="ascii")
    return target


def _check_batch_axes(tape: Tape, backend: str, batch_axes: int) -> None:
    """``batch_axes`` is a whole number, for array tapes on the numpy backend (scalar code already broadcasts)."""
    if not isinstance(batch_axes, int) or isinstance(batch_axes, bool) or batch_axes < 0:
        raise InputTypeError(f"batch_axes must be a whole number >= 0, got {batch_axes!r}")
    if batch_axes and (backend != "numpy" or not tape.array):
        raise InputTypeError(
            f"batch_axes is for array tapes on the numpy backend; tape {tape.name!r} "
            + ("holds numbers, and its numpy code already takes arrays of any shape" if backend == "numpy"
               else f'is exported with backend={backend!r}: use backend="numpy"')
        )  # fmt: skip

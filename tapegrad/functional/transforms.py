"""Transformations: tapes in, tapes out.

The backward pass is itself a program, so tapegrad records it: running the
op table's backward rules over recording Values, inside a trace, gives a tape
that computes the gradient (:func:`grad_tape`).  Forward mode is recorded the
same way (:func:`jvp_tape`).  Higher derivatives, the optimiser and the
exporters then all work on one representation.

The JAX-style functions here (:func:`jacobian`, :func:`hessian`, :func:`jvp`,
:func:`hvp`) take a Python function or a :class:`~tapegrad.Tape`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.interpret import backward, forward, forward_tangents
from ..core.passes import dead_code
from ..core.tape import Tape, cyclic_gc_paused, inherit
from ..errors import ArgumentCountError, InputTypeError, NonScalarOutputError, UnknownNameError
from ..values.domain import VALUE
from ..values.value import Value
from .replay import _zero, check_scalar_output, input_gradients, replay, replay_gradient, restructure
from .tracing import _argnums, grad, trace, with_keywords

__all__ = ["grad_tape", "gradient_tape", "jvp_tape", "select_outputs", "jacobian", "hessian", "jvp", "hvp"]


def _check_traced(tape: Tape, what: str) -> None:
    if not isinstance(tape, Tape) or not tape.traced or not tape.output_slots:
        raise InputTypeError(
            f"{what} takes a tape from tapegrad.trace with at least one output, got {tape!r}; "
            "record one with tapegrad.trace(f, *example_args)"
        )


def input_positions(tape: Tape, wrt: Sequence[str | int] | str | int | None) -> list[int]:
    """Input positions named by ``wrt`` (names or indices; None: every input)."""
    if wrt is None:
        return list(range(len(tape.input_slots)))
    names = tape.inputs
    first = {name: k for k, name in reversed(list(enumerate(names)))}  # names may repeat: the first wins
    positions = []
    for w in [wrt] if isinstance(wrt, (str, int)) else list(wrt):
        if isinstance(w, str) and w in first:
            positions.append(first[w])
        elif isinstance(w, int) and not isinstance(w, bool) and -len(names) <= w < len(names):
            positions.append(w % len(names))
        else:
            raise UnknownNameError(
                f"wrt={w!r} names no input of tape {tape.name!r}; its inputs are {', '.join(names) or 'none'} "
                "(pass names or positions)"
            )
    return positions


def _ones_like(x: Any) -> Any:
    return np.ones_like(x) if isinstance(x, np.ndarray) else 1.0


def _example(tape: Tape) -> list[Any]:
    return [tape.values[s] for s in tape.input_slots]


def grad_tape(tape: Tape, wrt: Sequence[str | int] | str | int | None = None) -> Tape:
    """A tape computing ``tape``'s outputs and then its gradient.

    The new tape's inputs are ``tape``'s inputs, plus one seed per output when
    there are several (the gradient is then a vector-Jacobian product).  Its
    outputs are the original outputs first, then the gradient with respect to
    each input in ``wrt`` (default: all), in order, named ``grad_<input>``.
    Guards carry over.  It is made by running the op table's backward rules
    over recording Values, so it holds exactly what the interpreter computes::

        >>> g = tapegrad.grad_tape(tapegrad.trace(lambda x: x.sin(), 1.0))
        >>> g(0.0)
        (0.0, 1.0)
    """
    _check_traced(tape, "grad_tape")
    picked = input_positions(tape, wrt)
    n_in, outputs = len(tape.input_slots), tape.output_slots
    seed_names = [f"seed_{name}" for name in tape.output_names] if len(outputs) > 1 else []
    if not seed_names:
        check_scalar_output(tape)

    def value_and_gradient(*args: Any) -> tuple[Any, ...]:
        values = forward(tape, args[:n_in], VALUE)
        seeds: dict[int, Any] = {}
        for slot, seed in zip(outputs, args[n_in:] or (1.0,)):
            seeds[slot] = seed if slot not in seeds else seeds[slot] + seed
        grads = input_gradients(tape, backward(tape, values, seeds, VALUE))
        return tuple([values[s] for s in outputs] + [grads[k] for k in picked])

    inputs = tape.inputs
    names = list(inputs) + seed_names
    with cyclic_gc_paused():
        seeds = [_ones_like(tape.values[s]) for s in outputs] if seed_names else []
        result = trace(value_and_gradient, *_example(tape), *seeds, names=names)
    prefix = "vjp" if seed_names else "grad"
    result.name = f"grad_{tape.name}"
    inherit(result, tape)
    result.output_names = list(tape.output_names) + [f"{prefix}_{inputs[k]}" for k in picked]
    return result


def jvp_tape(tape: Tape) -> Tape:
    """A tape computing ``tape``'s outputs and their tangents (forward mode).

    Inputs: ``tape``'s inputs, then one tangent per input (``tangent_<x>``).
    Outputs: the original outputs, then the tangent of each
    (``tangent_<out>``), i.e. the Jacobian times the input tangents.
    """
    _check_traced(tape, "jvp_tape")
    n_in = len(tape.input_slots)

    def value_and_tangent(*args: Any) -> tuple[Any, ...]:
        values = forward(tape, args[:n_in], VALUE)
        tangent = forward_tangents(tape, values, dict(zip(tape.input_slots, args[n_in:])), VALUE)
        outs = [values[s] for s in tape.output_slots]
        # no tangent flows: zeros of the output's recorded shape and dtype, as jax.jvp gives
        return tuple(outs + [_zero(tape, s) if tangent[s] is None else tangent[s] for s in tape.output_slots])

    inputs = tape.inputs
    names = list(inputs) + [f"tangent_{x}" for x in inputs]
    with cyclic_gc_paused():
        zeros = [np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0 for x in _example(tape)]
        result = trace(value_and_tangent, *_example(tape), *zeros, names=names)
    result.name = f"jvp_{tape.name}"
    inherit(result, tape)
    result.output_names = list(tape.output_names) + [f"tangent_{o}" for o in tape.output_names]
    return result


def select_outputs(tape: Tape, positions: Sequence[int]) -> Tape:
    """The same program keeping only the outputs at ``positions`` (and the records they need).

    >>> tape = tapegrad.trace(lambda x, y: (x * y).tanh() + x.exp() * y, 1.0, 2.0)
    >>> gradient_only = select_outputs(grad_tape(tape), range(1, 1 + len(tape.inputs)))
    >>> gradient_only.output_names, gradient_only(1.0, 2.0)
    (['grad_x', 'grad_y'], (5.577865306624419, 2.7889326533122096))
    """
    narrowed = copy.copy(tape)
    narrowed.output_slots = [tape.output_slots[k] for k in positions]
    narrowed.output_names = [tape.output_names[k] for k in positions]
    narrowed.structure = "tuple"
    inherit(narrowed, tape)
    return dead_code(narrowed)


def gradient_tape(tape: Tape, wrt: Sequence[str | int] | str | int | None = None) -> Tape:
    """:func:`grad_tape` without the outputs' values: a tape of the gradient (or VJP) alone."""
    full = grad_tape(tape, wrt)
    return select_outputs(full, range(len(tape.output_slots), len(full.output_slots)))


# ---------------------------------------------------------------- JAX-style functions


def _tape_of(f: Callable[..., Any] | Tape, args: Sequence[Any], keywords: dict[str, Any] | None = None) -> Tape:
    f = with_keywords(f, keywords or {})
    if isinstance(f, Tape):
        return f
    return trace(f, *[a._data if isinstance(a, Value) else a for a in args])


def jacobian(f: Callable[..., Any] | Tape, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian of ``f``, as ``jax.jacobian`` (reverse mode, one sweep per output).

    For one output and ``argnums=0`` it is the derivative; with several
    outputs the result follows ``f``'s output structure, and with a tuple of
    ``argnums`` each entry is a tuple over those arguments.  Keyword
    arguments pass through to ``f``, not differentiated.
    """

    def jacobian_f(*args: Any, **keywords: Any) -> Any:
        picked = _argnums(argnums, len(args))
        tape = _tape_of(f, args, keywords)
        n_out = len(tape.output_slots)
        rows = []
        for k in range(n_out):
            shape = np.shape(tape.values[tape.output_slots[k]])
            entries = [_row(tape, args, k, index) for index in np.ndindex(shape)]
            if shape:  # an array output: one reverse sweep per element, stacked in front of each input's axes
                grads = tuple(np.reshape(np.asarray(column), shape + np.shape(column[0])) for column in zip(*entries))
            else:
                grads = entries[0]
            rows.append(grads[picked[0]] if isinstance(argnums, int) else tuple(grads[a] for a in picked))
        return restructure(tape, rows)

    return jacobian_f


def _row(tape: Tape, args: Sequence[Any], k: int, index: tuple[int, ...]) -> tuple[Any, ...]:
    """The gradient of element ``index`` of output ``k`` with respect to every input."""
    seeds: list[Any] = []
    for j, slot in enumerate(tape.output_slots):
        value = tape.values[slot]
        if isinstance(value, np.ndarray):
            one_hot = np.zeros_like(value)
            if j == k:
                one_hot[index] = 1.0
            seeds.append(one_hot)
        else:
            seeds.append(1.0 if j == k else 0.0)
    if len(seeds) == 1 and not isinstance(seeds[0], np.ndarray):
        return replay_gradient(tape, args, None)[1]
    return replay_gradient(tape, args, seeds)[1]


def hessian(f: Callable[..., Any] | Tape, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued ``f``, as ``jax.hessian``: the Jacobian of its gradient.

    With ``argnums=(0, 1)`` the result is nested per argument:
    ``((d2f/dx2, d2f/dxdy), (d2f/dydx, d2f/dy2))``.
    """

    def hessian_f(*args: Any, **keywords: Any) -> Any:
        tape = _tape_of(f, args, keywords)
        if len(tape.output_slots) != 1 or tape.structure != "value":
            raise NonScalarOutputError(
                f"hessian needs a scalar-valued function, but {tape.name!r} has {len(tape.output_slots)} "
                "outputs; use jacobian(jacobian(f)) for the second derivatives of each output"
            )
        return jacobian(grad(with_keywords(f, keywords), argnums), argnums)(*args)

    return hessian_f


def _pair(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    for what, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):  # as jax.jvp: an array here is one argument, not several
            raise InputTypeError(
                f"jvp and hvp take {what} as a tuple or list with one entry per argument of f, got "
                f"{type(given).__name__}; for one argument write jvp(f, (x,), (v,))"
            )
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ArgumentCountError(
            f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal"
        )
    return primals, tangents


def jvp(f: Callable[..., Any] | Tape, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J @ tangents)`` by forward mode, as ``jax.jvp``.

    Runs the recorded :func:`jvp_tape` of ``f``; the tangent has ``f``'s
    output structure.
    """
    primals, tangents = _pair(primals, tangents)
    tape = _tape_of(f, primals)
    outputs = replay(jvp_tape(tape), (*primals, *tangents))
    n_out = len(tape.output_slots)
    return restructure(tape, list(outputs[:n_out])), restructure(tape, list(outputs[n_out:]))


def hvp(f: Callable[..., Any] | Tape, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, ...]:
    """The Hessian of scalar ``f`` times ``tangents``, one entry per input.

    Forward over reverse: the forward-mode tangent of the recorded gradient,
    so the Hessian is never formed.
    """
    primals, tangents = _pair(primals, tangents)
    tape = _tape_of(f, primals)
    if len(tape.output_slots) != 1:
        raise NonScalarOutputError(
            f"hvp needs a scalar-valued function, but {tape.name!r} has {len(tape.output_slots)} outputs"
        )
    outputs = replay(jvp_tape(grad_tape(tape)), (*primals, *tangents))
    # outputs: value and gradient, then their tangents; keep the gradient's tangents.
    n = len(primals)
    return tuple(outputs[1 + n + 1 :])

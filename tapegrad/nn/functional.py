"""A module as a function of its parameters: ``functional_call(model, params, *inputs)``.

As ``torch.func.functional_call``: the model runs with ``params`` in place of
``model.parameters()`` (one for one, in that order), and its own parameters
are put back afterwards, also when it raises.  That makes a model usable
where a function of explicit inputs is wanted::

    >>> model = tapegrad.nn.MLP(2, [4, 1], seed=0)
    >>> def loss(x0, x1, *params):
    ...     return (functional_call(model, params, [x0, x1]) - 1.0) ** 2
    >>> params = [p.data for p in model.parameters()]
    >>> value, grads = tapegrad.value_and_grad(loss, argnums=tuple(range(2, 19)))(1.0, -2.0, *params)
    >>> len(grads), len(params)
    (17, 17)

(:func:`tapegrad.jit` needs none of this: it makes the parameters a model
reads into inputs by itself.)  The swap changes the model's attributes for
the duration of the call, so do not run the same model in another thread
meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ArgumentCountError, InputTypeError
from ..values.value import Value
from . import Module

__all__ = ["functional_call"]


def functional_call(module: Module, params: Sequence[Any], *inputs: Any) -> Any:
    """``module(*inputs)`` computed with ``params`` in place of ``module.parameters()``."""
    if not isinstance(module, Module):
        raise InputTypeError(f"functional_call takes a tapegrad.nn Module, got {type(module).__name__}")
    if not isinstance(params, (list, tuple)):
        raise InputTypeError(
            f"functional_call takes the parameters as a list or tuple, in the order of module.parameters(); "
            f"got {type(params).__name__}"
        )
    own = module.parameters()
    if len(params) != len(own):
        raise ArgumentCountError(
            f"{module!r} has {len(own)} parameters but functional_call was given {len(params)}; "
            "pass one per entry of module.parameters(), in that order"
        )
    replacements = {id(p): q for p, q in zip(own, params)}
    undo: list[tuple[Any, Any, Any]] = []  # (object or list, attribute name or index, the parameter it held)
    try:
        found = _swap(module, replacements, undo)
        missing = [i for i, p in enumerate(own) if id(p) not in found]
        if missing:
            raise InputTypeError(
                f"functional_call found parameter {missing[0]} of {module!r} in none of its attributes (nor in "
                "lists of them), so it cannot put another in its place; keep parameters as attributes of modules"
            )
        call: Any = module  # a Module subclass defines __call__
        return call(*inputs)
    finally:
        for holder, key, old in reversed(undo):
            _put(holder, key, old)


def _swap(module: Module, replacements: dict[int, Any], undo: list[tuple[Any, Any, Any]]) -> set[int]:
    """Put each replacement where its parameter is held: attributes of modules, and lists of them (no recursion)."""
    found: set[int] = set()
    seen: set[int] = set()
    pending: list[Any] = [module]
    while pending:
        holder = pending.pop()
        if id(holder) in seen:
            continue
        seen.add(id(holder))
        slots = list(enumerate(holder)) if isinstance(holder, list) else list(vars(holder).items())
        for key, item in slots:
            if isinstance(item, Value) and id(item) in replacements:
                found.add(id(item))
                undo.append((holder, key, item))
                _put(holder, key, replacements[id(item)])
            elif isinstance(item, (Module, list)):
                pending.append(item)
    return found


def _put(holder: Any, key: Any, item: Any) -> None:
    """``holder[key] = item`` for a list, ``setattr(holder, key, item)`` for a module."""
    if isinstance(holder, list):
        holder[key] = item
    else:
        setattr(holder, key, item)

"""The Value domain: the interpreters' loops run over recording Values.

Replaying a tape, or its backward pass, over Values records a new tape: that
is how :func:`tapegrad.grad_tape`, nested :func:`tapegrad.grad` and forward
mode are built, with no second set of rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.interpret import make_domain
from ..core.ops import Op
from .record import apply, constant, truth
from .value import Value

__all__ = ["VALUE"]


def _value_function(op: Op) -> Callable[..., Any] | None:
    if op.array is None:
        return None
    if op.has_attr:
        return lambda *args: apply(op, *args[:-1], attr=args[-1])
    return lambda *args: apply(op, *args)


def _value_is_zero(g: Any) -> bool:
    return not isinstance(g, Value) and not np.any(g)


VALUE = make_domain(
    "value",
    _value_function,
    const=constant,
    is_zero=_value_is_zero,
    truth=truth,
    numbers=lambda v: v._data if isinstance(v, Value) else v,
)

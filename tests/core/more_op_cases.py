"""The elementwise ops of issue 16, as a specification (the cases here; the tests in test_more_ops_values,
_derivatives and _engines).

``tan asin acos atan atan2 sinh cosh asinh acosh atanh log1p expm1 log2 log10
exp2 cbrt square reciprocal hypot erf erfc logaddexp softplus sign floor ceil
round trunc mod fmod floor_divide clip``, each checked:

* its value against numpy (scipy for erf) at ordinary points and at the edge
  points (zeros of both signs, ±1, ±inf, nan, domain edges), eagerly and
  replayed on arrays, with the IEEE answers where ``math`` raises;
* its gradient against central differences, its backward rule against
  ``sympy.diff`` of its own sympy rule, its second derivative (``grad`` of
  ``grad``) against differences of the first, and forward mode against reverse;
* every engine giving the same bits: eager, the closure engine, replay,
  ``grad_tape``, ``optimize`` and generated math code on floats; replay and
  generated numpy code on arrays;
* the derivative conventions where an op is flat or undefined (PyTorch's);
* the names: the parser, ``from_sympy``, the Value operators ``%`` and ``//``,
  and numpy code importing ``scipy.special`` only for erf.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special

from tapegrad.core.ops import OpKind

NAN, INF = math.nan, math.inf


def bits(x: Any) -> Any:
    """What must be equal: the bit pattern of a float, any nan counting as one."""
    x = float(x)
    return "nan" if math.isnan(x) else struct.pack("<d", x)


def near(actual: Any, expected: Any, ulps: float = 2.0) -> bool:
    """The same IEEE value up to ``ulps`` units in the last place (nan, infinities and zeros' signs exactly)."""
    actual, expected = float(actual), float(expected)
    if math.isnan(expected) or math.isnan(actual) or math.isinf(expected) or expected == 0.0:
        return bits(actual) == bits(expected)
    return abs(actual - expected) <= ulps * math.ulp(expected)


# ---------------------------------------------------------------- the ops


@dataclass(frozen=True)
class Case:
    """One op: its Value method (``call``), numpy's version (``reference``), where to check it.

    ``points`` are ordinary points (away from kinks and jumps, where
    differences mean something); ``smooth`` says whether the op has a
    nonzero second derivative worth checking by differences; ``domains``
    say where sympy's derivative is real, per operand.
    """

    kind: OpKind
    call: Callable[..., Any]
    reference: Callable[..., Any]
    points: tuple[tuple[float, ...], ...]
    domains: tuple[tuple[float, float], ...] = ((-3.0, 3.0),)
    smooth: bool = True

    @property
    def name(self) -> str:
        return str(self.kind)

    @property
    def arity(self) -> int:
        return len(self.points[0])


def _unary(*xs: float) -> tuple[tuple[float, ...], ...]:
    return tuple((x,) for x in xs)


_ANY = _unary(-2.3, -0.7, 0.4, 1.9)
_UNIT = _unary(-0.9, -0.3, 0.2, 0.8)
_PAIRS = ((1.5, -2.25), (-0.7, 0.4), (3.0, 1.25), (-2.0, -0.6))
_REMAINDERS = ((7.3, 2.0), (-7.3, 2.0), (7.3, -2.0), (0.75, 0.5))

# fmt: off
CASES = [
    Case(OpKind.TAN, lambda x: x.tan(), np.tan, _ANY),
    Case(OpKind.ASIN, lambda x: x.asin(), np.arcsin, _UNIT, ((-0.95, 0.95),)),
    Case(OpKind.ACOS, lambda x: x.acos(), np.arccos, _UNIT, ((-0.95, 0.95),)),
    Case(OpKind.ATAN, lambda x: x.atan(), np.arctan, _ANY),
    Case(OpKind.ATAN2, lambda y, x: y.atan2(x), np.arctan2, _PAIRS, ((-3.0, 3.0), (0.2, 3.0))),
    Case(OpKind.SINH, lambda x: x.sinh(), np.sinh, _ANY),
    Case(OpKind.COSH, lambda x: x.cosh(), np.cosh, _ANY),
    Case(OpKind.ASINH, lambda x: x.asinh(), np.arcsinh, _ANY),
    Case(OpKind.ACOSH, lambda x: x.acosh(), np.arccosh, _unary(1.2, 2.0, 5.5, 30.0), ((1.1, 5.0),)),
    Case(OpKind.ATANH, lambda x: x.atanh(), np.arctanh, _UNIT, ((-0.95, 0.95),)),
    Case(OpKind.LOG1P, lambda x: x.log1p(), np.log1p, _unary(-0.5, 1e-3, 0.4, 7.0), ((-0.9, 5.0),)),
    Case(OpKind.EXPM1, lambda x: x.expm1(), np.expm1, _ANY),
    Case(OpKind.LOG2, lambda x: x.log2(), np.log2, _unary(0.3, 1.0, 2.5, 100.0), ((0.1, 5.0),)),
    Case(OpKind.LOG10, lambda x: x.log10(), np.log10, _unary(0.3, 1.0, 2.5, 100.0), ((0.1, 5.0),)),
    Case(OpKind.EXP2, lambda x: x.exp2(), np.exp2, _ANY),
    Case(OpKind.CBRT, lambda x: x.cbrt(), np.cbrt, _ANY + _unary(27.0), ((0.2, 3.0),)),
    Case(OpKind.SQUARE, lambda x: x.square(), np.square, _ANY),
    Case(OpKind.RECIPROCAL, lambda x: x.reciprocal(), np.reciprocal, _ANY),
    Case(OpKind.HYPOT, lambda x, y: x.hypot(y), np.hypot, _PAIRS, ((-3.0, 3.0), (-3.0, 3.0))),
    Case(OpKind.ERF, lambda x: x.erf(), scipy.special.erf, _ANY),
    Case(OpKind.ERFC, lambda x: x.erfc(), scipy.special.erfc, _ANY),
    Case(OpKind.LOGADDEXP, lambda x, y: x.logaddexp(y), np.logaddexp, _PAIRS, ((-3.0, 3.0), (-3.0, 3.0))),
    Case(OpKind.SOFTPLUS, lambda x: x.softplus(), lambda x: np.logaddexp(0.0, x), _ANY),
    Case(OpKind.SIGN, lambda x: x.sign(), np.sign, _ANY, smooth=False),
    Case(OpKind.FLOOR, lambda x: x.floor(), np.floor, _ANY, smooth=False),
    Case(OpKind.CEIL, lambda x: x.ceil(), np.ceil, _ANY, smooth=False),
    Case(OpKind.ROUND, lambda x: x.round(), np.round, _ANY, smooth=False),
    Case(OpKind.TRUNC, lambda x: x.trunc(), np.trunc, _ANY, smooth=False),
    Case(OpKind.MOD, lambda x, y: x % y, np.mod, _REMAINDERS, ((-3.0, 3.0), (0.3, 2.0)), smooth=False),
    Case(OpKind.FMOD, lambda x, y: x.fmod(y), np.fmod, _REMAINDERS, ((-3.0, 3.0), (0.3, 2.0)), smooth=False),
    Case(OpKind.FLOOR_DIVIDE, lambda x, y: x // y, np.floor_divide, _REMAINDERS, ((-3.0, 3.0), (0.3, 2.0)),
         smooth=False),
    Case(OpKind.CLIP, lambda x, lo, hi: x.clip(lo, hi), np.clip, ((0.3, -1.0, 1.0), (-2.0, -1.0, 1.0),
         (2.5, -1.0, 1.0), (0.5, 1.0, -1.0)), ((-3.0, 3.0), (-3.0, 3.0), (-3.0, 3.0)), smooth=False),
]
# fmt: on
BY_CASE = [pytest.param(case, id=case.name) for case in CASES]
BY_POINT = [pytest.param(case, point, id=f"{case.name}{point}") for case in CASES for point in case.points]
EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.0, 1e-300, 1e300, -1e300, 710.0, -1000.0, INF, -INF, NAN)


def _edge_points(case: Case) -> list[tuple[float, ...]]:
    if case.arity == 1:
        return [(x,) for x in EDGES]
    rng = random.Random(case.name)
    pairs = [(x, y) for x in EDGES for y in EDGES]
    return [p + (rng.choice(EDGES),) for p in pairs] if case.arity == 3 else pairs

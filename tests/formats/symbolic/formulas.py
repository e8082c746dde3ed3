"""What the symbolic tests share: the symbols, the domains points are drawn from, and exact comparison.

Numbers are compared at points drawn at random from each formula's domain, evaluated by sympy to 30
digits, so a difference is the formulas' and not rounding's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import sympy as sp

import tapegrad
import tapegrad.formats.symbolic

symbolic = tapegrad.formats.symbolic

X, Y, Z = sp.symbols("x y z", real=True)

POSITIVE = (0.3, 2.0)
ANY = (-2.0, 2.0)


# ---------------------------------------------------------------- helpers


def at(expr: Any, symbols: Sequence[Any], point: Sequence[float], digits: int = 30) -> float:
    """``expr`` at ``point``, evaluated by sympy to ``digits`` digits (the point's floats exactly)."""
    exact = {s: sp.Float(v, digits) for s, v in zip(symbols, point)}
    return float(expr.xreplace(exact).evalf(digits))


def close(a: float, b: float, rel: float = 1e-12, floor: float = 1e-20) -> bool:
    """Equal to ``rel`` relative, or both within ``floor`` of zero."""
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), floor)


def random_points(name: str, count: int, arity: int, domain: tuple[float, float]) -> list[tuple[float, ...]]:
    """Reproducible points for ``name``, uniform in ``domain`` per coordinate."""
    rng = random.Random(name)
    return [tuple(rng.uniform(*domain) for _ in range(arity)) for _ in range(count)]

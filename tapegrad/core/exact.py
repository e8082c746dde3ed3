"""Exact constants: a constant's exact value kept beside its float, for symbolic export.

A constant that came from sympy (``Rational(1, 3)``, ``pi``) or from the
expression parser (``pi``, ``e``) is recorded as an :class:`ExactConstant`
attribute: the numeric engines and generated code use its float ``value``
(``float(c)``), while :func:`tapegrad.symbolic.to_sympy` rebuilds the exact
number, so ``from_sympy(x**3/3)`` differentiates to ``x**2``, not
``1.0*x**2``.

The exact value is a small description, never text to evaluate: a rational
``("rational", p, q)`` or a named constant ``("constant", "pi")``.  sympy
objects are built from it structurally (:func:`to_sympy_number`), and tape
files store it as that list (checked on loading by :func:`check_exact`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["ExactConstant", "NAMED", "exact_float", "check_exact", "to_sympy_number", "from_sympy_number"]

NAMED: dict[str, float] = {"pi": math.pi, "E": math.e, "EulerGamma": 0.5772156649015329,
                           "GoldenRatio": 1.618033988749895, "Catalan": 0.915965594177219}  # fmt: skip
"""The named constants an exact value may be: sympy's names and their floats."""

_LIMIT = 2**128  # numerator and denominator bound: larger rationals stay floats


@dataclass(frozen=True, slots=True)
class ExactConstant:
    """A constant record's attribute: the float the engines compute with, and the exact number it stands for.

    >>> third = ExactConstant(1 / 3, ("rational", 1, 3))
    >>> float(third), third
    (0.3333333333333333, 1/3)
    """

    value: float
    exact: tuple[Any, ...]

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        if self.exact[0] == "rational":
            return f"{self.exact[1]}/{self.exact[2]}"
        return str(self.exact[1])

    @classmethod
    def rational(cls, p: int, q: int) -> ExactConstant:
        """``p / q`` in lowest terms, its float correctly rounded."""
        fraction = Fraction(p, q)
        return cls(float(fraction), ("rational", fraction.numerator, fraction.denominator))

    @classmethod
    def named(cls, name: str) -> ExactConstant:
        """``pi``, ``E``...: one of :data:`NAMED`."""
        return cls(NAMED[name], ("constant", name))


def exact_float(exact: tuple[Any, ...]) -> float:
    """The float an exact description stands for (the correctly rounded rational, or the named constant's)."""
    if exact[0] == "rational":
        return float(Fraction(exact[1], exact[2]))
    return NAMED[exact[1]]


def check_exact(raw: Any) -> str | None:
    """What is wrong with ``raw`` as an exact description (from a tape file), or None if it is one."""
    if not isinstance(raw, (list, tuple)) or not raw:
        return 'expected a list such as ["rational", 1, 3] or ["constant", "pi"]'
    if raw[0] == "rational":
        if len(raw) != 3 or not all(type(n) is int for n in raw[1:]):
            return 'a rational is ["rational", numerator, denominator] with integers'
        p, q = raw[1], raw[2]
        if q <= 0 or abs(p) >= _LIMIT or q >= _LIMIT or math.gcd(p, q) != 1:
            return f"a rational needs a positive denominator, lowest terms and parts below 2**128, got {p}/{q}"
        return None
    if raw[0] == "constant":
        if len(raw) != 2 or raw[1] not in NAMED:
            return f"a named constant is one of {sorted(NAMED)}"
        return None
    return f'unknown kind of exact value {str(raw[0])[:40]!r}: expected "rational" or "constant"'


def to_sympy_number(sp: Any, constant: ExactConstant) -> Any:
    """The exact sympy number, built structurally (no text is parsed)."""
    exact = constant.exact
    if exact[0] == "rational":
        return sp.Rational(exact[1], exact[2])
    return getattr(sp, exact[1])


def from_sympy_number(node: Any) -> ExactConstant | None:
    """A sympy number's exact constant: a non-integer Rational or a named constant; None for others."""
    if node.is_Rational and not node.is_Integer and abs(node.p) < _LIMIT and node.q < _LIMIT:
        return ExactConstant.rational(int(node.p), int(node.q))
    name = _SYMPY_CLASSES.get(type(node).__name__)
    return ExactConstant.named(name) if name is not None and node.is_NumberSymbol else None


_SYMPY_CLASSES = {"Pi": "pi", "Exp1": "E", "EulerGamma": "EulerGamma", "GoldenRatio": "GoldenRatio",
                  "Catalan": "Catalan"}  # fmt: skip
"""sympy's classes of the named constants, by the name sympy exports each as."""

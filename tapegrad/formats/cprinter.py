"""The C backend's printer: one record as a C expression over doubles.

The same design as :mod:`tapegrad.formats.printers`: an op is written from
its table row (its scalar rule), unless a ``_print_<op>`` method words it.
A scalar rule maps either to a C math library function (``math.tanh`` ->
``tanh``) or to a small ``static inline`` C function (``tg_smul``...) in
:data:`C_KERNELS`, written to answer exactly as the interpreter's Python
kernel does, signed zeros and strong zeros included.

Why the numbers agree: CPython's ``math`` functions call the same C math
library (glibc's ``sin``, ``exp``, ``pow``...) that the compiled code calls,
and the Python kernels turn the library's inf/nan answers back into IEEE
values where ``math`` raises; Python's own float semantics (``x % y``,
``x // y``, ``round``) are written out step by step in C.  Measured over
200,000 random arguments per function, the one exception is ``hypot``:
CPython computes it with its own algorithm, the C library's differs by one
ulp on about one argument in 17,000 (within 1e-15 relative).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..core import kernels
from ..core.ops import Op, OpKind
from ..errors import UnsupportedOpError
from .printers import Printer

__all__ = ["CPrinter", "C_KERNELS", "c_literal", "LIBM_WITHIN_AN_ULP", "last_reads"]

LIBM_WITHIN_AN_ULP = ("hypot",)
"""Ops whose C result may differ from the interpreter's by an ulp (CPython computes them itself)."""


def c_literal(x: Any) -> str:
    """A float as a C double constant that reads back exactly; negative ones in parentheses (``x - (-1.0)``)."""
    x = float(x)
    if x != x:
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    text = repr(x)  # the shortest decimal that reads back exactly; gcc and clang round decimal constants correctly
    return f"({text})" if text.startswith("-") else text


# The C functions of the kernels, each written to give what the Python kernel of the same name gives.
C_KERNELS: dict[str, str] = {
    "tg_smul": """static inline double tg_smul(double g, double y) {
    if (g == 0.0) return g;
    return (y == 0.0 && g - g != 0.0) ? y : g * y;
}""",
    "tg_sdiv": """static inline double tg_sdiv(double g, double y) {
    return g == 0.0 ? g : g / y;
}""",
    "tg_maximum": """static inline double tg_maximum(double x, double y) {
    return (x > y || x != x) ? x : y;
}""",
    "tg_minimum": """static inline double tg_minimum(double x, double y) {
    return (x < y || x != x) ? x : y;
}""",
    "tg_sigmoid": """static inline double tg_sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}""",
    "tg_cbrt": """static inline double tg_cbrt(double x) {
    if (x == 0.0 || !isfinite(x)) return x;
    double y = copysign(pow(fabs(x), 1.0 / 3.0), x);
    return y - (y - x / (y * y)) / 3.0;
}""",
    "tg_logaddexp": """static inline double tg_logaddexp(double x, double y) {
    if (x == y) return x + 0.6931471805599453;
    double d = x - y;
    if (d > 0.0) return x + log1p(exp(-d));
    if (d <= 0.0) return y + log1p(exp(d));
    return d;
}""",
    "tg_sign": """static inline double tg_sign(double x) {
    if (x > 0.0) return 1.0;
    return x < 0.0 ? -1.0 : x + 0.0;
}""",
    # Python's x % y: the C remainder moved to the sign of y; nan for y == 0 (where Python raises).
    "tg_mod": """static inline double tg_mod(double x, double y) {
    if (y == 0.0) return NAN;
    double r = fmod(x, y);
    if (r == 0.0) return copysign(0.0, y);
    return ((y < 0.0) != (r < 0.0)) ? r + y : r;
}""",
    # Python's x // y: (x - x % y) / y, corrected to the nearest whole number below; x / y for y == 0.
    "tg_floor_divide": """static inline double tg_floor_divide(double x, double y) {
    if (y == 0.0) return x / y;
    double r = fmod(x, y);
    double q = (x - r) / y;
    if (r != 0.0 && (y < 0.0) != (r < 0.0)) q -= 1.0;
    if (q == 0.0) return copysign(0.0, x / y);
    double whole = floor(q);
    return (q - whole > 0.5) ? whole + 1.0 : whole;
}""",
    # x ** c for a constant c: kernels._pow_const's cheap forms, in its order (the machine gets c at run time).
    "tg_pow_const": """static inline double tg_pow_const(double x, double c) {
    if (c == 2.0) return x * x;
    if (c == 3.0) return x * x * x;
    if (c == 4.0) { double s = x * x; return s * s; }
    if (c == -1.0) return 1.0 / x;
    if (c == -2.0) { double r = 1.0 / x; return r * r; }
    if (x > 0.0 && (c == 0.5 || c == -0.5 || c == 1.5 || c == -1.5)) {
        double root = sqrt(x);
        if (c == 0.5) return root;
        if (c == -0.5) return 1.0 / root;
        return c == 1.5 ? x * root : 1.0 / (x * root);
    }
    return pow(x, c);
}""",
    "tg_clip": """static inline double tg_clip(double x, double lo, double hi) {
    double y = (x < lo || lo != lo) ? lo : x;
    return (y > hi || hi != hi) ? hi : y;
}""",
}


def _rounding(name: str, library_function: str) -> str:
    """A rounding kernel: it keeps the sign of a zero result, as the Python kernels do (``ceil(-0.5) = -0.0``)."""
    return f"""static inline double tg_{name}(double x) {{
    return isfinite(x) ? copysign({library_function}(x), x) : x;
}}"""


# rint rounds half to even in the default rounding mode, as Python's round does.
C_KERNELS.update({f"tg_{name}": _rounding(name, c) for name, c in
                  [("floor", "floor"), ("ceil", "ceil"), ("trunc", "trunc"), ("round", "rint")]})  # fmt: skip

# Scalar rules the C library computes as the interpreter does: the kernel only turns math's exceptions into
# the inf or nan the C function returns anyway (``_exp``, ``_log``, ``_pow``...), or calls it directly.
_LIBRARY: dict[Callable[..., Any], str] = {
    kernels._div: "",  # the infix /: IEEE division is what the kernel computes
    kernels._pow: "pow",
    kernels._exp: "exp",
    kernels._log: "log",
    kernels._sqrt: "sqrt",
    kernels._sin: "sin",
    kernels._cos: "cos",
    kernels._tan: "tan",
    kernels._asin: "asin",
    kernels._acos: "acos",
    kernels._sinh: "sinh",
    kernels._cosh: "cosh",
    kernels._acosh: "acosh",
    kernels._atanh: "atanh",
    kernels._log1p: "log1p",
    kernels._expm1: "expm1",
    kernels._log2: "log2",
    kernels._log10: "log10",
    kernels._exp2: "exp2",
    kernels._fmod: "fmod",  # nan where math.fmod raises: fmod(x, 0), fmod(inf, y)
    math.tanh: "tanh",
    math.atan: "atan",
    math.atan2: "atan2",
    math.asinh: "asinh",
    math.hypot: "hypot",
    math.erf: "erf",
    math.erfc: "erfc",
    abs: "fabs",
}
_KERNELS: dict[Callable[..., Any], str] = {
    kernels._sigmoid: "tg_sigmoid",
    kernels._cbrt: "tg_cbrt",
    kernels._logaddexp: "tg_logaddexp",
    kernels._sign: "tg_sign",
    kernels._floor: "tg_floor",
    kernels._ceil: "tg_ceil",
    kernels._trunc: "tg_trunc",
    kernels._round: "tg_round",
    kernels._mod: "tg_mod",
    kernels._floor_divide: "tg_floor_divide",
    kernels._clip: "tg_clip",
    kernels._pow_const: "tg_pow_const",
    kernels._maximum: "tg_maximum",
    kernels._minimum: "tg_minimum",
    kernels._smul: "tg_smul",
    kernels._sdiv: "tg_sdiv",
}


class CPrinter(Printer):
    """C doubles: the ``"c"`` backend.  Operands are C expressions (``w[12]``, ``x[0]``, a literal)."""

    name = "c"
    module = "#include <math.h>"
    rule = "scalar"
    infix: ClassVar[tuple[Callable[..., Any], ...]] = (operator.add, operator.sub, operator.mul)

    def record(self, op: Op, operands: Sequence[str], attr: Any = "") -> str:
        if op.comparison:
            return f"({operands[0]} {op.infix} {operands[1]} ? 1.0 : 0.0)"
        if op.scalar is kernels._div:
            return f"{operands[0]} / {operands[1]}"
        return super().record(op, operands, attr)

    def call(self, function: str, arguments: Sequence[Any]) -> str:
        if function in C_KERNELS:
            self.helpers.add(function)
        return f"{function}({', '.join(str(a) for a in arguments)})"

    def function_name(self, function: Any) -> str:
        name = _LIBRARY.get(function) or _KERNELS.get(function)
        if name is None:
            raise UnsupportedOpError(
                f"the c backend cannot write {getattr(function, '__name__', function)!r}; give the op a "
                "_print_<op> method in CPrinter or a C kernel (tapegrad/formats/cprinter.py)"
            )
        return name

    def _print_neg(self, operands: Sequence[str], attr: Any) -> str:
        return f"-{operands[0]}"  # a negative literal is in parentheses, so never --

    def _print_square(self, operands: Sequence[str], attr: Any) -> str:
        return f"{operands[0]} * {operands[0]}"

    def _print_reciprocal(self, operands: Sequence[str], attr: Any) -> str:
        return f"1.0 / {operands[0]}"

    def _print_softplus(self, operands: Sequence[str], attr: Any) -> str:
        return self.call("tg_logaddexp", ["0.0", operands[0]])

    def _print_relu(self, operands: Sequence[str], attr: Any) -> str:
        return f"({operands[0]} <= 0.0 ? 0.0 : {operands[0]})"

    def _print_where(self, operands: Sequence[str], attr: Any) -> str:
        c, x, y = operands
        return f"({c} != 0.0 ? {x} : {y})"  # Python's truth of a float: nonzero, or nan

    def _print_gate(self, operands: Sequence[str], attr: Any) -> str:
        g, x = operands
        return f"({x} > 0.0 ? {g} : 0.0)"


def last_reads(tape: Any, live: Sequence[bool] | None = None) -> tuple[list[int], list[int]]:
    """``(value_of, last_read)`` for laying a tape out in reused work slots.

    ``value_of[i]`` is the record whose value record ``i`` holds: its own, or for a guard its condition's
    (a guard passes its condition through, and a record may read either).  ``last_read[v]`` is the last
    (live) record reading value ``v``, through any record holding it; ``len(tape)`` for an output.
    """
    value_of = list(range(len(tape)))
    last = list(range(len(tape)))
    for i, operands in enumerate(tape.args):
        if live is not None and not live[i]:
            continue
        if tape.ops[i] is OpKind.GUARD:
            value_of[i] = value_of[operands[0]]
        for a in operands:
            last[value_of[a]] = i
    for s in tape.output_slots:
        last[value_of[s]] = len(tape)
    return value_of, last

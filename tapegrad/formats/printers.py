"""Code backends: one printer class per target language, in the manner of sympy's printers.

The op table says what an op computes; a printer says how its backend writes
it.  :meth:`Printer.record` looks for a method ``_print_<op name>`` and
otherwise writes the op from its table row: an infix operator, a call of
the ``math``/numpy function the row computes with, or a call of one of the
interpreter's own IEEE-safe kernels (``_div``, ``_sigmoid_array``...), which
the generated module then carries by source, so generated code and
interpreter give the same numbers.  A plain elementwise op such as
``atan`` (scalar rule ``math.atan``, array rule ``np.arctan``) needs no
printer code at all; a new backend is one new class.

Kernels used are collected while printing (:attr:`Printer.helpers`), with
the kernels those call, read from their code objects, and so are imports
beyond the backend's own (:attr:`Printer.imports`: ``scipy.special`` for
``erf``): nothing scans the emitted text.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from ..core import kernels, linalg_kernels
from ..core.ops import Op
from ..errors import UnsupportedOpError

__all__ = ["Printer", "PythonPrinter", "NumpyPrinter", "PRINTERS", "KERNEL_MODULES", "kernel", "kernel_dependencies"]


KERNEL_MODULES = (kernels, linalg_kernels)
"""The modules of the op table's kernels, which generated code copies (linear algebra has its own)."""


def _is_kernel(function: Any) -> bool:
    """One of the interpreter's IEEE-safe functions in the op table's kernel modules, which generated code copies."""
    name = getattr(function, "__name__", "")
    module = getattr(function, "__module__", None)
    return any(module == m.__name__ for m in KERNEL_MODULES) and name.startswith("_") and name != "<lambda>"


def kernel(name: str) -> Any:
    """The kernel called ``name`` (None if there is none)."""
    return next((getattr(m, name) for m in KERNEL_MODULES if hasattr(m, name)), None)


def kernel_dependencies(function: Callable[..., Any]) -> list[str]:
    """The kernels ``function`` calls, read from its code object (the global names it uses)."""
    return [n for n in function.__code__.co_names if _is_kernel(kernel(n))]


class Printer:
    """Writes one record as an expression of its backend, collecting the kernels it calls.

    Subclasses name the module the generated code imports (``module``), the
    rule of the table they read (``rule``: ``"scalar"`` or ``"array"``), the
    rules written with the op's infix operator (``infix``) and the ops that
    need their own wording (``_print_<op>`` methods taking the operands'
    source and the attribute's).
    """

    name: ClassVar[str]
    module: ClassVar[str]
    rule: ClassVar[str]
    infix: ClassVar[tuple[Callable[..., Any], ...]] = ()

    def __init__(self) -> None:
        self.helpers: set[str] = set()
        self.imports: set[str] = set()  # import lines beyond ``module`` that the printed code needs

    def record(self, op: Op, operands: Sequence[str], attr: Any = "") -> str:
        """The source of ``op`` applied to ``operands`` (source text), with its attribute's source."""
        method: Callable[..., str] | None = getattr(self, f"_print_{op.name}", None)
        if method is not None:
            return method(operands, attr)
        function = getattr(op, self.rule)
        if function is None:
            raise UnsupportedOpError(f"the {self.name} backend cannot write op {op.name}: it has no {self.rule} rule")
        if function in self.infix:
            return f"{operands[0]} {op.infix} {operands[1]}"
        arguments = [*operands, attr] if op.has_attr else list(operands)
        return self.call(self.function_name(function), arguments)

    def _print_neg(self, operands: Sequence[str], attr: Any) -> str:
        return f"-{operands[0]}"  # the same in Python and numpy (the table's rule is operator.neg / np.negative)

    def call(self, function: str, arguments: Sequence[Any]) -> str:
        if function.startswith("_"):
            self.helpers.add(function)
        return f"{function}({', '.join(str(a) for a in arguments)})"

    def function_name(self, function: Any) -> str:
        """How generated code names the function a rule computes with."""
        name = str(getattr(function, "__name__", ""))
        if _is_kernel(function):
            return name
        if getattr(math, name, None) is function:
            return f"math.{name}"
        if getattr(builtins, name, None) is function:
            return name
        if getattr(np, name, None) is function:
            return f"np.{name}"
        raise UnsupportedOpError(
            f"the {self.name} backend cannot name {function!r}; give the op a _print_<op> method in "
            f"{type(self).__name__} (tapegrad/formats/printers.py)"
        )


def _exponent(attr: Any) -> float | None:
    """A ``pow_const`` exponent's value, read back from its literal (None for ``math.inf`` and the like)."""
    try:
        return float(attr)
    except ValueError:
        return None


class PythonPrinter(Printer):
    """Python floats, importing only ``math``: the ``"math"`` backend."""

    name = "math"
    module = "import math"
    rule = "scalar"
    infix = (operator.add, operator.sub, operator.mul)  # IEEE already; / and ** raise on floats, so they call kernels

    def _print_relu(self, operands: Sequence[str], attr: Any) -> str:
        return f"0.0 if {operands[0]} <= 0.0 else {operands[0]}"

    def _print_maximum(self, operands: Sequence[str], attr: Any) -> str:
        x, y = operands
        return f"{x} if ({x} > {y} or {x} != {x}) else {y}"

    def _print_minimum(self, operands: Sequence[str], attr: Any) -> str:
        x, y = operands
        return f"{x} if ({x} < {y} or {x} != {x}) else {y}"

    def _print_where(self, operands: Sequence[str], attr: Any) -> str:
        c, x, y = operands
        return f"{x} if {c} else {y}"

    def _comparison(self, infix: str, operands: Sequence[str]) -> str:
        return f"1.0 if {operands[0]} {infix} {operands[1]} else 0.0"

    def _print_smul(self, operands: Sequence[str], attr: Any) -> str:
        g, y = operands
        return f"{g} if {g} == 0.0 else {y} if {y} == 0.0 and {g} - {g} != 0.0 else {g} * {y}"

    def _print_sdiv(self, operands: Sequence[str], attr: Any) -> str:
        g, y = operands
        return f"{g} if {g} == 0.0 else {self.call('_div', [g, y])}"

    def _print_gate(self, operands: Sequence[str], attr: Any) -> str:
        g, x = operands
        return f"{g} if {x} > 0.0 else 0.0"

    def _print_pow_const(self, operands: Sequence[str], attr: Any) -> str:
        # The kernel _pow_const's forms written inline (roots where x > 0, else C's pow); other exponents call it.
        x, c = operands[0], _exponent(attr)
        products = {2.0: f"{x} * {x}", 3.0: f"{x} * {x} * {x}"}
        roots = {0.5: f"math.sqrt({x})", -0.5: f"1.0 / math.sqrt({x})", 1.5: f"{x} * math.sqrt({x})"}
        if c in products:
            return products[c]
        if c in roots:
            return f"{roots[c]} if {x} > 0.0 else {self.call('_pow', [x, attr])}"
        return self.call("_div", ["1.0", x]) if c == -1.0 else self.call("_pow_const", [x, attr])

    def record(self, op: Op, operands: Sequence[str], attr: Any = "") -> str:
        if op.comparison:  # 1.0 or 0.0
            return self._comparison(op.infix, operands)
        return super().record(op, operands, attr)


class NumpyPrinter(Printer):
    """numpy arrays with broadcasting: the ``"numpy"`` backend (dask arrays too, for scalar tapes)."""

    name = "numpy"
    module = "import numpy as np"
    rule = "array"
    infix = (np.add, np.subtract, np.multiply)  # np.divide stays a call: / on two Python floats raises

    def record(self, op: Op, operands: Sequence[str], attr: Any = "") -> str:
        if op.comparison:  # 1.0 or 0.0 in the operands' float type
            x, y = operands
            return self.call("_truth_array", [f"{x} {op.infix} {y}", x, y])
        return super().record(op, operands, attr)

    def _print_abs(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.abs({operands[0]})"

    def _print_maximum(self, operands: Sequence[str], attr: Any) -> str:
        x, y = operands
        return f"np.where(({x} > {y}) | ({x} != {x}), {x}, {y})"

    def _print_minimum(self, operands: Sequence[str], attr: Any) -> str:
        x, y = operands
        return f"np.where(({x} < {y}) | ({x} != {x}), {x}, {y})"

    def _print_gate(self, operands: Sequence[str], attr: Any) -> str:
        g, x = operands
        return f"np.where({x} > 0.0, {g}, 0.0)"

    def _print_pow_const(self, operands: Sequence[str], attr: Any) -> str:
        # The kernel _pow_const_array's forms written inline; the roots and other exponents call kernels.
        x, c = operands[0], _exponent(attr)
        inline = {2.0: f"np.square({x})", 3.0: f"np.square({x}) * {x}", 4.0: f"np.square(np.square({x}))",
                  -1.0: f"np.reciprocal({x})", -2.0: f"np.square(np.reciprocal({x}))"}  # fmt: skip
        if c in inline:
            return inline[c]
        return self.call("_pow_half_array" if c in (0.5, -0.5, 1.5, -1.5) else "_pow_const_array", [x, attr])

    def _print_sum(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.add.reduce({operands[0]}, axis={attr[0]}, keepdims={attr[1]})"

    def _print_transpose(self, operands: Sequence[str], attr: Any) -> str:
        x = operands[0] if operands[0].isidentifier() else f"({operands[0]})"
        if str(attr).replace(" ", "") == "(1,0)":  # a matrix's: .T is the same view at a third of the call's cost
            return f"{x}.T"
        return f"np.transpose({x}, {attr})"

    def _print_max(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.maximum.reduce({operands[0]}, axis={attr[0]}, keepdims={attr[1]})"

    def _print_getitem(self, operands: Sequence[str], attr: Any) -> str:
        return f"{operands[0]}[{attr}]"

    def _print_scatter(self, operands: Sequence[str], attr: Any) -> str:
        index, shape = attr[0], attr[1]
        return self.call("_scatter", [operands[0], f"np.s_[{index}]", shape, index.has_arrays])

    def _print_concat(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.concatenate([{', '.join(operands)}], axis={attr})"

    def _print_astype(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.asarray({operands[0]}).astype({attr!r})"

    def _print_einsum(self, operands: Sequence[str], attr: Any) -> str:
        return f"np.einsum({attr}, {', '.join(operands)})"  # attr: the quoted subscripts, checked letters only

    # numpy has no erf; scipy.special's ufuncs (an optional extra) compute it, imported only where used.
    def _print_erf(self, operands: Sequence[str], attr: Any) -> str:
        return self._special("erf", operands[0])

    def _print_erfc(self, operands: Sequence[str], attr: Any) -> str:
        return self._special("erfc", operands[0])

    def _special(self, function: str, x: str) -> str:
        kernels._special()  # MissingToolError, naming the extra, if scipy is not installed
        self.imports.add("import scipy.special")
        return f"scipy.special.{function}({x})"


PRINTERS: dict[str, type[Printer]] = {printer.name: printer for printer in (PythonPrinter, NumpyPrinter)}
"""The code backends by name: ``to_source(tape, backend="numpy")`` prints with ``NumpyPrinter``."""

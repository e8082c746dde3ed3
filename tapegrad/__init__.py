"""tapegrad: automatic differentiation on an explicit tape.

micrograd's friendly :class:`Value`, recording every operation as a typed
record on a linear :class:`Tape` that can be replayed, differentiated and
inspected.  Start with ``Value`` (eager, micrograd-style) or
:func:`trace` / :func:`grad` (JAX-style).
"""

import importlib
import importlib.util
import sys

from . import errors
from ._version import __version__
from .core.passes import optimize
from .core.state import debug_nans, no_grad
from .core.tape import Record, Tape
from .formats.export import export
from .formats.parse import parse
from .functional.compiled import Compiled, jit
from .functional.tracing import Function, function, grad, trace, value_and_grad
from .functional.transforms import grad_tape, hessian, hvp, jacobian, jvp, jvp_tape
from .values.arrays import concatenate, cross_entropy, log_softmax, logsumexp, matmul, softmax, stack
from .values.value import Value, equal, maximum, minimum, not_equal, where

_MODULES = {
    "symbolic": "formats.symbolic",
    "codegen": "formats.codegen",
    "io": "formats.io",
    "dot": "formats.dot",
    "closure": "lab.closure",
    "compare": "lab.compare",
    "report": "lab.report",
    "testing": "lab.testing",
}
"""The modules users reach as ``tapegrad.<name>`` (``from tapegrad import symbolic``), by where they live."""


# ``tapegrad.parse`` is the function; the module it lived in stays importable by its old name
# (``from tapegrad.parse import to_expression``) without a file that would rebind the attribute.
sys.modules[f"{__name__}.parse"] = sys.modules[parse.__module__]
# ``import tapegrad.numpy as tnp``: the namespace of numpy functions tapegrad records (values/numpy_dispatch.py).
sys.modules[f"{__name__}.numpy"] = numpy = importlib.import_module(".values.numpy_dispatch", __name__)


def __getattr__(name: str) -> object:
    """Load the user-facing modules on first use, so ``import tapegrad`` stays quick (sympy loads late)."""
    if name == "from_sympy":
        return importlib.import_module(".formats.symbolic_import", __name__).from_sympy
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)  # a moved module's old path: it warns
    raise AttributeError(f"module 'tapegrad' has no attribute {name!r}")

__all__ = [
    "Value",
    "Tape",
    "Record",
    "Function",
    "trace",
    "grad",
    "value_and_grad",
    "function",
    "jit",
    "Compiled",
    "grad_tape",
    "jvp_tape",
    "jacobian",
    "hessian",
    "jvp",
    "hvp",
    "optimize",
    "export",
    "parse",
    "symbolic",
    "from_sympy",
    "where",
    "equal",
    "not_equal",
    "matmul",
    "concatenate",
    "stack",
    "softmax",
    "log_softmax",
    "logsumexp",
    "cross_entropy",
    "maximum",
    "minimum",
    "debug_nans",
    "no_grad",
    "errors",
    "numpy",
    "__version__",
]

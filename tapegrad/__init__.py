"""tapegrad: automatic differentiation on an explicit tape.

micrograd's friendly :class:`Value`, recording every operation as a typed
record on a linear :class:`Tape` that can be replayed, differentiated and
inspected.  Start with ``Value`` (eager, micrograd-style) or
:func:`trace` / :func:`grad` (JAX-style).
"""

__version__ = "0.1.0"  # first: the modules below read it

import importlib  # noqa: E402

from . import errors  # noqa: E402
from .arrays import concatenate, cross_entropy, log_softmax, logsumexp, matmul, softmax, stack
from .codegen import export
from .functional import Function, function, grad, trace, value_and_grad
from .parse import parse
from .passes import optimize
from .state import debug_nans, no_grad
from .tape import Record, Tape
from .transforms import grad_tape, hessian, hvp, jacobian, jvp, jvp_tape
from .value import Value, equal, maximum, minimum, not_equal, where


def __getattr__(name: str) -> object:
    """Load the sympy-backed parts on first use, so ``import tapegrad`` stays quick."""
    if name in ("symbolic", "from_sympy"):
        symbolic = importlib.import_module(".symbolic", __name__)
        return symbolic if name == "symbolic" else symbolic.from_sympy
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
    "__version__",
]

"""Tapes as functions: trace, grad, function, replay and the JAX-style transforms.

Imports ``core`` and ``values``.  ``tapegrad.functional`` was one module before the
layered package; its public names stay importable from here.
"""

from .compiled import Compiled, jit
from .tracing import Function, as_tape, function, grad, trace, value_and_grad

__all__ = ["Compiled", "Function", "as_tape", "function", "grad", "jit", "trace", "value_and_grad"]

"""Every exception tapegrad raises on purpose.

Each class subclasses :class:`TapegradError`, so ``except TapegradError`` catches
them all; where a builtin exception already means the same thing (a wrong
argument count is a ``TypeError``), the class subclasses that too, so code
written for plain Python keeps working.  Messages say what happened and what
to do about it.
"""

from __future__ import annotations


class TapegradError(Exception):
    """Base class of every error tapegrad raises deliberately."""


class ConcretizationError(TapegradError, TypeError):
    """A traced Value was turned into a Python number inside ``trace``.

    Replay would silently reuse the recorded number, so this is refused, as
    JAX refuses to concretize a tracer.
    """

    site: str | None = None  # the user's file:line, when known


class StaleTapeError(TapegradError):
    """A tape was replayed on inputs that take another branch of the recorded code."""


class LeakedValueError(TapegradError):
    """A Value recorded inside one ``trace`` was used after that trace ended."""


class ArgumentCountError(TapegradError, TypeError):
    """A tape or traced function was called with the wrong number of arguments."""


class InputTypeError(TapegradError, TypeError):
    """An input was not a real number (or an array of them)."""


class NonScalarOutputError(TapegradError, TypeError):
    """A gradient was asked of a function with several outputs and no seed."""


class NonFiniteError(TapegradError, FloatingPointError):
    """Inside ``debug_nans()``, a record produced a nan or an infinity."""


class OutputTypeError(TapegradError, TypeError):
    """A traced function returned something other than Values or numbers."""


class ConflictingArgumentsError(TapegradError, TypeError):
    """Two arguments were given that exclude each other (``seed=`` and ``rng=``)."""


class UnknownNameError(TapegradError, ValueError):
    """A name that does not exist was given: an input in ``wrt``, an optimiser pass."""


class UnsupportedOpError(TapegradError, ValueError):
    """A sympy expression uses a function that has no tapegrad op."""


class HyperparameterError(TapegradError, ValueError):
    """An optimiser setting (``lr``, ``momentum``, ``betas``, ``eps``, ``weight_decay``) is out of its range."""


class GuardWarning(UserWarning):
    """An exported formula holds only where the tape's guards do (the branch it recorded)."""


class RetraceWarning(UserWarning):
    """A ``tapegrad.function`` traced its function again on most calls (its calls keep taking new branches)."""


class ParseError(TapegradError, ValueError):
    """An expression string is not in tapegrad's grammar (or is over a size limit)."""


class TapeFormatError(TapegradError, ValueError):
    """A tape file is malformed, too large, or of an unsupported format version."""


class SymbolicLimitError(TapegradError):
    """sympy cannot build a formula: too deep for Python's recursion limit, too large, or an
    operation it cannot represent (a comparison with nan); the message says which and what to use."""


class MissingToolError(TapegradError, RuntimeError):
    """An optional outside program (Graphviz's dot) or package (scipy, for erf of arrays) is needed and
    not installed; the message says what to install."""


class ShapeError(TapegradError, ValueError, IndexError):
    """Array shapes that do not fit an op (broadcasting, matmul, reshape, an index out of range).

    Raised when the op is recorded, naming the op and the shapes.  It is also
    an IndexError, so iterating over an array Value stops at its end.
    """


class CompilerNotFoundError(MissingToolError):
    """The C backend (``tape.compile("c")``) needs a C compiler and found none: ``$CC`` names none that runs,
    or there is no ``cc``, ``gcc`` or ``clang`` on ``PATH``; the message says how to get one."""


class CompileError(TapegradError, RuntimeError):
    """The C compiler failed; the message gives the command and the end of the compiler's own output."""

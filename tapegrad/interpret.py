"""Deprecated path: this module moved to :mod:`tapegrad.core.interpret` (kept for one release).

Importing it warns and gives the new module itself, so every name, private ones included, is the same object.
"""

import importlib
import sys
import warnings

warnings.warn(
    "tapegrad.interpret moved to tapegrad.core.interpret; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("tapegrad.core.interpret")

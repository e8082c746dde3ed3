"""Deprecated path: this module moved to :mod:`tapegrad.core.shapes` (kept for one release).

Importing it warns and gives the new module itself, so every name, private ones included, is the same object.
"""

import importlib
import sys
import warnings

warnings.warn(
    "tapegrad.shapes moved to tapegrad.core.shapes; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("tapegrad.core.shapes")

"""Deprecated path: this module moved to :mod:`tapegrad.functional.replay` (kept for one release).

Importing it warns and gives the new module itself, so every name, private ones included, is the same object.
"""

import importlib
import sys
import warnings

warnings.warn(
    "tapegrad.replay moved to tapegrad.functional.replay; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("tapegrad.functional.replay")

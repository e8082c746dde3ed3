"""Deprecated path: this module moved to :mod:`tapegrad.formats.exported_tests` (kept for one release).

Importing it warns and gives the new module itself, so every name, private ones included, is the same object.
"""

import importlib
import sys
import warnings

warnings.warn(
    "tapegrad.exported_tests moved to tapegrad.formats.exported_tests; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("tapegrad.formats.exported_tests")

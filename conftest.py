"""pytest configuration shared by the test suite and the docstring examples.

``python -m pytest`` collects ``tests/`` and, with ``--doctest-modules``, every
``>>>`` example in ``tapegrad/``.  Docstring examples see ``tapegrad``, ``np``
and ``sympy`` without importing them, so an example shows the call it is about.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _pytest.doctest import DoctestItem

PACKAGE = Path(__file__).resolve().parent / "tapegrad"


def is_deprecation_shim(path: Path) -> bool:
    """A moved module's old flat path (``tapegrad/codegen.py``...): importing it only warns and forwards.

    Its doctests are the new module's, so collecting it would run them twice under a deprecation warning.
    """
    if path.suffix != ".py" or path.parent != PACKAGE:
        return False
    with path.open(encoding="utf-8") as file:
        return "moved to :mod:" in file.readline()  # as tests/test_layers.py tells a shim


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return True if is_deprecation_shim(collection_path) else None


@pytest.fixture(autouse=True)
def _doctest_setup(request: pytest.FixtureRequest) -> None:
    """Docstring examples see ``tapegrad``, ``np`` and ``sympy``, and run in a fresh directory (some write files)."""
    if not isinstance(request.node, DoctestItem):
        return
    import sympy

    import tapegrad

    request.getfixturevalue("doctest_namespace").update(tapegrad=tapegrad, np=np, sympy=sympy)
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))

"""Fixtures the array tests share (pytest finds them here, for every file of ``tests/values``)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest


@pytest.fixture
def no_warnings() -> Any:
    """Any warning (a RuntimeWarning from numpy) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield

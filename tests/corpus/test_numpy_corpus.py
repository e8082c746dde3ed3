"""The corpus: numpy functions as other autodiff projects test them, run on tapegrad as a new user would.

Each case (``cases_*.py``) goes through the checks of ``harness.py``: the value against numpy, the gradient
against central differences and PyTorch (float64, where installed and the case has a torch version), forward
mode and Hessian-vector products against differences, the traced function replayed on new inputs, as
generated numpy code and from a tape file, and its gradient tape likewise (and optimised).  Run one case's
checks with ``-k "attention"``, one check over every case with ``-k "forward"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tapegrad import Value

from . import cases_linalg, cases_methods, cases_products, cases_programs, cases_shapes, cases_spellings
from .harness import (
    Case,
    check_central_differences,
    check_forward_mode,
    check_gradient_replay,
    check_replay,
    check_second_order,
    check_torch,
    check_value,
)

# numpy 2 warns that cross products of 2-vectors are deprecated; the corpus still tries them, as users do.
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")

CASES = [
    *cases_products.CASES,
    *cases_shapes.CASES,
    *cases_spellings.CASES,
    *cases_linalg.CASES,
    *cases_methods.CASES,
    *cases_programs.CASES,
]
WITH_TORCH = [p for p in CASES if p.values[0].torch is not None]


def test_the_cases_have_distinct_names() -> None:
    names = [p.values[0].name for p in CASES]
    assert len(names) == len(set(names))


CHECKS: dict[str, Callable[[Case], None]] = {
    "value is numpy's": check_value,
    "gradient vs central differences": check_central_differences,
    "forward mode vs central differences": check_forward_mode,
    "hessian-vector product vs differences of the gradient": check_second_order,
    "replay, generated code and tape file at new inputs": check_replay,
    "gradient tape replayed, generated and optimised": check_gradient_replay,
}


@pytest.mark.parametrize("check", list(CHECKS.values()), ids=list(CHECKS))
@pytest.mark.parametrize("c", CASES)
def test_corpus(c: Case, check: Callable[[Case], None]) -> None:
    check(c)


@pytest.mark.parametrize("c", WITH_TORCH)
def test_gradient_matches_pytorch(c: Case) -> None:
    check_torch(c)


def _wrong_on_values(x: object) -> object:
    """A function that computes something else on Values: what every check must catch."""
    return np.sin(x) * (2.0 if isinstance(x, Value) else 3.0)


def test_the_checks_catch_a_function_that_differs_on_values() -> None:
    wrong = Case("wrong on values", _wrong_on_values, (np.linspace(0.1, 0.9, 4),))
    for check in (check_value, check_central_differences, check_replay):
        with pytest.raises(AssertionError):
            check(wrong)


def test_the_torch_check_catches_a_different_gradient() -> None:
    pytest.importorskip("torch")
    wrong = Case("wrong torch", np.sin, (np.linspace(0.1, 0.9, 4),), torch=lambda x: x.cos())
    with pytest.raises(AssertionError):
        check_torch(wrong)

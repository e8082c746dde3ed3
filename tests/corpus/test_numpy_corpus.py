"""The corpus: numpy functions as other autodiff projects test them, run on tapegrad as a new user would.

Each case (``cases_*.py``) goes through the checks of ``harness.py``: the value against numpy, the gradient
against central differences and PyTorch (float64, where installed and the case has a torch version), the
traced function replayed on new inputs and as generated numpy code, and its gradient tape likewise.
"""

from __future__ import annotations

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


@pytest.mark.parametrize("c", CASES)
def test_value_is_numpys(c: Case) -> None:
    check_value(c)


@pytest.mark.parametrize("c", CASES)
def test_gradient_matches_central_differences(c: Case) -> None:
    check_central_differences(c)


@pytest.mark.parametrize("c", WITH_TORCH)
def test_gradient_matches_pytorch(c: Case) -> None:
    check_torch(c)


@pytest.mark.parametrize("c", CASES)
def test_forward_mode_matches_central_differences(c: Case) -> None:
    check_forward_mode(c)


@pytest.mark.parametrize("c", CASES)
def test_hessian_vector_product_matches_differences_of_the_gradient(c: Case) -> None:
    check_second_order(c)


@pytest.mark.parametrize("c", CASES)
def test_replay_on_new_inputs_and_generated_code(c: Case) -> None:
    check_replay(c)


@pytest.mark.parametrize("c", CASES)
def test_gradient_tape_replay_and_generated_code(c: Case) -> None:
    check_gradient_replay(c)


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

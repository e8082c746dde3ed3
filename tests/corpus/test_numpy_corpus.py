"""The corpus: numpy functions as other autodiff projects test them, run on tapegrad as a new user would.

Each case (``cases_*.py``) goes through the checks of ``harness.py``: the value against numpy, the gradient
against central differences and PyTorch (float64, where installed and the case has a torch version), the
traced function replayed on new inputs and as generated numpy code, and its gradient tape likewise.
"""

from __future__ import annotations

import pytest

from . import cases_linalg, cases_methods, cases_products, cases_programs, cases_shapes, cases_spellings
from .harness import Case, check_central_differences, check_gradient_replay, check_replay, check_torch, check_value

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
def test_replay_on_new_inputs_and_generated_code(c: Case) -> None:
    check_replay(c)


@pytest.mark.parametrize("c", CASES)
def test_gradient_tape_replay_and_generated_code(c: Case) -> None:
    check_gradient_replay(c)

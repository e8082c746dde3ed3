"""The walkthrough notebook (examples/walkthrough.ipynb), executed top to bottom.

The specification, section by section:

1. every cell runs without an error in a real Jupyter kernel (nbclient), from
   the examples directory, as CI runs it;
2. the whole notebook finishes within the issue's limit of two minutes;
3. the story is all there: micrograd's numbers, the tape listing, the backward
   pass step by step, the gradient formula, the generated source, the trained
   MLP at 100% accuracy with its pictures, and the engine comparison table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (pip install nbclient)")
pytest.importorskip("ipykernel", reason="the notebook test needs a Jupyter kernel (pip install ipykernel)")
pytest.importorskip("matplotlib", reason="the notebook draws with matplotlib (pip install matplotlib)")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "walkthrough.ipynb"
TIME_LIMIT_SECONDS = 120


@pytest.fixture(scope="module")
def executed() -> tuple[Any, float]:
    """The notebook after one run, and how long the run took in seconds."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def outputs(nb: Any) -> list[dict[str, Any]]:
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]


def text(nb: Any) -> str:
    """Everything the notebook printed or displayed as text, joined."""
    parts = []
    for output in outputs(nb):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            parts.extend(str(data[kind]) for kind in ("text/plain", "text/markdown", "text/latex") if kind in data)
    return "\n".join(parts)


def test_the_notebook_is_saved_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_every_cell_runs_without_error(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    errors = [output for output in outputs(nb) if output.output_type == "error"]
    assert errors == []
    assert all(cell.execution_count is not None for cell in nb.cells if cell.cell_type == "code")


def test_the_run_fits_the_time_limit(executed: tuple[Any, float]) -> None:
    _, seconds = executed
    assert seconds < TIME_LIMIT_SECONDS


def test_micrograd_numbers_listing_and_backward_pass_are_shown(executed: tuple[Any, float]) -> None:
    shown = text(executed[0])
    assert "24.7041" in shown and "138.8338" in shown and "645.5773" in shown
    assert "tape f(x, y) -> out" in shown and "%2 = mul %0 %1" in shown
    assert "backward pass of tape 'f'" in shown


def test_formula_and_generated_source_are_shown(executed: tuple[Any, float]) -> None:
    shown = text(executed[0])
    assert "\\frac{\\partial out}{\\partial x}" in shown
    assert "def f_grad(x, y):" in shown


def test_the_mlp_trains_to_full_accuracy_with_pictures(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    shown = text(nb)
    assert "final accuracy 100%" in shown
    assert any("image/png" in output.get("data", {}) for output in outputs(nb))


def test_both_engines_agree_and_are_compared(executed: tuple[Any, float]) -> None:
    shown = text(executed[0])
    assert "same losses on both engines: True" in shown
    assert "| tapegrad.closure |" in shown

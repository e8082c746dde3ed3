"""The array examples: moons as matrix ops reaches 100%, the makemore MLP learns and samples names."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """examples/<name>.py, imported from its path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def moons_batched() -> ModuleType:
    return load("moons_batched")


@pytest.fixture(scope="module")
def makemore() -> ModuleType:
    return load("makemore_mlp")


def test_moons_batched_reaches_full_accuracy(moons_batched: ModuleType) -> None:
    history = moons_batched.train(100)
    assert history.accuracies[-1] == 1.0
    assert history.losses[-1] < 0.1 * history.losses[0]
    assert len(history.losses) == 100


def test_moons_batched_uses_the_scalar_demos_data(moons_batched: ModuleType) -> None:
    scalar_demo = load("moons")
    X, y = scalar_demo.make_moons(100, seed=scalar_demo.SEED)
    history = moons_batched.train(1)
    np.testing.assert_array_equal(history.X, X)
    np.testing.assert_array_equal(history.y, y)


def test_moons_batched_main_prints_progress(moons_batched: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert moons_batched.main(["--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "step 2 loss" in out and "final: loss" in out


def test_names_list_is_lowercase_names(makemore: ModuleType) -> None:
    names = makemore.load_names()
    assert len(names) > 5000
    assert all(re.fullmatch(r"[a-z]+", name) for name in names)
    assert len(set(names)) == len(names)


def test_dataset_pairs_each_context_with_the_next_character(makemore: ModuleType) -> None:
    X, Y = makemore.build_dataset(["emma"])
    decode = "".join
    contexts = [decode(makemore.CHARS[t] for t in row) for row in X]
    assert contexts == ["...", "..e", ".em", "emm", "mma"]
    assert decode(makemore.CHARS[t] for t in Y) == "emma."


def test_makemore_loss_goes_down_and_samples_are_names(makemore: ModuleType) -> None:
    result = makemore.train(steps=400, seed=1, num_samples=10)
    losses = result["losses"]
    assert len(losses) == 400
    assert losses[0] == pytest.approx(math.log(27), abs=0.1)  # near-uniform predictions at first
    assert np.mean(losses[-50:]) < losses[0] - 0.6
    assert result["train_loss"] < 2.9 and result["dev_loss"] < 2.9
    samples = result["samples"]
    assert len(samples) == 10
    assert all(re.fullmatch(r"[a-z]*", s) for s in samples)
    assert any(samples)

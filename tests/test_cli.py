"""The tapegrad command."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tapegrad
from tapegrad.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tapegrad {tapegrad.__version__}"


def test_help_without_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: tapegrad" in capsys.readouterr().out


def test_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "tapegrad.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "automatic differentiation" in result.stdout

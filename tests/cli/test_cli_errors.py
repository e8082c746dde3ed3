"""The tapegrad command's exit status, help and real processes.

1. exit status: 0 on success, 2 on bad usage, 1 on a user error with one
   line on stderr (``tapegrad <command>: error: ...``) and no traceback;
   ``--debug`` re-raises; ``--version``; every ``--help`` shows an example;
2. real processes: the console script and ``python -m tapegrad.cli``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad.cli import main
from tapegrad.errors import ParseError

from .running import EXPR, USER_FILE, X, Y, hand, import_file, numbers, run

# ---------------------------------------------------------------- 3. exit status

BAD_USAGE = [
    ["grad"],
    ["frobnicate"],
    ["grad", "x", "--format", "xml"],
    ["grad", "x", "--order", "3"],
    ["grad", "x", "--bogus"],
    ["export", "x"],
    ["export", "x", "-o", "m.py", "--backend", "jax"],
    ["show"],
    ["compare", "--depth"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=[" ".join(a) for a in BAD_USAGE])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("usage: tapegrad") and "error:" in err


@pytest.mark.parametrize("depth", ["abc", "10,x", ""])
def test_a_bad_depth_is_bad_usage(depth: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", "--depth", depth)
    assert code == 2 and "--depth" in err


def test_a_zero_depth_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", "--depth", "0")
    assert code == 2 and "at least 1" in err


def user_errors(tmp_path: Path) -> list[tuple[list[str], str]]:
    (tmp_path / "malformed.json").write_text('{"format": "tapegrad.tape", "version": 1, "records": 5}')
    (tmp_path / "not_json.json").write_bytes(b"\x00\xff not json")
    (tmp_path / "user_code.py").write_text(USER_FILE)
    return [
        (["grad", "x.y"], "attribute access is not allowed at column 1"),
        (["grad", "__import__('os').system('echo hi')"], "only calls of a function by name are allowed"),
        (["grad", "x * (y"], "not a valid expression"),
        (["grad", ""], "the expression is empty"),
        (["grad", "x * y", "--at", "x=1,y=2,z=3"], "--at: unknown z; the variables are x, y"),
        (["grad", "x * y", "--at", "x=1"], "--at: missing y; the variables are x, y"),
        (["grad", "x * y", "--at", "x=a,y=1"], "--at: 'a' is not a number"),
        (["grad", "x * y", "--at", "x"], "--at takes name=value pairs"),
        (["grad", "x * y", "--wrt", "z"], "wrt='z' names no input of tape 'expr'"),
        (["grad", "x", "--explain"], "--explain needs a point"),
        (["show", str(tmp_path / "missing.json")], "No such file or directory"),
        (["show", str(tmp_path / "malformed.json")], "invalid tape file at records: expected list, got int"),
        (["show", str(tmp_path / "not_json.json")], "invalid tape file: not JSON"),
        (["show", str(tmp_path)], "Is a directory"),
        (["export", "x.y", "-o", str(tmp_path / "m.py")], "attribute access is not allowed"),
        (["export", "x", "-o", str(tmp_path / "no" / "such" / "dir.py")], "No such file or directory"),
        (["compare", "--diverge", "user_code"], "--diverge takes FILE.py:FUNCTION"),
        (["compare", "--diverge", f"{tmp_path / 'user_code.py'}:nope"], "defines no function 'nope'"),
        (["compare", "--diverge", f"{tmp_path / 'missing.py'}:f"], "No such file or directory"),
        (["compare", "--diverge", f"{tmp_path / 'user_code.py'}:g", "--at", "y=1"], "--at: missing x"),
    ]


def test_user_errors_exit_1_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, message in user_errors(tmp_path):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
        assert err.startswith(f"tapegrad {argv[0]}: error: "), (argv, err)
        assert message in err, (argv, err)
        assert "Traceback" not in err


def test_debug_reraises(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="attribute access"):
        main(["--debug", "grad", "x.y"])
    with pytest.raises(FileNotFoundError):
        main(["--debug", "show", str(tmp_path / "missing.json")])
    assert main(["--debug", "grad", "x * y"]) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tapegrad {tapegrad.__version__}"


def test_help_without_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: tapegrad" in capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["grad"], ["export"], ["show"], ["compare"]])
def test_every_help_shows_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert out.startswith(f"usage: tapegrad {command[0]}" if command else "usage: tapegrad")
    assert "example" in out
    assert re.search(r"^  tapegrad \w+ ", out, re.MULTILINE)  # the example is a command line


def help_examples() -> list[str]:
    """Every command line shown in ``tapegrad --help`` and in each command's ``--help``."""
    from tapegrad.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    texts = [parser.format_help()] + [sub.format_help() for sub in commands.choices.values()]
    return sorted({m[1] for text in texts for m in re.finditer(r"^  (tapegrad .+)$", text, re.MULTILINE)})


def test_every_example_in_every_help_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tapegrad.lab.report

    examples = help_examples()
    assert len(examples) >= 9 and any("export" in e for e in examples)
    monkeypatch.chdir(tmp_path)
    for name in ("saved.json", "tape.json"):  # the files the show examples read
        tapegrad.parse("x * y + sin(x)").save(name)
    reports: list[Any] = []  # the report takes minutes: its own tests run it; here the command line must reach it
    monkeypatch.setattr(
        tapegrad.lab.report, "write_report", lambda path, depths: reports.append((path, depths)) or path
    )
    for example in examples:
        code, out, err = run(capsys, *shlex.split(example)[1:])
        assert code == 0 and err == "", (example, err)
        assert out, example
    assert reports == [("report/", [100, 1000, 10000])]
    assert (tmp_path / "model.py").exists() and (tmp_path / "test_model.py").exists()  # export ... --tests
    assert (tmp_path / "gauss_grad.py").exists()


@pytest.mark.parametrize(
    "argv", [["grad", "-x*y"], ["grad", "--at", "x=1,y=2", "-x*y"], ["grad", "-x*y", "--wrt", "x"]]
)
def test_an_expression_may_start_with_minus(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    assert "grad_x = -y" in out
    if "--at" in argv:
        assert numbers(out) == {"value": -2.0, "grad_x": -2.0, "grad_y": -1.0}


def test_export_of_an_expression_starting_with_minus(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "export", "-x*exp(y)", "-o", str(tmp_path / "neg.py"))
    assert code == 0 and out == f"wrote {tmp_path / 'neg.py'}\n"
    assert import_file(tmp_path / "neg.py", "neg").neg_grad(2.0, 0.0) == (-1.0, -2.0)


def test_debug_works_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ParseError, match="attribute access"):
        main(["grad", "x.y", "--debug"])
    with pytest.raises(ParseError, match="attribute access"):
        main(["grad", "--debug", "x.y"])
    code, _, err = run(capsys, "grad", "x.y")
    assert code == 1 and "Traceback" not in err


def test_at_is_checked_before_anything_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "grad", "x**2", "--at", "y=1")
    assert code == 1 and out == ""
    assert err == "tapegrad grad: error: --at: missing x; the variables are x\n"


def test_a_constant_prints_its_value_and_says_it_has_no_variables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "grad", "9**9**9")
    assert code == 0 and err == ""
    assert out == "value: inf\nthe expression has no variables: it is a constant, and its gradient is empty\n"
    code, out, _ = run(capsys, "grad", "2 * 3")
    assert code == 0 and out.startswith("value: 6.0\n")
    code, _, err = run(capsys, "grad", "2 * 3", "--at", "x=1")
    assert code == 1 and "has no variables" in err


def test_the_hint_for_an_array_tape_names_the_cli_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tapegrad.trace(lambda w: (w * w).sum(), np.ones(3)).save(tmp_path / "arrays.json")
    code, _, err = run(capsys, "show", str(tmp_path / "arrays.json"), "--format", "python")
    assert code == 1
    assert err.rstrip().endswith("; use --format numpy") and "backend=" not in err
    code, out, _ = run(capsys, "show", str(tmp_path / "arrays.json"), "--format", "numpy")
    assert code == 0 and "import numpy as np" in out


def test_export_tests_and_wrt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "phys.py"
    code, out, _ = run(capsys, "export", "sqrt(-x) * log(y - 20)", "-o", str(target), "--tests", "--wrt", "y")
    assert code == 0 and out == f"wrote {target}\nwrote {tmp_path / 'test_phys.py'}\n"
    module = import_file(target, "phys")
    (dy,) = module.phys_grad(-4.0, 21.0)
    assert dy == 2.0  # sqrt(4) / (21 - 20)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]


# ---------------------------------------------------------------- 4. real processes


def test_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "tapegrad.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "automatic differentiation" in result.stdout


def console_script() -> list[str]:
    """The installed ``tapegrad`` script of this interpreter's environment (else ``python -m tapegrad.cli``)."""
    script = Path(sys.executable).with_name("tapegrad")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tapegrad.cli"]


def test_the_console_script_runs() -> None:
    result = subprocess.run([*console_script(), "grad", EXPR, "--at", f"x={X},y={Y}"], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert numbers(result.stdout)["grad_y"] == pytest.approx(hand(X, Y)[2], rel=1e-12)


def test_a_user_error_in_a_real_process_is_one_line() -> None:
    result = subprocess.run([*console_script(), "grad", "x.__class__"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "tapegrad grad: error: attribute access is not allowed at column 1\n"


def test_a_syntax_warning_does_not_reach_stderr() -> None:
    result = subprocess.run([*console_script(), "grad", "1if x else 2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr

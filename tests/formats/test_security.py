"""Hostile names against generated files and the terminal (issue 15, items 1, 2 and 12).

1. A name must never run code when a generated module is imported.  Python
   reads an encoding declaration (PEP 263) from a comment on line 1 or 2; a
   name there such as ``coding:unicode_escape`` made Python decode the rest of
   the file with that codec, so an escaped ``\\n`` became a newline and the
   text after it ran.  Every generated file starts with a fixed UTF-8 line and
   a second line of tapegrad's own text; the tests put cookie-shaped names in
   every name position, write every kind of generated file (``to_source``,
   ``export`` and its tests file, ``tapegrad show --format python|numpy -o``),
   and import them all in a subprocess.
2. ``tapegrad show`` prints non-printable characters escaped.
12. A lone surrogate in a tape file is refused with the JSON path, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tapegrad
from tapegrad import io
from tapegrad.cli import main, terminal_text
from tapegrad.formats.codegen import identifiers, to_source

ATTACK = "open('PWNED_{tag}', 'w').write('x')"
PAYLOADS = {  # each one ran ATTACK on import before the fix (utf-7 too), or tries to end a comment line
    "unicode_escape-newline": "coding:unicode_escape\n{attack}\n#",
    "unicode_escape-cr": "coding:unicode_escape\r{attack}\r#",
    "utf-7": "coding:utf-7 +AAo-{attack}+AAo-#",
    "form-feed": "coding:unicode_escape\x0c{attack}\x0c#",
    "line-separator": "coding:unicode_escape\u2028{attack}\u2028#",
    "raw-newline": "x\n{attack}\n#",
}
POINT = (0.7, 1.3)


def _guarded(x: Any, y: Any) -> Any:
    return x * y + 1.0 if x > 0 else -x


def _tape(position: str, name: str) -> tuple[tapegrad.Tape, Callable[..., Any] | tapegrad.Tape]:
    """A tape with ``name`` in one position, and what to give ``export`` (a function for ``__name__``)."""
    if position == "parse name":
        tape = tapegrad.parse("where(x > 0, x * y + 1, -x)", name=name)
        return tape, tape
    if position == "function __name__":

        def f(x: Any, y: Any) -> Any:
            return _guarded(x, y)

        f.__name__ = name
        return tapegrad.trace(f, *POINT), f
    if position == "input name":
        tape = tapegrad.trace(_guarded, *POINT, names=[name, "y"])
        return tape, tape

    def named(x: Any, y: Any) -> Any:
        out = _guarded(x, y)
        if position == "output name":
            out.name = name
        return out

    tape = tapegrad.trace(named, *POINT)
    if position == "tape name":
        tape.name = name
    if position == "guard site":
        tape.sites = {slot: name for slot in tape.sites}
    return tape, tape


POSITIONS = ["tape name", "input name", "output name", "function __name__", "parse name", "guard site"]

# Runs in a fresh interpreter: imports every generated file and calls its function.
DRIVER = r"""
import importlib.util, json, sys
def flat(x):
    return [v for item in x for v in flat(item)] if isinstance(x, (tuple, list)) else [float(x)]
results = {}
for job in json.load(open(sys.argv[1])):
    spec = importlib.util.spec_from_file_location(job["module"], job["file"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if job["function"] == "test_recorded_values":  # an exported tests file: run its first check
        module.test_recorded_values(*module.RECORDED[0])
        results[job["file"]] = "passed"
    else:
        results[job["file"]] = flat(getattr(module, job["function"])(*job["args"]))
print(json.dumps(results))
"""


def _write_everything(tape: tapegrad.Tape, exported: Any, backend: str, where: Path) -> list[dict[str, Any]]:
    """Every kind of generated file for ``tape``, and what calling each must give."""
    where.mkdir(parents=True)
    value = [float(v) for v in [tape(*POINT)]]
    value_and_grad = [value[0], *tape.gradient(*POINT)]
    jobs = []
    source = where / "source.py"
    source.write_text(to_source(tape, "f", backend), encoding="utf-8")
    jobs.append({"file": str(source), "function": "f", "expected": value})
    module = tapegrad.export(exported, where / "exported.py", name="f", backend=backend, tests=True)
    jobs.append({"file": str(module), "function": "f_value_and_grad", "expected": value_and_grad})
    jobs.append({"file": str(where / "test_exported.py"), "function": "test_recorded_values", "expected": "passed"})
    saved, shown = where / "tape.json", where / "shown.py"
    io.save(tape, saved)
    fmt = "python" if backend == "math" else "numpy"
    assert main(["show", str(saved), "--format", fmt, "-o", str(shown)]) == 0
    (name,) = identifiers([tape.name if tape.name.isidentifier() else "f"])
    jobs.append({"file": str(shown), "function": name, "expected": value})
    for job in jobs:
        job["module"], job["args"] = f"generated_{len(str(where))}", list(POINT)
    return jobs


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_cookie_shaped_names_never_run_code_on_import(
    payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where an attack run by compile() in this process would write
    jobs = []
    for k, position in enumerate(POSITIONS):
        tag = f"{k}"
        name = PAYLOADS[payload].format(attack=ATTACK.format(tag=tag))
        tape, exported = _tape(position, name)
        for backend in ("math", "numpy"):
            assert float(tape.compile(backend)(*POINT)) == tape(*POINT)
            written = _write_everything(tape, exported, backend, tmp_path / f"{k}-{backend}")
            jobs += written
            for job in written:
                lines = Path(job["file"]).read_text(encoding="utf-8").splitlines()
                assert lines[0] == "# -*- coding: utf-8 -*-", (position, job["file"])
                assert lines[1].startswith("# ") and "PWNED" not in lines[1] and "coding" not in lines[1]
                assert all(line.isprintable() for line in lines), (position, job["file"])
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path / "jobs.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("PWNED*")) == []
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout)
    assert {job["file"]: job["expected"] for job in jobs} == results


def test_the_first_two_lines_never_hold_user_text() -> None:
    tape = tapegrad.trace(lambda x: x * 2.0, 1.0, names=["coding:latin-1"])
    tape.name = "coding=utf-7"
    for backend in ("math", "numpy"):
        first, second, third, *_ = to_source(tape, "f", backend).splitlines()
        assert first == "# -*- coding: utf-8 -*-"
        assert second == (
            f"# Generated by tapegrad {tapegrad.__version__} ({backend} backend), "
            f"tape hash {tapegrad.codegen.tape_hash(tape)}."
        )
        assert "coding=utf-7" in third  # the names come after, where Python reads no declaration


# ---------------------------------------------------------------- 2. the terminal

ESCAPES = "\x1b]0;HACKED\x07\x1b[2J\x9b31m\u202e"


@pytest.mark.parametrize("fmt", ["tape", "json", "python", "numpy", "sympy", "latex", "dot"])
def test_show_prints_non_printable_characters_escaped(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tape = tapegrad.trace(lambda x: x * 2.0, 1.0, names=["x" + ESCAPES])
    tape.name = "name" + ESCAPES
    tape.output_names = ["out" + ESCAPES]
    io.save(tape, tmp_path / "tape.json")
    assert main(["show", str(tmp_path / "tape.json"), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert all(line.isprintable() for line in out.splitlines()), out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    if fmt == "tape":  # names are escaped as in a Python string; any other text as in JSON
        assert "\\x1b]0;HACKED\\x07\\x1b[2J\\x9b31m\\u202e" in out
    if fmt == "json":  # still JSON, and the same tape
        assert io.dumps(io.loads(out)) == io.dumps(tape)


def test_terminal_text_escapes_as_json_does() -> None:
    assert terminal_text("plain\ntext é λ") == "plain\ntext é λ"
    assert terminal_text("a\tb\x1bc\u2028\U000e0001") == "a\\u0009b\\u001bc\\u2028\\udb40\\udc01"
    assert json.loads(f'"{terminal_text(chr(0x9B) + chr(0xE0001))}"') == chr(0x9B) + chr(0xE0001)


def test_error_messages_are_escaped_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(io.dumps(tapegrad.trace(lambda x: x * 2.0, 1.0)))
    document["records"][2][1][0] = "\x1b[2J"  # a slot that is not a number: the message quotes it
    (tmp_path / "tape.json").write_text(json.dumps(document), encoding="utf-8")
    assert main(["show", str(tmp_path / "tape.json")]) == 1
    err = capsys.readouterr().err
    expected = "invalid tape file at records[2][1][0]: expected a slot from 0 to 1, got \\u001b[2J"
    assert err == f"tapegrad show: error: {expected}\n"


# ---------------------------------------------------------------- 12. lone surrogates


@pytest.mark.parametrize("field", ["name", "input", "output_names", "sites"])
def test_show_refuses_a_lone_surrogate_without_a_traceback(
    field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(io.dumps(tapegrad.trace(lambda x: x * 2.0 if x > 0 else x, 1.0)))
    path = {"name": "name", "input": "records[0][2]", "output_names": "output_names[0]", "sites": "sites.2"}[field]
    if field == "name":
        document["name"] = "a\ud800"
    elif field == "input":
        document["records"][0][2] = "a\ud800"
    elif field == "output_names":
        document["output_names"] = ["a\ud800"]
    else:
        document["sites"] = {"2": "a\ud800"}
    (tmp_path / "tape.json").write_text(json.dumps(document), encoding="ascii")  # "\ud800" escaped, as JSON allows
    for fmt in ("tape", "python", "json"):
        assert main(["show", str(tmp_path / "tape.json"), "--format", fmt]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"tapegrad show: error: invalid tape file at {path}: the name 'a\\ud800' holds a lone surrogate "
            "('\\ud800' at character 1), which no tape file or terminal can hold; remove it or use another name\n"
        )


@pytest.mark.parametrize("fmt", ["tape", "sympy", "latex"])
def test_a_newline_in_a_name_cannot_forge_a_line(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tape = tapegrad.trace(lambda x: x * 2.0 if x > 0 else x, 1.0, names=["x\n  %9 = forged"])
    tape.name, tape.output_names = "f\nforged", ["out\nforged = 1"]
    tape.sites = {slot: "f.py:1\n  %8 = forged" for slot in tape.sites}
    io.save(tape, tmp_path / "tape.json")
    with pytest.warns(tapegrad.errors.GuardWarning) if fmt != "tape" else contextlib.nullcontext():
        assert main(["show", str(tmp_path / "tape.json"), "--format", fmt]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.lstrip().startswith(("%9", "%8", "forged"))]
    if fmt == "tape":
        assert len(lines) == len(tape) + 2
        assert lines[1] == "  %0 = input x\\n  %9 = forged"
    if fmt == "sympy":
        assert lines == ["out\\nforged = 1 = 2*x\\n  %9 = forged"]

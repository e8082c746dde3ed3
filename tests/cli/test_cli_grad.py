"""``tapegrad grad`` (tapegrad.cli), and ``tape.explain`` behind ``grad --explain``.

1. ``grad``: every output format, ``--wrt``, ``--at`` (numbers checked by
   hand), ``--order 2`` (the Hessian, entries named ``d2_x_y``), ``-o FILE``,
   ``--explain``;
2. ``tape.explain``: every record in reverse with its value, adjoint and
   what it sends; the final gradient is ``tape.gradient``'s.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import io
from tapegrad.cli import FORMATS
from tapegrad.errors import StaleTapeError
from tapegrad.lab.testing import random_program

from .running import EXPR, X, Y, check_dot, evaluate_sympy_lines, hand, import_file, numbers, run

# ---------------------------------------------------------------- 1. grad


def test_grad_prints_the_gradient_value_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "grad", EXPR, "--at", f"x={X},y={Y}")
    assert code == 0 and err == ""
    value, grad_x, grad_y = hand(X, Y)
    got = numbers(out)
    assert got["value"] == pytest.approx(value, rel=1e-14)
    assert got["grad_x"] == pytest.approx(grad_x, rel=1e-12)
    assert got["grad_y"] == pytest.approx(grad_y, rel=1e-12)
    assert out.splitlines()[:4] == ["t0 = tanh(x*y)", "t1 = 1 - t0**2", "grad_x = t1*y + 2*x", "grad_y = t1*x"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_grad_in_every_format(fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "grad", EXPR, "--format", fmt)
    assert code == 0 and err == ""
    text = out.removesuffix("\n")
    _, grad_x, grad_y = hand(X, Y)
    if fmt == "tape":
        assert text.splitlines()[0] == "tape grad_expr(x, y) -> grad_x, grad_y"
        assert "= tanh %2" in text and text.splitlines()[-1].startswith("  return ")
    elif fmt == "sympy":
        got = evaluate_sympy_lines(text, {"x": X, "y": Y})
        assert got["grad_x"] == pytest.approx(grad_x, rel=1e-12) and got["grad_y"] == pytest.approx(grad_y, rel=1e-12)
    elif fmt == "latex":
        assert text.startswith("\\begin{aligned}\n") and text.endswith("\n\\end{aligned}")
        assert "\\tanh" in text and "grad_{x} &= " in text and "grad_{y} &= " in text
    elif fmt in ("python", "numpy"):
        path = tmp_path / f"generated_{fmt}.py"
        path.write_text(text)
        module = import_file(path, f"generated_{fmt}")
        assert ("import numpy as np" in text) == (fmt == "numpy")
        gx, gy = module.grad_expr(X, Y)
        assert gx == pytest.approx(grad_x, rel=1e-12) and gy == pytest.approx(grad_y, rel=1e-12)
        if fmt == "numpy":
            xs = np.array([X, 1.0])
            assert module.grad_expr(xs, np.array([Y, 2.0]))[0][1] == pytest.approx(hand(1.0, 2.0)[1], rel=1e-12)
    elif fmt == "dot":
        assert "output grad_x" in text and "output grad_y" in text and "input x" in text
        check_dot(text)
    else:
        tape = io.loads(text)
        assert json.loads(text)["format"] == "tapegrad.tape"
        assert tape.outputs == ("grad_x", "grad_y")
        gx, gy = tape(X, Y)
        assert gx == pytest.approx(grad_x, rel=1e-12) and gy == pytest.approx(grad_y, rel=1e-12)


def test_grad_wrt_some_variables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "grad", EXPR, "--wrt", "y", "--at", f"x={X},y={Y}")
    assert code == 0
    assert "grad_x" not in out
    assert numbers(out)["grad_y"] == pytest.approx(hand(X, Y)[2], rel=1e-12)
    code, out, _ = run(capsys, "grad", "x * y * z", "--wrt", "z,x", "--at", "x=2,y=3,z=5")
    assert code == 0 and numbers(out) == {"value": 30.0, "grad_z": 6.0, "grad_x": 15.0}


def test_grad_order_two_is_the_hessian(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = 0.7, -0.4
    code, out, _ = run(capsys, "grad", "x**2 * y + sin(x * y)", "--order", "2", "--at", f"x={x},y={y}")
    assert code == 0
    got = numbers(out)
    s, c = math.sin(x * y), math.cos(x * y)
    expected = {
        "d2_x_x": 2 * y - y * y * s,
        "d2_x_y": 2 * x + c - x * y * s,
        "d2_y_x": 2 * x + c - x * y * s,
        "d2_y_y": -x * x * s,
    }
    assert set(got) == {"value"} | set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert got["value"] == pytest.approx(x * x * y + s, rel=1e-14)
    lines = out.splitlines()
    assert [line.split(" = ")[0] for line in lines if " = " in line and line.startswith("d2_")] == list(expected)


def test_grad_writes_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, printed, _ = run(capsys, "grad", EXPR, "--format", "python")
    target = tmp_path / "grad.py"
    code, out, err = run(capsys, "grad", EXPR, "--format", "python", "-o", str(target))
    assert code == 0 and out == f"wrote {target}\n" and err == ""  # as export says what it wrote
    assert target.read_text(encoding="utf-8") == printed
    code, out, _ = run(capsys, "grad", EXPR, "--format", "json", "-o", str(tmp_path / "g.json"), "--at", "x=1,y=2")
    assert code == 0 and set(numbers(out)) == {"value", "grad_x", "grad_y"}  # --at still prints
    assert tapegrad.Tape.load(tmp_path / "g.json").outputs == ("grad_x", "grad_y")


def test_grad_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "grad", "x * y + x", "--at", "x=3,y=2", "--explain")
    assert code == 0
    assert "backward pass of tape 'expr' at x=3.0, y=2.0" in out
    assert "%2 = mul %0 %1 | 6.0 | 1.0 | %0 += 2.0, %1 += 3.0" in out
    assert out.rstrip().endswith("gradient: d/dx = 3.0, d/dy = 3.0")


def test_grad_explain_needs_a_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "grad", "x * y", "--explain")
    assert code == 1
    assert err == "tapegrad grad: error: --explain needs a point: add --at x=...,y=...\n"


# ---------------------------------------------------------------- 5. tape.explain


def parse_explain(text: str) -> tuple[list[str], list[tuple[str, str, str, str]], str]:
    lines = text.splitlines()
    rows = [tuple(part.strip() for part in line.split(" | ")) for line in lines[2:-1]]
    assert all(len(row) == 4 for row in rows), rows
    return lines[:2], rows, lines[-1]  # type: ignore[return-value]


def check_explain(tape: tapegrad.Tape, *args: float, seed: Any = None) -> list[tuple[str, str, str, str]]:
    text = tape.explain(*args, seed=seed)
    header, rows, last = parse_explain(text)
    point = ", ".join(f"{n}={float(x)!r}" for n, x in zip(tape.inputs, args))
    assert header == [f"backward pass of tape {tape.name!r} at {point}", "  record | value | adjoint | sends"]
    # every record, in reverse
    assert [row[0] for row in rows] == [tape.format_record(i).split("  # ")[0] for i in reversed(range(len(tape)))]
    # what each record sends adds up to the adjoint printed for the operand
    adjoint = {slot: 0.0 for slot in range(len(tape))}
    adjoint.update(zip(tape.output_slots, [1.0] if seed is None else seed))  # the seeds, then what arrives
    for row in rows:
        slot = int(row[0].split(" = ")[0].lstrip("%"))
        assert row[2] == repr(adjoint[slot]), row
        for target, amount in re.findall(r"%(\d+) \+= (\S+?)(?:,|$)", row[3]):
            adjoint[int(target)] += float(amount)
    # the final gradient is tape.gradient's, digit for digit
    gradient = tape.gradient(*args, seed=seed)
    assert last == "gradient: " + ", ".join(f"d/d{n} = {g!r}" for n, g in zip(tape.inputs, gradient))
    return rows


def test_explain_lists_every_record_in_reverse() -> None:
    tape = tapegrad.parse("where(x > 0, sqrt(x), 0) * y + x * x + tanh(x * y)")
    rows = check_explain(tape, 2.0, 3.0)
    assert rows[0] == ("%11 = add %8 %10", repr(tape(2.0, 3.0)), "1.0", "%8 += 1.0, %10 += 1.0")
    assert ("%7 = mul %0 %0", "4.0", "1.0", "%0 += 2.0, %0 += 2.0") in rows  # x used twice: sent twice
    assert rows[-1][:2] == ("%0 = input x", "2.0")


def test_explain_at_a_point_where_the_branch_is_not_taken() -> None:
    tape = tapegrad.parse("where(x > 0, sqrt(x), 0) * y")
    rows = check_explain(tape, -1.0, 3.0)
    assert ("%4 = sqrt %0", "nan", "0.0", "nothing (zero adjoint)") in rows


@pytest.mark.parametrize("seed", range(5))
def test_explain_agrees_with_gradient_on_random_programs(seed: int) -> None:
    f = random_program(30, inputs=3, seed=seed)
    tape = tapegrad.trace(f, 0.1, 0.2, 0.3)
    check_explain(tape, 0.3, -0.7, 1.1)


def test_explain_with_guards_and_seeds() -> None:
    def f(x, y):  # type: ignore[no-untyped-def]
        if x > 0:
            return x * y, (x * x).exp()
        return -x, y

    tape = tapegrad.trace(f, 1.0, 2.0)
    check_explain(tape, 0.5, 2.0, seed=(1.0, 0.0))
    check_explain(tape, 0.5, 2.0, seed=(2.0, -3.0))
    with pytest.raises(StaleTapeError):
        tape.explain(-1.0, 2.0, seed=(1.0, 1.0))


def test_explain_shows_itself_as_text_in_a_repl_and_in_jupyter() -> None:
    tape = tapegrad.parse("x * y + x")
    explanation = tape.explain(3.0, 2.0)
    text = "\n".join(
        [
            "backward pass of tape 'expr' at x=3.0, y=2.0",
            "  record | value | adjoint | sends",
            "  %3 = add %2 %0 | 9.0 | 1.0 | %2 += 1.0, %0 += 1.0",
            "  %2 = mul %0 %1 | 6.0 | 1.0 | %0 += 2.0, %1 += 3.0",
            "  %1 = input y | 2.0 | 3.0 | (the gradient of y)",
            "  %0 = input x | 3.0 | 3.0 | (the gradient of x)",
            "gradient: d/dx = 3.0, d/dy = 3.0",
        ]
    )
    assert isinstance(explanation, str) and str(explanation) == explanation == text
    assert type(str(explanation)) is str
    assert repr(explanation) == text  # a REPL shows the lines, not one quoted string with \n in it
    assert explanation._repr_markdown_() == f"```text\n{text}\n```"

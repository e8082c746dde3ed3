"""One forward loop and one backward loop (issue 13 items 4 and 5).

``explain``, symbolic export and eager ``backward()`` run the interpreter's
loops (:mod:`tapegrad.core.interpret`), watching them through hooks, instead
of copies that drift; a :class:`~tapegrad.Tape` is the program, and what
recording, eager backward, the compile cache and sympy keep about a tape
lives with the code that uses it; ``export`` is a pipeline of its own.
"""

from __future__ import annotations

import ast
import gc
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import tapegrad
from tapegrad import Tape, Value
from tapegrad.core.interpret import ARRAY, FLOAT, backward, forward
from tapegrad.core.ops import OpKind
from tapegrad.formats import codegen
from tapegrad.formats import export as export_module
from tapegrad.formats.symbolic_import import SYMBOLS
from tapegrad.lab.testing import random_program
from tapegrad.values.tapes import EagerTape, RecordingTape

PACKAGE = Path(tapegrad.__file__).resolve().parent


def gradient_line(tape: Tape, *args: Any) -> str:
    return tape.explain(*args).splitlines()[-1]


def expected_line(tape: Tape, *args: Any) -> str:
    return "gradient: " + ", ".join(f"d/d{n} = {g!r}" for n, g in zip(tape.inputs, tape.gradient(*args)))


# ---------------------------------------------------------------- explain watches the interpreter


def test_explain_keeps_a_negative_zero_gradient() -> None:
    """explain added each contribution to 0.0, so d/dx of x * y at y = -0.0 showed 0.0 (tape.gradient: -0.0)."""
    tape = tapegrad.trace(lambda x, y: x * y, 1.0, 2.0)
    line = gradient_line(tape, 3.0, -0.0)
    assert line == "gradient: d/dx = -0.0, d/dy = 3.0" == expected_line(tape, 3.0, -0.0)


def test_explain_lists_a_negative_zero_sent_by_a_zero_adjoint() -> None:
    """A zero adjoint that sends -0.0 sets the sign of a zero gradient, so it is listed, not 'nothing'."""
    tape = tapegrad.trace(lambda x, y: (x * y) * -0.0, 1.0, 2.0)
    text = tape.explain(3.0, -2.0)
    assert "%2 = mul %0 %1 | -6.0 | -0.0 | %0 += -0.0, %1 += -0.0" in text
    assert text.splitlines()[-1] == expected_line(tape, 3.0, -2.0) == "gradient: d/dx = -0.0, d/dy = -0.0"
    assert "| 0.0 | nothing (zero adjoint)" in tapegrad.trace(lambda x: (x * x) * 0.0, 1.0).explain(2.0)


def test_explain_of_an_array_tape_with_a_float32_input_equals_the_gradient() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y).sum(), np.ones(3), np.ones(3, dtype=np.float32))
    x, y = np.array([1.0, 2.0, 3.0]), -np.zeros(3, dtype=np.float32)
    text = tape.explain(x, y)
    gx, gy = tape.gradient(x, y)
    assert text.splitlines()[-1] == "gradient: d/dx = [-0., -0., -0.], d/dy = [1., 2., 3.]"
    assert np.all(np.signbit(gx)) and gy.dtype == np.float32


@pytest.mark.parametrize("seed", range(8))
def test_explain_agrees_with_gradient_bit_for_bit_on_random_programs(seed: int) -> None:
    tape = tapegrad.trace(random_program(40, inputs=3, seed=seed), 0.1, 0.2, 0.3)
    for point in [(0.3, -0.7, 1.1), (-0.0, 0.0, -0.5), (2.0, -3.0, 0.0)]:
        assert gradient_line(tape, *point) == expected_line(tape, *point), (seed, point)


def test_explain_runs_the_interpreters_backward_and_holds_no_sweep_of_its_own() -> None:
    source = (PACKAGE / "functional" / "replay.py").read_text()
    tree = ast.parse(source)
    explain = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "explain")
    called = {n.func.id for n in ast.walk(explain) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"forward", "backward"} <= called
    assert "vjp" not in ast.unparse(explain)  # no backward rule is called here


# ---------------------------------------------------------------- the hooks


def test_backward_hook_sees_each_reached_record_newest_first_with_what_it_sends() -> None:
    tape = tapegrad.trace(lambda x, y: (x * y + x).tanh(), 0.5, -1.5)
    values = forward(tape, [0.5, -1.5], FLOAT)
    seen: list[tuple[int, Any, list[tuple[int, Any]]]] = []
    adjoint = backward(tape, values, {tape.output_slots[0]: 1.0}, FLOAT, on_adjoint=lambda *step: seen.append(step))
    assert adjoint == backward(tape, values, {tape.output_slots[0]: 1.0}, FLOAT)  # the hook changes nothing
    slots = [slot for slot, _, _ in seen]
    assert slots == sorted(slots, reverse=True) == [s for s in range(len(tape) - 1, -1, -1) if adjoint[s] is not None]
    for slot, g, sent in seen:
        assert g == adjoint[slot]
        assert [a for a, _ in sent] == (list(tape.args[slot]) if tape.ops[slot] is not OpKind.INPUT else [])
    total: dict[int, float] = {}
    for _, _, sent in seen:
        for a, c in sent:
            total[a] = total.get(a, 0.0) + c
    assert all(math.isclose(total[s], adjoint[s]) for s in tape.input_slots)


def test_backward_hook_sees_cotangents_summed_back_to_each_operand_shape() -> None:
    tape = tapegrad.trace(lambda W, b: (W + b).sum(), np.ones((2, 3)), np.ones(3))
    values = forward(tape, [np.ones((2, 3)), np.ones(3)], ARRAY)
    sent_to: dict[int, tuple[int, ...]] = {}
    backward(
        tape, values, {tape.output_slots[0]: 1.0}, ARRAY,
        on_adjoint=lambda slot, g, sent: sent_to.update({a: np.shape(c) for a, c in sent}),
    )  # fmt: skip
    assert sent_to[tape.input_slots[0]] == (2, 3) and sent_to[tape.input_slots[1]] == (3,)


def test_forward_hook_sees_op_records_only_and_its_answer_is_kept() -> None:
    tape = tapegrad.trace(lambda x, y: (x + 1.0) * y, 2.0, 3.0)
    seen: list[int] = []

    def double(slot: int, value: float) -> float:
        seen.append(slot)
        return 2.0 * value

    values = forward(tape, [2.0, 3.0], FLOAT, on_record=double)
    assert seen == [i for i, kind in enumerate(tape.ops) if kind not in (OpKind.INPUT, OpKind.CONST, OpKind.GUARD)]
    assert values[tape.output_slots[0]] == 2.0 * (2.0 * (2.0 + 1.0) * 3.0)


def test_symbolic_cse_form_is_the_forward_loop_with_a_hook() -> None:
    def f(x: Value, y: Value) -> Value:
        z = x * y
        return z.tanh() + z.exp()

    tape = tapegrad.trace(f, 1.0, 2.0)
    replacements, (expr,) = tape.to_sympy(cse=True)
    x, y = sp.symbols("x y")
    assert replacements == [(sp.Symbol("t0"), x * y)]
    assert expr == sp.tanh(sp.Symbol("t0")) + sp.exp(sp.Symbol("t0"))
    tree = ast.parse((PACKAGE / "formats" / "symbolic.py").read_text())
    cse_form = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_cse_form")
    called = {n.func.id for n in ast.walk(cse_form) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "forward" in called and "functions" not in ast.unparse(cse_form)  # no op rules looked up here


def test_eager_backward_runs_the_interpreters_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    from tapegrad.values import eager

    swept: list[int] = []
    real = eager.sweep

    def watched(tape: Any, values: Any, seeds: Any, domain: Any) -> Any:
        swept.append(len(tape))
        return real(tape, values, seeds, domain)

    monkeypatch.setattr(eager, "sweep", watched)
    x = Value(2.0)
    y = (x * x).tanh()
    y.backward()
    assert swept and x.grad == pytest.approx(2 * 2.0 * (1 - math.tanh(4.0) ** 2))


# ---------------------------------------------------------------- Tape is the program

PROGRAM_FIELDS = {
    "name", "ops", "args", "attrs", "values", "input_slots", "output_slots", "output_names", "structure",
    "sites", "captures", "nbytes", "array", "narrow", "broadcasts", "traced", "sealed", "reads_shape",
}  # fmt: skip


def test_a_tape_holds_the_program_and_nothing_else() -> None:
    assert set(vars(Tape("t"))) == PROGRAM_FIELDS


def test_recording_state_lives_on_the_tapes_values_record_onto(tmp_path: Path) -> None:
    traced = tapegrad.trace(lambda x: x * 2.0 + 2.0, 1.0)
    assert type(traced) is RecordingTape and len(traced.const_slots) == 1  # 2.0 recorded once, found again
    x = Value(1.0)
    y = x * 3.0
    assert type(y._tape) is EagerTape and y._tape.sources == {0: x}
    traced.save(tmp_path / "t.json")
    made = [tapegrad.optimize(traced), Tape.load(tmp_path / "t.json")]
    made.append(tapegrad.from_sympy(sp.Symbol("x") ** 2, [sp.Symbol("x")]))
    for tape in made:
        assert type(tape) is Tape, tape
        assert set(vars(tape)) == PROGRAM_FIELDS


def test_a_closed_eager_tape_is_sealed_and_takes_no_guard() -> None:
    x = Value(2.0)
    y = x * x
    tape = y._tape
    assert tape is not None
    y.backward()
    assert tape.sealed
    size = len(tape)
    assert y > 1.0  # a comparison and its guard on a new tape that links back to y, none on the closed one
    assert len(tape) == size


def test_the_compile_cache_goes_with_its_tape() -> None:
    tape = tapegrad.trace(lambda x: x.exp(), 1.0)
    f = tape.compile()
    assert tape.compile() is f and f(0.0) == 1.0
    assert "math" in codegen._COMPILED[tape]
    size = len(codegen._COMPILED)
    del tape
    gc.collect()
    assert len(codegen._COMPILED) == size - 1


def test_sympy_symbols_follow_the_tapes_derived_from_a_sympy_tape() -> None:
    x, y = sp.symbols("x y", positive=True)
    tape = tapegrad.from_sympy(sp.log(x * y) + x**2, [x, y])
    assert SYMBOLS[tape] == [x, y]
    for derived in (tapegrad.optimize(tape), tapegrad.grad_tape(tape)):
        assert SYMBOLS[derived] == [x, y]
    assert tapegrad.optimize(tape).to_sympy().free_symbols == {x, y}  # the positive symbols, not fresh ones


# ---------------------------------------------------------------- export is a pipeline


def test_export_is_one_function_under_every_path(tmp_path: Path) -> None:
    from tapegrad.formats.codegen import export

    assert export is tapegrad.export is export_module.export is codegen.export
    path = export(tapegrad.trace(lambda x, y: x * y.exp(), 1.0, 1.0), tmp_path / "m.py", name="f")
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our own generated module
    assert namespace["f"](2.0, 0.0) == 2.0
    assert namespace["f_grad"](2.0, 0.0) == (1.0, 2.0)
    assert namespace["f_value_and_grad"](2.0, 0.0) == (2.0, (1.0, 2.0))


def test_the_emitter_does_not_trace_or_differentiate() -> None:
    """codegen.py writes code for a given tape; tracing and grad_tape are the export pipeline's steps."""
    tree = ast.parse((PACKAGE / "formats" / "codegen.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.startswith("functional") for m in imported), imported

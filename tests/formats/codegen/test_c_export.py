"""``export(..., backend="c")``: a C file, one statement per record, giving the interpreter's numbers.

Specification: the exported functions (``NAME``, ``NAME_grad``,
``NAME_value_and_grad`` and their ``_batch`` forms), compiled with the
backend's flags and loaded with ctypes, agree with the interpreter as the
C machine does (every scalar op at special values, random programs); guards
return their number; names that are not C identifiers and ``tests=True``
are refused; user text reaches the file only inside sanitised comments.
Skipped without a C compiler.
"""

from __future__ import annotations

import ctypes
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import tapegrad
from tapegrad.core.ops import OPS
from tapegrad.errors import CompilerNotFoundError, InputTypeError, UnknownNameError
from tapegrad.formats import cbuild
from tapegrad.formats.cprinter import LIBM_WITHIN_AN_ULP
from tapegrad.formats.csource import CFunctionSource, c_source, comment_text
from tapegrad.values.value import apply

from .programs import Step, assert_same, same
from .test_c_backend import identical
from .test_codegen_agreement import EDGE_INPUTS, cases, trace_program

try:
    cbuild.find_compiler()
except CompilerNotFoundError as missing:
    pytest.skip(f"no C compiler: {missing}", allow_module_level=True)

_files = itertools.count()


def load(path: Path, tmp_path: Path) -> Any:
    return ctypes.CDLL(str(cbuild.compile_library(path.read_text(), tmp_path / f"lib{next(_files)}.so")))


def call(library: Any, name: str, inputs: int, outputs: int, *point: float) -> tuple[int, list[float]]:
    x, y = (ctypes.c_double * max(inputs, 1))(*point), (ctypes.c_double * outputs)()
    return getattr(library, name)(x, y), list(y)


def test_every_scalar_op_in_one_file_gives_the_interpreters_bits(tmp_path: Path) -> None:
    ops = [op for op in OPS if op.scalar is not None and not op.has_attr]
    functions = [
        CFunctionSource(tapegrad.trace(lambda *xs, op=op: apply(op, *xs), *[0.5] * op.arity), f"op_{op.name}")
        for op in ops
    ]
    source = tmp_path / "ops.c"
    source.write_text(c_source(functions))
    library = load(source, tmp_path)
    for op in ops:
        points = np.array(list(itertools.product(EDGE_INPUTS, repeat=op.arity)))
        got = np.empty(len(points))
        run = getattr(library, f"op_{op.name}_batch")
        run.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        assert run(len(points), points.ctypes.data, got.ctypes.data) == 0
        check = same if op.name in LIBM_WITHIN_AN_ULP else identical
        for point, value in zip(points.tolist(), got):
            assert check(op.scalar(*point), value), f"{op.name}{tuple(point)}: {value!r}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases())
def test_exported_value_and_gradient_agree_with_the_interpreter(
    tmp_path: Path, case: tuple[list[Step], list[list[float]]]
) -> None:
    program, points = case
    tape = trace_program(program, points[0])
    path = tapegrad.export(tape, tmp_path / f"program{next(_files)}.c", "program", backend="c")
    library = load(path, tmp_path)
    n = len(tape.inputs)
    for point in points:
        expected_value, expected_grads = tape.value_and_gradient(*point)
        status, got = call(library, "program_value_and_grad", n, n + 1, *point)
        assert status == 0
        assert_same([expected_value, *expected_grads], got, f"value and gradient at {point}")
        assert_same(list(expected_grads), call(library, "program_grad", n, n, *point)[1], f"gradient at {point}")


def test_a_guard_returns_its_number(tmp_path: Path) -> None:
    tape = tapegrad.trace(lambda x: x * 2.0 if x > 0 else -x, 1.0)
    library = load(tapegrad.export(tape, tmp_path / "branch.c", "branch", backend="c"), tmp_path)
    assert call(library, "branch", 1, 1, 3.0) == (0, [6.0])
    assert call(library, "branch", 1, 1, -3.0)[0] == 1  # the first guard: inputs took the other branch


def test_names_tests_and_hostile_text(tmp_path: Path) -> None:
    hostile = "x */ int main(void) { return 1; } /*\n#include <stdio.h>"
    tape = tapegrad.trace(lambda a: (a * a).sin(), 1.0, names=[hostile])
    text = tapegrad.export(tape, tmp_path / "h.c", "h", backend="c").read_text()
    assert "<stdio.h>" not in text and "{ return 1; }" not in text and text.count("*/") == text.count("/*")
    assert not set(comment_text(hostile)) & set("*/\n{};<>#")
    with pytest.raises(UnknownNameError, match="cannot name a C function"):
        tapegrad.export(tape, tmp_path / "bad.c", "naïve", backend="c")
    with pytest.raises(InputTypeError, match="tests=True"):
        tapegrad.export(tape, tmp_path / "t.c", "t", backend="c", tests=True)
    assert math.isclose(call(load(tmp_path / "h.c", tmp_path), "h", 1, 1, 0.5)[1][0], math.sin(0.25))


def test_an_exported_guard_read_as_an_operand_keeps_its_slot_alive(tmp_path: Path) -> None:
    from tapegrad.formats import io

    doc = (
        '{"format":"tapegrad.tape","version":1,"name":"f","records":[["input",[],"x"],["const",[],"0.0"],'
        '["gt",[0,1]],["guard",[2],true],["mul",[2,0]],["add",[3,4]]],"inputs":[0],"example":["0.5"],'
        '"captured":{},"outputs":[5],"output_names":["out"],"structure":"value","sites":{}}'
    )
    source = tmp_path / "guard.c"
    source.write_text(c_source([CFunctionSource(io.loads(doc), "f")]))
    assert call(load(source, tmp_path), "f", 1, 1, 3.0) == (0, [4.0])

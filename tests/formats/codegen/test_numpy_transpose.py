"""numpy code writes a matrix's transpose as ``.T`` (the same view as ``np.transpose(x, (1, 0))``), others as calls."""

from __future__ import annotations

import numpy as np

import tapegrad
from tapegrad.formats.codegen import to_source


def test_a_matrix_transpose_is_printed_as_T_and_gives_the_interpreters_bits() -> None:
    def f(a: object, b: object) -> object:
        return ((a @ b.T).relu() * a.T.sum()).sum()

    a = np.array([[1.0, -0.0, np.inf], [2.0, 3.0, -1.0]])
    b = np.array([[0.5, np.nan, 1.0], [-2.0, 0.0, 4.0]])
    tape = tapegrad.optimize(tapegrad.grad_tape(tapegrad.trace(f, a, b)))
    source = to_source(tape, backend="numpy")
    assert ".T\n" in source and "np.transpose" not in source
    with np.errstate(all="ignore"):
        want = tape(a, b)
        got = tape.compile("numpy")(a, b)
    assert len(got) == len(want)
    for x, y in zip(got, want):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()


def test_other_permutations_stay_calls() -> None:
    def f(x: object) -> object:
        return (x.transpose((2, 0, 1)) * 2.0).sum()

    x = np.arange(24.0).reshape(2, 3, 4)
    tape = tapegrad.trace(f, x)
    source = to_source(tape, backend="numpy")
    assert "np.transpose(x, (2, 0, 1))" in source
    assert tape.compile("numpy")(x) == float(tape(x))

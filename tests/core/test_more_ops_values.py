"""The elementwise ops of issue 16: their values against numpy/scipy at ordinary and edge points, IEEE answers
where ``math`` raises, and the parser, sympy, operator, import and file names (the cases: more_op_cases.py)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OPS, OpKind
from tapegrad.formats.codegen import compile_tape
from tapegrad.lab.closure import Value as ClosureValue

from .more_op_cases import (
    BY_CASE,
    CASES,
    INF,
    NAN,
    Case,
    _edge_points,
    bits,
    near,
)


def test_every_op_of_issue_16_is_specified_here() -> None:
    added = {kind for kind in OpKind if OpKind.TAN <= kind <= OpKind.CLIP}  # prod, cumsum: test_numpy_dispatch
    assert {case.kind for case in CASES} == added
    for case in CASES:  # each case records exactly its op (and constants)
        tape = tapegrad.trace(case.call, *case.points[0])
        assert {record.op for record in tape.records} - {OpKind.INPUT, OpKind.CONST} == {case.kind}


def test_the_rows_keep_the_old_numbers_and_name_their_functions() -> None:
    assert OpKind.SMATMUL == 46 and OpKind.TAN == 47 and OpKind.CLIP == 78
    for case in CASES:
        op = OPS[case.kind]
        assert op.parse_name == op.name and op.elementwise and op.symbolic is not None
    sympy_names = {str(case.kind): OPS[case.kind].sympy_name for case in CASES if OPS[case.kind].sympy_name}
    assert sympy_names == {"tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "atan2": "atan2",
                           "sinh": "sinh", "cosh": "cosh", "asinh": "asinh", "acosh": "acosh", "atanh": "atanh",
                           "erf": "erf", "erfc": "erfc", "sign": "sign", "floor": "floor", "ceil": "ceiling",
                           "mod": "Mod"}  # fmt: skip


# ---------------------------------------------------------------- values


@pytest.fixture
def no_warnings() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield




def _reference(case: Case, point: Sequence[float]) -> float:
    with np.errstate(all="ignore"):
        if case.kind is OpKind.CLIP:  # np.clip's loops differ at signed zeros; tapegrad keeps x at a bound
            x, lo, hi = point
            return NAN if NAN in point or any(map(math.isnan, point)) else min(max(x, lo), hi) if lo <= hi else hi
        return float(case.reference(*[np.float64(p) for p in point]))


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("case", BY_CASE)
def test_value_matches_numpy_at_ordinary_and_edge_points(case: Case) -> None:
    points = list(case.points) + _edge_points(case)
    for point in points:
        expected = _reference(case, point)
        if case.kind is OpKind.CLIP and point[0] == 0.0 and any(b == 0.0 for b in point[1:]):
            continue  # a zero x at a zero bound: x's own zero, checked in test_clip_keeps_x_at_its_bounds
        assert near(case.call(*[Value(p) for p in point]).data, expected), (point, expected)
    columns = [np.array(column) for column in zip(*points)]
    replayed = tapegrad.trace(case.call, *case.points[0])(*columns)
    for k, point in enumerate(points):
        assert bits(replayed[k]) == bits(case.call(*[Value(p) for p in point]).data) or near(
            replayed[k], case.call(*[Value(p) for p in point]).data
        ), point


# fmt: off
IEEE = [
    ("asin(2) = nan", lambda x: x.asin(), 2.0, NAN),
    ("acos(-1.5) = nan", lambda x: x.acos(), -1.5, NAN),
    ("atanh(1) = inf", lambda x: x.atanh(), 1.0, INF),
    ("atanh(-1) = -inf", lambda x: x.atanh(), -1.0, -INF),
    ("atanh(2) = nan", lambda x: x.atanh(), 2.0, NAN),
    ("acosh(0.5) = nan", lambda x: x.acosh(), 0.5, NAN),
    ("acosh(1) = 0", lambda x: x.acosh(), 1.0, 0.0),
    ("log1p(-1) = -inf", lambda x: x.log1p(), -1.0, -INF),
    ("log1p(-2) = nan", lambda x: x.log1p(), -2.0, NAN),
    ("log2(0) = -inf", lambda x: x.log2(), 0.0, -INF),
    ("log10(-0.0) = -inf", lambda x: x.log10(), -0.0, -INF),
    ("log10(-1) = nan", lambda x: x.log10(), -1.0, NAN),
    ("exp2(2000) = inf", lambda x: x.exp2(), 2000.0, INF),
    ("expm1(1000) = inf", lambda x: x.expm1(), 1000.0, INF),
    ("sinh(-1000) = -inf", lambda x: x.sinh(), -1000.0, -INF),
    ("cosh(-1000) = inf", lambda x: x.cosh(), -1000.0, INF),
    ("tan(inf) = nan", lambda x: x.tan(), INF, NAN),
    ("cbrt(-27) = -3", lambda x: x.cbrt(), -27.0, -3.0),
    ("reciprocal(-0.0) = -inf", lambda x: x.reciprocal(), -0.0, -INF),
    ("softplus(1000) = 1000", lambda x: x.softplus(), 1000.0, 1000.0),
    ("softplus(-inf) = 0", lambda x: x.softplus(), -INF, 0.0),
    ("sign(-0.0) = 0.0", lambda x: x.sign(), -0.0, 0.0),
    ("sign(nan) = nan", lambda x: x.sign(), NAN, NAN),
    ("ceil(-0.5) = -0.0", lambda x: x.ceil(), -0.5, -0.0),
    ("trunc(-0.5) = -0.0", lambda x: x.trunc(), -0.5, -0.0),
    ("round(-0.4) = -0.0", lambda x: x.round(), -0.4, -0.0),
    ("round(2.5) = 2 (half to even)", lambda x: x.round(), 2.5, 2.0),
    ("round(-3.5) = -4", lambda x: x.round(), -3.5, -4.0),
    ("round(0.49999999999999994) = 0", lambda x: x.round(), 0.49999999999999994, 0.0),
    ("floor(-inf) = -inf", lambda x: x.floor(), -INF, -INF),
    ("round(nan) = nan", lambda x: x.round(), NAN, NAN),
    ("-1 % 3 = 2", lambda x: x % 3.0, -1.0, 2.0),
    ("1 % -0.0 = nan", lambda x: x % -0.0, 1.0, NAN),
    ("-0.0 % 3 = 0.0", lambda x: x % 3.0, -0.0, 0.0),
    ("inf % 3 = nan", lambda x: x % 3.0, INF, NAN),
    ("-1 % inf = inf", lambda x: x % INF, -1.0, INF),
    ("fmod(-1, 3) = -1", lambda x: x.fmod(3.0), -1.0, -1.0),
    ("fmod(inf, 3) = nan", lambda x: x.fmod(3.0), INF, NAN),
    ("fmod(1, 0) = nan", lambda x: x.fmod(0.0), 1.0, NAN),
    ("1 // 0 = inf", lambda x: x // 0.0, 1.0, INF),
    ("1 // -0.0 = -inf", lambda x: x // -0.0, 1.0, -INF),
    ("0 // 0 = nan", lambda x: x // 0.0, 0.0, NAN),
    ("-7 // 2 = -4", lambda x: x // 2.0, -7.0, -4.0),
    ("clip(nan, 0, 1) = nan", lambda x: x.clip(0.0, 1.0), NAN, NAN),
    ("clip(0.5, nan, 1) = nan", lambda x: x.clip(NAN, 1.0), 0.5, NAN),
    ("clip(2, 3, 1) = 1 (crossed bounds: hi)", lambda x: x.clip(3.0, 1.0), 2.0, 1.0),
    ("clip(-5, None, 1) = -5", lambda x: x.clip(None, 1.0), -5.0, -5.0),
    ("logaddexp(-inf, -inf) = -inf", lambda x: x.logaddexp(x), -INF, -INF),
    ("logaddexp(inf, inf) = inf", lambda x: x.logaddexp(x), INF, INF),
    ("hypot(inf, nan) = inf", lambda x: x.hypot(NAN), INF, INF),
    ("atan2(-0.0, -1) = -pi", lambda x: x.atan2(-1.0), -0.0, -math.pi),
]
# fmt: on


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("f, x, expected", [pytest.param(f, x, e, id=name) for name, f, x, e in IEEE])
def test_ieee_values_where_math_raises(f: Callable[[Any], Any], x: float, expected: float) -> None:
    assert bits(f(Value(x)).data) == bits(expected)
    assert bits(f(ClosureValue(x)).data) == bits(expected)
    tape = tapegrad.trace(f, 1.5)
    assert bits(tape(x)) == bits(expected)
    assert bits(tape(np.array([x, x]))[1]) == bits(expected)
    assert bits(compile_tape(tape)(x)) == bits(expected)
    assert bits(compile_tape(tape, "numpy")(np.array([x]))[0]) == bits(expected)


def test_clip_keeps_x_at_its_bounds() -> None:
    """-0.0 clipped to [0, 1] is -0.0 in every engine (np.clip's own loops disagree: its scalar path
    gives -0.0, its array path 0.0); tapegrad keeps x wherever it lies in the closed interval."""
    tape = tapegrad.trace(lambda x: x.clip(0.0, 1.0), 0.5)
    assert bits(Value(-0.0).clip(0.0, 1.0).data) == bits(tape(-0.0)) == bits(-0.0)
    assert bits(tape(np.array([-0.0, 0.5]))[0]) == bits(compile_tape(tape, "numpy")(np.array([-0.0]))[0]) == bits(-0.0)


def test_array_values_broadcast_and_keep_float32() -> None:
    y = Value(np.linspace(-2.0, 2.0, 3).reshape(3, 1))
    x = Value(np.array([0.5, 1.0, 2.0, 3.0]))
    out = y.atan2(x) + (y % x) + y.hypot(x).log1p()
    assert out.shape == (3, 4)
    out.sum().backward()
    assert y.grad.shape == (3, 1) and x.grad.shape == (4,)
    single = Value(np.array([0.25, -0.5], dtype=np.float32))
    assert single.asin().dtype == np.float32 and single.clip(-0.3, 0.3).dtype == np.float32
    assert single.erf().dtype == np.float32

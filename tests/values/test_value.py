"""Value: micrograd's API and numbers, gradient accumulation, linking of tapes, errors."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OpKind
from tapegrad.core.state import STATE
from tapegrad.errors import ConcretizationError, InputTypeError, LeakedValueError, StaleTapeError, TapegradError


def test_micrograd_readme_example() -> None:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"
    g.backward()
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


# micrograd's test/test_engine.py with only the import changed; the expected
# numbers are what PyTorch 2.13.0 computes in float64 for the same programs.
def test_sanity_check() -> None:
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y
    assert ymg.data == -20.0
    assert xmg.grad == 46.0


def test_more_ops() -> None:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    tol = 1e-6
    assert abs(g.data - 24.70408163265306) < tol
    assert abs(a.grad - 138.83381924198252) < tol
    assert abs(b.grad - 645.5772594752186) < tol


def test_integers_become_floats() -> None:
    assert Value(3).data == 3.0 and type(Value(3).data) is float
    assert (Value(10) ** 400).data == math.inf
    assert Value(10**400).data == math.inf
    assert Value(True).data == 1.0


@pytest.mark.parametrize("bad", ["1.0", None, 1j, object()])
def test_non_numeric_data_is_refused(bad: object) -> None:
    with pytest.raises(InputTypeError, match="real number"):
        Value(bad)


def test_non_numeric_operand_is_refused() -> None:
    with pytest.raises(InputTypeError, match="real number"):
        Value(1.0) + "2"  # type: ignore[operator]
    with pytest.raises(InputTypeError):
        Value(1.0) * 1j  # type: ignore[operator]


def test_reflected_and_inplace_operators() -> None:
    x = Value(3.0)
    assert (2 - x).data == -1.0
    assert (6 / x).data == 2.0
    assert (2**x).data == 8.0
    assert (-x).data == -3.0 and (+x) is x
    y = x
    y += 1
    y -= 2
    y *= 3
    y /= 4
    y **= 2
    assert y.data == pytest.approx(((3 + 1 - 2) * 3 / 4) ** 2)
    y.backward()
    assert x.grad == pytest.approx(2 * ((3 + 1 - 2) * 3 / 4) * 3 / 4)


def test_intermediate_grads_and_sums_of_contributions() -> None:
    x = Value(3.0)
    h = x * x
    y = h + h + x
    y.backward()
    assert h.grad == 2.0
    assert x.grad == 2 * 2 * 3.0 + 1
    assert y.grad == 1.0


def test_second_backward_adds_the_same_gradient_again() -> None:
    x = Value(2.0)
    y = x * x * x
    y.backward()
    assert x.grad == 12.0
    y.backward()
    assert x.grad == 24.0
    x.grad = 0
    y.backward()
    assert x.grad == 12.0


def test_unused_leaf_gets_zero_and_leaf_backward() -> None:
    x, unused = Value(1.0), Value(5.0)
    y = x.exp()
    y.backward()
    assert unused.grad == 0.0
    x.backward()
    assert x.grad == math.e + 1.0


def test_values_of_a_finished_step_still_combine() -> None:
    """backward() closes its tape; later results link back to it."""
    w = Value(0.5)
    first = w * 3.0
    first.backward()
    assert w.grad == 3.0
    later = first * first  # recorded on a new tape, linked to the closed one
    assert later._tape is not first._tape
    later.backward()
    assert w.grad == 3.0 + 2 * 1.5 * 3.0


def test_eager_values_from_separate_computations_combine() -> None:
    a = Value(2.0) * 3.0
    b = Value(4.0).tanh()
    c = a * b
    c.backward()
    assert c.data == 6.0 * math.tanh(4.0)


def test_deep_chain_has_no_recursion_limit() -> None:
    x = Value(0.3)
    y = x
    for _ in range(10**6):
        y = (0.5 * y + 0.1).tanh()
    y.backward()
    assert math.isfinite(y.data) and x.grad == 0.0  # (0.5 * tanh')**1e6 underflows to 0


def test_deep_chain_gradient_is_exact_for_a_linear_chain() -> None:
    x = Value(1.0)
    y = x
    for _ in range(300_000):
        y = y + 1.0
    y.backward()
    assert y.data == 300_001.0 and x.grad == 1.0


def test_no_reference_cycles() -> None:
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        loss = ((x * 2).tanh() + x.exp()) ** 2
        loss.backward()
        del loss
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_conversions_outside_trace_return_the_data() -> None:
    v = Value(2.7) * 1.0
    assert float(v) == 2.7 and int(v) == 2 and bool(v) is True
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
    assert Value(1.0, name="w").name == "w"


def test_float_inside_trace_is_a_concretization_error() -> None:
    def f(x: Value) -> float:
        return float(x) * 2

    with pytest.raises(ConcretizationError, match=r"float\(\) of a traced Value at .*test_value.py:\d+"):
        tapegrad.trace(f, 1.0)
    with pytest.raises(ConcretizationError, match=r"int\(\)"):
        tapegrad.trace(lambda x: int(x), 1.0)
    assert not STATE.traces  # the failed trace was unwound


def test_leaked_value_is_refused() -> None:
    leaked: list[Value] = []

    def f(x: Value) -> Value:
        leaked.append(x * 2)
        return x

    tapegrad.trace(f, 1.0)
    with pytest.raises(LeakedValueError, match="leaked"):
        leaked[0] + 1
    with pytest.raises(LeakedValueError):
        leaked[0].backward()
    assert isinstance(LeakedValueError("x"), TapegradError)


def test_backward_inside_trace_is_refused() -> None:
    def f(x: Value) -> Value:
        y = x * x
        y.backward()
        return y

    with pytest.raises(ConcretizationError, match="tapegrad.grad"):
        tapegrad.trace(f, 1.0)


def test_outside_values_enter_a_trace_as_constants() -> None:
    w = Value(2.0)
    tape = tapegrad.trace(lambda x: w * x, 3.0)
    assert tape(5.0) == 10.0
    assert tape.gradient(5.0) == (2.0,)
    assert "const 2.0" in str(tape)


def test_comparisons_record_conditions() -> None:
    x = Value(2.0)
    assert (x > 1).data == 1.0 and (x < 1).data == 0.0
    assert (x >= 2).data == 1.0 and (x <= 1.5).data == 0.0
    assert {x: 1}[x] == 1  # hashing is by identity, so Values stay hashable


# ---------------------------------------------------------------- issue 14: no silent wrong answer


def sinc(x: Value) -> Value | float:
    return 1.0 if x == 0 else x.sin() / x


def test_equality_records_a_condition_as_less_than_does() -> None:
    # Issue 14.1: == was identity, so `if x == 0` never took its branch and sinc(0) was nan everywhere.
    x = Value(2.0)
    assert (x == 2).data == 1.0 and (x != 2).data == 0.0 and (x == 3.0).data == 0.0 and (2.0 != x).data == 0.0
    assert sinc(Value(0.0)) == 1.0
    assert tapegrad.grad(sinc)(0.0) == 0.0 and tapegrad.grad(sinc)(1.0) == pytest.approx(math.cos(1) - math.sin(1))
    assert tapegrad.trace(sinc, 0.0)(0.0) == 1.0
    assert tapegrad.function(sinc)(0.0) == 1.0 and tapegrad.function(sinc)(1.0) == math.sin(1.0)
    with pytest.raises(StaleTapeError, match=r"guard x == 0 \(recorded False\) at .*test_value.py:\d+ is now True"):
        tapegrad.trace(sinc, 1.0)(0.0)
    branch_free = tapegrad.trace(lambda x: tapegrad.where(x == 0, 1.0, x.sin() / x), 0.0)
    assert OpKind.GUARD not in branch_free.ops and branch_free(0.0) == 1.0 and branch_free(1.0) == math.sin(1.0)
    assert tapegrad.trace(lambda x: tapegrad.where(x != 0, x, 5.0), 1.0)(0.0) == 5.0


def test_values_still_hash_by_identity() -> None:
    a, b = Value(2.0), Value(2.0)
    assert a in {a} and b not in {a} and {a: 1, b: 2}[b] == 2 and len({a, b}) == 2
    assert (a == None) is False and (a != None) is True and (a == "a") is False  # noqa: E711
    assert a in [b, a] and Value(2.0) in [a]  # a list compares by identity, then numbers (as for PyTorch tensors)
    assert [p for p in [a, b] if p is a] == [a]


def test_data_inside_a_trace_is_a_concretization_error() -> None:
    # Issue 14.2: .data froze a number: grad of x * sqrt(x.data) at 9 gave 3.0 (true 4.5).
    with pytest.raises(ConcretizationError, match=r"\.data of a traced Value at .*test_value.py:\d+"):
        tapegrad.grad(lambda x: x * math.sqrt(x.data))(9.0)
    with pytest.raises(ConcretizationError, match=r"\.data of a traced Value"):
        tapegrad.trace(lambda x: x * 2 if x.data > 0 else -x, 1.0)
    with pytest.raises(ConcretizationError, match=r"\.data of a traced Value"):
        tapegrad.function(lambda x: x + (x * 2).data)(1.0)

    def write(x: Value) -> Value:
        x.data = 5.0
        return x

    with pytest.raises(ConcretizationError, match=r"setting \.data of a traced Value"):
        tapegrad.trace(write, 1.0)
    p = Value(9.0)
    p.data = p.data + 1.0  # eager Values keep micrograd's .data, read and write
    assert p.data == 10.0 and (p * 2).data == 20.0
    assert tapegrad.grad(lambda x: x * x.sqrt())(9.0) == 4.5
    assert tapegrad.trace(lambda x: x * p.data, 1.0)(2.0) == 20.0  # a Value from outside is a constant


def test_a_traced_value_prints_symbolically() -> None:
    # Issue 14.14: repr, str, f-strings and % gave the recorded number, and a branch on that text was frozen.
    seen: list[str] = []

    def f(x: Value) -> Value:
        y = x * 2
        seen.extend([repr(y), str(y), f"{y}", f"{y:.3f}", "%s" % y, "%r" % (y,), repr(Value(1.5))])  # noqa: UP031
        return y

    tapegrad.trace(f, 1.0)
    assert seen == ["Value(traced, slot %2)"] * 6 + ["Value(data=1.5, grad=0.0)"]
    seen.clear()
    tapegrad.trace(f, np.ones(3))
    assert seen[0] == "Value(traced, f64[3], slot %2)"
    seen.clear()
    f(Value(1.25))  # eager: the number, as before
    assert seen[:4] == ["Value(data=2.5, grad=0.0)", "Value(data=2.5, grad=0.0)", "Value(data=2.5, grad=0.0)", "2.500"]


# ---------------------------------------------------------------- the tape of an eager Value (issue 19)


def test_the_tape_of_an_eager_value() -> None:
    import sympy

    from tapegrad.formats.dot import to_dot
    from tapegrad.formats.symbolic import to_sympy

    x, y = Value(2.0, name="x"), Value(3.0, name="y")
    loss = (x * y).tanh() + x
    tape = loss.tape()
    assert tape.inputs == ("x", "y") and tape.outputs == ("out",)
    assert str(tape).splitlines()[0] == "tape value(x, y) -> out"
    assert tape(2.0, 3.0) == loss.data and tape(0.5, 1.0) == math.tanh(0.5) + 0.5
    loss.backward()
    assert tape.gradient(2.0, 3.0) == (x.grad, y.grad)  # bit for bit the eager backward pass
    sx, sy = sympy.symbols("x y")
    assert to_sympy(tape) == sx + sympy.tanh(sx * sy)
    assert tape.explain(2.0, 3.0).endswith(f"gradient: d/dx = {x.grad!r}, d/dy = {y.grad!r}")
    assert to_dot(tape).startswith('digraph "value"')


def test_the_tape_of_an_eager_value_spans_earlier_tapes_and_names_unnamed_leaves() -> None:
    a, b = Value(0.5), Value(1.5, name="x0")
    h = a * a
    h.backward()  # closes the tape h was recorded on: what follows starts a new one
    z = ((h + a) * b).exp()
    tape = z.tape()
    assert tape.inputs == ("x1", "x0")  # a is unnamed: named after its position, skipping the user's own x0
    assert tape(0.5, 1.5) == z.data
    grads = tape.gradient(0.5, 1.5)
    z.backward()
    assert grads == (a.grad - 1.0, b.grad)  # a.grad also holds h's gradient, 2a = 1
    leaf = Value(4.0, name="w")
    assert leaf.tape().inputs == ("w",) and leaf.tape()(5.0) == 5.0


def test_the_tape_of_an_eager_value_keeps_only_what_it_needs() -> None:
    x, y = Value(1.0, name="x"), Value(2.0, name="y")
    unrelated = (y * 3.0).exp()
    out = x * 2.0 if x > 0 else -x  # a guard on x: part of out's computation
    tape = out.tape()
    assert tape.inputs == ("x",) and unrelated.data > 0
    assert "exp" not in str(tape) and "guard" in str(tape)
    assert tape(3.0) == 6.0
    with pytest.raises(tapegrad.errors.StaleTapeError):
        tape(-1.0)


def test_tape_of_a_traced_value_is_refused() -> None:
    def f(x: Value) -> Value:
        with pytest.raises(LeakedValueError, match="tape\\(\\) is for eager Values"):
            (x * 2).tape()
        return x

    tapegrad.trace(f, 1.0)


def test_an_array_loss_has_a_public_tape() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    W, b = Value(rng.normal(size=(2, 4)), name="W"), Value(np.zeros(4), name="b")
    loss = (X @ W + b).tanh().sum(axis=1).mean()
    tape = loss.tape()
    assert tape.inputs == ("W", "b") and tape.type_of(tape.input_slots[0]) == "f64[2,4]"
    grads = tape.gradient(W.data, b.data)
    loss.backward()
    assert np.array_equal(grads[0], W.grad) and np.array_equal(grads[1], b.grad)

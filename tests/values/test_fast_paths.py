"""The recording fast paths record exactly what the general path records.

``Value.__add__``, ``__sub__``, ``__mul__`` and ``__truediv__`` record their
commonest case themselves (``_binary_operator``), a leaf remembers the slot
it was bound to, and the hot path reads one thread-local attribute
(``STATE.fast_tape``).  Each test records the same operations twice: as
usual, and with site recording on, which turns every fast path off (the
general ``_binary`` path then does all the work); the two tapes must hold
the same records and the same bits.
"""

from __future__ import annotations

import copy
import gc
import itertools
import math
import struct
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import tapegrad
from tapegrad import Value
from tapegrad.core.ops import OPS, OPS_BY_NAME
from tapegrad.core.state import STATE
from tapegrad.errors import InputTypeError, NonFiniteError
from tapegrad.values.value import _binary_operator

SPECIAL = [0.0, -0.0, 1.5, -2.5, 5e-324, 1e308, -math.inf, math.inf, math.nan]
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
}


@contextmanager
def general_path() -> Iterator[None]:
    """Site recording on: ``STATE.fast_tape`` is None, so every operation takes the general path."""
    STATE.set_checks(STATE.debug_nans, record_sites=True)
    try:
        yield
    finally:
        STATE.set_checks(STATE.debug_nans, record_sites=False)


def bits(x: Any) -> Any:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else struct.pack("<d", x)
    if isinstance(x, np.ndarray):
        return (x.dtype.str, x.shape, x.tobytes())
    return x


def recorded(program: Callable[[], Value]) -> tuple[list[Any], list[Any], list[Any], dict[int, Any]]:
    """The records ``program`` appends to a fresh eager tape: ops, args, value bits, attributes."""
    STATE.eager = STATE.current = None
    out = program()
    tape = out._tape
    assert tape is not None
    return list(tape.ops), list(tape.args), [bits(v) for v in tape.values], dict(tape.attrs)


def assert_same_records(program: Callable[[], Value]) -> None:
    fast = recorded(program)
    with general_path():
        general = recorded(program)
    assert fast == general


def test_the_operators_are_the_fast_paths_of_their_ops() -> None:
    methods = {"add": Value.__add__, "sub": Value.__sub__, "mul": Value.__mul__, "div": Value.__truediv__}
    assert set(methods) == set(OPERATORS)
    for name, method in methods.items():
        assert method.__qualname__ == f"Value.{method.__name__}"
        assert method.__closure__ is not None
        assert OPS_BY_NAME[name] in [cell.cell_contents for cell in method.__closure__]
    assert _binary_operator("div", "__truediv__").__name__ == "__truediv__"


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_records_the_table_rule_on_every_special_float(name: str) -> None:
    """Results on the tape, leaves bound or not, signed zeros, subnormals, overflow, inf and nan."""
    operator = OPERATORS[name]
    for a, b in itertools.product(SPECIAL, repeat=2):

        def program(a: float = a, b: float = b) -> Value:
            x, y = Value(a), Value(b)
            first = operator(x, y)  # two leaves, bound now
            second = operator(first, x)  # a result and a bound leaf
            third = operator(y, second)  # a bound leaf and a result
            return operator(third, third)  # one result twice

        assert_same_records(program)


def test_leaves_numbers_arrays_and_changed_data_take_the_same_records() -> None:
    def program() -> Value:
        w = Value(0.5, name="w")
        x = w * w + 2.0  # a number: the general path
        w.data = 0.25  # new data: the leaf is bound afresh
        y = x * w - 1.0 * w
        z = Value(np.array([1.0, -2.0])) * y  # an array operand
        return (z.sum() / w) + (y / x)

    assert_same_records(program)


def test_a_copied_leaf_is_its_own_input() -> None:
    """A copy carries the original's remembered slot; it must not take the original's input."""
    w = Value(3.0)
    tape = (w * 1.0)._tape
    assert tape is not None and tape.sources[w._slot] is w  # type: ignore[attr-defined]  # the slot w remembers
    twin = copy.copy(w)
    assert twin._slot == w._slot
    loss = w * 2.0 + twin * 5.0 + w * twin
    loss.backward()
    assert (w.grad, twin.grad) == (2.0 + 3.0, 5.0 + 3.0)


def test_leaves_shared_by_threads_are_bound_on_each_thread_s_tape() -> None:
    """Each thread binds the shared leaves on its own tape; a slot remembered by one never serves another."""
    w, b = Value(0.5, name="w"), Value(-1.0, name="b")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(300):
                loss = (w * 3.0 + b) * w + b * b
                tape = loss.tape()
                assert tape.inputs == ("w", "b")
                assert tape.gradient(0.5, -1.0) == (2.0, -1.5)  # 6w + b, w + 2b
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_checks_turn_the_fast_path_off_and_back_on() -> None:
    tapegrad.Value(1.0) + 1.0  # an open eager tape
    assert STATE.fast_tape is STATE.current is not None
    with tapegrad.debug_nans():
        assert STATE.fast_tape is None
        with pytest.raises(NonFiniteError, match="mul"):
            Value(1e308) * Value(10.0)
    assert STATE.fast_tape is STATE.current
    with tapegrad.no_grad():
        assert STATE.fast_tape is None
        out = Value(2.0) * Value(3.0)
        assert out._tape is None and out.data == 6.0
    assert STATE.fast_tape is STATE.current


def test_inside_a_trace_leaves_are_constants_and_results_are_traced() -> None:
    w = Value(2.0)
    tape = tapegrad.trace(lambda x: w * x + x * w, 3.0)
    assert tape(5.0) == 20.0
    assert tape.gradient(5.0) == (4.0,)


def test_a_training_step_leaves_nothing_for_the_cyclic_collector() -> None:
    """Leaves remember a slot number, never a tape: the fast paths create no reference cycles."""
    from tapegrad.nn import MLP

    model = MLP(2, [4, 1], seed=0)
    gc.collect()
    gc.disable()
    try:
        tapes = []
        for _ in range(3):
            loss = sum(((model([Value(x), Value(-x)]) - 1.0) ** 2 for x in (0.5, -1.5)), Value(0.0))
            tapes.append(weakref.ref(loss._tape))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.1 * p.grad
        del loss
        assert [tape() for tape in tapes] == [None, None, None]  # freed by reference counting alone
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_every_scalar_rule_gives_a_float_for_floats() -> None:
    """The fast path takes a tape without arrays to hold only floats: no scalar rule may break that."""
    for op in OPS:
        if op.scalar is None:
            continue
        for args in itertools.product(SPECIAL, repeat=op.arity):
            attrs = [(0,), (2,), (-1,), (0.5,), (3.0,), (2.0,)] if op.has_attr else [()]
            for attr in attrs:
                out = op.scalar(*args, *attr)
                assert type(out) is float, (op.name, args, attr, out)


@pytest.mark.parametrize("data", [3, True, np.float64(2.5), np.int64(-4), 10**400])
def test_data_set_to_another_kind_of_number_becomes_a_float(data: Any) -> None:
    """As ``Value(data)`` converts it; the records are those of the general path."""
    w = Value(1.0)
    w.data = data
    assert type(w.data) is float and w.data == Value(data).data

    def program() -> Value:
        v = Value(0.5)
        v.data = data
        return (v * v + v) / (v - Value(1.0))

    assert_same_records(program)


def test_data_set_to_an_array_is_kept_as_it_is() -> None:
    w = Value(1.0)
    array = np.arange(3.0)
    w.data = array
    assert w.data is array
    w.data = np.float32(1.5)
    assert isinstance(w.data, np.ndarray) and w.data.dtype == np.float32 and w.data.shape == ()
    assert_same_records(lambda: Value(2.0) * w + w)


def test_data_set_to_a_value_or_text_is_refused() -> None:
    w = Value(1.0)
    with pytest.raises(InputTypeError, match=r"assign its number \(w.data = v.data\)"):
        w.data = Value(2.0)
    with pytest.raises(InputTypeError, match="must be a real number"):
        w.data = "2.0"
    assert w.data == 1.0

"""Bounded memory of eager recording: inference loops without backward() run in flat memory.

An eager tape is closed past ``EAGER_TAPE_LIMIT`` records or ``EAGER_TAPE_BYTES``
of arrays, and a later tape links only to what its Values need of it (a view
of the closed tape), so a loop that keeps no reference to old outputs holds at
most two tapes, however long it runs.  The loops at their real sizes run in a
subprocess under a memory limit; smaller limits, set in-process, check the
structure (how many tapes live) and that gradients across closed tapes stay exact.
"""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tapegrad import Value
from tapegrad.core.tape import Tape
from tapegrad.nn import MLP, batched
from tapegrad.values import record

ROOT = Path(__file__).resolve().parents[2]

# The child runs a loop, noting its peak RSS once the first tapes have been closed and again at the end.
LOOP = """
import resource, sys
import numpy as np
import tapegrad
from tapegrad import Value
from tapegrad.nn import batched

resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB: the unbounded loops pass it
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

kind, steps, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if kind == "scalar":
    w = Value(0.5)
    step = lambda: (w * 1.0001).tanh()
else:
    model = batched.MLP(8, [64, 64, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(1000, 8))
    step = lambda: model(X)
for i in range(steps):
    if i == warm:
        start = peak_mb()
    y = step()
print(peak_mb() - start)
"""


def loop_growth_mb(kind: str, steps: int, warm: int) -> float:
    """How much the peak RSS of the child grew between step ``warm`` and step ``steps``, in MB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", LOOP, kind, str(steps), str(warm)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return float(result.stdout)


def test_scalar_inference_loop_runs_in_flat_memory() -> None:
    """``(w * 1.0001).tanh()`` 800,000 times: the tape closes every 2^18 records (about 87,000 steps);
    each closed tape used to stay alive through the links of the next (40 MB more per tape)."""
    assert loop_growth_mb("scalar", 800_000, 300_000) < 40


def test_batched_inference_loop_runs_in_flat_memory() -> None:
    """A batched MLP on 1000 points, 600 times: 3 MB of arrays a call, which the record count
    (2^18) never bounded: 1.3 GB more by the end (past the 1 GiB limit), now closed every 64 MiB."""
    assert loop_growth_mb("array", 600, 200) < 60


def live_tapes() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Tape))


@pytest.fixture
def small_tapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eager tapes of at most 100 records or 64 kB of arrays, so that loops cross many of them quickly."""
    monkeypatch.setattr(record, "EAGER_TAPE_LIMIT", 100)
    monkeypatch.setattr(record, "EAGER_TAPE_BYTES", 1 << 16)
    record.STATE.eager = record.STATE.current = None


@pytest.mark.usefixtures("small_tapes")
def test_a_loop_keeping_no_old_outputs_keeps_two_tapes_alive() -> None:
    before = live_tapes()
    w = Value(0.5)
    for _ in range(20_000):  # 600 tapes
        y = (w * 1.0001).tanh()
    assert live_tapes() - before <= 3
    for _ in range(20_000):
        y = (w * w).tanh()  # a leaf already on the tape: its use still checks the tape's size
    assert live_tapes() - before <= 3
    model, X = batched.MLP(8, [16, 1], seed=0), np.ones((64, 8))
    for _ in range(300):  # 40 kB of arrays a call
        y = model(X)
    assert live_tapes() - before <= 3
    assert y.shape == (64, 1)


def chain_grads() -> list[float]:
    """A chain of 3,000 records: d/dx, d/dw."""
    x, w = Value(0.3), Value(0.9)
    y = x
    for _ in range(1000):
        y = (y * w + 0.1).tanh()
    y.backward()
    return [y.data, x.grad, w.grad]


def mlp_grads() -> list[float]:
    """A scalar MLP's squared loss on two points (about 400 records): the loss and every parameter's gradient."""
    model = MLP(3, [8, 8, 1])
    for i, p in enumerate(model.parameters()):
        p.data = math.sin(i + 1.0)
    loss = sum((model(p) - 1.0) ** 2 for p in [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    assert isinstance(loss, Value)
    loss.backward()
    return [loss.data] + [p.grad for p in model.parameters()]


def late_use_grads() -> list[float]:
    """``h`` stays on a tape long closed when it is used again; its own .grad is read too."""
    w = Value(1.5)
    h = (w * 3.0).tanh()
    for _ in range(300):
        (w * 2.0).exp()
    z = h * h * 4.0
    z.backward()
    return [z.data, h.grad, w.grad]


@pytest.mark.parametrize("computation", [chain_grads, mlp_grads, late_use_grads])
def test_gradients_across_closed_tapes_are_those_of_one_tape(
    computation: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The links keep exactly what backward() needs: the numbers of one tape.

    Not bit for bit: a leaf used on several tapes sums its gradient tape by
    tape, a different order of the same additions (as before views).
    """
    assert callable(computation)
    record.STATE.eager = record.STATE.current = None
    on_one_tape = computation()
    monkeypatch.setattr(record, "EAGER_TAPE_LIMIT", 100)
    record.STATE.eager = record.STATE.current = None
    before = live_tapes()
    assert computation() == pytest.approx(on_one_tape, rel=1e-14, abs=0.0)
    assert live_tapes() == before  # and nothing of them is left once their Values are gone


def test_intermediate_grad_on_a_closed_tape_is_kept(small_tapes: None) -> None:
    """A Value of a closed tape gets its .grad from a backward() that started on a later tape."""
    w = Value(1.5)
    h = (w * 3.0).tanh()
    for _ in range(200):
        (w * 2.0).exp()
    z = h * 4.0
    assert z._tape is not h._tape
    z.backward()
    assert h.grad == 4.0
    assert w.grad == 4.0 * (1 - math.tanh(4.5) ** 2) * 3.0

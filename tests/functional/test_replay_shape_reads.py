"""A tape that read a shape when it was recorded at numbers is not replayed on arrays (issue 14, item 13).

``x * x.size`` recorded at a number is ``x * 1``; replaying that tape on an
array used to give ``[1, 1, 1]`` for ``np.ones(3)`` without a word.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad
from tapegrad.errors import ShapeError


@pytest.mark.parametrize("f", [lambda x: x * x.size, lambda x: x * x.ndim, lambda x: x * len(x.shape)])
def test_a_tape_that_read_a_shape_refuses_arrays(f: object) -> None:
    tape = tapegrad.trace(f, 1.0)
    with pytest.raises(ShapeError, match=r"read a shape, size or dtype .*input 'x' of shape \(3,\)"):
        tape(np.ones(3))
    with pytest.raises(ShapeError, match="trace it at the arrays, or use tapegrad.function"):
        tape.gradient(np.ones(3))
    assert tape(2.0) == f(tapegrad.Value(2.0)).data  # numbers replay as recorded


def test_a_tape_that_read_no_shape_still_replays_on_arrays() -> None:
    tape = tapegrad.trace(lambda x: x * 2.0, 1.0)
    assert list(tape(np.ones(3))) == [2.0, 2.0, 2.0]
    assert list(tapegrad.function(lambda x: x * x.size)(np.ones(3))) == [3.0, 3.0, 3.0]

"""Random straight-line programs, for tests and benchmarks.

The family used across tapegrad's benchmarks (and the peers' figures in
them): ``n`` operations over ``inputs`` inputs, each op's first operand the
previous result (so every op is live and the depth is ``n``), its second a
random input.  The ops are ``+ - *``, ``x / (1 + y**2)``, ``tanh``,
``exp(tanh x)``, ``sin`` and ``log(1 + x**2)``: bounded, so a long program
neither overflows nor leaves the functions' domains.

The program is a plain Python function over anything with Value's API, so
the same program runs on the tape engine, the closure engine or micrograd.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

__all__ = ["OP_CODES", "random_steps", "random_program"]

OP_CODES = "+-*/tesl"
"""add, sub, mul, x/(1+y^2), tanh, exp(tanh x), sin, log(1+x^2)."""


def random_steps(n: int, inputs: int = 10, seed: int = 0) -> list[tuple[str, int]]:
    """``n`` steps ``(op code, index of the second operand's input)``."""
    rng = random.Random(seed)
    return [(rng.choice(OP_CODES), rng.randrange(inputs)) for _ in range(n)]


def _step(code: str, r: Any, y: Any) -> Any:
    if code == "+":
        return r + y
    if code == "-":
        return r - y
    if code == "*":
        return r * y
    if code == "/":
        return r / (1 + y * y)
    if code == "t":
        return r.tanh()
    if code == "e":
        return r.tanh().exp()
    if code == "s":
        return r.sin()
    return (1 + r * r).log()


def random_program(n: int, inputs: int = 10, seed: int = 0) -> Callable[..., Any]:
    """A function of ``inputs`` arguments running ``n`` random steps.

    >>> f = random_program(100, inputs=10, seed=1)
    >>> tape = tapegrad.trace(f, *[0.1] * 10)
    """
    steps = random_steps(n, inputs, seed)

    def program(*xs: Any) -> Any:
        r = xs[0]
        for code, j in steps:
            r = _step(code, r, xs[j])
        return r

    program.__name__ = f"random_program_{n}"
    return program

"""Symbolic export of small array tapes (tapegrad.symbolic over numpy arrays of sympy expressions).

The specification:

- an array input ``W`` becomes the symbols ``W_i_j`` (element ``(i, j)``),
  or the ``sympy.Matrix`` / ``MatrixSymbol`` given in ``symbols``; 1-d and
  2-d outputs are ``sympy.Matrix`` (a vector as a column), 0-d ones
  expressions, more axes ``sympy.Array``;
- the exported formula evaluates to what the tape computes, at random points;
- the exported gradient is ``sympy.diff`` of the same model written with
  sympy matrices, and the Hessian is ``sympy.hessian`` over every element;
- the ``cse=True`` form, ``latex`` and ``from_sympy`` work on them too;
- a tape of more than ``ELEMENT_LIMIT`` array elements is refused with a
  :class:`SymbolicLimitError` saying what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp

import tapegrad
import tapegrad.formats.symbolic
from tapegrad.errors import InputTypeError, SymbolicLimitError

symbolic = tapegrad.formats.symbolic


def matrix_of(name: str, rows: int, cols: int = 1) -> sp.Matrix:
    """The symbols tapegrad gives an input ``name`` of shape (rows, cols), or (rows,) for a column."""
    if cols == 1:
        return sp.Matrix(rows, 1, [sp.Symbol(f"{name}_{i}") for i in range(rows)])
    return sp.Matrix(rows, cols, [sp.Symbol(f"{name}_{i}_{j}") for i in range(rows) for j in range(cols)])


def point_of(tape: tapegrad.Tape, args: Sequence[np.ndarray]) -> dict[sp.Symbol, float]:
    """Each input element's symbol mapped to its number in ``args``."""
    point = {}
    for name, a in zip(tape.inputs, args):
        for index in np.ndindex(np.shape(a)):
            point[sp.Symbol("_".join([name, *map(str, index)]))] = float(np.asarray(a)[index])
    return point


def numbers(expr: Any, point: dict[sp.Symbol, float]) -> np.ndarray:
    """An exported expression or Matrix evaluated at ``point`` by sympy's lambdify, with mpmath to 30 digits."""
    items = list(sp.flatten(expr if isinstance(expr, (sp.MatrixBase, sp.NDimArray)) else [expr]))
    evaluate = sp.lambdify(list(point), items, modules="mpmath")
    with mpmath.workdps(30):
        return np.array([float(v) for v in evaluate(*point.values())])


def same(a: Any, b: Any) -> bool:
    """Equal formulas: ``a - b`` expands to zero (or, failing that, simplifies to zero)."""
    difference = a - b
    if isinstance(difference, sp.MatrixBase):
        return all(same(x, 0) for x in difference)
    return sp.expand(difference) == 0 or sp.simplify(difference) == 0


def close(a: np.ndarray, b: Any, rtol: float = 1e-12) -> bool:
    return bool(np.allclose(np.ravel(a), np.ravel(np.asarray(b, dtype=np.float64)), rtol=rtol, atol=rtol))


RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- naming and shapes


def test_inputs_become_element_symbols_and_outputs_matrices() -> None:
    W, x = np.ones((2, 2)), np.ones(2)
    tape = tapegrad.trace(lambda W, x: ((W @ x).tanh(), W.T * 2.0, (W * x).sum(), x.reshape(1, 2, 1)), W, x)
    vector, matrix, total, cube = tape.to_sympy()
    W0, x0 = matrix_of("W", 2, 2), matrix_of("x", 2)
    assert isinstance(vector, sp.MatrixBase) and vector.shape == (2, 1)
    assert vector == (W0 * x0).applyfunc(sp.tanh)
    assert isinstance(matrix, sp.MatrixBase) and matrix == 2 * W0.T
    assert isinstance(total, sp.Expr) and total == sum(W0[i, j] * x0[j] for i in range(2) for j in range(2))
    assert isinstance(cube, sp.NDimArray) and cube.shape == (1, 2, 1) and list(sp.flatten(cube)) == list(x0)


def test_a_0d_output_is_an_expression_and_float32_exports_exactly() -> None:
    x = np.array([0.5, 0.25], dtype=np.float32)
    tape = tapegrad.trace(lambda x: (x * np.float32(0.1)).sum(), x)
    out = tape.to_sympy()
    assert isinstance(out, sp.Expr)
    tenth = sp.Float(float(np.float32(0.1)), precision=53)  # the float32 constant, every bit of it
    assert sp.expand(out - tenth * (sp.Symbol("x_0") + sp.Symbol("x_1"))) == 0


def test_symbols_can_be_given_as_matrices() -> None:
    W, x = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    tape = tapegrad.trace(lambda W, x: (W @ x).exp(), W, x)
    A = sp.MatrixSymbol("A", 2, 3)
    v = sp.Matrix(sp.symbols("v0:3", positive=True))
    out = tape.to_sympy(symbols=[A, v])
    assert out == (sp.Matrix(A) * v).applyfunc(sp.exp)
    with pytest.raises(InputTypeError, match=r"hold 4 elements, but the input is an array of shape \(3,\)"):
        tape.to_sympy(symbols=[A, sp.Matrix(sp.symbols("v0:4"))])


def test_element_names_never_collide_with_other_inputs() -> None:
    tape = tapegrad.trace(lambda W_0_0, W: W_0_0 * W.sum(), 2.0, np.ones((1, 2)))
    out = tape.to_sympy()
    names = {str(s) for s in out.free_symbols}
    assert "W_0_0" in names and len(names) == 3  # the array's elements took another name


# ---------------------------------------------------------------- values and gradients


DATA = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])


def mlp(W1: Any, b1: Any, w2: Any) -> Any:
    return ((DATA @ W1 + b1).tanh() @ w2).mean()


def mlp_in_sympy() -> sp.Expr:
    X = sp.Matrix(3, 2, [symbolic.constant(v) for v in DATA.ravel()])  # the floats, exactly as the tape has them
    W1, b1, w2 = matrix_of("W1", 2, 3), matrix_of("b1", 3), matrix_of("w2", 3)
    hidden = (X * W1 + sp.ones(3, 1) * b1.T).applyfunc(sp.tanh)
    return sum(hidden * w2) / 3


def embedding(C: Any, W: Any) -> Any:
    contexts = np.array([[0, 1], [1, 1], [2, 0]])  # row 1 of C is used three times
    logits = C[contexts].reshape(3, -1) @ W
    return tapegrad.cross_entropy(logits, np.array([1, 0, 1]))


def embedding_in_sympy() -> sp.Expr:
    C, W = matrix_of("C", 3, 2), matrix_of("W", 4, 2)
    total = 0
    for (first, second), target in zip([(0, 1), (1, 1), (2, 0)], [1, 0, 1]):
        row = C[first, :].row_join(C[second, :])
        logits = row * W
        total += sp.log(sum(sp.exp(z) for z in logits)) - logits[target]
    return total / 3


def shapes(a: Any, b: Any) -> Any:
    joined = tapegrad.concatenate([a, b.T], axis=1)  # (2, 4)
    stacked = tapegrad.stack([a, a * a], axis=0)  # (2, 2, 2)
    return (joined.sin() * joined[:, ::-1]).sum() + stacked.transpose(1, 2, 0).reshape(2, 4)[1, 2:].sum()


def shapes_in_sympy() -> sp.Expr:
    a, b = matrix_of("a", 2, 2), matrix_of("b", 2, 2)
    joined = a.row_join(b.T)
    flipped = joined[:, ::-1]
    total = sum(sp.sin(joined[i, j]) * flipped[i, j] for i in range(2) for j in range(4))
    return total + a[1, 1] + a[1, 1] ** 2  # row 1, last two of the (2, 2, 2) -> (2, 4) rearrangement


CASES = [
    (mlp, [(2, 3), (3,), (3,)], mlp_in_sympy),
    (embedding, [(3, 2), (4, 2)], embedding_in_sympy),
    (shapes, [(2, 2), (2, 2)], shapes_in_sympy),
]


@pytest.mark.parametrize("f, shapes_, formula", CASES, ids=["mlp", "embedding", "shapes"])
def test_formula_is_the_model_and_evaluates_like_the_tape(f: Any, shapes_: Any, formula: Any) -> None:
    args = [RNG.normal(size=s) for s in shapes_]
    tape = tapegrad.trace(f, *args)
    exported = tape.to_sympy()
    assert same(exported, formula())
    for _ in range(3):
        point = [RNG.normal(size=s) for s in shapes_]
        assert close(numbers(exported, point_of(tape, point)), tape(*point))


@pytest.mark.parametrize("f, shapes_, formula", CASES, ids=["mlp", "embedding", "shapes"])
def test_gradient_is_sympy_diff_of_the_matrix_expression(f: Any, shapes_: Any, formula: Any) -> None:
    args = [RNG.normal(size=s) for s in shapes_]
    tape = tapegrad.trace(f, *args)
    grads = symbolic.gradient(tape)
    expr = formula()
    for name, shape, ours in zip(tape.inputs, shapes_, grads):
        assert isinstance(ours, sp.MatrixBase) and ours.shape == (shape + (1,))[:2]
        symbols = matrix_of(name, *shape)
        theirs = symbols.applyfunc(lambda s: sp.diff(expr, s))
        assert same(ours, theirs), name
    point = [RNG.normal(size=s) for s in shapes_]
    for ours, numeric in zip(grads, tape.gradient(*point)):
        assert close(numbers(ours, point_of(tape, point)), numeric)


def test_piecewise_ops_relu_and_max_give_the_numeric_gradient() -> None:
    def f(x: Any, W: Any) -> Any:
        h = (x @ W).relu()
        return h.max(axis=1).sum() + tapegrad.logsumexp(h, axis=0).sum()

    x, W = RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))
    tape = tapegrad.trace(f, x, W)
    exported, grads = tape.to_sympy(), symbolic.gradient(tape)
    assert exported.has(sp.Max) and any(g.has(sp.Piecewise) for g in grads)
    for _ in range(2):
        point = [RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))]
        values = point_of(tape, point)
        assert close(numbers(exported, values), tape(*point))
        for ours, numeric in zip(grads, tape.gradient(*point)):
            assert close(numbers(ours, values), numeric)


def test_hessian_is_sympy_hessian_over_every_element() -> None:
    def f(W: Any, x: Any) -> Any:
        return (W @ x).tanh().sum() + (x * x * x).sum()

    tape = tapegrad.trace(f, RNG.normal(size=(2, 2)), RNG.normal(size=2))
    ours = symbolic.hessian(tape)
    W, x = matrix_of("W", 2, 2), matrix_of("x", 2)
    expr = sum((W * x).applyfunc(sp.tanh)) + sum(e**3 for e in x)
    theirs = sp.hessian(expr, list(W) + list(x))
    assert ours.shape == (6, 6)
    assert same(ours, theirs)


def test_cse_form_latex_and_from_sympy() -> None:
    args = [RNG.normal(size=s) for s in [(2, 3), (3,), (3,)]]
    tape = tapegrad.trace(mlp, *args)
    replacements, exprs = symbolic.gradient(tape, cse=True)
    full = symbolic.gradient(tape)
    for ours, plain in zip(exprs, full):
        for name, value in reversed(replacements):
            ours = ours.subs(name, value)
        assert same(ours, plain)
    tex = symbolic.latex(tape)
    assert r"\frac{\partial out}{\partial W_{1}}" in tex and r"\begin{matrix}" in tex
    symbols = sorted(set().union(*(g.free_symbols for g in full)), key=str)
    back = tapegrad.from_sympy(list(full[0]), symbols)  # the gradient of W1, as a scalar tape
    point = point_of(tape, args)
    assert close(np.array(back(*[point[s] for s in symbols])), tape.gradient(*args)[0])


def test_a_small_array_tape_shows_its_formula_in_jupyter() -> None:
    tape = tapegrad.trace(lambda W, x: (W @ x).sum(), np.ones((2, 2)), np.ones(2))
    assert "W_{0 0} x_{0}" in tape._repr_markdown_()


# ---------------------------------------------------------------- limits


def test_big_array_tapes_are_refused_with_advice() -> None:
    tape = tapegrad.trace(lambda W, x: (x @ W).tanh().sum(), np.ones((64, 64)), np.ones((64, 64)))
    for attempt in (tape.to_sympy, lambda: symbolic.gradient(tape), lambda: symbolic.hessian(tape)):
        with pytest.raises(SymbolicLimitError, match="smaller shapes") as error:
            attempt()
        assert "W: f64[64,64]" in str(error.value) and f"{symbolic.ELEMENT_LIMIT:,}" in str(error.value)
    assert symbolic.element_work(tape) >= 64**3  # the matrix product: a term per element and inner index

"""numpy's functions on Values (issue 16): dispatch, the reductions, and exact constants.

The corpus functions are written as numpy users write them and run unchanged
on plain arrays (for central differences) and through ``tapegrad.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
import tapegrad.numpy as tnp
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value, symbolic
from tapegrad.errors import ConcretizationError, TapeFormatError, UnsupportedOpError
from tapegrad.formats import io
from tapegrad.formats.codegen import to_source
from tapegrad.formats.parse import to_expression

STEP = 1e-6


def central_differences(f: Callable[..., Any], args: list[np.ndarray], k: int) -> np.ndarray:
    """d f / d args[k] by central differences, element by element."""
    x = np.array(args[k], dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += STEP
        down[i] -= STEP
        grad[i] = (f(*args[:k], up, *args[k + 1 :]) - f(*args[:k], down, *args[k + 1 :])) / (2 * STEP)
    return grad


# ---------------------------------------------------------------- the corpus: numpy code, unchanged


def mlp(W: Any, x: Any, b: Any) -> Any:
    return np.sum(np.tanh(W @ x + b))


def softmax_cross_entropy(z: Any) -> Any:
    e = np.exp(z - np.max(z))
    p = e / np.sum(e)
    return -np.log(p[2])


def logistic_log_likelihood(w: Any) -> Any:
    X = np.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]])
    y = np.array([1.0, 0.0, 1.0])
    margin = X @ w
    return np.sum(y * margin - np.log(1.0 + np.exp(margin)))


def huber(r: Any) -> Any:
    return np.sum(np.where(np.abs(r) < 1.0, 0.5 * r**2, np.abs(r) - 0.5))


def planck(T: Any) -> Any:
    """Planck's law in units with h = c = k = 1, at three wavelengths."""
    lam = np.array([0.5, 1.0, 2.0])
    return np.sum(2.0 / lam**5 / (np.exp(1.0 / (lam * T)) - 1.0))


def projectile_range(angles: Any) -> Any:
    v, g = 12.0, 9.81
    return np.mean(v**2 * np.sin(2 * angles) / g) + np.sqrt(2 * np.pi) * np.std(angles)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def clipped_relu_net(W: Any, x: Any) -> Any:
    hidden = np.maximum(np.dot(W, x), 0)
    return np.sum(np.clip(hidden, -1.0, 1.5) ** 2) + np.linalg.norm(x) + np.var(hidden, ddof=1)


def running_products(x: Any) -> Any:
    return np.sum(np.cumsum(x) * np.cumprod(x)) + np.prod(x) + np.add.reduce(x) * np.min(x)


RNG = np.random.default_rng(16)
CORPUS = [
    pytest.param(mlp, [RNG.normal(size=(3, 4)), RNG.normal(size=4), RNG.normal(size=3)], id="mlp"),
    pytest.param(softmax_cross_entropy, [RNG.normal(size=5)], id="softmax"),
    pytest.param(logistic_log_likelihood, [RNG.normal(size=2)], id="log-likelihood"),
    pytest.param(huber, [np.array([-2.0, -0.5, 0.3, 1.7])], id="huber-where"),
    pytest.param(planck, [np.array(1.3)], id="planck"),
    pytest.param(projectile_range, [np.array([0.3, 0.7, 1.1])], id="projectile"),
    pytest.param(rosenbrock, [np.array([0.5, -0.3, 1.2, 0.8])], id="rosenbrock"),
    pytest.param(clipped_relu_net, [RNG.normal(size=(4, 3)), RNG.normal(size=3)], id="clip-relu-norm-var"),
    pytest.param(running_products, [np.array([0.5, -1.5, 2.0, 1.1])], id="cumsum-cumprod-prod-min"),
]


@pytest.mark.parametrize(("f", "args"), CORPUS)
def test_numpy_code_differentiates_unchanged(f: Callable[..., Any], args: list[np.ndarray]) -> None:
    argnums = tuple(range(len(args)))
    grads = tapegrad.grad(f, argnums=argnums)(*args)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, central_differences(f, args, k), rtol=1e-5, atol=1e-6)
    assert float(tapegrad.trace(f, *args)(*args)) == pytest.approx(float(f(*args)), rel=1e-12)


@pytest.mark.parametrize(("f", "args"), CORPUS)
def test_numpy_code_compiles_to_the_same_numbers(f: Callable[..., Any], args: list[np.ndarray]) -> None:
    tape = tapegrad.trace(f, *args)
    step = tapegrad.grad_tape(tape).compile("numpy")
    for got, want in zip(step(*args)[1:], tape.gradient(*args)):
        np.testing.assert_array_equal(got, want)


def test_scalar_values_and_mixed_operands_record() -> None:
    def f(x: Any, y: Any) -> Any:
        return np.sin(x) * np.exp(y) + np.float64(2.0) * x - np.maximum(x, 0.5) + np.power(y, 3) + np.power(2.0, x)

    gx, gy = tapegrad.grad(f, argnums=(0, 1))(0.3, -0.2)
    assert gx == pytest.approx(math.cos(0.3) * math.exp(-0.2) + 2.0 - 0.0 + math.log(2.0) * 2**0.3)
    assert gy == pytest.approx(math.sin(0.3) * math.exp(-0.2) + 3 * 0.04)


def test_ndarrays_on_the_left_give_recorded_values_not_object_arrays() -> None:
    v = Value(np.array([1.0, 2.0, 3.0]))
    X = np.arange(6.0).reshape(2, 3)
    for result in (X @ v, np.ones(3) * v, np.ones(3) - v, np.ones(3) / v, np.ones(3) > v, np.ones(3) ** v):
        assert isinstance(result, Value)
    np.testing.assert_array_equal((X @ v).data, X @ v.data)
    y = np.zeros(3)
    y += v  # numpy's in-place add with a Value: y becomes the Value, as y = y + v
    assert isinstance(y, Value)
    out = (np.ones(3) * v).sum()
    out.backward()
    np.testing.assert_array_equal(v.grad, np.ones(3))


def test_ufunc_methods_reduce_along_the_first_axis() -> None:
    data = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    v = Value(data)
    for method, expected in [(np.add.reduce, np.add.reduce(data)), (np.multiply.reduce, np.multiply.reduce(data)),
                             (np.maximum.reduce, np.maximum.reduce(data)), (np.minimum.reduce, np.minimum.reduce(data)),
                             (np.add.accumulate, np.add.accumulate(data)),
                             (np.multiply.accumulate, np.multiply.accumulate(data))]:  # fmt: skip
        np.testing.assert_array_equal(method(v).data, expected)
    np.testing.assert_array_equal(np.add.reduce(v, axis=1, keepdims=True).data, data.sum(axis=1, keepdims=True))


def test_every_elementwise_row_with_a_numpy_rule_dispatches_from_the_table() -> None:
    """A new op row whose numpy rule is a numpy function (np.arctan...) needs no dispatch code."""
    from tapegrad.core.ops import OPS

    rows = [op for op in OPS if op.elementwise and not op.has_attr and getattr(np, op.array.__name__, None) is op.array]
    assert len(rows) >= 10
    x = np.array([0.3, 0.6])
    for op in rows:
        operands = [Value(x)] * op.arity
        out = op.array(*operands)
        assert isinstance(out, Value) and out._tape.ops[-1] is op.kind, op.name
        assert getattr(tnp, op.array.__name__) is tnp.TABLE[op.array]


def test_tnp_works_on_plain_arrays_and_values() -> None:
    x = np.array([0.1, 0.2])
    np.testing.assert_array_equal(tnp.sin(x), np.sin(x))
    assert tnp.sum(x) == np.sum(x) and tnp.prod(x) == pytest.approx(0.02)
    assert isinstance(tnp.sin(Value(x)), Value) and isinstance(tnp.where(Value(x) > 0.15, Value(x), 0.0), Value)
    with pytest.raises(AttributeError, match="tapegrad.numpy has no 'median'"):
        tnp.median  # noqa: B018


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda v: np.median(v), "np.median"),
        (lambda v: np.fft.fft(v), "np.fft.fft"),
        (lambda v: np.isnan(v), "np.isnan"),
        (lambda v: np.add.outer(v, v), "np.add.outer"),
        (lambda v: np.sum(v, where=np.ones(3, bool)), "np.sum with these arguments"),
        (lambda v: np.add(v, 1.0, out=np.zeros(3)), r"np.add\(\.\.\., out=\.\.\.\)"),
        (lambda v: np.linalg.lstsq(np.ones((3, 1)), v), "np.linalg.lstsq"),
    ],
)
def test_unsupported_numpy_functions_say_which(call: Callable[[Value], Any], name: str) -> None:
    with pytest.raises(UnsupportedOpError, match=name) as error:
        call(Value(np.array([1.0, 2.0, 3.0])))
    assert "SUPPORTED" in str(error.value) or "matmul" in str(error.value)


def test_np_array_of_a_value_is_still_refused() -> None:
    with pytest.raises(tapegrad.errors.InputTypeError, match="would lose its tape"):
        np.array(Value(np.ones(3)))


def test_storing_a_traced_value_into_a_numpy_array_says_what_to_do() -> None:
    def f(x: Any) -> Any:
        y = np.zeros(3)
        y[0] = x
        return np.sum(y)

    with pytest.raises(ConcretizationError, match="stored into a numpy array.*tapegrad.stack"):
        tapegrad.grad(f)(1.0)
    y = np.zeros(3)
    y[0] = Value(2.0)  # eager: the number, detached (as a PyTorch scalar)
    assert y[0] == 2.0


def test_the_docs_page_lists_every_supported_function() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "numpy.md").read_text()
    missing = [name for name in tnp.SUPPORTED if f"`{name}" not in page and name not in ("np.amax", "np.amin")]
    assert not missing or all(n.startswith("np.") for n in missing) and _table_rows_documented(missing)


def _table_rows_documented(names: list[str]) -> bool:
    """Names not written out on the page must be elementwise table rows (the page covers them as a class)."""
    from tapegrad.core.ops import OPS

    rows = {f"np.{op.array.__name__}" for op in OPS if op.elementwise and getattr(op.array, "__name__", None)}
    return set(names) <= rows


# ---------------------------------------------------------------- reductions


def test_prod_gradient_follows_pytorch_with_zeros() -> None:
    grad = tapegrad.grad(lambda x: np.prod(x))
    np.testing.assert_array_equal(grad(np.array([2.0, 3.0, 4.0])), [12.0, 8.0, 6.0])
    np.testing.assert_array_equal(grad(np.array([2.0, 0.0, 4.0])), [0.0, 8.0, 0.0])  # one zero
    np.testing.assert_array_equal(grad(np.array([0.0, 3.0, 0.0])), [0.0, 0.0, 0.0])  # two zeros: no nan
    rows = tapegrad.grad(lambda x: np.sum(np.prod(x, axis=1) * np.array([1.0, 2.0])))
    np.testing.assert_array_equal(rows(np.array([[0.0, 5.0], [0.0, 0.0]])), [[5.0, 0.0], [0.0, 0.0]])


def test_prod_gradient_with_zeros_agrees_across_engines() -> None:
    x = np.array([[2.0, 0.0, 4.0], [0.0, 3.0, 0.0], [1.0, 2.0, 3.0]])
    tape = tapegrad.trace(lambda x: np.sum(np.prod(x, axis=0) + np.prod(x, axis=1)), x)
    (reference,) = tape.gradient(x)
    compiled = tapegrad.optimize(tapegrad.grad_tape(tape)).compile("numpy")(x)[1]
    np.testing.assert_array_equal(compiled, reference)
    eager = Value(x)
    (np.prod(eager, axis=0).sum() + np.prod(eager, axis=1).sum()).backward()
    np.testing.assert_array_equal(eager.grad, reference)


def test_second_derivative_of_prod_with_a_zero() -> None:
    x = np.array([2.0, 0.0, 4.0])
    hessian = tapegrad.hessian(lambda x: np.prod(x))(x)
    np.testing.assert_allclose(hessian, [[0, 4, 0], [4, 0, 2], [0, 2, 0]])


def test_cumprod_with_zeros_differentiates_exactly() -> None:
    x = np.array([2.0, 0.0, 3.0])
    weights = np.array([1.0, 10.0, 100.0])
    grad = tapegrad.grad(lambda x: np.sum(np.cumprod(x) * weights))(x)
    np.testing.assert_allclose(grad, central_differences(lambda x: np.sum(np.cumprod(x) * weights), [x], 0))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(axis: Any, keepdims: bool) -> None:
    data = np.array([[1.5, -2.0, 3.0], [4.0, 0.5, -6.0]])
    v = Value(data)
    for name in ("min", "prod", "var", "std", "all", "any", "sum", "mean", "max"):
        got = getattr(np, name)(v, axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(np.asarray(got.data, float), getattr(np, name)(data, axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(v.var(axis=axis, ddof=1).data, np.var(data, axis=axis, ddof=1))


def test_min_ties_share_the_gradient() -> None:
    np.testing.assert_array_equal(tapegrad.grad(lambda x: x.min())(np.array([1.0, 3.0, 1.0])), [0.5, 0.0, 0.5])


def test_argmax_gives_integers_and_is_refused_in_a_trace() -> None:
    data = np.array([[1.0, 5.0], [7.0, 2.0]])
    assert np.argmax(Value(data)) == 2 and isinstance(np.argmax(Value(data)), np.integer)
    np.testing.assert_array_equal(Value(data).argmin(axis=1), [0, 1])
    with pytest.raises(ConcretizationError, match="argmax"):
        tapegrad.trace(lambda x: x * float(np.argmax(x)), data)


def test_any_in_an_if_records_a_guard() -> None:
    def f(x: Any) -> Any:
        return np.sum(x) if np.any(x > 2.0) else -np.sum(x)

    tape = tapegrad.trace(f, np.array([1.0, 3.0]))
    assert tape(np.array([1.0, 3.0])) == 4.0
    with pytest.raises(tapegrad.errors.StaleTapeError):
        tape(np.array([1.0, 1.0]))


# ---------------------------------------------------------------- exact constants


def test_from_sympy_keeps_rationals_exact() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.from_sympy(x**3 / 3, [x])
    assert symbolic.gradient(tape) == [x**2]
    assert tape(2.0) == pytest.approx(8 / 3)


def test_pi_e_and_rationals_survive_symbolic_export() -> None:
    x = sp.Symbol("x")
    expr = sp.pi * x**2 + sp.E * x + sp.sqrt(2) * x + sp.Rational(2, 7)
    tape = tapegrad.from_sympy(expr, [x])
    assert sp.simplify(symbolic.to_sympy(tape) - expr) == 0
    assert symbolic.gradient(tape) == [2 * sp.pi * x + sp.E + sp.sqrt(2)]
    assert tape(2.0) == pytest.approx(float(expr.subs(x, 2)), rel=1e-15)


def test_generated_code_uses_the_float() -> None:
    x = sp.Symbol("x")
    source = to_source(tapegrad.from_sympy(sp.pi * x + sp.Rational(1, 3), [x]))
    assert "3.141592653589793" in source and "0.3333333333333333" in source


def test_tape_files_store_and_check_exact_constants() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.from_sympy(sp.pi * x + sp.Rational(1, 3), [x])
    text = io.dumps(tape)
    assert '"exact":["constant","pi"]' in text and '"exact":["rational",1,3]' in text
    assert io.dumps(io.loads(text)) == text
    assert symbolic.gradient(io.loads(text)) == [sp.pi]
    with pytest.raises(TapeFormatError, match="is not the float of its exact value"):
        io.loads(text.replace('"3.141592653589793"', '"3.0"'))
    with pytest.raises(TapeFormatError, match="a named constant is one of"):
        io.loads(text.replace('["constant","pi"]', '["constant","__import__"]'))
    with pytest.raises(TapeFormatError, match="lowest terms"):
        io.loads(text.replace('["rational",1,3]', '["rational",2,6]'))


def test_the_parser_knows_pi_e_and_ln() -> None:
    tape = tapegrad.parse("sqrt(2*pi)*x + ln(x) + e**x")
    assert tape.inputs == ("x",)
    assert tape(2.0) == pytest.approx(math.sqrt(2 * math.pi) * 2 + math.log(2.0) + math.e**2)
    x = sp.Symbol("x")
    assert symbolic.gradient(tape) == [sp.sqrt(2) * sp.sqrt(sp.pi) + 1 / x + sp.exp(x)]
    assert "pi" in to_expression(tape) and "e ** x" in to_expression(tape)
    assert tapegrad.parse("e * x", variables=["e", "x"]).inputs == ("e", "x")  # a declared variable wins


def test_optimize_keeps_exact_constants_unfolded() -> None:
    x = sp.Symbol("x")
    tape = tapegrad.optimize(tapegrad.grad_tape(tapegrad.parse("sqrt(2*pi)*x**2")))
    assert symbolic.to_sympy(tape)[1] == 2 * sp.sqrt(2) * sp.sqrt(sp.pi) * x
    assert tape(1.5)[1] == pytest.approx(2 * math.sqrt(2 * math.pi) * 1.5, rel=1e-15)


REDUCTIONS: dict[str, Callable[[Any, int | None], Any]] = {
    "prod": lambda x, axis: np.prod(x, axis=axis),
    "cumsum": lambda x, axis: np.cumsum(x, axis=axis),
    "cumprod": lambda x, axis: np.cumprod(x, axis=axis),
    "min": lambda x, axis: np.min(x, axis=axis),
    "var": lambda x, axis: np.var(x, axis=axis, ddof=1),
    "std": lambda x, axis: np.std(x, axis=axis),
}


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(REDUCTIONS)),
    axis=st.sampled_from([None, 0, 1]),
    data=st.lists(st.sampled_from([0.0, -0.0, 1.0, -2.0, 0.5, 3.0]), min_size=6, max_size=6),
)
def test_reductions_agree_bit_for_bit_across_engines(name: str, axis: int | None, data: list[float]) -> None:
    """Eager backward, tape replay, the optimised gradient tape and generated numpy code: the same bits, zeros too."""
    x = np.array(data).reshape(2, 3)
    weights = np.arange(1.0, 7.0)[: np.size(REDUCTIONS[name](x, axis))].reshape(np.shape(REDUCTIONS[name](x, axis)))

    def f(x: Any) -> Any:
        return np.sum(REDUCTIONS[name](x, axis) * weights)

    tape = tapegrad.trace(f, x)
    (reference,) = tape.gradient(x)
    compiled = tapegrad.optimize(tapegrad.grad_tape(tape)).compile("numpy")(x)[1]
    eager = Value(x)
    f(eager).backward()
    for got in (compiled, eager.grad):
        np.testing.assert_array_equal(got, reference)
        assert np.array_equal(np.signbit(got), np.signbit(reference))

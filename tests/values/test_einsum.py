"""np.einsum on Values: a corpus of subscripts, each checked in every engine.

Values: bit for bit against ``np.einsum`` (the record calls it with the
subscripts written out; the corpus checks that numpy sums in the same
order).  Gradients: central differences (float64, tests/support.py's step
and tolerance) and PyTorch's float64 ``einsum`` where installed.  Second
order (the gradient of a directional derivative), forward mode, replay on
new inputs, ``grad_tape`` and ``optimize``, generated numpy code and tape
files: bit for bit against the interpreter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy
import tapegrad.numpy as tnp
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad
from tapegrad import Value
from tapegrad.core.kernels import _seinsum, _smatmul
from tapegrad.core.ops import OpKind
from tapegrad.formats import dot, io
from tapegrad.formats.codegen import to_source
from tapegrad.formats.symbolic import to_sympy
from tests.support import FD_STEP, assert_close_to, numerical_gradients

# (subscripts, operand shapes): what other autodiff projects' einsum tests cover, and numpy's corner cases.
CORPUS: list[tuple[str, tuple[tuple[int, ...], ...]]] = [
    ("ij,jk->ik", ((3, 4), (4, 5))),  # matrix product
    ("ij,jk", ((3, 4), (4, 5))),  # implicit output
    ("ij,jk->ki", ((3, 4), (4, 5))),  # output in another order
    ("Ij,jK->IK", ((3, 4), (4, 2))),  # upper-case letters
    ("bij,bjk->bik", ((2, 3, 4), (2, 4, 5))),  # batch matmul
    ("...ij,...jk->...ik", ((2, 3, 4), (4, 5))),  # ellipsis, broadcasting the batch
    ("...ij,...jk->...ik", ((2, 1, 3, 4), (5, 4, 2))),  # ellipsis with a size-1 batch axis
    ("...ij,...jk", ((2, 3, 4), (2, 4, 5))),  # ellipsis, implicit output
    ("i,i->", ((4,), (4,))),  # dot product
    ("i,i", ((4,), (4,))),
    ("i,j->ij", ((3,), (4,))),  # outer product
    ("ij,kl->ijkl", ((2, 3), (2, 2))),
    ("ij->ji", ((3, 4),)),  # transpose
    ("ji", ((3, 4),)),  # implicit: a transpose
    ("ij", ((3, 4),)),  # the identity
    ("ij->", ((3, 4),)),  # sum
    ("ij->i", ((3, 4),)),
    ("ij->j", ((3, 4),)),
    ("ijk->kji", ((2, 3, 4),)),
    ("ijk->", ((2, 3, 4),)),
    ("...i->...", ((2, 3, 4),)),
    ("i...->...", ((3, 2, 4),)),
    ("ii->i", ((3, 3),)),  # diagonal
    ("ii->", ((3, 3),)),  # trace
    ("ii", ((3, 3),)),  # trace, implicit
    ("iij->j", ((3, 3, 4),)),
    ("iji->j", ((3, 4, 3),)),
    ("iii->i", ((3, 3, 3),)),
    ("iii->", ((3, 3, 3),)),
    ("...ii->...i", ((2, 3, 3),)),  # batched diagonal
    ("...ii->...", ((2, 3, 3),)),  # batched trace
    ("ii,i->i", ((3, 3), (3,))),
    ("i,ij,j->", ((3,), (3, 4), (4,))),  # bilinear form
    ("ij,ij->", ((3, 4), (3, 4))),  # Frobenius inner product
    ("ij,ij->ij", ((3, 4), (3, 4))),  # Hadamard product
    ("ij,j->i", ((3, 4), (4,))),  # matrix-vector
    ("j,ij->i", ((4,), (3, 4))),
    ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 5))),  # three operands
    ("ab,bc,cd,de->ae", ((2, 3), (3, 2), (2, 3), (3, 2))),  # four operands
    ("i,i,i->", ((4,), (4,), (4,))),
    ("bhqd,bhkd->bhqk", ((2, 2, 3, 4), (2, 2, 5, 4))),  # attention scores
    ("bhqk,bhkd->bhqd", ((2, 2, 3, 5), (2, 2, 5, 4))),  # attention output
    ("aij,ajk,akl->ail", ((2, 2, 3), (2, 3, 2), (2, 2, 3))),
    ("ij,ij->i", ((3, 1), (3, 4))),  # a named axis of size 1 broadcasts
    ("i,i->", ((1,), (4,))),
    ("ij,jk->ik", ((0, 3), (3, 2))),  # size 0
    ("ij,jk->ik", ((3, 0), (0, 2))),  # an empty contraction: zeros
    (",i->i", ((), (3,))),  # a scalar operand
    (",->", ((), ())),
    ("i->i", ((1,),)),
]
IDS = [f"{s}{list(map(list, shapes))}".replace(" ", "") for s, shapes in CORPUS]
CASES = [pytest.param(s, shapes, id=name) for (s, shapes), name in zip(CORPUS, IDS)]


def inputs(shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, size=shape) for shape in shapes]


def loss(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> Any:
    """``sum(einsum(...) * w)`` with fixed random weights ``w``: a scalar with every output element in it."""
    weight = np.random.default_rng(7).normal(size=np.shape(np.einsum(subscripts, *inputs(shapes))))
    return lambda *xs: np.sum(np.einsum(subscripts, *xs) * weight)


def identical(actual: Any, expected: Any) -> None:
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert a.tobytes() == e.tobytes() or np.array_equal(a, e, equal_nan=True) and not a.size, (a, e)


def test_the_corpus_is_large_and_covers_the_forms() -> None:
    assert len(CORPUS) >= 40
    joined = " ".join(s for s, _ in CORPUS)
    assert "..." in joined and "ii" in joined and any("->" not in s for s, _ in CORPUS)
    assert any(len(shapes) >= 3 for _, shapes in CORPUS)
    assert any(0 in shape for _, shapes in CORPUS for shape in shapes)


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_values_agree_with_numpy_bit_for_bit(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    xs = inputs(shapes)
    expected = np.einsum(subscripts, *xs)
    identical(np.einsum(subscripts, *[Value(x) for x in xs]).data, expected)
    identical(tnp.einsum(subscripts, *xs), expected)  # plain arrays: tapegrad.numpy simply computes
    mixed = [Value(x) if k % 2 == 0 else x for k, x in enumerate(xs)]  # Values and arrays together
    identical(np.einsum(subscripts, *mixed).data, expected)


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_gradients_match_central_differences(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    f, xs = loss(subscripts, shapes), inputs(shapes)
    grads = tapegrad.grad(f, argnums=tuple(range(len(xs))))(*xs)
    assert_close_to(grads, numerical_gradients(lambda *a: float(f(*a)), xs))


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_gradients_match_torch(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    torch = pytest.importorskip("torch")
    xs = inputs(shapes)
    weight = np.random.default_rng(7).normal(size=np.shape(np.einsum(subscripts, *xs)))
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    (torch.einsum(subscripts, *leaves) * torch.tensor(weight)).sum().backward()
    grads = tapegrad.grad(loss(subscripts, shapes), argnums=tuple(range(len(xs))))(*xs)
    for ours, leaf in zip(grads, leaves):
        np.testing.assert_allclose(ours, leaf.grad.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_second_order_matches_differences_of_gradients(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    """The gradient of the directional derivative ``grad f . v``: a Hessian-vector product."""
    f, xs, directions = loss(subscripts, shapes), inputs(shapes), inputs(shapes, seed=5)
    argnums = tuple(range(len(xs)))
    gradient = tapegrad.grad(f, argnums=argnums)

    def directional(*a: Any) -> Any:
        return sum(np.sum(g * v) for g, v in zip(gradient(*a), directions))

    second = tapegrad.grad(directional, argnums=argnums)(*xs)
    differences = numerical_gradients(lambda *a: float(directional(*a)), xs)
    assert_close_to(second, differences, 1e-6)


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_forward_mode_is_the_directional_derivative(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    xs, directions = inputs(shapes), inputs(shapes, seed=3)
    value, tangent = tapegrad.jvp(lambda *a: np.einsum(subscripts, *a), xs, directions)
    identical(value, np.einsum(subscripts, *xs))
    up = np.einsum(subscripts, *[x + FD_STEP * t for x, t in zip(xs, directions)])
    down = np.einsum(subscripts, *[x - FD_STEP * t for x, t in zip(xs, directions)])
    assert_close_to([tangent], [np.asarray((up - down) / (2 * FD_STEP))])


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_every_engine_agrees_with_the_interpreter(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    """Replay on new inputs, grad_tape, optimize, generated numpy code and tape files: the same bits."""
    f, xs, fresh = loss(subscripts, shapes), inputs(shapes), inputs(shapes, seed=11)
    tape = tapegrad.trace(f, *xs)
    assert OpKind.EINSUM in tape.ops
    identical(tape(*fresh), f(*fresh))
    gradient = tape.gradient(*fresh)
    value, *grads = tapegrad.grad_tape(tape)(*fresh)
    identical(value, tape(*fresh))
    for ours, expected in zip(grads, gradient):
        identical(ours, expected)
    optimized = tapegrad.optimize(tapegrad.grad_tape(tape))
    for ours, expected in zip(optimized(*fresh)[1:], gradient):
        identical(ours, expected)
    for ours, expected in zip(tapegrad.grad_tape(tape).compile("numpy")(*fresh)[1:], gradient):
        identical(ours, expected)
    loaded = io.loads(io.dumps(tapegrad.grad_tape(tape)))
    for ours, expected in zip(loaded(*fresh)[1:], gradient):
        identical(ours, expected)


# ---------------------------------------------------------------- what the tape says


def test_the_tape_stores_the_subscripts_written_out() -> None:
    tape = tapegrad.trace(lambda a, b: np.einsum("...ij,...jk", a, b).sum(), np.ones((2, 3, 4)), np.ones((4, 5)))
    assert "= einsum %0 %1 Aij,jk->Aik" in str(tape)
    assert "np.einsum('Aij,jk->Aik', a, b)" in to_source(tape, backend="numpy")
    assert "einsum Aij,jk-\\>Aik" in dot.to_dot(tape)  # DOT escapes the record label's >
    with pytest.raises(tapegrad.errors.UnsupportedOpError, match=r"uses array ops \(einsum, sum\).*backend=\"numpy\""):
        to_source(tape, backend="math")


def test_a_broadcast_size_one_axis_is_reshaped_away() -> None:
    tape = tapegrad.trace(lambda a, b: np.einsum("ij,ij->i", a, b).sum(), np.ones((3, 1)), np.ones((3, 4)))
    assert "i,ij->i" in str(tape) and OpKind.RESHAPE in tape.ops


def test_the_interleaved_form_numbers_axes_as_numpy() -> None:
    a, b = inputs(((3, 4), (4, 5)))
    expected = np.einsum(a, [0, 1], b, [1, 2], [0, 2])
    identical(np.einsum(Value(a), [0, 1], b, [1, 2], [0, 2]).data, expected)
    identical(np.einsum(Value(a), [Ellipsis, 1], b, [1, 2]).data, np.einsum(a, [Ellipsis, 1], b, [1, 2]))
    identical(np.einsum(Value(a), [1, 0]).data, np.einsum(a, [1, 0]))  # implicit output: sorted labels


@pytest.mark.parametrize("optimize", [True, "greedy", "optimal"])
def test_optimize_contracts_a_chain_pairwise_as_matrix_products(optimize: Any) -> None:
    xs = inputs(((2, 3), (3, 40), (40, 5), (5, 2)))
    tape = tapegrad.trace(lambda *a: np.einsum("ij,jk,kl,lm->mi", *a, optimize=optimize).sum(), *xs)
    assert tape.ops.count(OpKind.MATMUL) == 3 and OpKind.EINSUM not in tape.ops
    plain = tapegrad.trace(lambda *a: np.einsum("ij,jk,kl,lm->mi", *a).sum(), *xs)
    assert plain.ops.count(OpKind.EINSUM) == 1
    assert tape(*xs) == pytest.approx(plain(*xs), rel=1e-14)
    for ours, expected in zip(tape.gradient(*xs), plain.gradient(*xs)):
        np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("subscripts", "shapes"), CASES)
def test_optimize_keeps_values_and_gradients_to_rounding(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    """Pairs become matrix products (BLAS), so sums group otherwise: 1e-13 relative of the result's scale."""
    xs = inputs(shapes)
    value = np.einsum(subscripts, *[Value(x) for x in xs], optimize=True).data
    expected = np.einsum(subscripts, *xs)
    np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-13 * (1 + np.max(np.abs(expected), initial=0)))
    f = loss(subscripts, shapes)
    optimized = tapegrad.grad(lambda *a: np.sum(np.einsum(subscripts, *a, optimize=True) * _weight(subscripts, xs)),
                              argnums=tuple(range(len(xs))))(*xs)
    for ours, reference in zip(optimized, tapegrad.grad(f, argnums=tuple(range(len(xs))))(*xs)):
        np.testing.assert_allclose(ours, reference, rtol=1e-13, atol=1e-13)


def _weight(subscripts: str, xs: list[np.ndarray]) -> np.ndarray:
    return np.random.default_rng(7).normal(size=np.shape(np.einsum(subscripts, *xs)))


def test_optimize_with_an_einsum_path() -> None:
    xs = inputs(((2, 3), (3, 4), (4, 5)))
    path = np.einsum_path("ij,jk,kl->il", *xs)[0]
    value = tnp.einsum("ij,jk,kl->il", *[Value(x) for x in xs], optimize=path)
    np.testing.assert_allclose(value.data, np.einsum("ij,jk,kl->il", *xs), rtol=1e-14)


# ---------------------------------------------------------------- strong zeros


def test_a_zero_adjoint_sends_nothing_past_an_infinite_operand() -> None:
    """``a`` holds inf and nan; ``b``'s gradient where the adjoint is zero stays 0, not nan."""
    a = np.array([[np.inf, 1.0], [2.0, np.nan]])
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[0.0, 0.0], [0.0, 0.0]])
    mask_row = np.array([[1.0, 1.0], [0.0, 0.0]])

    def f(a: Any, b: Any) -> Any:
        return np.sum(np.einsum("ij,jk->ik", a, b) * mask)

    grads = tapegrad.grad(f, argnums=(0, 1))(a, b)
    identical(grads[1], np.zeros((2, 2)))
    identical(grads[0], np.zeros((2, 2)))
    g = tapegrad.grad(lambda b: np.sum(np.einsum("ij,jk->ik", a, b) * mask_row))(b)
    # row 0 of the adjoint is 1: b[0, k] gets a[0, 0] = inf, b[1, k] gets a[0, 1] = 1; a's nan row sends nothing
    identical(g, np.array([[np.inf, np.inf], [1.0, 1.0]]))


def test_strong_zeros_in_forward_mode_and_generated_code() -> None:
    a = np.array([np.inf, 1.0, np.nan])
    b = np.array([1.0, 2.0, 3.0])
    _, tangent = tapegrad.jvp(lambda b: np.einsum("i,i->", a, b), [b], [np.array([0.0, 1.0, 0.0])])
    assert tangent == 1.0  # inf * 0 and nan * 0 add 0
    tape = tapegrad.trace(lambda b: np.einsum("i,i->", a, b) * 0.0, b)
    grad_code = tapegrad.grad_tape(tape).compile("numpy")
    identical(grad_code(b)[1], tape.gradient(b)[0])
    identical(tape.gradient(b)[0], np.zeros(3))


def test_a_diagonal_gradient_is_zero_off_the_diagonal_even_when_infinite() -> None:
    x = np.array([[np.inf, 2.0], [3.0, 4.0]])
    identical(tapegrad.grad(lambda x: np.einsum("ii->", x))(x), np.eye(2))


# ---------------------------------------------------------------- misuse: numpy's refusals, as tapegrad errors


@pytest.mark.parametrize(
    ("subscripts", "shapes", "error", "fragment"),
    [
        ("ii->ii", ((3, 3),), tapegrad.errors.InputTypeError, "names a letter more than once"),
        ("ij,jk->ik", ((3, 4), (5, 2)), tapegrad.errors.ShapeError, "sizes 4 and 5"),
        ("ij->i", ((3,),), tapegrad.errors.ShapeError, "operand 0 has 1 axes"),
        ("ii->i", ((2, 3),), tapegrad.errors.ShapeError, "sizes 2 and 3"),
        ("ii->i", ((1, 3),), tapegrad.errors.ShapeError, "repeated letter 'i' names axes of different sizes"),
        ("ij->k", ((3, 4),), tapegrad.errors.InputTypeError, "output letter 'k' is in no operand"),
        ("ij,jk", ((3, 4),), tapegrad.errors.InputTypeError, "name 2 operand(s), but 1 given"),
        ("i1->i", ((3, 3),), tapegrad.errors.InputTypeError, "not '1'"),
        ("i.j->i", ((3, 3),), tapegrad.errors.InputTypeError, "outside one '...'"),
        ("...i->i", ((2, 3),), tapegrad.errors.ShapeError, "no '...'"),
        ("i->i->i", ((3,),), tapegrad.errors.InputTypeError, "'->' at most once"),
    ],
)
def test_bad_subscripts_raise_tapegrad_errors(subscripts: str, shapes: Any, error: type, fragment: str) -> None:
    xs = [Value(x) for x in inputs(shapes)]
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        np.einsum(subscripts, *xs)
    with pytest.raises(ValueError):  # numpy refuses each of them too
        np.einsum(subscripts, *[x.data for x in xs])


def test_unsupported_arguments_are_refused_by_name() -> None:
    v = Value(np.ones(3))
    with pytest.raises(tapegrad.errors.InputTypeError, match="out="):
        np.einsum("i->i", v, out=np.zeros(3))
    with pytest.raises(tapegrad.errors.InputTypeError, match="sublist items"):
        np.einsum(v, [0.5])
    with pytest.raises(tapegrad.errors.InputTypeError, match="optimize="):
        np.einsum("i,i,i->", v, v, v, optimize="fastest")


# ---------------------------------------------------------------- hostile tape files


def _einsum_file(subscripts: Any) -> str:
    tape = tapegrad.trace(lambda a, b: np.einsum("ij,jk->ik", a, b).sum(), np.ones((2, 3)), np.ones((3, 2)))
    text = io.dumps(tape)
    assert '"ij,jk->ik"' in text
    return text.replace('"ij,jk->ik"', subscripts)


@pytest.mark.parametrize(
    ("subscripts", "fragment"),
    [
        ('"ij,jk"', "one '->'"),
        ('"ij,jk->ik->i"', "one '->'"),
        ('"ij,j k->ik"', "not ' '"),
        ('"ij,jk->...ik"', "not '.'"),
        ('"__import__(\\"os\\")->"', "not '_'"),
        ('"ij,jk->ii"', "repeats a letter"),
        ('"ij,jk->iz"', "letter 'z' is in no operand"),
        ('"ij->ij"', "name 1 operand(s), but the record has 2"),
        ('"ij,jk,kl->il"', "name 3 operand(s), but the record has 2"),
        ('"ijk,jk->ik"', "operand 0 has 2 axes"),
        ('"ij,ik->ik"', "sizes 2 and 3"),
        ("17", "must be a string"),
        ('"' + "a" * 2000 + '"', "the limit is"),
    ],
)
def test_a_tape_file_with_bad_subscripts_is_refused(subscripts: str, fragment: str) -> None:
    with pytest.raises(tapegrad.errors.TapeFormatError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        io.loads(_einsum_file(subscripts))


def test_a_tape_file_cannot_ask_for_a_huge_contraction() -> None:
    """Small operands, many letters: the work is charged before numpy runs."""
    letters = "abcdefghijklmnop"
    tape = tapegrad.trace(lambda *a: np.einsum(",".join(letters) + "->", *a), *[np.ones(2)] * len(letters))
    ones = '"shape":[40],"data":[' + ",".join(['"1.0"'] * 40) + "]"
    text = io.dumps(tape).replace('"shape":[2],"data":["1.0","1.0"]', ones)
    assert text.count(ones) == len(letters)
    with pytest.raises(tapegrad.errors.TapeFormatError, match="element operations"):
        io.loads(text)


# ---------------------------------------------------------------- random shapes


PATTERNS = ["ij,jk->ik", "...ij,...jk->...ik", "ii->i", "ij,j->i", "i,j->ij", "bij->bj"]


@settings(max_examples=25, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), sizes=st.lists(st.integers(0, 3), min_size=4, max_size=4),
       batch=st.lists(st.integers(1, 2), max_size=2), seed=st.integers(0, 2**16))
def test_random_shapes_agree_with_numpy_and_differences(pattern: str, sizes: list[int], batch: list[int],
                                                       seed: int) -> None:
    letters = dict(zip("ijkb", sizes))
    terms = pattern.split("->")[0].split(",")
    shapes = tuple(tuple(batch) * ("..." in t) + tuple(letters[ch] for ch in t.replace("...", "")) for t in terms)
    if pattern == "ii->i":
        shapes = ((sizes[0], sizes[0]),)
    xs = inputs(shapes, seed)
    identical(tnp.einsum(pattern, *[Value(x) for x in xs]).data, np.einsum(pattern, *xs))
    f = loss(pattern, shapes)
    grads = tapegrad.grad(f, argnums=tuple(range(len(xs))))(*xs)
    assert_close_to(grads, numerical_gradients(lambda *a: float(f(*a)), xs))


@pytest.mark.parametrize("subscripts", ["ij,jk->ik", "i,i->", "ij,j,k->ik", "ii,i->i", "bij,bjk->bik"])
def test_the_strong_kernel_is_a_sum_of_strong_products(subscripts: str) -> None:
    """Each term is 0 if a factor is 0 (even beside inf or nan), else the IEEE product; terms add as IEEE."""
    inputs_, output = subscripts.split("->")
    terms = inputs_.split(",")
    sizes = {"i": 3, "j": 4, "k": 2, "b": 2}
    specials = np.array([0.0, 0.0, 1.0, -2.0, 3.0, np.inf, -np.inf, np.nan])
    for seed in range(100):  # operands where the plain contraction meets 0 * inf: it has more nans than the strong
        rng = np.random.default_rng(seed)
        xs = [rng.choice(specials, size=tuple(sizes[ch] for ch in term)) for term in terms]
        with np.errstate(invalid="ignore"):
            if np.isnan(np.einsum(subscripts, *xs)).sum() > np.isnan(_seinsum(*xs, subscripts)).sum():
                break
    else:
        pytest.fail("no draw meets 0 * inf")
    letters = sorted(set("".join(terms)))
    expected = np.zeros(tuple(sizes[ch] for ch in output))
    for point in np.ndindex(*[sizes[ch] for ch in letters]):
        at = dict(zip(letters, point))
        factors = [x[tuple(at[ch] for ch in term)] for x, term in zip(xs, terms)]
        if any(f == 0.0 for f in factors):
            continue
        with np.errstate(invalid="ignore"):
            expected[tuple(at[ch] for ch in output)] += np.prod(factors)
    with np.errstate(invalid="ignore"):
        actual = _seinsum(*xs, subscripts)
        np.testing.assert_array_equal(actual, expected)  # nan where nan, inf of the right sign, exact finite sums
        if subscripts == "ij,jk->ik":
            np.testing.assert_array_equal(actual, _smatmul(*xs))


# ---------------------------------------------------------------- sympy


def test_sympy_export_expands_the_sums() -> None:
    tape = tapegrad.trace(lambda a, b: np.einsum("ii,ij->", a, b), np.ones((2, 2)), np.ones((2, 3)))
    formula = to_sympy(tape)
    a = {(i, j): sympy.Symbol(f"a_{i}_{j}") for i in range(2) for j in range(2)}
    b = {(i, j): sympy.Symbol(f"b_{i}_{j}") for i in range(2) for j in range(3)}
    expected = sum(a[i, i] * b[i, j] for i in range(2) for j in range(3))
    assert sympy.expand(formula - expected) == 0


def test_sympy_export_refuses_a_contraction_too_large() -> None:
    tape = tapegrad.trace(lambda a, b: np.einsum("ij,jk->", a, b), np.ones((30, 30)), np.ones((30, 30)))
    with pytest.raises(tapegrad.errors.SymbolicLimitError, match="element operations"):
        to_sympy(tape)


def test_more_axes_than_a_tape_file_holds_are_refused_when_recorded() -> None:
    """numpy takes 33 axes; a tape file's subscripts hold at most 32 per term, so recording refuses them."""
    with pytest.raises(tapegrad.errors.ShapeError, match="more than 32 axes"):
        tnp.einsum("...", Value(np.ones((1,) * 33)))


def test_the_optimiser_merges_equal_einsums() -> None:
    """Common subexpressions are keyed on the subscripts: equal einsums of equal operands become one."""

    def f(a: Any) -> Any:
        return np.einsum("ij,ij->", a, a) + np.einsum("ij,ij->", a, a) + np.einsum("ij,ij->i", a, a).sum()

    tape = tapegrad.trace(f, np.ones((2, 3)))
    optimized = tapegrad.optimize(tape)
    assert tape.ops.count(OpKind.EINSUM) == 3 and optimized.ops.count(OpKind.EINSUM) == 2
    point = inputs(((2, 3),))[0]
    identical(optimized(point), tape(point))
    # one adjoint for the merged record: its contributions add up in another order, so to rounding
    np.testing.assert_allclose(optimized.gradient(point)[0], tape.gradient(point)[0], rtol=1e-15, atol=0)

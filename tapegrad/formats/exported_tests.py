"""The pytest file that ``export(..., tests=True)`` writes beside an exported module.

It checks the exported functions at three points, using only the exported
module: against the values and gradients recorded when it was exported, and
the gradient against central differences.  A tape of numbers gets tests that
import only ``math`` and pytest, like the module; an array tape's tests use
numpy and draw points of the recorded shapes and dtypes.  Both files start
with the same header (:data:`_HEADER`); their checks differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..core.tape import Tape
from ..errors import ArgumentCountError, InputTypeError, ShapeError, StaleTapeError
from ..values.value import as_data, as_float
from .literals import array_source, fixed_header, identifiers, literal, printable

_HEADER = '''\
{fixed}
# Tests of the exported module {module_text}.
# They use only the exported module, loaded from the file beside this one{and_numpy}.
{imports}

_PATH = pathlib.Path(__file__).resolve().parent / {module_name!r}
_SPEC = importlib.util.spec_from_file_location("exported_{base}", _PATH)
exported = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(exported)

# the inputs the gradient is taken with respect to, by position
WRT = {wrt!r}

# (inputs, value, gradient) recorded when the module was exported
RECORDED = [
{recorded}
]
'''

_SCALAR_CHECKS = '''

@pytest.mark.parametrize("point, value, gradient", RECORDED)
def test_recorded_values(point, value, gradient):
    assert exported.{base}(*point){first} == pytest.approx(value, rel=1e-12)
    assert list(exported.{base}_grad(*point)) == pytest.approx(gradient, rel=1e-12, abs=1e-300)
    got_value, got_gradient = exported.{base}_value_and_grad(*point)
    assert got_value{first} == pytest.approx(value, rel=1e-12)
    assert list(got_gradient) == pytest.approx(gradient, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("point, value, gradient", RECORDED)
def test_gradient_against_central_differences(point, value, gradient):
    for k, i in enumerate(WRT):
        h = 1e-6 * max(1.0, abs(point[i]))
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        estimate = (exported.{base}(*up){first} - exported.{base}(*down){first}) / (2 * h)
        assert float(exported.{base}_grad(*point)[k]) == pytest.approx(estimate, rel=1e-5, abs=1e-7)
'''

_ARRAY_CHECKS = '''

def assert_close(got, expected, rtol):
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), rtol=rtol)


@pytest.mark.parametrize("point, value, gradient", RECORDED)
def test_recorded_values(point, value, gradient):
    assert_close(exported.{base}(*point){first}, value, rtol=1e-12)
    got_value, got_gradient = exported.{base}_value_and_grad(*point)
    assert_close(got_value{first}, value, rtol=1e-12)
    for got, grad, also in zip(exported.{base}_grad(*point), gradient, got_gradient):
        assert_close(got, grad, rtol=1e-12)
        assert_close(also, grad, rtol=1e-12)


@pytest.mark.parametrize("point, value, gradient", RECORDED)
def test_gradient_against_central_differences(point, value, gradient):
    for j, i in enumerate(WRT):
        x = np.asarray(point[i])
        single = x.dtype == np.float32
        for k in sorted({{0, x.size // 2, x.size - 1}} if x.size else set()):
            up, down = [np.array(p, copy=True) for p in point], [np.array(p, copy=True) for p in point]
            h = (1e-3 if single else 1e-6) * max(1.0, abs(float(x.flat[k])))
            up[i].flat[k] += h
            down[i].flat[k] -= h
            step = float(up[i].flat[k]) - float(down[i].flat[k])
            estimate = (float(exported.{base}(*up){first}) - float(exported.{base}(*down){first})) / step
            tolerance = dict(rel=1e-2, abs=1e-3) if single else dict(rel=1e-5, abs=1e-7)
            assert float(np.asarray(gradient[j]).flat[k]) == pytest.approx(estimate, **tolerance)
'''

# One recorded point of an array tape, an array to a line.
_ARRAY_ROW = """\
    (
        [
{inputs}        ],
        {value},
        [
{gradient}        ],
    ),"""


def write_tests(
    tape: Tape, module: Path, base: str, wrt: Sequence[int], test_points: Sequence[Sequence[Any]] | None = None
) -> None:
    """Write ``test_<module>.py`` beside ``module``, the export of ``base`` (with ``base_grad``...).

    ``wrt``: the input positions ``base_grad`` differentiates; ``test_points``:
    the user's points, else three found by :func:`_search`.
    """
    points = _search(tape, wrt) if test_points is None else _given(tape, wrt, test_points)
    if tape.array:
        recorded, checks = _array_rows(tape, wrt, points), _ARRAY_CHECKS
        and_numpy, imports = ", and numpy", "import importlib.util\nimport pathlib\n\nimport numpy as np\nimport pytest"
    else:
        recorded, checks = _scalar_rows(tape, wrt, points), _SCALAR_CHECKS
        and_numpy, imports = "", "import importlib.util\nimport math\nimport pathlib\n\nimport pytest"
    first = "" if tape.structure == "value" else "[0]"
    header = _HEADER.format(
        fixed="\n".join(fixed_header(f"Tests written by tapegrad {__version__}. Do not edit: export again.")),
        module_text=printable(repr(module.name)),
        and_numpy=and_numpy,
        imports=imports,
        module_name=module.name,
        base=base,
        wrt=list(wrt),
        recorded=recorded,
    )
    (test_name,) = identifiers([f"test_{module.stem}"])
    text = header + checks.format(base=base, first=first)
    (module.parent / f"{test_name}.py").write_text(text, encoding="utf-8")


# Where test points are looked for, in turn, until three are finite (function and gradient):
# first away from the kinks at 0, then negative, mixed, larger and smaller magnitudes.
_RANGES = ((0.2, 1.5), (-1.5, -0.2), (-1.5, 1.5), (1.5, 10.0), (-10.0, -1.5), (0.01, 0.2), (10.0, 1000.0),
           (-1000.0, -10.0))  # fmt: skip
_DRAWS = 12  # points drawn in each range; then 16 times as many with each input in a range of its own


def _search(tape: Tape, wrt: Sequence[int]) -> list[list[Any]]:
    """Three points (drawn deterministically) where the function and its gradient are finite."""
    rng, mixing = np.random.default_rng(0), np.random.default_rng(1)
    ranges = [[r] * len(tape.inputs) for r in _RANGES for _ in range(_DRAWS)]
    ranges += [[_RANGES[k] for k in mixing.integers(len(_RANGES), size=len(tape.inputs))] for _ in range(_DRAWS * 16)]
    points: list[list[Any]] = []
    for per_input in ranges:
        point = [_random_like(tape.values[s], rng, r) for s, r in zip(tape.input_slots, per_input)]
        if _finite_at(tape, wrt, point):
            points.append(point)
            if len(points) == 3:
                return points
    raise InputTypeError(
        f"the function is not finite (or takes another branch) at any of the {len(ranges)} test points tried, "
        f"drawn from {', '.join(f'[{a}, {b}]' for a, b in _RANGES)}; pass test_points=[[...], ...] "
        "(points in its domain), or export without tests=True"
    )


def _given(tape: Tape, wrt: Sequence[int], test_points: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The user's ``test_points``, converted to the recorded types and checked."""
    points = []
    for k, given in enumerate(test_points):
        if len(given) != len(tape.inputs):
            raise ArgumentCountError(
                f"test_points[{k}] has {len(given)} entries, but tape {tape.name!r} takes {len(tape.inputs)} "
                f"inputs ({', '.join(tape.inputs)}); give one value per input"
            )
        recorded = [tape.values[s] for s in tape.input_slots]
        point = [_like(r, x, f"test_points[{k}][{i}]") for i, (r, x) in enumerate(zip(recorded, given))]
        if not _finite_at(tape, wrt, point):
            raise InputTypeError(
                f"at test_points[{k}] the function or its gradient is not finite (or the inputs take another "
                "branch than the one recorded); choose points inside its domain"
            )
        points.append(point)
    if not points:
        raise InputTypeError("test_points is empty; give at least one point, or leave it out to have points found")
    return points


def _like(recorded: Any, x: Any, what: str) -> Any:
    """A user's test input as the recorded input's type: a float, or an array of its shape and dtype."""
    if not isinstance(recorded, np.ndarray):
        return as_float(x, what)
    array = np.asarray(as_data(x, what), dtype=recorded.dtype)
    if array.shape != recorded.shape:
        raise ShapeError(f"{what} has shape {array.shape}, but the input was recorded with shape {recorded.shape}")
    return array


def _finite_at(tape: Tape, wrt: Sequence[int], point: list[Any]) -> bool:
    """Are the value and the gradient entries ``wrt`` finite at ``point`` (on the recorded branch)?"""
    try:
        value, grads = tape.value_and_gradient(*point)
    except StaleTapeError:
        return False
    scalar = value if tape.structure == "value" else value[0]
    return all(np.all(np.isfinite(v)) for v in (scalar, *(grads[i] for i in wrt)))


def _scalar_rows(tape: Tape, wrt: Sequence[int], points: list[list[Any]]) -> str:
    """One ``(inputs, value, gradient)`` a line."""
    rows = []
    for point in points:
        value, all_grads = tape.value_and_gradient(*point)
        scalar, grads = value if tape.structure == "value" else value[0], [all_grads[i] for i in wrt]
        rows.append(f"    ([{', '.join(map(repr, point))}], {scalar!r}, [{', '.join(map(repr, grads))}]),")
    return "\n".join(rows)


def _array_rows(tape: Tape, wrt: Sequence[int], points: list[list[Any]]) -> str:
    """The points, written as exact arrays."""
    rows = []
    for point in points:
        value, all_grads = tape.value_and_gradient(*point)
        scalar, grads = value if tape.structure == "value" else value[0], [all_grads[i] for i in wrt]
        inputs = "".join(f"            {_data_source(x)},\n" for x in point)
        gradient = "".join(f"            {_data_source(g)},\n" for g in grads)
        rows.append(_ARRAY_ROW.format(inputs=inputs, value=_data_source(scalar), gradient=gradient))
    return "\n".join(rows)


def _random_like(recorded: Any, rng: np.random.Generator, bounds: tuple[float, float]) -> Any:
    """A random point of the recorded input's shape and dtype in ``bounds``, rounded to 3 decimals."""
    if not isinstance(recorded, np.ndarray):
        return round(float(rng.uniform(*bounds)), 3)
    return np.round(rng.uniform(*bounds, size=recorded.shape), 3).astype(recorded.dtype)


def _data_source(x: Any) -> str:
    """A recorded number or array as source for the written tests."""
    if isinstance(x, (np.ndarray, np.generic)):
        return array_source(np.asarray(x), "            ")
    return literal(x, "numpy")

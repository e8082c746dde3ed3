"""The pytest file that ``export(..., tests=True)`` writes beside an exported module.

It checks the exported functions at three points, using only the exported
module: against the values and gradients recorded when it was exported, and
the gradient against central differences.  A tape of numbers gets tests that
import only ``math`` and pytest, like the module; an array tape's tests use
numpy and draw points of the recorded shapes and dtypes.  Both files start
with the same header (:data:`_HEADER`); their checks differ.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import InputTypeError
from .literals import array_source, fixed_header, identifiers, literal, printable
from .tape import Tape

_HEADER = '''\
{fixed}
# Tests of the exported module {module_text}.
# They use only the exported module, loaded from the file beside this one{and_numpy}.
{imports}

_PATH = pathlib.Path(__file__).resolve().parent / {module_name!r}
_SPEC = importlib.util.spec_from_file_location("exported_{base}", _PATH)
exported = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(exported)

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
    for i in range(len(point)):
        h = 1e-6 * max(1.0, abs(point[i]))
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        estimate = (exported.{base}(*up){first} - exported.{base}(*down){first}) / (2 * h)
        assert float(exported.{base}_grad(*point)[i]) == pytest.approx(estimate, rel=1e-5, abs=1e-7)
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
    for i, x in enumerate(point):
        x = np.asarray(x)
        single = x.dtype == np.float32
        for k in sorted({{0, x.size // 2, x.size - 1}} if x.size else set()):
            up, down = [np.array(p, copy=True) for p in point], [np.array(p, copy=True) for p in point]
            h = (1e-3 if single else 1e-6) * max(1.0, abs(float(x.flat[k])))
            up[i].flat[k] += h
            down[i].flat[k] -= h
            step = float(up[i].flat[k]) - float(down[i].flat[k])
            estimate = (float(exported.{base}(*up){first}) - float(exported.{base}(*down){first})) / step
            tolerance = dict(rel=1e-2, abs=1e-3) if single else dict(rel=1e-5, abs=1e-7)
            assert float(np.asarray(gradient[i]).flat[k]) == pytest.approx(estimate, **tolerance)
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


def write_tests(tape: Tape, module: Path, base: str) -> None:
    """Write ``test_<module>.py`` beside ``module``, the export of ``base`` (with ``base_grad``...)."""
    if tape.array:
        recorded, checks = _array_rows(tape), _ARRAY_CHECKS
        and_numpy, imports = ", and numpy", "import importlib.util\nimport pathlib\n\nimport numpy as np\nimport pytest"
    else:
        recorded, checks = _scalar_rows(tape), _SCALAR_CHECKS
        and_numpy, imports = "", "import importlib.util\nimport math\nimport pathlib\n\nimport pytest"
    first = "" if tape.structure == "value" else "[0]"
    header = _HEADER.format(
        fixed="\n".join(fixed_header(f"Tests written by tapegrad {__version__}. Do not edit: export again.")),
        module_text=printable(repr(module.name)),
        and_numpy=and_numpy,
        imports=imports,
        module_name=module.name,
        base=base,
        recorded=recorded,
    )
    (test_name,) = identifiers([f"test_{module.stem}"])
    text = header + checks.format(base=base, first=first)
    (module.parent / f"{test_name}.py").write_text(text, encoding="utf-8")


def _scalar_rows(tape: Tape) -> str:
    """Three points in [0.2, 1.5] (away from the kinks at 0), one ``(inputs, value, gradient)`` a line."""
    rng = random.Random(0)
    points = [[round(rng.uniform(0.2, 1.5), 3) for _ in tape.inputs] for _ in range(3)]
    rows = []
    for point in points:
        value, grads = tape.value_and_gradient(*point)
        scalar = value if tape.structure == "value" else value[0]
        if not all(math.isfinite(v) for v in (scalar, *grads)):
            raise InputTypeError("the function is not finite at the test points; export without tests=True")
        rows.append(f"    ([{', '.join(map(repr, point))}], {scalar!r}, [{', '.join(map(repr, grads))}]),")
    return "\n".join(rows)


def _array_rows(tape: Tape) -> str:
    """Three points of the recorded shapes and dtypes, written as exact arrays."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(3):
        point = [_random_like(tape.values[s], rng) for s in tape.input_slots]
        value, grads = tape.value_and_gradient(*point)
        scalar = value if tape.structure == "value" else value[0]
        if not all(np.all(np.isfinite(v)) for v in (scalar, *grads)):
            raise InputTypeError("the function is not finite at the test points; export without tests=True")
        inputs = "".join(f"            {_data_source(x)},\n" for x in point)
        gradient = "".join(f"            {_data_source(g)},\n" for g in grads)
        rows.append(_ARRAY_ROW.format(inputs=inputs, value=_data_source(scalar), gradient=gradient))
    return "\n".join(rows)


def _random_like(recorded: Any, rng: np.random.Generator) -> Any:
    """A random point of the recorded input's shape and dtype, in [0.2, 1.5] (away from the kinks at 0)."""
    if not isinstance(recorded, np.ndarray):
        return round(float(rng.uniform(0.2, 1.5)), 3)
    return np.round(rng.uniform(0.2, 1.5, size=recorded.shape), 3).astype(recorded.dtype)


def _data_source(x: Any) -> str:
    """A recorded number or array as source for the written tests."""
    if isinstance(x, (np.ndarray, np.generic)):
        return array_source(np.asarray(x), "            ")
    return literal(x, "numpy")

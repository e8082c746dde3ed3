"""The package's layers import one way: errors <- core <- values <- functional <- formats <- lab, cli.

Every ``import`` statement of the package is read with :mod:`ast` (also those
inside functions), so a new import against the direction fails here, not in a
review.  The few deferred imports that must run upward are listed below, each
with the reason it is allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tapegrad"

RANKS = {
    "_version": 0,
    "errors": 0,
    "core": 1,
    "values": 2,
    "nn": 3,  # Module/Neuron/Layer/MLP and optimisers: on Values only
    "functional": 3,
    "formats": 4,
    "lab": 5,
    "cli": 6,
    "__init__": 7,
}
"""Where each top-level part of the package sits; a module may import its own rank and below."""

ALLOWED_UPWARD = {
    # Tape's conveniences (tape.compile(), .save(), .to_sympy(), .to_dot(), calling a tape, .gradient(),
    # .explain()): the program stays the lowest layer, the methods load the layer that does the work.
    ("core.tape", "formats.codegen"),
    ("core.tape", "formats.io"),
    ("core.tape", "formats.dot"),
    ("core.tape", "formats.symbolic"),
    ("core.tape", "functional.replay"),
}
"""(importer, imported) pairs allowed against the direction, all deferred into functions."""

NN_MAY_IMPORT = {"errors", "core", "values", "nn"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def is_shim(path: Path) -> bool:
    """The deprecated flat paths (``tapegrad/value.py``...): they only forward to the new module."""
    return path.parent == PACKAGE and "moved to :mod:" in path.read_text().split("\n", 1)[0]


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module inside tapegrad, line, deferred) for every import of ``path``."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" and name != "__init__" else name.split(".")[:-1]
    if name == "__init__":
        package = []
    found = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        deferred = id(node) not in top_level
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "tapegrad":
                target = node.module.split(".")[1:]
            else:
                continue
            if not node.module or node.level and not node.module:
                found += [(".".join(target + [alias.name]), node.lineno, deferred) for alias in node.names]
            else:
                found.append((".".join(target), node.lineno, deferred))
        elif isinstance(node, ast.Import):
            found += [(".".join(a.name.split(".")[1:]), node.lineno, deferred) for a in node.names
                      if a.name.split(".")[0] == "tapegrad"]
    return found


def rank(module: str) -> int:
    return RANKS[module.split(".")[0] or "__init__"]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if not is_shim(p))


def test_every_part_of_the_package_has_a_rank() -> None:
    tops = {module_name(p).split(".")[0] for p in MODULES}
    assert tops <= set(RANKS), f"give these a place in RANKS: {sorted(tops - set(RANKS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_the_layers(path: Path) -> None:
    importer = module_name(path)
    wrong = []
    for imported, line, deferred in imports_of(path):
        if not imported or imported.split(".")[0] not in RANKS:
            continue
        upward = rank(imported) > rank(importer)
        if importer.startswith("nn") and imported.split(".")[0] not in NN_MAY_IMPORT:
            upward = True
        allowed = (importer, imported) in ALLOWED_UPWARD and deferred
        if upward and not allowed:
            wrong.append(f"line {line}: {importer} imports {imported}")
    assert not wrong, "imports against the layer direction:\n" + "\n".join(wrong)


def test_allowed_upward_imports_are_still_needed() -> None:
    """Each exception in ALLOWED_UPWARD names an import that exists (a stale exception would hide nothing)."""
    seen = {(module_name(p), imported) for p in MODULES for imported, _, _ in imports_of(p)}
    assert ALLOWED_UPWARD <= seen, sorted(ALLOWED_UPWARD - seen)


def test_the_flat_paths_are_shims_that_warn() -> None:
    import importlib
    import sys

    shims = sorted(p for p in PACKAGE.glob("*.py") if is_shim(p))
    assert shims, "the deprecated flat module paths are kept for one release"
    for path in shims:
        sys.modules.pop(f"tapegrad.{path.stem}", None)
        with pytest.warns(DeprecationWarning, match=f"tapegrad.{path.stem} moved to"):
            module = importlib.import_module(f"tapegrad.{path.stem}")
        assert module.__name__ != f"tapegrad.{path.stem}"  # the new module itself

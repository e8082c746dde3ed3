"""Every ```python example in README.md and docs/**/*.md runs, and prints what the page shows.

The conventions (also in docs/design.md, "Examples that run"):

- A page's ```python blocks run in order in one namespace, in a fresh
  temporary directory, with a time limit per page.
- A ```text block right after a ```python block is what that block prints;
  it is compared as doctest compares output, with ``...`` matching anything
  (doctest's ELLIPSIS); trailing blank lines are ignored.
- ``<!-- raises NAME -->`` on the line before a block: the block must raise
  the exception class ``NAME`` (the lines before the raise still run).
- A ```console block runs its ``$ tapegrad ...`` lines through
  ``tapegrad.cli.main`` in the same directory (so files the page's python
  wrote are there); a command must exit 0, and the lines under it, when
  there are any, are its output (compared as above).
- ``<!-- no-run -->`` on the line before a block: it is not run (kept rare:
  examples that need files or tools a test cannot have).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
TIME_LIMIT = 120
"""Seconds a page's examples may take together (the slowest, the arrays guide, takes about 2 s)."""

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*(no-run|raises\s+(\w+))\s*-->\s*$")


@dataclass
class Example:
    line: int
    source: str
    output: str | None = None
    raises: str | None = None
    language: str = "python"


def commands(console: str) -> list[tuple[list[str], str]]:
    """The ``$ tapegrad`` command lines of a console block: (arguments, the output shown under it)."""
    found: list[tuple[list[str], str]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:], comments=True)
            if words[0] != "tapegrad":
                raise AssertionError(f"console examples run only the tapegrad command, not {line!r}")
            found.append((words[1:], ""))
        elif found:
            found[-1] = (found[-1][0], found[-1][1] + line + "\n")
    return found


def examples(page: Path) -> list[Example]:
    """The page's runnable ```python blocks, each with the output block that follows it."""
    text = page.read_text(encoding="utf-8")
    found: list[Example] = []
    previous_end = -1
    previous: Example | None = None
    for fence in FENCE.finditer(text):
        language, body = fence.group(1), fence.group(2)
        line = text.count("\n", 0, fence.start()) + 1
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        adjacent = previous is not None and text[previous_end : fence.start()].strip() == ""
        if language == "text" and adjacent and previous is not None:
            previous.output = body
        previous = None
        if language in ("python", "console") and not (marker and marker.group(1) == "no-run"):
            previous = Example(line, body, raises=marker.group(2) if marker else None, language=language)
            found.append(previous)
        previous_end = fence.end()
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _timeout(signum: int, frame: object) -> None:
    raise TimeoutError(f"the page's examples took more than {TIME_LIMIT} s")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(page, page_id(page))


def run_page(page: Path, name: str) -> None:
    """Run the page's examples in order in one namespace; AssertionError says which one failed and how."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    checker = doctest.OutputChecker()
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TIME_LIMIT)
    try:
        for example in examples(page):
            where = f"{name}:{example.line}"
            if example.language == "console":
                run_console(example, where, checker)
                continue
            printed = io.StringIO()
            raised: BaseException | None = None
            with contextlib.redirect_stdout(printed):
                try:
                    exec(compile(example.source, where, "exec"), namespace)
                except Exception as error:  # compared with the page's raises marker below
                    raised = error
            if example.raises is None and raised is not None:
                raise AssertionError(f"the example at {where} raised {raised!r}") from raised
            if example.raises is not None and type(raised).__name__ != example.raises:
                raise AssertionError(f"the example at {where} should raise {example.raises}, got {raised!r}")
            if example.output is not None:
                got = printed.getvalue().rstrip() + "\n"  # trailing blank lines do not show on a page
                if not checker.check_output(example.output.rstrip() + "\n", got, doctest.ELLIPSIS):
                    raise AssertionError(f"the example at {where} printed:\n{got}but the page shows:\n{example.output}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_console(example: Example, where: str, checker: doctest.OutputChecker) -> None:
    from tapegrad.cli import main

    for arguments, shown in commands(example.source):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = main(arguments)
        if status != 0:
            raise AssertionError(f"tapegrad {shlex.join(arguments)} at {where} exited with {status}")
        got = printed.getvalue().rstrip() + "\n"
        if shown.strip() and not checker.check_output(shown.rstrip() + "\n", got, doctest.ELLIPSIS):
            command = f"tapegrad {shlex.join(arguments)}"
            raise AssertionError(f"{command} at {where} printed:\n{got}but the page shows:\n{shown}")


def test_conventions_are_read(tmp_path: Path) -> None:
    """The extractor pairs output blocks, skips no-run blocks and reads raises markers."""
    page = (
        "```python\nprint(1)\n```\n\n```text\n1\n```\n"
        "<!-- no-run -->\n```python\nimport missing\n```\n"
        "<!-- raises ValueError -->\n```python\nint('x')\n```\n"
        "```bash\nls\n```\n"
    )
    path = tmp_path / "page.md"
    path.write_text(page, encoding="utf-8")
    found = examples(path)
    assert [(e.source, e.output, e.raises) for e in found] == [
        ("print(1)\n", "1\n", None),
        ("int('x')\n", None, "ValueError"),
    ]
    console = "$ tapegrad grad x --at x=1   # a comment\nvalue: 1.0\n$ tapegrad show f.json\n"
    assert commands(console) == [(["grad", "x", "--at", "x=1"], "value: 1.0\n"), (["show", "f.json"], "")]


@pytest.mark.parametrize(
    "page, message",
    [
        ("```python\nprint(2)\n```\n\n```text\n3\n```\n", "page.md:1 printed:\n2\n"),
        ("```python\nprint('a b c')\n```\n\n```text\na ... c\n```\n", None),
        ("<!-- raises ValueError -->\n```python\nx = 1\n```\n", "page.md:2 should raise ValueError, got None"),
        ("```python\nx = 1\n```\n```python\nprint(y)\n```\n", "page.md:4 raised NameError"),
        ("```console\n$ tapegrad grad x*y --at x=1,y=2\nvalue: 3.0\n```\n", "printed:\ngrad_x = y"),
    ],
)
def test_a_page_that_does_not_do_what_it_shows_fails(page: str, message: str | None, tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text(page, encoding="utf-8")
    if message is None:
        run_page(path, "page.md")
        return
    with pytest.raises(AssertionError) as failure:
        run_page(path, "page.md")
    assert message in str(failure.value)


def test_readme_and_guides_have_examples() -> None:
    """The README and the guides show runnable code (an empty extraction means the fences broke)."""
    assert examples(ROOT / "README.md")
    for guide in sorted((ROOT / "docs" / "guide").glob("*.md")):
        assert examples(guide), f"{page_id(guide)} has no runnable python example"

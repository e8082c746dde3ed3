"""The closure-vs-tape report: one small run writes tables and real, non-blank plots."""

from __future__ import annotations

import re
import struct
import sys
import zlib
from pathlib import Path

import pytest

from tapegrad.errors import InputTypeError, MissingToolError
from tapegrad.lab.report import write_report

PLOTS = ("time_per_op.png", "memory_per_op.png", "deep_chain.png")


def _has_micrograd() -> bool:
    try:
        import micrograd.engine  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report")
    return write_report(directory, depths=(10, 100), chain_depths=(1000,), progress=False)


def _tables(text: str) -> list[list[list[str]]]:
    """Each markdown table as rows of cells, header first, the |---| line left out."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    return tables


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def test_report_holds_three_tables_and_links_each_plot(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert report.name == "report.md"
    assert [table[0][1] for table in _tables(text)] == ["ops 10", "ops 10", "depth 1000"]
    for name in PLOTS:
        assert f"]({name})" in text


def test_table_engines_and_numbers_are_positive(report: Path) -> None:
    time_table, memory_table, chain_table = _tables(report.read_text(encoding="utf-8"))
    assert time_table[0] == ["engine", "ops 10", "ops 100"]
    assert {row[0] for row in time_table[1:]} >= {"closure", "tape eager", "tape replay", "compiled"}
    assert {row[0] for row in memory_table[1:]} >= {"closure", "tape"}
    assert chain_table[0] == ["engine", "depth 1000"]
    numbers = 0
    for table in (time_table, memory_table, chain_table):
        for row in table[1:]:
            for cell in row[1:]:
                if re.fullmatch(r"[0-9.]+", cell):
                    assert float(cell) > 0, row
                    numbers += 1
    assert numbers >= 2 * 4 + 2 * 2 + 4  # every tapegrad cell of all three tables is a number


def test_tapegrad_survives_the_deep_chain(report: Path) -> None:
    chain_table = _tables(report.read_text(encoding="utf-8"))[2]
    for row in chain_table[1:]:
        if row[0] != "micrograd":
            assert float(row[1]) > 0, row


@pytest.mark.skipif(not _has_micrograd(), reason="micrograd is not installed")
def test_micrograd_breaks_on_a_chain_of_depth_1000(report: Path) -> None:
    chain_table = _tables(report.read_text(encoding="utf-8"))[2]
    assert ["micrograd", "RecursionError"] in chain_table


@pytest.mark.parametrize("name", PLOTS)
def test_plot_is_a_real_png_that_is_not_blank(report: Path, name: str) -> None:
    data = (report.parent / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = _png_chunks(data)
    assert chunks[0][0] == b"IHDR"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 100 and height > 100
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(set(pixels)) > 2


def test_progress_counter_goes_to_stderr_without_tqdm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    write_report(tmp_path, depths=(10,), chain_depths=(10,), progress=True)
    captured = capsys.readouterr()
    assert re.search(r"^\[1/\d+\] time: closure, 10 ops$", captured.err, re.MULTILINE)
    assert captured.out == ""


def test_missing_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingToolError, match=r"pip install 'tapegrad\[plot\]'"):
        write_report(tmp_path, depths=(10,), chain_depths=(10,), progress=False)
    assert not (tmp_path / "report.md").exists()


def test_graph_sizes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InputTypeError):
        write_report(tmp_path, depths=(0,), chain_depths=(10,), progress=False)

"""What loading a tape file costs at the default caps: peak memory and time, one fresh process a file.

The caps of :mod:`tapegrad.io` (``MAX_BYTES``, ``MAX_RECORDS``,
``MAX_ELEMENTS``, ``MAX_WORK``) are chosen so that no file, valid or
hostile, makes a default load take more than about 1 GB or more than a few
seconds.  Each row is a file built to reach one cap:

* ``records``: a valid tape of ``MAX_RECORDS`` scalar ``add`` records (the
  JSON document and the tape together peak at about 430 bytes a record);
* ``records + elements``: the same with one array of nearly
  ``MAX_ELEMENTS`` elements (15 copies of a broadcast view, concatenated);
* ``array data``: one constant array filling ``MAX_BYTES`` with ``"1.0"``;
* ``empty lists``: ``MAX_BYTES`` of ``[],[],...`` (the costliest JSON to
  parse per byte; refused after parsing);
* ``matmul work``: a 300-byte file asking for 2**33 multiply-adds (refused
  by ``MAX_WORK`` before it is computed);
* ``old caps``: 10**7 records, which the caps before issue 15 admitted
  (4.5 GB to load); now refused before it is read.

Peak memory is the child's maximum resident set (``ru_maxrss``), including
the interpreter, numpy and tapegrad (about 35 MB).

Run:  python benchmarks/bench_load_memory.py
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tapegrad import io  # noqa: E402


def write(path: Path, records: Iterable[str], outputs: list[int], example: str = "") -> Path:
    """A tape file whose records (JSON text, commas included) are written piece by piece: this process stays small."""
    with path.open("w", encoding="utf-8") as file:
        file.write('{"format":"tapegrad.tape","version":2,"name":"f","records":[')
        file.writelines(records)
        structure = "value" if len(outputs) == 1 else "tuple"
        file.write(
            f'],"inputs":{"[0]" if example else "[]"},"example":[{example}],"captured":{{}},"outputs":{outputs},'
            f'"output_names":{json.dumps(["out"] * len(outputs))},"structure":"{structure}","sites":{{}}}}'
        )
    return path


def adds(count: int) -> Iterator[str]:
    """An input and ``count - 1`` scalar additions."""
    yield '["input",[],"x"]'
    for i in range(count - 1):
        yield f',["add",[{i},{i}]]'


def spread(count: int, elements: int) -> Iterator[str]:
    """``adds(count - 3)``, then about ``elements`` numbers in one array: 15 copies of a broadcast view, joined."""
    yield from adds(count - 3)
    view = count - 2
    yield f',["reshape",[{count - 4}],[1]],["broadcast_to",[{count - 3}],[{elements // 16}]]'
    yield f',["concat",{[view] * 15},0]'


def data(count: int) -> Iterator[str]:
    """One constant array of ``count`` numbers, written as strings (as tapegrad writes them)."""
    yield '["const",[],{"dtype":"float64","shape":[' + str(count) + '],"data":["1.0"'
    for _ in range(count - 1):
        yield ',"1.0"'
    yield "]}]"


def files(folder: Path) -> dict[str, Path]:
    """One file per row, each at one of the default caps."""
    n, m = io.MAX_RECORDS, 2**11
    numbers = (io.MAX_BYTES - 300) // 6  # each ,"1.0" is 6 bytes
    matmul = ['["const",[],"1.0"]', f',["broadcast_to",[0],[{m},1,1,{m}]],["broadcast_to",[0],[1,{m},{m},1]]',
              ',["matmul",[1,2]]']  # fmt: skip
    empty = folder / "empty_lists.json"
    with empty.open("w") as file:
        file.write('{"format":"tapegrad.tape","version":2,"records":[[]')
        file.writelines(itertools.repeat(",[]", (io.MAX_BYTES - 60) // 3))
        file.write("]}")
    return {
        "records": write(folder / "records.json", adds(n), [n - 1], '"1.0"'),
        "records + elements": write(folder / "elements.json", spread(n, io.MAX_ELEMENTS - n), [n - 1], '"1.0"'),
        "array data": write(folder / "data.json", data(numbers), [0]),
        "empty lists": empty,
        "matmul work": write(folder / "matmul.json", matmul, [3]),
        "old caps": write(folder / "old.json", adds(10**7), [10**7 - 1], '"1.0"'),
    }


LOAD = """
import resource, sys
from tapegrad import io
from tapegrad.errors import TapeFormatError
try:
    tape = io.load(sys.argv[1])
    outcome = f"loaded, {len(tape):,} records"
except TapeFormatError as error:
    outcome = "refused: " + str(error)[:90]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(outcome)
"""


def measure(path: Path) -> tuple[float, float, str]:
    """Peak resident memory (MB), seconds and outcome of loading ``path`` in a fresh interpreter."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT)}, timeout=600)  # fmt: skip
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return float("nan"), seconds, result.stderr.strip().splitlines()[-1]
    peak, outcome = result.stdout.splitlines()
    return float(peak), seconds, outcome


def main() -> None:
    print(f"caps: MAX_BYTES {io.MAX_BYTES:,}, MAX_RECORDS {io.MAX_RECORDS:,}, MAX_ELEMENTS {io.MAX_ELEMENTS:,}, "
          f"MAX_WORK {io.MAX_WORK:,}\n")  # fmt: skip
    print("| file | size (MB) | peak memory (MB) | time (s) | outcome |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, path in files(Path(folder)).items():
            peak, seconds, outcome = measure(path)
            size = path.stat().st_size / 1e6
            print(f"| {name} | {size:,.1f} | {peak:,.0f} | {seconds:.1f} | {outcome} |", flush=True)


if __name__ == "__main__":
    main()

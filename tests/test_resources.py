"""Bounded resources on hostile input: small inputs that asked for hours or gigabytes.

Each attack runs in a subprocess with a timeout and a memory limit, so a
regression fails the test instead of hanging the suite or the machine.

1. symbolic export keeps exact numbers below ``MAX_EXACT_BITS``: a huge
   integer power (or forty squarings) becomes a float at once;
2. loading a tape file bounds the work of replaying it at its example
   point, matrix products and reductions included;
3. everything is linear in the number of inputs (10**5 of them);
4. ``load`` reads at most ``max_bytes + 1`` bytes of any file (a FIFO,
   ``/dev/zero``);
5. the default caps keep a load under about 1 GB.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import tapegrad
from tapegrad import io
from tapegrad.core.ops import OpKind
from tapegrad.errors import TapeFormatError
from tapegrad.formats.symbolic import MAX_EXACT_BITS

ROOT = Path(__file__).resolve().parents[1]
GIGABYTE = 2**30


def run_bounded(
    code: str, memory: int = 2 * GIGABYTE, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter limited to ``memory`` bytes of address space and ``timeout`` seconds."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, preexec_fn=limit, env=env, cwd=cwd,
    )  # fmt: skip


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``tapegrad`` command, bounded as :func:`run_bounded`."""
    return run_bounded(f"import sys; from tapegrad.cli import main; sys.exit(main({list(args)!r}))", cwd=cwd)


# ---------------------------------------------------------------- 1. exact numbers in symbolic export

HUGE = 4503599627370496  # 2**52: 3**HUGE has about 7 * 10**15 bits


def test_a_huge_integer_power_from_the_command_line_is_a_float() -> None:
    result = run_cli("grad", f"(x - x + 3) ** {HUGE} * x")
    assert result.returncode == 0, result.stderr[-500:]
    last = result.stdout.splitlines()[-1]
    assert last.lower() == "grad_x = 1.81366225427434e+2148763104966015"  # 3**HUGE as a float


def test_a_tape_file_with_a_huge_power_exports_in_every_symbolic_form(tmp_path: Path) -> None:
    tape = tapegrad.trace(lambda x: (x - x + 3.0) ** float(HUGE - 1) * x, 1.0)
    assert any(r.op is OpKind.POW_CONST and r.attr == HUGE - 1 for r in tape.records)
    tape.save(tmp_path / "pow.json")
    mantissa = r"6\.04554084758\d*"  # 3**(HUGE - 1), to about 13 digits
    for fmt, expected in [("sympy", rf"out = {mantissa}e\+2148763104966014\*x"),
                          ("latex", rf"{mantissa} \\cdot 10\^\{{2148763104966014\}} x")]:  # fmt: skip
        result = run_cli("show", "pow.json", "--format", fmt, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-500:]
        assert re.search(expected, result.stdout), result.stdout
    result = run_bounded(
        """
        import tapegrad
        from tapegrad import symbolic
        tape = tapegrad.Tape.load("pow.json")
        print(symbolic.gradient(tape))
        print(symbolic.latex(tape))
        print(tape._repr_markdown_())
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert re.fullmatch(rf"\[{mantissa}e\+2148763104966014\]", result.stdout.splitlines()[0])
    assert re.search(rf"\$\$out = {mantissa} \\cdot 10\^\{{2148763104966014\}} x\$\$", result.stdout)


def test_repeated_squaring_becomes_a_float_past_the_bound() -> None:
    def squarings(x):  # type: ignore[no-untyped-def]
        y = x - x + 4503599627370495.0
        for _ in range(40):
            y = y * y
        return (3.0 * x) ** 2.0**40 + y * x

    tape = tapegrad.trace(squarings, 1.0)
    result = run_bounded(
        f"""
        import tapegrad
        from tapegrad import io
        tape = io.loads({io.dumps(tape)!r})
        print(tape.to_sympy())
        print(tapegrad.symbolic.gradient(tape, cse=True)[1])
        """
    )
    assert result.returncode == 0, result.stderr[-500:]
    value, gradient = result.stdout.splitlines()
    assert value == "2.20581448097349e+524600367423*x**1099511627776 + 1.32299998998744e+17211270988179*x"
    assert gradient == "[t0]"


def test_exact_numbers_stay_exact_below_the_bound() -> None:
    x = sp.Symbol("x")
    assert tapegrad.parse("(x - x + 3) ** 100 * x").to_sympy() == 3**100 * x
    assert tapegrad.parse("(3 * x) ** 4000").to_sympy() == sp.Integer(3) ** 4000 * x**4000
    assert tapegrad.parse(f"x ** {HUGE}").to_sympy() == x**HUGE  # no number grows: exact
    floated = tapegrad.parse("(3 * x) ** 6000").to_sympy()
    assert floated.args == (sp.Float(3.0) ** 6000, x**6000) and isinstance(floated.args[0], sp.Float)
    assert 3**4000 < 2**MAX_EXACT_BITS < 3**6000 * 2**4000


# ---------------------------------------------------------------- 2. the work of replaying a tape file


def broadcast_matmul(n: int) -> str:
    """A 300-byte file: two broadcast views of one number, multiplied as a batch of (1, n) @ (n, 1) products.

    Its arrays hold 3 * n**2 elements, its matrix product takes n**3 multiply-adds.
    """
    document = {
        "format": "tapegrad.tape", "version": 2, "name": "f",
        "records": [["const", [], "1.0"], ["broadcast_to", [0], [n, 1, 1, n]], ["broadcast_to", [0], [1, n, n, 1]],
                    ["matmul", [1, 2]]],
        "inputs": [], "example": [], "captured": {}, "outputs": [3], "output_names": ["out"], "structure": "value",
        "sites": {},
    }  # fmt: skip
    return json.dumps(document)


def test_a_small_file_cannot_ask_for_minutes_of_matrix_products(tmp_path: Path) -> None:
    (tmp_path / "matmul.json").write_text(broadcast_matmul(2**11))  # 2**33 multiply-adds: 18 s before the cap
    assert (tmp_path / "matmul.json").stat().st_size < 400 and 3 * 2**22 < io.MAX_ELEMENTS
    result = run_cli("show", "matmul.json", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(
        "tapegrad show: error: invalid tape file at records[3]: replaying the tape at its example point would take "
        f"more than {io.MAX_WORK:,} element operations (a matrix product (n, k) @ (k, m) takes n * m * k); "
        "pass max_work if you trust the file"
    ), result.stderr[-500:]


def test_the_work_cap_is_a_parameter() -> None:
    text = broadcast_matmul(16)  # 2 * 16**2 elements broadcast, 16**2 results of 16 multiply-adds each
    assert io.loads(text)().shape == (16, 16, 1, 1)
    assert io.loads(text, max_work=2 * 16**2 + 16**3)().shape == (16, 16, 1, 1)
    with pytest.raises(TapeFormatError, match=r"at records\[3\]: replaying .* more than 4,607 element operations"):
        io.loads(text, max_work=2 * 16**2 + 16**3 - 1)


def test_reductions_pay_for_what_they_read() -> None:
    def sums(x):  # type: ignore[no-untyped-def]
        total = x.sum()
        for _ in range(99):
            total = total + x.sum()
        return total

    text = io.dumps(tapegrad.trace(sums, np.ones(1000)))
    assert io.loads(text, max_work=100 * 1000 + 200)(np.ones(1000)) == 100_000.0
    with pytest.raises(TapeFormatError, match=r"at records\[\d+\]: replaying"):
        io.loads(text, max_work=50 * 1000)


# ---------------------------------------------------------------- 3. linear in the number of inputs


def test_a_hundred_thousand_inputs(tmp_path: Path) -> None:
    """Every step was quadratic somewhere (``inputs.count``, ``tape.inputs`` rebuilt per input, ``x_2, x_3...``
    counted from 2 for each repeat): loading 80,000 inputs took 83 s, ``grad_tape`` of 10,000 took 10 s."""
    result = run_bounded(
        """
        import tapegrad
        from tapegrad import io
        from tapegrad.formats.codegen import to_source

        n = 10**5

        def f(*xs):
            total = xs[0] * xs[0]
            for x in xs[1:]:
                total = total + x * 2.0
            return total

        tapegrad.trace(f, *[1.0] * n, names=["x"] * n).save("many.json")
        tape = tapegrad.Tape.load("many.json")
        assert io.dumps(tape) == open("many.json", encoding="utf-8").read()
        assert str(tape).count("= input x") == n
        xs = [0.5] * n
        assert tape.gradient(*xs) == (1.0,) + (2.0,) * (n - 1)
        g = tapegrad.optimize(tapegrad.grad_tape(tape))
        assert g.output_names == ["out"] + ["grad_x"] * n and g(*xs)[1:] == (1.0,) + (2.0,) * (n - 1)
        assert tape.explain(*xs).endswith("d/dx = 2.0, d/dx = 2.0")
        assert tapegrad.jvp_tape(tape)(*xs, *[1.0] * n)[1] == 1.0 + 2.0 * (n - 1)
        assert "x_100000" in to_source(tape, "f")
        print("ok")
        """,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]


# ---------------------------------------------------------------- 4. reading at most max_bytes + 1 bytes


def fifo_writer(fifo: Path, data: bytes, repeat: int) -> tuple[threading.Thread, list[int]]:
    """A thread writing ``data`` ``repeat`` times into ``fifo`` until the reader closes it; counts what it wrote."""
    written = [0]

    def write() -> None:
        try:
            with open(fifo, "wb", buffering=0) as pipe:
                for _ in range(repeat):
                    written[0] += pipe.write(data)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, written


def test_a_fifo_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "tape.fifo"
    os.mkfifo(fifo)
    thread, written = fifo_writer(fifo, b" " * 2**16, 2**10)  # willing to write 64 MiB
    with pytest.raises(TapeFormatError, match=r"tape.fifo holds more than 1,024 bytes, the limit \(pass max_bytes\)"):
        io.load(fifo, max_bytes=1024)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert written[0] <= 1025 + 2**20  # what was read, and what the pipe's buffer took before the reader closed


def test_a_tape_comes_through_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "tape.fifo"
    os.mkfifo(fifo)
    text = io.dumps(tapegrad.trace(lambda x: x * 2.0, 1.5)).encode("utf-8")
    thread, _ = fifo_writer(fifo, text, 1)
    assert io.load(fifo)(4.0) == 8.0
    thread.join(timeout=60)


def test_dev_zero_is_a_clean_error() -> None:
    result = run_bounded(
        """
        from tapegrad import io
        from tapegrad.errors import TapeFormatError
        try:
            io.load("/dev/zero", max_bytes=1000)
        except TapeFormatError as error:
            print(error)
        """
    )
    assert result.stdout == "/dev/zero holds more than 1,000 bytes, the limit (pass max_bytes)\n", result.stderr[-500:]
    result = run_cli("show", "/dev/zero")
    assert result.returncode == 1 and result.stdout == ""
    limit = f"more than {io.MAX_BYTES:,} bytes, the limit (pass max_bytes)"
    assert result.stderr == f"tapegrad show: error: /dev/zero holds {limit}\n"


# ---------------------------------------------------------------- 5. what the default caps cost

PEAK = """
import sys
from tapegrad import io
from tapegrad.errors import TapeFormatError
try:
    print(f"loaded {len(io.load(sys.argv[1])):,} records")
except TapeFormatError as error:
    print(str(error).split(": ")[-1])
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)  # this process's peak resident memory, MB
"""


def peak_of_loading(path: Path) -> tuple[str, int]:
    """What loading ``path`` with the default caps says, and its peak resident memory in MB (a fresh process)."""
    result = run_bounded(PEAK.replace("sys.argv[1]", repr(str(path))), memory=4 * GIGABYTE, timeout=300)
    assert result.returncode == 0, result.stderr[-1000:]
    outcome, peak = result.stdout.splitlines()
    return outcome, int(peak)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_a_default_load_stays_under_a_gigabyte(tmp_path: Path) -> None:
    """The caps before issue 15 let a 10**7-record file (170 MB) take 4.5 GB; see benchmarks/bench_load_memory.py."""
    n = io.MAX_RECORDS
    records = ",".join(['["input",[],"x"]'] + [f'["add",[{i},{i}]]' for i in range(n - 1)])
    (tmp_path / "records.json").write_text(
        '{"format":"tapegrad.tape","version":1,"name":"f","records":[' + records + '],"inputs":[0],"example":["1.0"],'
        f'"captured":{{}},"outputs":[{n - 1}],"output_names":["out"],"structure":"value","sites":{{}}}}'
    )
    outcome, peak = peak_of_loading(tmp_path / "records.json")
    assert outcome == "loaded 1,000,000 records" and peak < 1024
    empty = ",".join(["[]"] * ((io.MAX_BYTES - 60) // 3))  # the costliest JSON to parse, byte for byte
    (tmp_path / "empty.json").write_text('{"format":"tapegrad.tape","version":2,"records":[' + empty + "]}")
    outcome, peak = peak_of_loading(tmp_path / "empty.json")
    assert outcome == f"{(io.MAX_BYTES - 60) // 3:,} records; the limit is 1,000,000 (pass max_records)"
    assert peak < 1024


def test_a_file_past_the_byte_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with open(tmp_path / "huge.json", "wb") as file:
        file.truncate(10**12)  # sparse: a terabyte that takes no disk
    with pytest.raises(TapeFormatError, match=f"huge.json is 1,000,000,000,000 bytes; the limit is {io.MAX_BYTES:,}"):
        io.load(tmp_path / "huge.json")

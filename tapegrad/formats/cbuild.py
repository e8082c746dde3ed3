"""Compiling and loading the C backend: the system compiler, a cache directory, ``ctypes``.

``tape.compile("c")`` encodes the tape for the C virtual machine
(:mod:`tapegrad.formats.cvm`) and returns a :class:`CFunction`, called with
floats like the ``"math"`` backend's function and giving the same numbers.
The machine itself is compiled once per tapegrad version and compiler, with
``$CC`` (split as a shell would) or else ``cc``, ``gcc`` or ``clang`` from
``PATH``, into a cache directory: ``$TAPEGRAD_CACHE_DIR``, else
``$XDG_CACHE_HOME/tapegrad`` or ``~/.cache/tapegrad``.  The file name is a
hash of the source, the compiler and its flags, so a changed machine is
compiled again, and a compiled one is never rebuilt.  Without a compiler,
:class:`~tapegrad.errors.CompilerNotFoundError` says how to get one; there
is no silent fallback, since the point of asking for ``"c"`` is its speed
(``tape.compile("math")`` needs no compiler).

Flags: ``-O2`` (the machine is small: it compiles in under a second),
``-ffp-contract=off`` (no fused multiply-add, which rounds once where the
interpreter rounds twice) and nothing that relaxes IEEE arithmetic.
"""

from __future__ import annotations

import array
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..core.tape import Tape
from ..errors import ArgumentCountError, CompileError, CompilerNotFoundError, InputTypeError
from .cvm import Program, encode, machine_source

__all__ = [
    "CFunction",
    "compile_c",
    "find_compiler",
    "cache_directory",
    "FLAGS",
    "load_machine",
    "build_machine",
    "compile_library",
]

FLAGS = ("-O2", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math", "-fno-builtin")
_COMPILE_SECONDS = 300
_LOADED: dict[str, Any] = {}  # compiled machines loaded in this process, by file name


def find_compiler() -> list[str]:
    """The compiler command: ``$CC`` if set, else the first of ``cc``, ``gcc``, ``clang`` on ``PATH``."""
    configured = os.environ.get("CC", "").strip()
    if configured:
        command = shlex.split(configured)
        path = shutil.which(command[0])
        if path is None:
            raise CompilerNotFoundError(
                f"the C backend needs a C compiler, and CC={configured!r} names none that can be run; set CC to "
                "a compiler's path (CC=gcc), or unset it to use cc, gcc or clang from PATH"
            )
        return [path, *command[1:]]
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path is not None:
            return [path]
    raise CompilerNotFoundError(
        "the C backend needs a C compiler, and none was found (CC is not set; no cc, gcc or clang on PATH). "
        "Install one (Debian/Ubuntu: apt install gcc; macOS: xcode-select --install), or set CC to its path; "
        'tape.compile("math") needs no compiler'
    )


def cache_directory() -> Path:
    """Where compiled machines are kept: a directory only this user can change (made if missing).

    A directory others could write to, or one reached through a path they could redirect, would let
    them replace the library this process loads; then a per-user directory under the system's
    temporary directory is used, checked the same way.
    """
    configured = os.environ.get("TAPEGRAD_CACHE_DIR")
    if configured:
        base = Path(configured)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tapegrad"
    fallback = Path(tempfile.gettempdir()) / f"tapegrad-c-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    for candidate in (base, fallback):
        try:
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            resolved = candidate.resolve(strict=True)
            if _private(resolved) and all(_safe_parent(parent) for parent in resolved.parents):
                return resolved
        except OSError:
            continue
    raise CompileError(
        f"no private directory for the compiled C machine: {base} and {fallback} can be changed by other "
        "users; set TAPEGRAD_CACHE_DIR to a directory only you can write"
    )


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else."""
    if not hasattr(os, "getuid"):
        return True
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _safe_parent(directory: Path) -> bool:
    """A directory above the cache that no other user can use to swap the cache: owned by this user or root,
    and writable by no one else unless sticky (as /tmp, where others cannot rename what is ours)."""
    if not hasattr(os, "getuid"):
        return True
    info = directory.stat()
    open_to_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX
    return info.st_uid in (0, os.getuid()) and not open_to_others


def load_machine() -> Any:
    """The machine's ``tg_run`` function: compiled on first use (cached on disk), loaded with ctypes."""
    compiler = find_compiler()
    source = machine_source()
    target = [sys.platform, platform.machine()]  # a cache shared between machines keeps one library per kind
    key = hashlib.sha256("\0".join([source, *compiler, *FLAGS, *target]).encode()).hexdigest()[:24]
    name = f"tg_machine_{key}.so"
    if name not in _LOADED:
        library = cache_directory() / name
        if not library.exists():
            compile_library(source, library, compiler)
        if not _private(library):
            raise CompileError(f"refusing to load {library}: it is not owned by you, or others can write it")
        _LOADED[name] = _bind(ctypes.CDLL(str(library)))
    return _LOADED[name]


def build_machine(library: Path) -> Path:
    """Compile the machine into ``library`` (benchmarks time this; :func:`load_machine` caches it)."""
    return compile_library(machine_source(), library)


def compile_library(source: str, library: Path, compiler: list[str] | None = None) -> Path:
    """Compile C ``source`` into the shared library ``library`` with :data:`FLAGS` (an exported file, say)."""
    _compile(compiler or find_compiler(), source, library.parent, library)
    return library


def _compile(compiler: list[str], source: str, directory: Path, library: Path) -> None:
    """Compile ``source`` into ``library``: written beside it under a temporary name, then renamed (atomic)."""
    with tempfile.TemporaryDirectory(dir=directory, prefix="build-") as build:
        c_file, output = Path(build) / "machine.c", Path(build) / "machine.so"
        c_file.write_text(source, encoding="ascii")
        command = [*compiler, *FLAGS, "-o", str(output), str(c_file), "-lm"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_COMPILE_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CompileError(f"could not run the C compiler ({shlex.join(command)}): {error}") from None
        if done.returncode != 0 or not output.exists():
            tail = (done.stderr or done.stdout).strip()[-2000:]
            raise CompileError(
                f"the C compiler failed (exit status {done.returncode}) on tapegrad's generated C; command: "
                f"{shlex.join(command)}\n{tail}\nCheck that CC names a working C99 compiler "
                '(or use tape.compile("math"))'
            )
        os.replace(output, library)


def _bind(library: Any) -> Any:
    run = library.tg_run
    run.restype = ctypes.c_int
    long, pointer = ctypes.c_long, ctypes.c_void_p
    run.argtypes = [pointer, long, pointer, long, pointer, long, long, long, long, pointer, pointer]
    return run


class CFunction:
    """A scalar tape compiled for the C machine: call it with floats, as the ``"math"`` backend's function.

    ``f.batch(points)`` runs it at many points in one call: ``points`` of
    shape ``(n, inputs)`` gives an array of shape ``(n, outputs)``.
    """

    def __init__(self, program: Program, run: Any) -> None:
        self.program = program
        self._run = run
        self._fixed = (
            program.code.ctypes.data, len(program.code), program.constants.ctypes.data, len(program.constants),
            program.outputs.ctypes.data, len(program.outputs), program.inputs, program.slots,
        )  # fmt: skip
        self.__name__ = self.__qualname__ = program.name if program.name.isidentifier() else "f"

    def __repr__(self) -> str:
        return f"<tapegrad C function {self.__name__}: {len(self.program.code):,} instructions>"

    def __call__(self, *args: Any) -> Any:
        inputs = self.program.inputs
        if len(args) != inputs:
            raise ArgumentCountError(f"{self.__name__} takes {inputs} inputs ({', '.join(self.program.input_names)}), "
                                     f"got {len(args)}")  # fmt: skip
        try:
            x = array.array("d", args)
        except TypeError:
            x = array.array("d", self._floats(args))
        y = array.array("d", bytes(8 * len(self.program.outputs)))
        self._check(self._run(*self._fixed, 1, x.buffer_info()[0], y.buffer_info()[0]))
        outputs = y.tolist()
        structure = self.program.structure
        return outputs[0] if structure == "value" else (outputs if structure == "list" else tuple(outputs))

    def batch(self, points: Any) -> np.ndarray:
        """The outputs at each row of ``points`` (shape ``(n, inputs)``), as an ``(n, outputs)`` array."""
        x = np.ascontiguousarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.program.inputs:
            raise InputTypeError(f"batch takes an array of shape (n, {self.program.inputs}): one row per point, "
                                 f"one column per input; got shape {x.shape}")  # fmt: skip
        y = np.empty((x.shape[0], len(self.program.outputs)))
        self._check(self._run(*self._fixed, x.shape[0], x.ctypes.data, y.ctypes.data))
        return y

    def _floats(self, args: tuple[Any, ...]) -> list[float]:
        try:
            if any(isinstance(a, (str, bytes, bytearray)) for a in args):
                raise TypeError("text is not a number")  # float("1.5") would read it
            return [float(a) for a in args]
        except (TypeError, ValueError):
            kinds = ", ".join(sorted({type(a).__name__ for a in args}))
            raise InputTypeError(f"{self.__name__} takes real numbers (floats), got {kinds}") from None

    def _check(self, code: int) -> None:
        if code == 0:
            return
        if code == -1:
            raise MemoryError(f"no memory for the work array of {self.program.slots:,} numbers")
        if code > 0:
            raise ValueError(f"inputs take another branch than the one recorded: {self.program.guards[code - 1]}")
        raise CompileError(f"the C machine met an instruction it does not know (code {code}): a tapegrad bug")


def compile_c(tape: Tape) -> CFunction:
    """``tape`` (of numbers) as a :class:`CFunction`; the machine is compiled once and cached."""
    program = encode(tape)  # errors in the tape (array ops) before looking for a compiler
    return CFunction(program, load_machine())

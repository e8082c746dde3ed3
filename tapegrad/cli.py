"""The ``tapegrad`` command.  For now it tells its version and how to start."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__

_DESCRIPTION = """\
tapegrad: automatic differentiation on an explicit tape.

Start in Python:
    from tapegrad import Value
    a = Value(2.0); b = (a * a).tanh(); b.backward(); print(a.grad)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tapegrad", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"tapegrad {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help(sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

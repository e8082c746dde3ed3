"""The ``tapegrad`` command: derivatives and code from a terminal.

Exit status: 0 on success, 2 on bad usage, 1 on a user error (with a
one-line message on stderr; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import TapegradError, UnknownNameError, UnsupportedOpError

FORMATS = ("tape", "sympy", "latex", "python", "numpy", "dot", "json")

_DESCRIPTION = """\
tapegrad: automatic differentiation on an explicit tape.

examples:
  tapegrad grad "tanh(x * y) + x**2" --at x=0.5,y=-1.2
  tapegrad grad "exp(-x**2)" --format python -o gauss_grad.py
  tapegrad export "log(1 + x**2) * y" -o model.py --backend numpy
  tapegrad grad "-x*y" --at x=1,y=2
  tapegrad show saved.json --format latex
  tapegrad compare --depth 100,1000
  tapegrad compare --report report/
"""


def _point(text: str | None, names: Sequence[str]) -> list[float] | None:
    """``x=0.5,y=-1.2`` as values in input order."""
    if text is None:
        return None
    given: dict[str, float] = {}
    for part in text.split(","):
        name, sep, number = part.partition("=")
        if not sep:
            raise UnknownNameError(f"--at takes name=value pairs, as in x=0.5,y=-1.2; got {part!r}")
        try:
            given[name.strip()] = float(number)
        except ValueError:
            raise UnknownNameError(f"--at: {number!r} is not a number") from None
    missing = [n for n in names if n not in given]
    unknown = [n for n in given if n not in names]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UnknownNameError(f"--at: {problem}; the variables are {', '.join(names)}")
    return [given[n] for n in names]


def _derivative_tape(tape: Any, order: int, wrt: list[str] | None) -> Any:
    """The tape of the gradient (order 1) or of the Hessian's rows (order 2)."""
    from .core.passes import optimize
    from .functional.tracing import trace
    from .functional.transforms import gradient_tape, select_outputs

    def gradient(t: Any) -> Any:
        return optimize(gradient_tape(t, wrt))

    result = gradient(tape)
    if order == 2:
        parts = [gradient(select_outputs(result, [k])) for k in range(len(result.output_slots))]

        def stacked(*xs: Any) -> tuple[Any, ...]:
            return tuple(v for part in parts for v in part(*xs))

        rows = [name.removeprefix("grad_") for name in result.output_names]
        example = [float(result.values[s]) for s in result.input_slots]
        result = optimize(trace(stacked, *example, names=result.inputs))
        result.output_names = [f"d2_{a}_{b.removeprefix('grad_')}" for a, p in zip(rows, parts) for b in p.output_names]
    result.name = f"{'grad' if order == 1 else f'd{order}'}_{tape.name}"
    return result


def _render(tape: Any, fmt: str, order: int = 1) -> str:
    if fmt == "tape":
        return str(tape)
    if fmt == "json":
        from .formats.io import dumps

        return dumps(tape)
    if fmt == "dot":
        from .formats.dot import to_dot

        return to_dot(tape)
    if fmt in ("python", "numpy"):
        from .formats.codegen import to_source

        try:
            return to_source(tape, tape.name if tape.name.isidentifier() else "f", "math" if fmt == "python" else fmt)
        except UnsupportedOpError as error:  # the library's hint names backend="numpy"; here it is a flag
            raise UnsupportedOpError(f"{str(error).partition('; generate it with')[0]}; use --format numpy") from None
    from .formats.symbolic import to_sympy

    replacements, exprs = to_sympy(tape, cse=True)
    if fmt == "sympy":
        lines = [f"{name} = {expr}" for name, expr in replacements]
        return "\n".join(lines + [f"{name} = {expr}" for name, expr in zip(tape.output_names, exprs)])
    import sympy

    rows = [f"{sympy.latex(n)} &= {sympy.latex(e)}" for n, e in replacements]
    rows += [f"{sympy.latex(sympy.Symbol(n))} &= {sympy.latex(e)}" for n, e in zip(tape.output_names, exprs)]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def terminal_text(text: str) -> str:
    """``text`` with every non-printable character but the newline written as ``\\uXXXX``.

    Names come from files and users: an escape sequence in one (ESC ``]0;``
    retitles a window, ESC ``[2J`` clears the screen) must not reach the
    terminal, and a lone surrogate cannot be printed at all.  The escape is
    JSON's, so ``--format json`` stays valid JSON that reads back the same.
    """
    if text.isprintable():
        return text
    return "\n".join(line if line.isprintable() else "".join(map(_escaped, line)) for line in text.split("\n"))


def _escaped(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code > 0xFFFF:  # a surrogate pair, as JSON writes it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _emit(text: str, output: str | None) -> None:
    text = terminal_text(text)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {output}")
    else:
        print(text)


def _grad(args: argparse.Namespace) -> None:
    from .formats.parse import parse

    tape = parse(args.expr)
    if not tape.inputs:  # a constant: nothing to differentiate, but its value is still an answer
        if args.at or args.wrt:
            raise UnknownNameError(f"{args.expr!r} has no variables, so --at and --wrt have nothing to name")
        print(f"value: {tape()!r}")
        print("the expression has no variables: it is a constant, and its gradient is empty")
        return
    point = _point(args.at, tape.inputs)  # checked before anything is printed
    wrt = args.wrt.split(",") if args.wrt else None
    derivative = _derivative_tape(tape, args.order, wrt)
    _emit(_render(derivative, args.format, args.order), args.output)
    if point is not None:
        print(f"value: {tape(*point)!r}")
        results = derivative(*point)
        for name, v in zip(derivative.output_names, results if isinstance(results, tuple) else [results]):
            print(f"{name}: {v!r}")
        if args.explain:
            print(tape.explain(*point))
    elif args.explain:
        raise UnknownNameError("--explain needs a point: add --at x=...,y=...")


def _export(args: argparse.Namespace) -> None:
    from .formats.export import export
    from .formats.parse import parse

    tape = parse(args.expr)
    name = args.name or Path(args.output).stem
    wrt = args.wrt.split(",") if args.wrt else None
    name = name if name.isidentifier() else "f"
    path = export(tape, args.output, name=name, backend=args.backend, tests=args.tests, wrt=wrt)
    print(terminal_text(f"wrote {path}"))
    if args.tests:
        print(terminal_text(f"wrote {path.parent / f'test_{path.stem}.py'}"))


def _show(args: argparse.Namespace) -> None:
    from .formats.io import load

    tape = load(args.file)
    if args.format not in ("json", "python", "numpy"):  # those escape names themselves, and keep them exact
        _one_line_names(tape)
    _emit(_render(tape, args.format), args.output)


def _one_line_names(tape: Any) -> None:
    """Escape the names of a loaded tape (its own copy) so that each prints on one line.

    A name from a file holding a newline would otherwise forge a record in
    the listing (``x\\n  %9 = ...``) or a formula line in ``--format sympy``.
    """
    from .core.ops import OpKind
    from .formats.literals import printable

    tape.name = printable(tape.name)
    tape.output_names = [printable(name) for name in tape.output_names]
    tape.sites = {slot: printable(site) for slot, site in tape.sites.items()}
    for slot, kind in enumerate(tape.ops):
        if kind is OpKind.INPUT:
            tape.attrs[slot] = printable(tape.attrs[slot])


def _compare(args: argparse.Namespace) -> None:
    from .lab.compare import compare_engines, first_divergence

    if args.report:
        from .lab.report import write_report

        path = write_report(args.report, depths=args.depth)
        print(f"wrote {path}")
        return
    if args.diverge:
        file, _, function = args.diverge.rpartition(":")
        if not file or not function:
            raise UnknownNameError("--diverge takes FILE.py:FUNCTION")
        namespace = runpy.run_path(file)  # the user's own program, run on purpose as pytest would
        if function not in namespace:
            raise UnknownNameError(f"{file} defines no function {function!r}")
        f = namespace[function]
        import inspect

        names = [p.name for p in inspect.signature(f).parameters.values()]
        point = _point(args.at, names) or [1.0] * len(names)
        divergence = first_divergence(f, *point)
        print("the engines agree on every value and gradient" if divergence is None else f"first: {divergence}")
        return
    rows = compare_engines(args.depth)
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def _depths(text: str) -> list[int]:
    """``100,1000`` as program lengths (bad usage, exit 2, otherwise)."""
    try:
        depths = [int(d) for d in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None
    if any(d < 1 for d in depths):
        raise argparse.ArgumentTypeError(f"program lengths must be at least 1, got {text!r}")
    return depths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tapegrad", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"tapegrad {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    # --debug after the command too; SUPPRESS keeps the top-level --debug when it is not repeated there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=f"{help_text}\n\nexample:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common],
        )  # fmt: skip

    grad = command("grad", "differentiate an expression", 'tapegrad grad "tanh(x * y)" --at x=0.5,y=2 --format sympy')
    grad.add_argument("expr", help='the expression, e.g. "tanh(x * y) + x**2" (or "-x*y": a leading - is fine)')
    grad.add_argument("--wrt", help="differentiate with respect to these variables (comma-separated)")
    grad.add_argument("--at", help="also print the value and derivatives at this point, e.g. x=0.5,y=-1.2")
    grad.add_argument("--order", type=int, choices=(1, 2), default=1, help="1: gradient, 2: Hessian")
    grad.add_argument("--format", choices=FORMATS, default="sympy", help="what to print (default: sympy)")
    grad.add_argument("--explain", action="store_true", help="print the backward pass step by step (needs --at)")
    grad.add_argument("-o", "--output", help="write to this file instead of printing")
    grad.set_defaults(run=_grad)

    export = command("export", "write a standalone module", 'tapegrad export "x * exp(y)" -o model.py --tests')
    export.add_argument("expr", help="the expression")
    export.add_argument("-o", "--output", required=True, help="the module to write")
    export.add_argument("--backend", choices=("math", "numpy"), default="math")
    export.add_argument("--name", help="the function's name (default: the file's name)")
    export.add_argument("--wrt", help="the gradient with respect to these variables only (comma-separated)")
    export.add_argument("--tests", action="store_true", help="also write test_MODULE.py (pytest) beside it")
    export.set_defaults(run=_export)

    show = command("show", "print a saved tape", "tapegrad show tape.json --format python")
    show.add_argument("file", help="a tape file (tape.save)")
    show.add_argument("--format", choices=FORMATS, default="tape")
    show.add_argument("-o", "--output", help="write to this file instead of printing")
    show.set_defaults(run=_show)

    compare = command("compare", "the closure engine against the tape", "tapegrad compare --depth 100,1000")
    compare.add_argument("--depth", type=_depths, default="100,1000,10000", help="program lengths (comma-separated)")
    compare.add_argument("--diverge", metavar="FILE.py:FUNC", help="find where two engines first differ on FUNC")
    compare.add_argument("--at", help="the point for --diverge, e.g. x=1,y=2")
    compare.add_argument("--report", metavar="DIR", help="write DIR/report.md with plots (needs matplotlib)")
    compare.set_defaults(run=_compare)
    return parser


def _expression_last(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``grad -x*y --at ...`` as ``grad --at ... -- -x*y``: argparse would take ``-x*y`` for an option.

    A word after ``grad`` or ``export`` that starts with one ``-`` and is no
    option of that command (nor the value of one) is the expression.
    """
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    start = next((i for i, word in enumerate(argv) if word in commands), None)
    if start is None or argv[start] not in ("grad", "export") or "--" in argv:
        return argv
    actions = commands[argv[start]]._option_string_actions
    for i in range(start + 1, len(argv)):
        word, before = argv[i], argv[i - 1]
        if word.startswith("--") or not word.startswith("-") or word[:2] in actions:
            continue
        if before in actions and actions[before].nargs != 0:
            continue  # the value of an option, as in --at -1 (argparse decides what it makes of it)
        return argv[:i] + argv[i + 1 :] + ["--", word]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(_expression_last(list(sys.argv[1:] if argv is None else argv), parser))
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    try:
        args.run(args)
    except (TapegradError, OSError) as error:
        if args.debug:
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(terminal_text(f"tapegrad {args.command}: error: {first_line.rstrip(':')}"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``probflow`` command line: one entry point, one module per subcommand.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``handler(args) -> int``. Errors that a user can fix (a bad name, a missing file, a bad NFE) are
:class:`probflow.ProbflowError` subclasses (:class:`~probflow.errors.CommandError` for the command line's own) and
print as one line with exit code 2. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from probflow.errors import CommandError, ProbflowError

__all__ = ["CommandError", "build_parser", "main"]

SUBCOMMANDS = ("demo", "sample", "calibrate", "order", "compare", "train", "schedules", "solvers", "fid")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="probflow",
        description="Diffusion sampling as solving the probability-flow ODE / reverse-time SDE.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'probflow <command> --help' for a command's options and examples.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in SUBCOMMANDS:
        importlib.import_module(f"probflow.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ProbflowError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"probflow: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("probflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``--threads N`` option of every command that computes, read by :func:`probflow.threads.threads_for`."""

from __future__ import annotations

import argparse

from probflow.threads import ENV_VAR, SMALL_WORK


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (``args.threads``, ``None`` when not given) to a subcommand's parser."""
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help=f"torch intra-op threads (default: ${ENV_VAR} if set, else 1 for batches under "
                             f"{SMALL_WORK} values and torch's default for larger ones)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value

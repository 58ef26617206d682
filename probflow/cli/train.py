"""``probflow train``: train a shipped recipe and write its weights (``python -m probflow.training`` as a command)."""

from __future__ import annotations

import argparse
import time

from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError
from probflow.extras import APPS, require_all
from probflow.files import check_output_dir, check_output_file
from probflow.threads import threads_for
from probflow.training.__main__ import DTYPES
from probflow.training.config import load_training_data
from probflow.training.recipes import RECIPES, build_recipe

EXAMPLES = """examples:
  probflow train digits-edm --out digits-edm.safetensors
  probflow train digits-notime --out notime.safetensors --work-dir runs/ --dtype float32
  probflow train digits-edm --steps 200 --out my-edm.safetensors   # a quick, rougher model

An interrupted run resumes from the checkpoints in --work-dir when the same command is run again.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a shipped model recipe and write its weights",
        description=f"Train one of the recipes behind the shipped weights ({', '.join(sorted(RECIPES))}) and write "
                    "the .safetensors file that probflow.pretrained loads.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", help=f"one of: {', '.join(sorted(RECIPES))}")
    parser.add_argument("--out", required=True, help="the .safetensors weights file to write")
    parser.add_argument("--work-dir", default="probflow-checkpoints", help="checkpoints; a rerun resumes from them")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float16", help="storage precision of the weights")
    parser.add_argument("--steps", type=int, help="optimiser steps instead of the recipe's (a quicker, rougher model)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_all(APPS, feature="probflow train")
    if args.recipe not in RECIPES:
        raise CommandError(f"unknown recipe {args.recipe!r}; available: {', '.join(sorted(RECIPES))}")
    check_output_file(args.out, "--out")
    check_output_dir(args.work_dir, "--work-dir")
    started = time.perf_counter()
    with threads_for(recipe_work_size(args.recipe), args.threads):
        path = build_recipe(args.recipe, args.out, work_dir=args.work_dir, progress=not args.no_progress,
                            dtype=DTYPES[args.dtype], steps=args.steps)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s")
    return 0


def recipe_work_size(recipe: str) -> int:
    """The most scalar values in one training batch of the recipe's components: batch size times image size."""
    return max(config.batch_size * load_training_data(config)[0][0].numel() for config in RECIPES[recipe].values())

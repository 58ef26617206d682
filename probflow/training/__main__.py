"""``python -m probflow.training RECIPE --out FILE``: train a shipped recipe and write its weights file."""

from __future__ import annotations

import argparse
import time

import torch

from probflow.training.recipes import RECIPES, build_recipe

DTYPES = {"float16": torch.float16, "float32": torch.float32}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m probflow.training", description=__doc__)
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--out", required=True, help="the .safetensors weights file to write")
    parser.add_argument(
        "--work-dir", default="probflow-checkpoints", help="where checkpoints go; an interrupted run resumes from them"
    )
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float16", help="storage precision of the weights")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = build_recipe(
        args.recipe, args.out, work_dir=args.work_dir, progress=not args.no_progress, dtype=DTYPES[args.dtype]
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

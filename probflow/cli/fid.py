"""``probflow fid``: FID and KID of a sample directory written by ``probflow sample --out``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError
from probflow.extras import APPS, require_all
from probflow.files import check_output_file, write_text
from probflow.generation import evaluate, process_group
from probflow.generation.distributed import parse_device
from probflow.threads import threads_for


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fid",
        help="FID and KID of sampled shards against the digits test split",
        description="Score the samples in DIR (shards of 'probflow sample --out DIR') with FID and KID on the "
                    "features of the shipped digits classifier, against the digits test split. Runs unchanged "
                    "under torchrun: each rank extracts the features of its share of the shards.",
        epilog="examples:\n  probflow fid samples/\n  torchrun --nproc_per_node=4 -m probflow fid samples/ --json fid.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", type=Path, help="the output directory of 'probflow sample --out'")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the scores to a JSON file")
    parser.add_argument("--batch-size", type=int, default=512, help="images per feature batch (default: 512)")
    parser.add_argument("--kid-subsets", type=int, help="KID subsets (default: max(ceil(n / 50), 4))")
    parser.add_argument("--device", default="auto", help="auto (cuda:LOCAL_RANK if available, else cpu), cpu, cuda:0")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_all(APPS, feature="probflow fid")
    from probflow import pretrained
    from probflow.metrics import ClassifierFeatures, digits_reference_features

    if not args.dir.is_dir():
        raise CommandError(f"{args.dir}: no such directory (write samples with 'probflow sample --out')")
    if args.json is not None:
        check_output_file(args.json, "--json")
    if not pretrained.weights_path("digits-classifier").is_file():
        raise CommandError(f"the classifier weights are missing: {pretrained.weights_path('digits-classifier')}")
    device = parse_device(args.device)
    extract = ClassifierFeatures(pretrained.load("digits-classifier").to(device), batch_size=args.batch_size)
    work_size = args.batch_size * math.prod(pretrained.DIGITS_SHAPE)
    with process_group(device) as ranks, threads_for(work_size, args.threads):
        quality = evaluate(args.dir, extract=extract, reference_features=digits_reference_features("test"),
                           kid_subsets=args.kid_subsets)
        if ranks.is_main:
            print(f"FID      {quality.fid:.4f}")
            print(f"KID      {quality.kid:.6f} ± {quality.kid_std:.6f} ({quality.kid_subsets} subsets)")
            print(f"samples  {quality.samples} (reference: digits test split, {quality.reference_samples} images)")
            if args.json is not None:
                write_text(args.json, json.dumps({**quality.to_dict(), "reference": "digits-test"}, indent=1))
    return 0

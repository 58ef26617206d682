"""``probflow compare``: FID, KID, NFE and time of sampler configurations, or the lesson's two tables."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from probflow.cli.denoiser_options import import_object
from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError
from probflow.comparison import (
    DEFAULT_NUM_SAMPLES, LESSON_TABLES, QUICK_NUM_SAMPLES, REALS_LABEL, ComparisonRow, SamplerConfig, compare,
    digits_reals, markdown_table, parse_config, quick, real_vs_real, resolve_denoiser, run_lesson_table, write_rows,
)
from probflow.comparison.report import Reference
from probflow.extras import APPS, require_all
from probflow.files import check_output_dir, write_text
from probflow.generation import parse_seeds
from probflow.pretrained import DIGITS_SHAPE
from probflow.threads import threads_for

TABLE_CHOICES = (*LESSON_TABLES, "all")
MIN_SAMPLES = 8

EXAMPLES = """examples:
  probflow compare                                   # both lesson tables on the digits, default sample count
  probflow compare --table lesson-karras --num-samples 500 --out runs/karras
  probflow compare --quick                           # a seconds-long smoke run of both tables
  probflow compare --model digits-edm --config "label=heun 20;solver=heun;steps=20;sigma_min=0.01" \\
                   --config "solver=edm_stochastic;steps=20;s_churn=0.5" --seeds 0-255
  probflow compare --denoiser mypkg.models:DENOISER --config "solver=euler;nfe=50"

--config is 'key=value;...': label, solver (a name from 'probflow solvers', or 'recommended': probflow.sample's
default for the nfe), steps or nfe, grid (karras or
cosine), sigma_min, sigma_max, rho, predicted_alpha_bar (true/false); any other key is a solver parameter.
Every configuration samples the same seeds; FID and KID are against the digits test split in the shipped
classifier's features, and the floor row scores as many training images. FID of a few hundred samples is
biased upward (by about 1/n), so compare rows of equal n only.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare samplers by FID, KID, NFE and time (default: the lesson's two tables)",
        description="Sample every configuration from the same per-sample seeds, score it against the digits test "
                    "split (FID, KID) and time it; print markdown tables with a real-vs-real floor row and, with "
                    "--out, write CSV, JSON and a PNG grid per configuration.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="a shipped model for --config runs (default: digits-edm)")
    source.add_argument("--denoiser", metavar="MODULE:ATTR", help="your denoiser D(x, sigma), imported from MODULE")
    parser.add_argument("--config", action="append", metavar="SPEC", help="a sampler 'key=value;...' (repeatable)")
    parser.add_argument("--table", choices=TABLE_CHOICES,
                        help="a lesson table to rerun (default without --config: all)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--num-samples", type=int, help=f"seeds 0..N-1 (default: {DEFAULT_NUM_SAMPLES}; "
                                                       f"{QUICK_NUM_SAMPLES} with --quick)")
    seeds.add_argument("--seeds", help="seeds as ranges and lists, e.g. 0-999 or 1,5,10-19")
    parser.add_argument("--batch-size", type=int, default=500, help="samples per solve (default: 500)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write CSV, JSON, markdown and PNG grids here")
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps and 16 samples (a smoke test)")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_all(APPS, feature="probflow compare")
    if args.config and args.table:
        raise CommandError("give --config or --table, not both")
    if (args.model or args.denoiser) and not args.config:
        raise CommandError("--model and --denoiser choose the model of --config runs; the lesson tables name theirs")
    if args.out is not None:
        check_output_dir(args.out, "--out")
    seeds = _seeds(args)
    configs = [parse_config(text) for text in args.config or ()]
    denoiser = None
    if configs:
        denoiser, _ = resolve_denoiser(import_object(args.denoiser) if args.denoiser else args.model or "digits-edm")
    shape = getattr(denoiser, "shape", None) or DIGITS_SHAPE
    # A bad --batch-size is reported by compare itself, inside the block.
    with threads_for(max(0, min(args.batch_size, len(seeds))) * math.prod(shape), args.threads):
        return _run(args, seeds, configs, denoiser)


def _run(args: argparse.Namespace, seeds: list[int], configs: list[SamplerConfig], denoiser: Callable | None) -> int:
    floor = real_vs_real(digits_reals(len(seeds)), label=REALS_LABEL)
    if configs:
        _print_table("configurations", _run_configs(args, denoiser, configs, seeds, floor), out_dir=args.out)
        return 0
    for name in list(LESSON_TABLES) if args.table in (None, "all") else [args.table]:
        table = LESSON_TABLES[name]
        out_dir = None if args.out is None else args.out / name
        rows = run_lesson_table(table, seeds=seeds, out_dir=out_dir, quick_run=args.quick,
                                batch_size=args.batch_size, floor=floor, on_row=_report_progress)
        _print_table(f"{name}: {table.title}", rows, table.published, out_dir)
    return 0


def _run_configs(args: argparse.Namespace, denoiser: Callable, configs: list[SamplerConfig], seeds: list[int],
                 floor: ComparisonRow) -> list[ComparisonRow]:
    if args.quick:
        configs = [quick(config) for config in configs]
    rows = compare(denoiser, configs, seeds=seeds, out_dir=args.out, batch_size=args.batch_size,
                   shape=getattr(denoiser, "shape", DIGITS_SHAPE), on_row=_report_progress) + [floor]
    if args.out is not None:
        write_rows(rows, args.out / "table")
    return rows


def _seeds(args: argparse.Namespace) -> list[int]:
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
    else:
        default = QUICK_NUM_SAMPLES if args.quick else DEFAULT_NUM_SAMPLES
        seeds = list(range(default if args.num_samples is None else max(args.num_samples, 0)))
    if len(seeds) < MIN_SAMPLES:
        raise CommandError(f"need at least {MIN_SAMPLES} samples for FID, KID and their intervals, got {len(seeds)}")
    return seeds


def _report_progress(row: ComparisonRow) -> None:
    print(f"  {row.model}: {row.label}: FID {row.fid:.2f}, NFE {row.nfe}, {row.wall_s:.1f} s", file=sys.stderr,
          flush=True)


def _print_table(title: str, rows: list[ComparisonRow], published: Reference | None = None,
                 out_dir: Path | None = None) -> None:
    text = f"### {title}\n\n{markdown_table(rows, published)}\n"
    print(text, flush=True)
    if out_dir is not None:
        write_text(out_dir / "table.md", text)

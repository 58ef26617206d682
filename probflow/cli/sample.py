"""``probflow sample``: draw samples for a list of seeds, in batches, on one or many processes.

Run it as is, or unchanged under ``torchrun --nproc_per_node=K`` (gloo on the CPU, NCCL on GPUs): the seeds
are cut into batches, each rank samples every K-th batch, and the output equals a single-process run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from probflow.calibration import Schedule
from probflow.cli.denoiser_options import add_denoiser_options, parse_shape, resolve_denoiser
from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError, InvalidArgumentError, OutputPathError
from probflow.files import check_output_dir, check_output_file, write_bytes
from probflow.generation import (
    SamplingPlan, encode_png, image_grid, load_samples, parse_seeds, process_group, sample_in_memory, write_grid_png,
    write_shards,
)
from probflow.generation.distributed import parse_device
from probflow.generation.png import GRID_MIN_SIZE
from probflow.generation.shards import encode_arrays
from probflow.solvers import get_solver
from probflow.threads import threads_for

DTYPES = {"float32": torch.float32, "float64": torch.float64}

EXAMPLES = """examples:
  probflow sample --num-samples 64 --grid digits.png
  probflow sample --seeds 0-49999 --batch-size 500 --out samples/
  torchrun --nproc_per_node=4 -m probflow sample --seeds 0-49999 --out samples/
  probflow sample --denoiser mypackage.models:DENOISER --shape 3,32,32 --solver heun --nfe 35 --npz s.npz
  probflow sample --schedule schedules/digits-edm.nfe10.json --num-samples 64 --grid calibrated.png
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="draw samples for a list of seeds (batched, distributed, resumable)",
        description="Draw one sample per seed with a shipped model or your own denoiser. With --out the samples "
                    "go to sharded .npz files and a rerun of the same command resumes after a crash; --grid writes "
                    "a PNG grid and --npz one file. The same seeds give the same samples whatever the batch size "
                    "or the number of processes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_denoiser_options(parser)
    sampler = parser.add_mutually_exclusive_group()
    sampler.add_argument("--solver", help="a solver spec, e.g. heun or 'ddim(eta=1)' (default: the recommended one)")
    sampler.add_argument("--schedule", type=Path, metavar="FILE",
                         help="a calibrated schedule (probflow calibrate): its solver on its grid")
    parser.add_argument("--nfe", type=int, help="at most this many denoiser calls per sample (default: 20, or the "
                                                "schedule's)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", help="seeds as ranges and lists, e.g. 0-49999 or 1,5,10-19")
    seeds.add_argument("--num-samples", type=int, help="seeds 0..N-1 (default: 64)")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch and per shard (default: 64)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="sharded, resumable output directory")
    parser.add_argument("--grid", type=Path, metavar="PNG", help="write a PNG grid of the samples")
    parser.add_argument("--npz", type=Path, metavar="FILE", help="write seeds and samples to one .npz file")
    parser.add_argument("--sigma-min", type=float, help="smallest positive sigma (default: the recommended grid's, or "
                                                        "0.002 with --solver)")
    parser.add_argument("--sigma-max", type=float, default=80.0, help="starting sigma (default: 80)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="solver state dtype")
    parser.add_argument("--device", default="auto", help="auto (cuda:LOCAL_RANK if available, else cpu), cpu, cuda:0")
    parser.add_argument("--progress", action="store_true", help="show a progress bar (rank 0)")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.out is None and args.grid is None and args.npz is None:
        raise CommandError("say where the samples go: --out DIR, --grid FILE.png and/or --npz FILE.npz")
    _check_output_paths(args)
    seeds = _seeds(args)
    device = parse_device(args.device)
    denoiser, label = resolve_denoiser(args)
    if isinstance(denoiser, torch.nn.Module):
        denoiser = denoiser.to(device)
    schedule = None if args.schedule is None else Schedule.load(args.schedule)
    plan = SamplingPlan.build(
        denoiser, nfe=args.nfe if args.nfe is not None or schedule is not None else 20,
        solver=None if args.solver is None else get_solver(args.solver), schedule=schedule,
        shape=None if args.shape is None else parse_shape(args.shape), sigma_min=args.sigma_min,
        sigma_max=args.sigma_max, dtype=DTYPES[args.dtype], device=device, label=label,
    )
    if args.grid is not None:
        _check_drawable(args.grid, plan.shape)
    work_size = max(0, min(args.batch_size, len(seeds))) * math.prod(plan.shape)  # a bad size fails below
    with process_group(device) as ranks, threads_for(work_size, args.threads):
        if args.out is not None:
            report = write_shards(plan, seeds, args.out, batch_size=args.batch_size, progress=args.progress)
            if ranks.is_main:
                print(f"{args.out}: {report.requested} seeds requested, {report.skipped} already done, "
                      f"{report.generated} generated on {ranks.world_size} process(es)")
            if ranks.is_main and (args.grid is not None or args.npz is not None):
                _write_files(args, *_requested(load_samples(args.out), seeds))
        else:
            gathered = sample_in_memory(plan, seeds, batch_size=args.batch_size, progress=args.progress)
            if ranks.is_main:
                _write_files(args, *gathered)
    return 0


def _check_output_paths(args: argparse.Namespace) -> None:
    """Every output can be written, checked before the model is loaded and anything is sampled."""
    if args.out is not None:
        check_output_dir(args.out, "--out")
    for option, path in (("--grid", args.grid), ("--npz", args.npz)):
        if path is not None:
            check_output_file(path, option)


def _check_drawable(path: Path, shape: tuple[int, ...]) -> None:
    """Draw one blank sample the way ``--grid`` will draw them all, so that a shape that is no image fails now."""
    try:
        encode_png(image_grid(torch.zeros(1, *shape)))
    except InvalidArgumentError as exc:
        raise OutputPathError(f"--grid {path}: samples of shape {tuple(shape)} cannot be drawn ({exc})") from exc


def _seeds(args: argparse.Namespace) -> list[int]:
    if args.seeds is not None:
        return parse_seeds(args.seeds)
    count = 64 if args.num_samples is None else args.num_samples
    if count < 1:
        raise CommandError(f"--num-samples must be at least 1, got {count}")
    return list(range(count))


def _requested(stored: tuple[torch.Tensor, torch.Tensor], seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of ``stored`` (sorted by seed) whose seed was asked for in this run."""
    stored_seeds, samples = stored
    keep = torch.isin(stored_seeds, torch.tensor(seeds, dtype=torch.int64))
    return stored_seeds[keep], samples[keep]


def _write_files(args: argparse.Namespace, seeds: torch.Tensor, samples: torch.Tensor) -> None:
    if args.grid is not None:
        write_grid_png(args.grid, samples, min_size=GRID_MIN_SIZE)
        print(f"{args.grid}: grid of {samples.shape[0]} samples")
    if args.npz is not None:
        write_bytes(args.npz, encode_arrays(seeds=seeds.numpy(), samples=samples.numpy()))
        print(f"{args.npz}: {samples.shape[0]} samples")

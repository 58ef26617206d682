"""``probflow calibrate``: calibrated schedules for a model at several budgets, written as JSON files."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import torch

from probflow.calibration import DEFAULT_MAX_CALLS, calibrate
from probflow.cli.denoiser_options import add_denoiser_options, resolve_denoiser, sample_shape
from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError
from probflow.files import check_output_dir
from probflow.noise import per_sample_noise
from probflow.solvers import get_solver
from probflow.threads import threads_for

EXAMPLES = """examples:
  probflow calibrate --model digits-edm --nfe 5,8,10 --num-paths 64 --out schedules/
  probflow calibrate --denoiser mymodel:D --shape 3,32,32 --nfe 10 --max-calls 100000 --out schedules/
  probflow sample --schedule schedules/digits-edm.nfe10.json --num-samples 64 --grid calibrated.png
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate the sigma grid (and solver form) of a model for budgets of denoiser calls",
        description="Fit the sigma grid of probflow's solver to a model: the actual solver on candidate grids, "
                    "against high-accuracy teacher endpoints of the same noise, on --num-paths noise draws (seeds "
                    "0..N-1); a quarter of them is held out, and a schedule that does not beat the default there is "
                    "replaced by the default. Writes DIR/<model>.nfe<N>.json per budget and prints a table.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_denoiser_options(parser)
    parser.add_argument("--nfe", required=True, help="budgets, comma-separated, e.g. 5,8,10")
    parser.add_argument("--num-paths", type=int, default=64, help="calibration noise draws (default: 64)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the schedule files")
    parser.add_argument("--max-calls", type=int, default=DEFAULT_MAX_CALLS,
                        help=f"per-sample denoiser calls of each budget's search (default: {DEFAULT_MAX_CALLS})")
    parser.add_argument("--teacher-steps", type=int, default=256, help="steps of the teacher solve (default: 256)")
    parser.add_argument("--solvers", help="candidate solver specs separated by ';' (default: exponential Adams forms)")
    parser.add_argument("--sigma-max", type=float, default=80.0, help="starting sigma (default: 80)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit/held-out split (default: 0)")
    parser.add_argument("--grid-only", action="store_true",
                        help="fit the sigma grid alone, without the noise levels the model is told at each grid point: "
                             "a plain grid for samplers that take nothing but sigmas")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    budgets = _budgets(args.nfe)
    check_output_dir(args.out, "--out")
    denoiser, label = resolve_denoiser(args)
    shape = sample_shape(args, denoiser)
    if args.num_paths < 4:
        raise CommandError(f"--num-paths must be at least 4, got {args.num_paths}")
    solvers = None if args.solvers is None else [get_solver(spec.strip()) for spec in args.solvers.split(";")
                                                  if spec.strip()]
    noise = per_sample_noise(shape, range(args.num_paths), dtype=torch.float64)
    with threads_for(args.num_paths * math.prod(shape), args.threads):
        schedules = calibrate(denoiser, noise, budgets, solvers=solvers, sigma_max=args.sigma_max,
                              max_calls=args.max_calls, teacher_steps=args.teacher_steps, seed=args.seed,
                              shift_noise_levels=not args.grid_only, progress=not args.no_progress)
    rows = [("nfe", "solver", "held-out error", "default", "ratio", "calls", "time (s)", "file")]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
    for nfe, schedule in schedules.items():
        path = schedule.save(args.out / f"{stem}.nfe{nfe}.json")
        info = schedule.info
        note = " (default kept)" if info["fallback"] else ", shifted levels" if schedule.model_grid else ""
        rows.append((str(nfe), schedule.solver.name + note, f"{info['heldout_error']:.3e}",
                     f"{info['default_heldout_error']:.3e}",
                     f"{info['heldout_error'] / info['default_heldout_error']:.2f}", str(info["calls"]["total"]),
                     f"{info['wall_time_s']:.1f}", str(path)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"held-out error: median per-sample RMS to the teacher on {schedules[budgets[0]].info['paths']['heldout']} "
          f"paths the search never saw; default: probflow.sample's recommended sampler on the same paths")
    return 0


def _budgets(text: str) -> list[int]:
    try:
        budgets = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        budgets = []
    if not budgets or min(budgets) < 1:
        raise CommandError(f"--nfe must be positive integers like 5,8,10, got {text!r}")
    return budgets

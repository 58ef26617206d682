"""Calibrated schedules against the best uncalibrated peer, probflow's default and GITS + iPNDM, on every problem.

For each problem of :mod:`benchmarks.problems` and each budget (NFE 5, 6, 8, 10, 20):

* **calibrated**: ``probflow.calibrate(denoiser, calibration_noise, nfe=budgets)`` on ``--paths`` draws of their
  own seed (shared with GITS's calibration, disjoint from the evaluation noise), then ``probflow.sample(...,
  schedule=...)`` on the problem's evaluation noise: a held-out error on noise the calibration never saw. The calls
  it spent (teacher, search and validation, per-sample) and its wall time are reported;
* **GITS + iPNDM** (:mod:`benchmarks.gits`): the calibrated peer, on the same calibration draws;
* **default**: ``probflow.sample(denoiser, noise, nfe=N)``;
* **best peer**: the best of k-diffusion's and diffusers' samplers (:mod:`benchmarks.peers`) in that cell.

The error is the accuracy benchmark's: the median over samples of the per-sample RMS distance to the reference
endpoint at sigma = 0. Targets (issue #13): calibrated <= 0.25x the best uncalibrated peer and <= 0.5x GITS + iPNDM
in every cell; at most 300k per-sample calls per budget, teacher included.

``--fid`` adds the learned model: ``digits-edm`` calibrated at NFE 5, 6, 8 and 10 (with its cost), and FID/KID with
95% bootstrap intervals of ``--fid-samples`` samples from the calibrated schedules, the default, and k-diffusion's
``dpmpp_2m`` on its Karras grid.

Run: ``python -m benchmarks.calibration`` (``--smoke`` for a seconds-long check; ``--fid`` for the digits model).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

import probflow
from benchmarks.accuracy import budgeted_error
from benchmarks.gits import CALIBRATION_SEED, ipndm_then_denoise
from benchmarks.gits import calibrate as gits_calibrate
from benchmarks.peers import (
    Method, add_skip_peer_argument, k_diffusion_grid, load_k_diffusion_sampling, required_peers, with_skipped_peers,
)
from benchmarks.problems import REFERENCE_TOLERANCE, SIGMA_MAX, Problem, benchmark_problems
from benchmarks.reference_cache import CACHE_DIR, cached_reference
from benchmarks.timing import machine_description
from probflow.cli.thread_option import add_threads_option
from probflow.threads import threads_for

BUDGETS = (5, 6, 8, 10, 20)
FID_BUDGETS = (5, 6, 8, 10)
CALIBRATION_PATHS = 64
TARGET_PEER, TARGET_GITS, TARGET_CALLS = 0.25, 0.5, 300_000


@dataclass(frozen=True)
class Row:
    """One problem at one budget: held-out errors and the calibration's cost."""

    problem: str
    nfe: int
    calibrated: float
    gits: float
    default: float
    best_peer: float
    best_peer_name: str
    calls: int
    seconds: float
    fallback: bool
    solver: str


def evaluate(problem: Problem, peers: Sequence[Method], budgets: Sequence[int], paths: int, max_calls: int | None,
             reference_tolerance: float, cache_dir, shift_noise_levels: bool = True) -> list[Row]:
    """Calibrate on ``paths`` draws of the calibration seed, then run everything on the evaluation noise."""
    calibration_noise = dataclasses.replace(problem, num_samples=paths).noise(seed=CALIBRATION_SEED)
    schedules = probflow.calibrate(problem.denoiser, calibration_noise, list(budgets), max_calls=max_calls,
                                   shift_noise_levels=shift_noise_levels)
    gits = gits_calibrate(problem.denoiser, calibration_noise)
    noise = problem.noise()
    reference = cached_reference(problem, noise, reference_tolerance, cache_dir)
    rows = []
    for nfe in budgets:
        schedule = schedules[nfe]
        methods: dict[str, Callable] = {
            # The counting wrapper is a new denoiser each run: skip the schedule's model probe, which is outside the
            # budget, so that every call counted here is a sampling call.
            "calibrated": lambda denoiser, z, n, schedule=schedule: probflow.sample(denoiser, z, schedule=schedule,
                                                                                    check_schedule=False),
            "gits": lambda denoiser, z, n: ipndm_then_denoise(denoiser, z, gits.student_sigmas(n)),
            "default": lambda denoiser, z, n: probflow.sample(denoiser, z, nfe=n),
        }
        methods.update((peer.name, peer.run) for peer in peers)
        errors = {name: budgeted_error(run, name, problem, noise, nfe, reference) for name, run in methods.items()}
        peer = min((p.name for p in peers), key=errors.__getitem__, default=None)
        rows.append(Row(problem.name, nfe, errors["calibrated"], errors["gits"], errors["default"],
                        errors[peer] if peer else math.nan, peer or "no peer", schedule.info["calls"]["total"],
                        schedule.info["wall_time_s"], schedule.info["fallback"], _sampler_name(schedule)))
    return rows


def results_table(rows: Sequence[Row]) -> str:
    """Every cell: errors, the two target ratios (missed ones in bold with their margin) and the cost."""
    lines = ["| problem | NFE | calibrated | / best peer (<= 0.25) | / GITS (<= 0.5) | default / best peer | "
             "best peer | GITS / best peer | calls | time (s) | solver |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        peer, gits = r.calibrated / r.best_peer, r.calibrated / r.gits
        lines.append(f"| {r.problem} | {r.nfe} | {r.calibrated:.2e} | {_against(peer, TARGET_PEER)} | "
                     f"{_against(gits, TARGET_GITS)} | {r.default / r.best_peer:.2f} | {r.best_peer:.2e} "
                     f"{r.best_peer_name} | {r.gits / r.best_peer:.2f} | {r.calls} | {r.seconds:.0f} | "
                     f"{r.solver}{' (default kept)' if r.fallback else ''} |")
    return "\n".join(lines)


def summary(rows: Sequence[Row], budgets: Sequence[int]) -> str:
    """Per budget: cells meeting each target, the worst and the median ratios, the most calls."""
    lines = ["| NFE | <= 0.25x best peer | worst / median | <= 0.5x GITS | worst / median | most calls | "
             "default kept |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for nfe in budgets:
        cells = [r for r in rows if r.nfe == nfe]
        peer = sorted(r.calibrated / r.best_peer for r in cells)
        gits = sorted(r.calibrated / r.gits for r in cells)
        lines.append(f"| {nfe} | {sum(v <= TARGET_PEER for v in peer)} / {len(cells)} | {peer[-1]:.2f} / "
                     f"{_median(peer):.2f} | {sum(v <= TARGET_GITS for v in gits)} / {len(cells)} | {gits[-1]:.2f} / "
                     f"{_median(gits):.2f} | {max(r.calls for r in cells)} | {sum(r.fallback for r in cells)} |")
    return "\n".join(lines)


def _against(ratio: float, target: float) -> str:
    return f"{ratio:.2f}" if ratio <= target else f"**{ratio:.2f}** (+{ratio - target:.2f})"


def _median(values: Sequence[float]) -> float:
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])


def digits_fid(samples: int, paths: int, max_calls: int | None, shift_noise_levels: bool = True) -> str:
    """``digits-edm`` calibrated at :data:`FID_BUDGETS`, and FID/KID of the calibrated, default and k-diffusion
    ``dpmpp_2m`` samplers (the same seeds), with the cost of each calibration."""
    from probflow.comparison import Scorer

    denoiser = probflow.pretrained.load("digits-edm")
    calibration_noise = probflow.per_sample_noise(denoiser.shape, range(10**6, 10**6 + paths), dtype=torch.float64)
    started = time.perf_counter()
    schedules = probflow.calibrate(denoiser, calibration_noise, list(FID_BUDGETS), max_calls=max_calls,
                                   shift_noise_levels=shift_noise_levels)
    seconds = time.perf_counter() - started
    noise = probflow.per_sample_noise(denoiser.shape, range(samples))
    sampling = load_k_diffusion_sampling()
    scorer = Scorer(shape=denoiser.shape)
    lines = [f"Calibration of all four budgets: {seconds:.0f} s wall on {paths} paths.", "",
             "| NFE | sampler | FID [95% interval] | KID [95% interval] | calibration calls | calibration time (s) |",
             "|---:|---|---|---|---:|---:|"]
    for nfe in FID_BUDGETS:
        schedule = schedules[nfe]
        runs = {
            f"calibrated ({_sampler_name(schedule)}{', default kept' if schedule.info['fallback'] else ''})":
                lambda: probflow.sample(denoiser, noise, schedule=schedule),
            "default (probflow.sample)": lambda: probflow.sample(denoiser, noise, nfe=nfe),
            "k-diffusion dpmpp_2m, Karras": lambda: sampling.sample_dpmpp_2m(
                denoiser, noise * SIGMA_MAX, k_diffusion_grid(sampling, nfe), disable=True),
        }
        for label, run in runs.items():
            with torch.no_grad():
                score = scorer(run().clamp(-1, 1))
            cost = (f"{schedule.info['calls']['total']} | {schedule.info['wall_time_s']:.0f}"
                    if label.startswith("calibrated") else "- | -")
            lines.append(f"| {nfe} | {label} | {_interval(score.fid)} | {_interval(score.kid, 4)} | {cost} |")
    return "\n".join(lines)


def _sampler_name(schedule: probflow.Schedule) -> str:
    """The solver's name, and whether the denoiser is told shifted noise levels."""
    return schedule.solver.name + (", shifted levels" if schedule.model_grid is not None else "")


def _interval(interval, digits: int = 2) -> str:
    return f"{interval.estimate:.{digits}f} [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two small problems, 8 paths, NFE 5 and 6, few calls")
    parser.add_argument("--problems", nargs="*", help="names of the problems to run (default: all)")
    parser.add_argument("--paths", type=int, default=CALIBRATION_PATHS, help="calibration draws per problem")
    parser.add_argument("--max-calls", type=int, help="per-sample calls of each budget's search (default: "
                                                      "probflow.calibration.DEFAULT_MAX_CALLS)")
    parser.add_argument("--fid", action="store_true", help="also calibrate digits-edm and score FID/KID")
    parser.add_argument("--fid-samples", type=int, default=1024, help="samples per FID/KID row (default: 1024)")
    parser.add_argument("--grid-only", action="store_true",
                        help="calibrate the grid alone (shift_noise_levels=False): schedules that are plain sigma grids")
    add_skip_peer_argument(parser)
    add_threads_option(parser)
    args = parser.parse_args(argv)
    peers = required_peers(args.skip_peer, "benchmarks.calibration")
    problems = [p for p in benchmark_problems(smoke=args.smoke) if not args.problems or p.name in args.problems]
    budgets, paths = ((5, 6), 8) if args.smoke else (BUDGETS, args.paths)
    max_calls = 2_000 if args.smoke else args.max_calls
    start = time.perf_counter()
    rows: list[Row] = []
    with threads_for(0, args.threads):
        for problem in problems:
            rows += evaluate(problem, peers, budgets, paths, max_calls, 1e-6 if args.smoke else REFERENCE_TOLERANCE,
                             None if args.smoke else CACHE_DIR, shift_noise_levels=not args.grid_only)
        fid_section = (digits_fid(args.fid_samples, paths, max_calls, shift_noise_levels=not args.grid_only)
                       if args.fid else None)
    mode = "; grid only (shift_noise_levels=False)" if args.grid_only else ""
    header = with_skipped_peers(f"Machine: {machine_description()}; {time.perf_counter() - start:.0f} s{mode}",
                                args.skip_peer)
    sections = [header, "### Summary per budget\n\n" + summary(rows, budgets),
                "### Every cell (held-out errors on the evaluation noise)\n\n" + results_table(rows)]
    if fid_section:
        sections.append("### digits-edm: FID/KID against the digits test split\n\n" + fid_section)
    report = "\n\n".join(sections)
    print(report)
    return report


if __name__ == "__main__":
    main()

"""Per-call overhead of ``probflow.solve``: wall time per denoiser call with a trivial denoiser, as a ratio to a
bare hand-written Euler loop timed in the same run.

The denoiser is ``D(x, sigma) = x * 0.5`` on a ``4 x 3 x 8 x 8`` float32 batch on one thread (what
:func:`probflow.threads.threads_for` chooses for a batch this small), so the time is the sampler's own Python and
tensor work. Each method solves the same Karras grid (``--steps``
steps into 0); its time per call is ``wall time / NFE``, the best (minimum) and median over ``--repeats`` runs.
The runs are interleaved (each round times every method once), so that load from other processes falls on all
methods alike and the ratios to the bare loop, taken best over best, stay comparable on a shared machine.
The baseline is the loop of the issue (k-diffusion's ``sample_euler`` without churn)::

    for i: denoised = model(x, sigmas[i] * s_in); d = (x - denoised) / sigmas[i]; x = x + d * (sigmas[i+1] - sigmas[i])

Also timed: k-diffusion's ``sample_euler`` and ``sample_lms`` and diffusers' ``EulerDiscreteScheduler`` and
``LMSDiscreteScheduler`` (their own default grids, ``--steps`` steps). Both packages are required: the run
refuses to start without one (exit code 2) unless ``--skip-peer NAME`` leaves it out on purpose.

Run: ``python -m benchmarks.overhead`` (``--smoke`` for a seconds-long check).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

import torch

from benchmarks.peers import (
    PEER_NAMES, SIGMA_MIN, add_skip_peer_argument, exit_on_missing_peer, load_k_diffusion_sampling,
    required_peer_packages, with_skipped_peers,
)
from benchmarks.problems import SIGMA_MAX
from benchmarks.timing import Timing, machine_description, time_interleaved
from probflow.cli.thread_option import add_threads_option
from probflow.schedules import karras
from probflow.threads import threads_for
from probflow.solve import solve
from probflow.solvers.base import Solver
from probflow.solvers.registry import get_solver, solver_names
from probflow.terms import ProbabilityFlowODE, ReverseSDE

STATE_SHAPE = (4, 3, 8, 8)
BACKEND_PREFIXES = ("torchdiffeq", "torchsde")


def trivial_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``D(x, sigma) = x / 2``: costs one elementwise product, so a timing measures the sampler around it."""
    return x * 0.5


def bare_euler(model: Callable, x: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The baseline: Euler in sigma, written inline with no validation, counting or bookkeeping."""
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x, len(sigmas) - 1


def hand_written_solvers() -> dict[str, Solver]:
    """Every registry configuration that probflow steps itself (the torchdiffeq/torchsde adapters excluded)."""
    return {name: get_solver(name) for name in solver_names() if not name.startswith(BACKEND_PREFIXES)}


def _probflow_run(solver: Solver, x: torch.Tensor, sigmas: torch.Tensor) -> Callable[[], int]:
    term = ReverseSDE(trivial_denoiser) if solver.term_kind == "sde" else ProbabilityFlowODE(trivial_denoiser)
    generator = torch.Generator().manual_seed(0)
    return lambda: solve(term, solver, x, sigmas, generator=generator).nfe


def _k_diffusion_run(sampler: str, x: torch.Tensor, sigmas: torch.Tensor) -> Callable[[], int]:
    sampling = load_k_diffusion_sampling()
    sample = getattr(sampling, f"sample_{sampler}")
    return lambda: (sample(trivial_denoiser, x, sigmas, disable=True), len(sigmas) - 1)[1]


def _diffusers_run(scheduler_name: str, noise: torch.Tensor, steps: int) -> Callable[[], int]:
    import diffusers

    scheduler = getattr(diffusers, scheduler_name)()

    def run() -> int:
        scheduler.set_timesteps(steps)
        x = noise * scheduler.init_noise_sigma
        for timestep in scheduler.timesteps:
            model_input = scheduler.scale_model_input(x, timestep)
            x = scheduler.step(trivial_denoiser(model_input, timestep), timestep, x).prev_sample
        return len(scheduler.timesteps)

    return run


@dataclass(frozen=True)
class CallCost:
    """Seconds per denoiser call of one method, and its ratio to the bare loop's (best over best)."""

    name: str
    per_call: Timing
    ratio: float
    deterministic: bool


def measure(steps: int, repeats: int, peers: Collection[str] = PEER_NAMES) -> list[CallCost]:
    """Time every method (with the samplers of the ``peers`` packages) on a ``steps``-step grid; the first entry
    is the bare loop."""
    noise = torch.randn(STATE_SHAPE, generator=torch.Generator().manual_seed(0))
    sigmas = karras(steps, SIGMA_MIN, SIGMA_MAX).to(torch.float32)
    x = noise * SIGMA_MAX
    runs: list[tuple[str, Callable[[], int] | None, bool]] = [
        ("bare Euler loop", lambda: bare_euler(trivial_denoiser, x, sigmas)[1], True)
    ]
    runs += [(f"probflow {name}", _probflow_run(solver, x, sigmas), not solver.stochastic)
             for name, solver in hand_written_solvers().items()]
    if "k-diffusion" in peers:
        runs += [(f"k-diffusion sample_{s}", _k_diffusion_run(s, x, sigmas), True) for s in ("euler", "lms")]
    if "diffusers" in peers:
        runs += [(f"diffusers {s}", _diffusers_run(s, noise, steps), True)
                 for s in ("EulerDiscreteScheduler", "LMSDiscreteScheduler")]
    calls = [run() for _, run, _ in runs]  # also the warm-up
    timings = time_interleaved([run for _, run, _ in runs], repeats)
    baseline = timings[0].best / calls[0]
    costs = []
    for (name, _, deterministic), timing, count in zip(runs, timings, calls):
        per_call = Timing(best=timing.best / count, median=timing.median / count)
        costs.append(CallCost(name, per_call, per_call.best / baseline, deterministic))
    return costs


def format_table(costs: list[CallCost], target: float = 1.2) -> str:
    """A markdown table: microseconds per call (best, median), ratio to the bare loop, and the target verdict."""
    lines = ["| method | us/call (best) | us/call (median) | ratio to bare loop | <= 1.2x |",
             "|---|---:|---:|---:|:---:|"]
    for cost in costs:
        verdict = ("yes" if cost.ratio <= target else "**no**") if cost.name.startswith("probflow") else ""
        if cost.name.startswith("probflow") and not cost.deterministic:
            verdict = f"({verdict}, stochastic)"
        lines.append(f"| {cost.name} | {cost.per_call.best * 1e6:.1f} | {cost.per_call.median * 1e6:.1f} | "
                     f"{cost.ratio:.2f} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs, times nothing")
    add_skip_peer_argument(parser)
    add_threads_option(parser)
    args = parser.parse_args(argv)
    peers = required_peer_packages(args.skip_peer, "benchmarks.overhead")
    steps, repeats = (5, 1) if args.smoke else (args.steps, args.repeats)
    with threads_for(math.prod(STATE_SHAPE), args.threads) as threads:
        table = format_table(measure(steps, repeats, peers))
    header = with_skipped_peers(f"Machine: {machine_description()}\nState {STATE_SHAPE} float32, {threads} "
                                f"thread(s), {steps} steps, {repeats} repeats", args.skip_peer)
    report = f"{header}\n\n{table}"
    print(report)
    return report


if __name__ == "__main__":
    exit_on_missing_peer(main)

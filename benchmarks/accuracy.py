"""Error against NFE for every deterministic probflow solver and every importable peer, on the same problems.

For each problem of :mod:`benchmarks.problems` every method starts from the same state ``80 n`` (``n`` standard
normal, float64) and gets a budget of ``nfe`` denoiser calls, counted by a wrapper around the exact denoiser.
The error of a run is the median over samples of the per-sample RMS distance (over coordinates) to the
reference endpoint at sigma = 0.

* probflow: ``probflow.sample(denoiser, noise, nfe=N, solver=S)`` for every registry configuration that is
  deterministic and fixed-grid (stochastic solvers converge to other endpoints, adaptive ones cannot honour a
  budget), on the default Karras grid; and ``probflow.sample(denoiser, noise, nfe=N)``, the recommended sampler.
* peers: :func:`benchmarks.peers.required_peers`: the run refuses to start (exit code 2) when a peer package is
  missing, unless ``--skip-peer NAME`` leaves it out on purpose.

References are cached on disk (:mod:`benchmarks.reference_cache`; ``--no-cache`` recomputes them).

Run: ``python -m benchmarks.accuracy`` (``--smoke`` for a seconds-long check on 8 samples).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

import probflow
from benchmarks.errors import BudgetExceededError
from benchmarks.peers import (
    Method, add_skip_peer_argument, exit_on_missing_peer, required_peers, with_skipped_peers,
)
from benchmarks.problems import REFERENCE_TOLERANCE, Problem, benchmark_problems, gaussian_endpoint
from benchmarks.reference_cache import CACHE_DIR, cached_reference
from benchmarks.timing import machine_description
from probflow.cli.thread_option import add_threads_option
from probflow.denoisers.analytic import Gaussian
from probflow.solvers.base import Solver
from probflow.solvers.registry import get_solver, solver_names
from probflow.threads import threads_for

BUDGETS = (5, 10, 20, 50)
SMOKE_TOLERANCE = 1e-6
RECOMMENDED = "probflow recommended"


class CountingDenoiser:
    """Wraps a denoiser and counts its calls: the NFE a method actually spent, whatever its own bookkeeping."""

    def __init__(self, denoiser: Callable):
        self.denoiser = denoiser
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.denoiser(x, sigma)


def deterministic_solvers() -> dict[str, Solver]:
    """Every registry configuration that is deterministic and runs on a fixed grid."""
    solvers = {name: get_solver(name) for name in solver_names()}
    return {name: solver for name, solver in solvers.items()
            if not solver.stochastic and not getattr(solver, "adaptive", False)}


def _probflow_sample(solver: Solver | None, denoiser: Callable, noise: torch.Tensor, nfe: int) -> torch.Tensor:
    return probflow.sample(denoiser, noise, nfe=nfe, solver=solver)


def probflow_methods() -> list[Method]:
    """The recommended sampler first, then every deterministic solver on the default Karras grid."""
    methods = [Method(RECOMMENDED, "probflow", partial(_probflow_sample, None))]
    methods += [Method(f"probflow {name}", "probflow", partial(_probflow_sample, solver))
                for name, solver in deterministic_solvers().items()]
    return methods


def smoke_selection(methods: Sequence[Method]) -> list[Method]:
    """The recommended sampler, one other probflow solver and the first peer of each package."""
    chosen, sources = list(methods[:2]), set()
    for method in methods[2:]:
        if method.source != "probflow" and method.source not in sources:
            chosen.append(method)
            sources.add(method.source)
    return chosen


def endpoint_error(x: torch.Tensor, reference: torch.Tensor) -> float:
    """Median over samples of the per-sample RMS distance ``sqrt(mean((x - reference)^2))``."""
    per_sample = (x - reference).reshape(x.shape[0], -1).pow(2).mean(dim=1).sqrt()
    return float(per_sample.median())


def budgeted_error(run: Callable, name: str, problem: Problem, noise: torch.Tensor, nfe: int,
                   reference: torch.Tensor) -> float:
    """:func:`endpoint_error` of ``run(denoiser, noise, nfe)`` on ``problem``; raises
    :class:`~benchmarks.errors.BudgetExceededError` if the run called the denoiser more than ``nfe`` times."""
    counter = CountingDenoiser(problem.denoiser)
    x = run(counter, noise, nfe)
    if counter.calls > nfe:
        raise BudgetExceededError(f"{name} spent {counter.calls} calls for a budget of {nfe} on {problem.name}")
    return endpoint_error(x, reference)


@dataclass(frozen=True)
class Result:
    """One method on one problem at one budget: the error and the calls actually spent."""

    problem: str
    method: str
    source: str
    budget: int
    nfe: int
    error: float


@dataclass(frozen=True)
class ReferenceCheck:
    """How the reference was validated: the gap to a tighter-tolerance reference, and to a closed form if any."""

    problem: str
    tolerance_gap: float
    closed_form_gap: float | None
    seconds: float


def check_reference(problem: Problem, noise: torch.Tensor, reference: torch.Tensor,
                    cache_dir: Path | None = CACHE_DIR) -> ReferenceCheck:
    """Compare the reference with one computed at 100x tighter tolerance (and with the closed form if Gaussian)."""
    start = time.perf_counter()
    tighter = cached_reference(problem, noise, 1e-12, cache_dir)
    closed_form = None
    if isinstance(problem.denoiser, Gaussian):
        closed_form = float((gaussian_endpoint(problem.denoiser, noise) - reference).abs().max())
    return ReferenceCheck(problem.name, float((tighter - reference).abs().max()), closed_form,
                          time.perf_counter() - start)


def run_problem(problem: Problem, methods: Sequence[Method], budgets: Sequence[int], smoke: bool = False,
                cache_dir: Path | None = CACHE_DIR) -> tuple[list[Result], ReferenceCheck | None]:
    """Every method at every budget on one problem, against one reference endpoint (checked unless ``smoke``;
    ``smoke`` neither reads nor writes the reference cache)."""
    noise = problem.noise()
    if smoke:
        cache_dir = None
    reference = cached_reference(problem, noise, SMOKE_TOLERANCE if smoke else REFERENCE_TOLERANCE, cache_dir)
    results = []
    for method in methods:
        for budget in budgets:
            counter = CountingDenoiser(problem.denoiser)
            x = method.run(counter, noise, budget)
            results.append(Result(problem.name, method.name, method.source, budget, counter.calls,
                                  endpoint_error(x, reference)))
    return results, None if smoke else check_reference(problem, noise, reference, cache_dir)


def best_peer(results: Sequence[Result], problem: str, budget: int) -> Result | None:
    """The peer with the smallest error on ``problem`` at ``budget``."""
    peers = [r for r in results if r.problem == problem and r.budget == budget and r.source != "probflow"]
    return min(peers, key=lambda r: r.error) if peers else None


def error_table(results: Sequence[Result], problem: str, budgets: Sequence[int]) -> str:
    """Markdown: one row per method, the error at each budget, with the calls spent when not the budget
    (``!`` marks a method that spent more calls than it was allowed)."""
    rows = {}
    for r in results:
        if r.problem == problem:
            cell = f"{r.error:.2e}" + (f" ({r.nfe}{'!' if r.nfe > r.budget else ''})" if r.nfe != r.budget else "")
            rows.setdefault((r.source, r.method), {})[r.budget] = cell
    header = "| method | " + " | ".join(f"NFE {b}" for b in budgets) + " |"
    lines = [header, "|---|" + "---:|" * len(budgets)]
    for (_, name), cells in rows.items():
        lines.append(f"| {name} | " + " | ".join(cells.get(b, "") for b in budgets) + " |")
    return "\n".join(lines)


def ratio_table(results: Sequence[Result], problems: Sequence[str], budgets: Sequence[int]) -> str:
    """Markdown: recommended error / best peer error for each problem and budget (target <= 0.5 at 10, 20, 50)."""
    header = "| problem | " + " | ".join(f"NFE {b}" for b in budgets) + " |"
    lines = [header, "|---|" + "---|" * len(budgets)]
    for problem in problems:
        cells = []
        for budget in budgets:
            ours = next(r for r in results if r.problem == problem and r.budget == budget and r.method == RECOMMENDED)
            peer = best_peer(results, problem, budget)
            if peer is None:
                cells.append(f"{ours.error:.2e}")
                continue
            ratio = ours.error / peer.error
            mark = "**" if ratio > 0.5 and budget >= 10 else ""
            cells.append(f"{mark}{ratio:.2f}{mark} ({ours.error:.1e} vs {peer.error:.1e} {peer.method})")
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reference_table(checks: Sequence[ReferenceCheck]) -> str:
    lines = ["| problem | max gap to rtol=atol=1e-12 | max gap to closed form |", "|---|---:|---:|"]
    for c in checks:
        closed = f"{c.closed_form_gap:.1e}" if c.closed_form_gap is not None else "-"
        lines.append(f"| {c.problem} | {c.tolerance_gap:.1e} | {closed} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="two problems, 8 samples, budget 5, a few methods, a loose unchecked reference")
    parser.add_argument("--problems", nargs="*", help="names of the problems to run (default: all)")
    parser.add_argument("--budgets", nargs="*", type=int, default=list(BUDGETS))
    parser.add_argument("--no-cache", action="store_true", help="recompute the reference endpoints")
    add_skip_peer_argument(parser)
    add_threads_option(parser)
    args = parser.parse_args(argv)
    budgets = [5] if args.smoke else args.budgets
    methods = probflow_methods() + required_peers(args.skip_peer, "benchmarks.accuracy")
    problems = [p for p in benchmark_problems(smoke=args.smoke) if not args.problems or p.name in args.problems]
    if args.smoke:
        methods = smoke_selection(methods)
    start = time.perf_counter()
    results, checks = [], []
    work_size = max((p.num_samples * math.prod(p.denoiser.shape) for p in problems), default=0)
    with threads_for(work_size, args.threads):
        for problem in problems:
            problem_results, check = run_problem(problem, methods, budgets, smoke=args.smoke,
                                                 cache_dir=None if args.no_cache else CACHE_DIR)
            results += problem_results
            checks += [check] if check else []
    sections = [with_skipped_peers(f"Machine: {machine_description()}; {time.perf_counter() - start:.0f} s",
                                   args.skip_peer),
                "### Recommended error / best peer error\n\n" + ratio_table(results, [p.name for p in problems],
                                                                            budgets)]
    if checks:
        sections.append("### Reference endpoints\n\n" + reference_table(checks))
    for problem in problems:
        sections.append(f"### {problem.name}: {problem.description} ({problem.num_samples} samples)\n\n"
                        + error_table(results, problem.name, budgets))
    report = "\n\n".join(sections)
    print(report)
    return report


if __name__ == "__main__":
    exit_on_missing_peer(main)

"""Leave-one-problem-out choice of probflow's default sampler for each budget of denoiser calls.

Every candidate is an uncalibrated configuration -- a solver and a sigma grid, fixed before any problem is
seen -- run with ``probflow.solve(denoiser, solver, 80 n, sigmas)`` on every problem of
:mod:`benchmarks.problems` at each budget ``N`` in ``BUDGETS`` (the grid has the most steps whose calls fit in
``N``; a run that spends more raises). Its score on a problem is the ratio of its error (the benchmark's metric:
median over samples of the per-sample RMS distance to the exact endpoint, :mod:`benchmarks.accuracy`) to the
best peer's error (k-diffusion's and diffusers' samplers, :mod:`benchmarks.peers`).

Selection rule, per budget (minimax, so that a configuration that is never bad beats one that is sometimes
brilliant):

* **chosen**: the candidate whose worst ratio over all problems is smallest (ties: the smaller geometric mean);
* **leave-one-problem-out (LOPO)**: for each problem ``q``, the candidate chosen by the same rule on the other
  problems, and its ratio on ``q``. The worst of these held-out ratios estimates how the rule does on a problem it
  did not see (a user's model); it is reported, not the mean.

The candidates (:func:`candidates`, 151): five exponential Adams solvers
(:class:`~probflow.solvers.ExponentialAdams`; data and noise form, with and without corrector, among them today's
three recommended ones) on Karras (``rho`` 7 and 30, today's grid below 8 calls), log-uniform and today's three
piecewise-geometric grids, each with ``sigma_min`` in ``SIGMA_MINS``, and (except ``rho = 30``) ending at the
budget-dependent ``0.002 (80 / 0.002)^(1/n)`` of diffusers' VP schedulers (:class:`GridSpec`); DPM-Solver++ (2M, 3M)
and Heun on Karras grids. The current default, ``probflow.sample(denoiser, noise, nfe=N)``, is measured alongside
for comparison.

Run: ``python -m benchmarks.select_default`` (about 15 minutes on one thread; references are cached, see
:mod:`benchmarks.reference_cache`; ``--smoke`` runs two small problems and a few candidates in seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import probflow
from benchmarks.accuracy import budgeted_error
from benchmarks.errors import BudgetExceededError, MissingPeerError
from benchmarks.peers import (
    Method, add_skip_peer_argument, exit_on_missing_peer, required_peers, with_skipped_peers,
)
from benchmarks.problems import REFERENCE_TOLERANCE, SIGMA_MAX, Problem, benchmark_problems
from benchmarks.reference_cache import CACHE_DIR, cached_reference
from benchmarks.timing import machine_description
from probflow import solvers
from probflow.schedules import SCHEDULES
from probflow.solvers.base import Solver

BUDGETS = (5, 6, 8, 10, 20, 50)
SIGMA_MINS = (0.002, 0.005, 0.01, 0.02)
#: The budgets each measured budget stands for, as in probflow.recommended's bands.
BANDS = {5: "nfe <= 5", 6: "6 <= nfe <= 7", 8: "8 <= nfe <= 9", 10: "10 <= nfe <= 14", 20: "15 <= nfe <= 34",
         50: "nfe >= 35"}
#: Today's piecewise-geometric grids of probflow.recommended (8-14, 15-34 and >= 35 calls).
PIECEWISE_BANDS = ({"band_low": 0.0026, "band_high": 7.3, "outer_density": 0.49},
                   {"band_low": 0.0035, "band_high": 2.5, "outer_density": 0.53},
                   {"band_low": 0.0063, "band_high": 2.95, "outer_density": 0.57})
CURRENT_DEFAULT = "current default"


@dataclass(frozen=True)
class SolverSpec:
    """A solver by its class name in :mod:`probflow.solvers` and constructor arguments."""

    kind: str
    args: tuple = ()
    kwargs: tuple[tuple[str, object], ...] = ()

    def build(self) -> Solver:
        return getattr(solvers, self.kind)(*self.args, **dict(self.kwargs))

    def code(self) -> str:
        """The constructor call, e.g. ``ExponentialAdams(3, form='data', corrector_order=3, final_nodes=2)``."""
        arguments = [*map(repr, self.args), *(f"{key}={value!r}" for key, value in self.kwargs)]
        return f"{self.kind}({', '.join(arguments)})"


@dataclass(frozen=True)
class GridSpec:
    """A :data:`probflow.schedules.SCHEDULES` entry with its ``sigma_min`` and shape parameters (``sigma_max`` 80).

    With ``budget_sigma_min``, a grid of ``n`` points ends at ``sigma_min (80 / sigma_min)^(1/n)`` instead of
    ``sigma_min``: on a log-uniform grid that is the last positive point of the ``n + 1``-point grid from 80 to
    ``sigma_min``, where diffusers' VP multistep schedulers end before their step into 0 (their "linspace"
    timesteps stop one step above ``t = 0``).
    """

    schedule: str
    sigma_min: float
    params: tuple[tuple[str, float], ...] = ()
    budget_sigma_min: bool = False

    def smallest_sigma(self, steps: int) -> float:
        return self.sigma_min * (SIGMA_MAX / self.sigma_min) ** (1.0 / steps) if self.budget_sigma_min else \
            self.sigma_min

    def sigmas(self, steps: int) -> torch.Tensor:
        """``steps`` sigmas from 80 down to :meth:`smallest_sigma`, then 0."""
        return SCHEDULES[self.schedule](steps, self.smallest_sigma(steps), SIGMA_MAX, **dict(self.params))

    def code(self) -> str:
        """The call that builds the grid for ``n`` steps."""
        params = "".join(f", {key}={value!r}" for key, value in self.params)
        smallest = f"{self.sigma_min!r} * ({SIGMA_MAX!r} / {self.sigma_min!r}) ** (1 / n)" if self.budget_sigma_min \
            else repr(self.sigma_min)
        return f"probflow.schedules.{self.schedule}(n, {smallest}, {SIGMA_MAX!r}{params})"


def steps_within(solver: Solver, nfe: int) -> int:
    """The most steps (the last one into 0) whose calls, by ``solver.nfe``, fit in ``nfe``."""
    fitting = [steps for steps in range(1, nfe + 1) if solver.nfe(steps) <= nfe]
    if not fitting:
        raise BudgetExceededError(f"{solver.name} needs more than {nfe} calls for one step")
    return max(fitting)


@dataclass(frozen=True)
class Candidate:
    """An uncalibrated configuration: a solver on a grid."""

    solver: SolverSpec
    grid: GridSpec

    @property
    def label(self) -> str:
        params = ",".join(f"{value:g}" for _, value in self.grid.params)
        smallest = f"{self.grid.sigma_min:g}"
        if self.grid.budget_sigma_min:
            smallest += f"*(80/{self.grid.sigma_min:g})^(1/n)"
        return f"{self.solver.code()} @ {self.grid.schedule}({params}) smin={smallest}"

    def run(self, denoiser: Callable, noise: torch.Tensor, nfe: int) -> torch.Tensor:
        """``probflow.solve`` from ``80 noise`` on this grid with at most ``nfe`` calls."""
        solver = self.solver.build()
        solution = probflow.solve(denoiser, solver, SIGMA_MAX * noise, self.grid.sigmas(steps_within(solver, nfe)))
        if solution.nfe > nfe:
            raise BudgetExceededError(f"{self.label} spent {solution.nfe} calls for a budget of {nfe}")
        return solution.x


def _exponential_adams(order: int, form: str, corrector_order: int, final_nodes: int = 2) -> SolverSpec:
    return SolverSpec("ExponentialAdams", (order,), (("form", form), ("corrector_order", corrector_order),
                                                     ("final_nodes", final_nodes)))


def candidates() -> list[Candidate]:
    """The candidate configurations (see the module docstring)."""
    exponential_adams = [
        _exponential_adams(3, "noise", 0),  # today's default for 5-14 calls
        _exponential_adams(3, "data", 3),  # 15-34
        _exponential_adams(4, "data", 5),  # >= 35
        _exponential_adams(3, "data", 0),
        _exponential_adams(2, "data", 3),
    ]
    shapes = [("karras", (("rho", 7.0),)), ("karras", (("rho", 30.0),)), ("exponential", ())]
    shapes += [("piecewise_geometric", tuple(band.items())) for band in PIECEWISE_BANDS]
    grids = [GridSpec(schedule, sigma_min, params) for schedule, params in shapes for sigma_min in SIGMA_MINS]
    grids += [GridSpec(schedule, SIGMA_MINS[0], params, budget_sigma_min=True) for schedule, params in shapes
              if schedule != "karras" or params == (("rho", 7.0),)]
    found = [Candidate(solver, grid) for solver in exponential_adams for grid in grids]
    karras_grids = [GridSpec("karras", SIGMA_MINS[0], (("rho", 7.0),), budget_sigma_min=budget) for budget in
                    (False, True)]
    classic = [SolverSpec("DPMSolverPP", (2,)), SolverSpec("DPMSolverPP", (3,)), SolverSpec("Heun")]
    return found + [Candidate(solver, grid) for solver in classic for grid in karras_grids]


def _current_default(denoiser: Callable, noise: torch.Tensor, nfe: int) -> torch.Tensor:
    return probflow.sample(denoiser, noise, nfe=nfe)


def measure_problem(problem: Problem, configurations: dict[str, Callable], peers: Sequence[Method],
                    budgets: Sequence[int], reference_tolerance: float, cache_dir: Path | None
                    ) -> tuple[dict[str, dict[int, float]], dict[int, tuple[str, float]]]:
    """Errors of every configuration at every budget on one problem, and the best peer ``(name, error)`` per budget.

    A configuration that spends more calls than its budget raises; one that returns non-finite values scores inf.
    """
    noise = problem.noise()
    reference = cached_reference(problem, noise, reference_tolerance, cache_dir)

    def error(run: Callable, name: str, nfe: int) -> float:
        value = budgeted_error(run, name, problem, noise, nfe, reference)
        return value if math.isfinite(value) else math.inf

    errors = {name: {nfe: error(run, name, nfe) for nfe in budgets} for name, run in configurations.items()}
    best_peers = {}
    for nfe in budgets:
        peer_errors = {peer.name: error(peer.run, peer.name, nfe) for peer in peers}
        name = min(peer_errors, key=peer_errors.__getitem__, default=None)
        best_peers[nfe] = (name, peer_errors.get(name, math.nan))
    return errors, best_peers


def minimax_choice(ratios: np.ndarray, columns: Sequence[int] | None = None) -> int:
    """The row (candidate) with the smallest maximum over ``columns`` (problems), ties broken by the smaller
    geometric mean."""
    selected = ratios if columns is None else ratios[:, list(columns)]
    worst = selected.max(axis=1)
    with np.errstate(divide="ignore"):
        geometric = np.log(selected).mean(axis=1)
    return int(np.lexsort((geometric, worst))[0])


@dataclass(frozen=True)
class Selection:
    """One budget's outcome: the chosen row, its ratios, and the leave-one-problem-out choices and ratios."""

    nfe: int
    chosen: int
    held_out_choices: tuple[int, ...]
    held_out_ratios: tuple[float, ...]

    @property
    def worst_held_out(self) -> float:
        return max(self.held_out_ratios)


def select(ratios: np.ndarray, nfe: int) -> Selection:
    """The minimax choice on all problems and, for each problem, the minimax choice on the others
    (``ratios``: ``[candidates, problems]``)."""
    problems = ratios.shape[1]
    held_out = [minimax_choice(ratios, [p for p in range(problems) if p != q]) for q in range(problems)]
    return Selection(nfe, minimax_choice(ratios), tuple(held_out),
                     tuple(float(ratios[c, q]) for q, c in enumerate(held_out)))


def geometric_mean(values: np.ndarray) -> float:
    return float(np.exp(np.log(values).mean()))


def _ratio_row(values: Sequence[float]) -> str:
    return " | ".join(f"{v:.2f}" for v in values)


def report(labels: Sequence[str], problem_names: Sequence[str], ratios: dict[int, np.ndarray],
           default_ratios: dict[int, np.ndarray], code: dict[str, str]) -> str:
    """Markdown: per budget the chosen configuration, its worst ratio and geometric mean, the worst and next worst
    held-out ratios of leave-one-problem-out and the current default's worst and geometric mean; then the chosen
    configurations' ratio on every problem, the current default's, and the held-out choices."""
    selections = {nfe: select(matrix, nfe) for nfe, matrix in ratios.items()}
    lines = ["### Chosen configuration per budget (minimax ratio to the best peer over all problems)", "",
             "| NFE | band | chosen configuration | worst ratio | geometric mean | LOPO worst held-out ratio | "
             "next worst held-out | current default: worst | geometric mean |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for nfe, selection in selections.items():
        held_out = np.argsort(selection.held_out_ratios)[::-1]
        worst, next_worst = (f"{selection.held_out_ratios[q]:.2f} ({problem_names[q]})" for q in held_out[:2])
        chosen = ratios[nfe][selection.chosen]
        lines.append(f"| {nfe} | {BANDS.get(nfe, '')} | `{labels[selection.chosen]}` | {chosen.max():.2f} | "
                     f"{geometric_mean(chosen):.2f} | {worst} | {next_worst} | {default_ratios[nfe].max():.2f} | "
                     f"{geometric_mean(default_ratios[nfe]):.2f} |")
    budgets = list(ratios)
    header = "| problem | " + " | ".join(f"NFE {nfe}" for nfe in budgets) + " |"
    rule = "|---|" + "---:|" * len(budgets)
    lines += ["", "### The chosen configurations' ratio to the best peer on every problem", "", header, rule]
    lines += [f"| {name} | " + _ratio_row([ratios[nfe][selections[nfe].chosen, p] for nfe in budgets]) + " |"
              for p, name in enumerate(problem_names)]
    lines += ["", "### The current default's ratio (`probflow.sample(denoiser, noise, nfe=N)`)", "", header, rule]
    lines += [f"| {name} | " + _ratio_row([default_ratios[nfe][p] for nfe in budgets]) + " |"
              for p, name in enumerate(problem_names)]
    lines += ["", "### Leave-one-problem-out: the choice without each problem, and its ratio on it", "",
              "| NFE | held-out problem | chosen on the others | held-out ratio |", "|---:|---|---|---:|"]
    for nfe, selection in selections.items():
        lines += [f"| {nfe} | {name} | `{labels[choice]}` | {ratio:.2f} |" for name, choice, ratio in
                  zip(problem_names, selection.held_out_choices, selection.held_out_ratios)]
    lines += ["", "### Chosen configurations as Python", "", "```python"]
    for nfe, selection in selections.items():
        lines.append(f"# {BANDS.get(nfe, f'nfe = {nfe}')}: worst held-out ratio {selection.worst_held_out:.2f}")
        lines.append(code[labels[selection.chosen]])
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two small problems, budgets 5 and 6, 4 candidates")
    parser.add_argument("--budgets", nargs="*", type=int, default=list(BUDGETS))
    parser.add_argument("--no-cache", action="store_true", help="recompute the reference endpoints")
    parser.add_argument("--json", type=Path, help="also write every error (candidates, default, best peers) here")
    add_skip_peer_argument(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    peers = required_peers(args.skip_peer, "benchmarks.select_default")
    if not peers:
        raise MissingPeerError("benchmarks.select_default scores candidates against the best peer: skip at most one "
                               "peer package")
    problems = benchmark_problems(smoke=args.smoke)
    found = candidates()
    budgets = args.budgets
    if args.smoke:
        found, budgets = found[::len(found) // 4][:4], [5, 6]
    configurations: dict[str, Callable] = {c.label: c.run for c in found}
    configurations[CURRENT_DEFAULT] = _current_default
    code = {c.label: f"solver = probflow.solvers.{c.solver.code()}\nsigmas = {c.grid.code()}" for c in found}
    cache_dir = None if args.smoke or args.no_cache else CACHE_DIR
    start = time.perf_counter()
    errors, peer_errors = [], []
    for problem in problems:
        problem_errors, best_peers = measure_problem(problem, configurations, peers, budgets,
                                                     1e-6 if args.smoke else REFERENCE_TOLERANCE, cache_dir)
        errors.append(problem_errors)
        peer_errors.append(best_peers)
        print(f"{problem.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps({problem.name: {"errors": problem_errors, "best_peers": best_peers}
                                         for problem, problem_errors, best_peers in
                                         zip(problems, errors, peer_errors)}, indent=1))
    labels = [c.label for c in found]
    ratios, default_ratios = {}, {}
    for nfe in budgets:
        ratios[nfe] = np.array([[errors[p][label][nfe] / peer_errors[p][nfe][1] for p in range(len(problems))]
                                for label in labels])
        default_ratios[nfe] = np.array([errors[p][CURRENT_DEFAULT][nfe] / peer_errors[p][nfe][1]
                                        for p in range(len(problems))])
    header = with_skipped_peers(f"Machine: {machine_description()}; {time.perf_counter() - start:.0f} s; "
                                f"{len(found)} candidates, {len(problems)} problems, budgets "
                                f"{', '.join(map(str, budgets))}", args.skip_peer)
    text = f"{header}\n\n{report(labels, [p.name for p in problems], ratios, default_ratios, code)}"
    print(text)
    return text


if __name__ == "__main__":
    exit_on_missing_peer(main)

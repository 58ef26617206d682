"""GITS + iPNDM: a calibrated peer, written from the papers.

**iPNDM** (Zhang & Chen 2023, "Fast Sampling of Diffusion Models with Exponential Integrator" (DEIS), the
"improved PNDM" of its section on multistep baselines) is Adams-Bashforth with fixed coefficients on the
direction ``d = (x - D(x, sigma)) / sigma = dx/dsigma`` of the probability-flow ODE (Karras et al. 2022, eq. 1
and 3), stepping in sigma::

    x_{i+1} = x_i + (sigma_{i+1} - sigma_i) sum_j b_j d_{i-j}
    b = (1), (3, -1)/2, (23, -16, 5)/12, (55, -59, 37, -9)/24

with the order raised one step at a time from 1 (the lower-order start-up) to ``order``. One call per step.
The coefficients are those of a uniform grid whatever the grid, so on a grid ``sigma_i = g(i/n)`` with
non-constant ``g'`` the local error is ``O(h^3)`` (the average of ``d`` is taken with weight 1 instead of
``g'``) and the global order drops to 2; on a uniform sigma grid it is the Adams-Bashforth order, up to the
first-order start-up step, whose ``O(h^2)`` local error is tiny where the path is straight (large sigma).

**GITS** (Chen et al. 2024, "On the Trajectory Regularity of ODE-based Diffusion Sampling", ICML, section 5,
"geometry-inspired time scheduling") chooses the student's grid among the points of a fine teacher grid:

1. teacher grid: ``TEACHER_POINTS = 61`` sigmas of a Karras grid (``rho = 7``) from ``sigma_max`` down to
   ``sigma_min`` (the authors' polynomial schedule); teacher: iPNDM of order 4 on it, run on
   ``CALIBRATION_PATHS = 256`` calibration draws (their warm-up samples), keeping every state ``x_i`` and
   direction ``d_i``;
2. cost of one student step from teacher point ``i`` to ``j > i``: the L2 distance between one Euler step and
   the teacher's state, averaged over the calibration paths and multiplied by ``COST_COEFFICIENT = 1.15`` (the
   authors' setting): ``C_ij = 1.15 mean_paths ||x_i + (sigma_j - sigma_i) d_i - x_j||_2``. It reuses the
   teacher's directions, so it costs no call. A positive constant factor cannot change which path of a fixed
   number of steps is cheapest (every path's cost scales alike), so here it changes no grid; it is applied as
   the published setting states, and whatever else it may do in the authors' code (not read) is not reproduced;
3. dynamic programming for the cheapest path from point 0 to point 60 with exactly ``K`` steps
   (:func:`cheapest_path`);
4. sampling: iPNDM of order 4 on the chosen sigmas, then the final denoise ``D(x, sigma_min)`` (the step into
   sigma = 0, which costs a call): a budget of ``N`` calls gives ``K = N - 1`` steps.

Calibration costs ``60 x 256 = 15,360`` per-sample denoiser calls per problem (shared by every budget).

Run: ``python -m benchmarks.gits`` (``--smoke`` for a seconds-long check). It prints, per problem and budget,
GITS + iPNDM's error next to iPNDM on the plain Karras grid, probflow's default and the best uncalibrated peer
(the peers are required, see :mod:`benchmarks.peers`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import probflow
from benchmarks.accuracy import CountingDenoiser, budgeted_error
from benchmarks.peers import (
    SIGMA_MIN, Method, add_skip_peer_argument, exit_on_missing_peer, required_peers, with_skipped_peers,
)
from benchmarks.problems import REFERENCE_TOLERANCE, SIGMA_MAX, Problem, benchmark_problems
from benchmarks.reference_cache import CACHE_DIR, cached_reference
from benchmarks.timing import machine_description
from probflow.errors import SolverConfigError
from probflow.schedules import karras

#: Adams-Bashforth coefficients b_j of orders 1-4 (newest direction first).
IPNDM_COEFFICIENTS = ((1.0,), (3 / 2, -1 / 2), (23 / 12, -16 / 12, 5 / 12), (55 / 24, -59 / 24, 37 / 24, -9 / 24))
TEACHER_POINTS = 61
TEACHER_RHO = 7.0
CALIBRATION_PATHS = 256
CALIBRATION_SEED = 1
COST_COEFFICIENT = 1.15
BUDGETS = (5, 6, 8, 10, 20)


def ipndm_steps(denoiser: Callable, x: torch.Tensor, sigmas: Sequence[float], order: int = 4
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """iPNDM along ``sigmas`` (see the module docstring): yields ``(x_{i+1}, d_i)`` for every step ``i``."""
    if order not in range(1, len(IPNDM_COEFFICIENTS) + 1):
        raise SolverConfigError(f"iPNDM order must be 1..{len(IPNDM_COEFFICIENTS)}, got {order!r}")
    directions: deque[torch.Tensor] = deque(maxlen=order)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        direction = (x - denoiser(x, torch.full((x.shape[0],), sigma, dtype=x.dtype))) / sigma
        directions.appendleft(direction)
        coefficients = IPNDM_COEFFICIENTS[len(directions) - 1]
        x = x + (sigma_next - sigma) * sum(b * d for b, d in zip(coefficients, directions))
        yield x, direction


def ipndm(denoiser: Callable, x: torch.Tensor, sigmas: Sequence[float], order: int = 4) -> torch.Tensor:
    """iPNDM of ``order`` from ``x`` at ``sigmas[0]`` to ``sigmas[-1]``: one call per step."""
    for x, _ in ipndm_steps(denoiser, x, [float(s) for s in sigmas], order):
        pass
    return x


def teacher_sigmas(sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> list[float]:
    """The 61-point Karras (``rho = 7``) teacher grid from ``sigma_max`` to ``sigma_min`` (no 0)."""
    return karras(TEACHER_POINTS, sigma_min, sigma_max, TEACHER_RHO, append_zero=False).tolist()


def euler_cost_matrix(states: torch.Tensor, directions: torch.Tensor, sigmas: Sequence[float],
                      coefficient: float = COST_COEFFICIENT) -> np.ndarray:
    """``C_ij = coefficient * mean_paths ||x_i + (sigma_j - sigma_i) d_i - x_j||_2`` for ``j > i``, ``inf`` else.

    ``states`` is ``[n, paths, ...]`` (the teacher's states at the ``n`` sigmas), ``directions`` ``[n - 1, paths,
    ...]`` (its directions at the first ``n - 1``).
    """
    count = len(sigmas)
    grid = torch.tensor(sigmas, dtype=states.dtype)
    flat_states = states.reshape(count, states.shape[1], -1)
    flat_directions = directions.reshape(count - 1, directions.shape[1], -1)
    cost = np.full((count, count), np.inf)
    for i in range(count - 1):
        steps = (grid[i + 1:] - grid[i]).reshape(-1, 1, 1)
        euler = flat_states[i] + steps * flat_directions[i]
        cost[i, i + 1:] = coefficient * (euler - flat_states[i + 1:]).norm(dim=2).mean(dim=1).numpy()
    return cost


def cheapest_path(cost: np.ndarray, steps: int) -> list[int]:
    """The path ``0 = p_0 < p_1 < ... < p_steps = n - 1`` minimising ``sum_k cost[p_k, p_{k+1}]``.

    Dynamic programming over (steps taken, point reached): ``V_k(j) = min_{i < j} V_{k-1}(i) + cost[i, j]``,
    ``V_0 = 0`` at point 0 and ``inf`` elsewhere; the path is read back from the minimising ``i``. Costs
    ``O(steps n^2)``.
    """
    count = cost.shape[0]
    if cost.shape != (count, count) or not 1 <= steps <= count - 1:
        raise SolverConfigError(f"need a square cost matrix and 1 <= steps <= {count - 1}, got {cost.shape} and "
                                f"{steps}")
    upper = np.where(np.triu(np.ones((count, count), dtype=bool), k=1), cost, np.inf)
    value = np.full(count, np.inf)
    value[0] = 0.0
    previous = np.zeros((steps, count), dtype=int)
    for k in range(steps):
        totals = value[:, None] + upper
        previous[k] = totals.argmin(axis=0)
        value = totals.min(axis=0)
    path = [count - 1]
    for k in range(steps - 1, -1, -1):
        path.append(int(previous[k, path[-1]]))
    return path[::-1]


@dataclass(frozen=True)
class GitsCalibration:
    """The teacher grid, the cost matrix between its points and the per-sample calls the calibration spent."""

    sigmas: tuple[float, ...]
    cost: np.ndarray
    calls: int

    def student_sigmas(self, nfe: int) -> list[float]:
        """The GITS grid for ``nfe`` calls: ``nfe - 1`` iPNDM steps on teacher points, then the final denoise."""
        return [self.sigmas[i] for i in cheapest_path(self.cost, nfe - 1)]


def calibrate(denoiser: Callable, calibration_noise: torch.Tensor) -> GitsCalibration:
    """Run the iPNDM teacher from ``SIGMA_MAX * calibration_noise`` on the teacher grid and build the costs."""
    sigmas = teacher_sigmas()
    counter = CountingDenoiser(denoiser)
    x = SIGMA_MAX * calibration_noise
    states, directions = [x], []
    for x, direction in ipndm_steps(counter, x, sigmas, order=4):
        states.append(x)
        directions.append(direction)
    cost = euler_cost_matrix(torch.stack(states), torch.stack(directions), sigmas)
    return GitsCalibration(tuple(sigmas), cost, counter.calls * calibration_noise.shape[0])


def ipndm_then_denoise(denoiser: Callable, noise: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """iPNDM of order 4 from ``SIGMA_MAX * noise`` along ``sigmas`` (ending at their ``sigma_min``), then
    ``D(x, sigma_min)``: ``len(sigmas)`` calls."""
    x = ipndm(denoiser, SIGMA_MAX * noise, sigmas, order=4)
    return denoiser(x, torch.full((x.shape[0],), float(sigmas[-1]), dtype=x.dtype))


def karras_ipndm(denoiser: Callable, noise: torch.Tensor, nfe: int) -> torch.Tensor:
    """The uncalibrated baseline: iPNDM on ``karras(nfe, 0.002, 80, rho=7)``, then the final denoise."""
    return ipndm_then_denoise(denoiser, noise, karras(nfe, SIGMA_MIN, SIGMA_MAX, TEACHER_RHO,
                                                      append_zero=False).tolist())


@dataclass(frozen=True)
class GitsRow:
    """One problem at one budget: the errors of GITS + iPNDM, iPNDM on Karras, the default and the best peer."""

    problem: str
    nfe: int
    gits: float
    karras_ipndm: float
    default: float
    best_peer: float
    best_peer_name: str
    grid: tuple[float, ...]


def evaluate(problem: Problem, peers: Sequence[Method], budgets: Sequence[int], calibration_paths: int,
             reference_tolerance: float, cache_dir: Path | None = CACHE_DIR) -> tuple[list[GitsRow], GitsCalibration]:
    """Calibrate on ``calibration_paths`` draws of another seed than the evaluation noise's, then run every method
    on the problem's evaluation noise (held out from the calibration) against its reference endpoint."""
    calibration_noise = dataclasses.replace(problem, num_samples=calibration_paths).noise(seed=CALIBRATION_SEED)
    calibration = calibrate(problem.denoiser, calibration_noise)
    noise = problem.noise()
    reference = cached_reference(problem, noise, reference_tolerance, cache_dir)
    methods: dict[str, Callable] = {
        "gits": lambda denoiser, z, nfe: ipndm_then_denoise(denoiser, z, calibration.student_sigmas(nfe)),
        "karras": karras_ipndm,
        "default": lambda denoiser, z, nfe: probflow.sample(denoiser, z, nfe=nfe),
    }
    methods.update((peer.name, peer.run) for peer in peers)
    rows = []
    for nfe in budgets:
        errors = {name: budgeted_error(run, name, problem, noise, nfe, reference) for name, run in methods.items()}
        peer_name = min((peer.name for peer in peers), key=errors.__getitem__, default="no peer")
        rows.append(GitsRow(problem.name, nfe, errors["gits"], errors["karras"], errors["default"],
                            errors.get(peer_name, float("nan")), peer_name, tuple(calibration.student_sigmas(nfe))))
    return rows, calibration


def format_rows(rows: Sequence[GitsRow]) -> str:
    """Markdown: per problem and budget, the errors and the ratios to the best uncalibrated peer."""
    lines = ["| problem | NFE | GITS+iPNDM | / best peer | iPNDM Karras | / best peer | default | / best peer | "
             "best peer |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.problem} | {r.nfe} | {r.gits:.2e} | {r.gits / r.best_peer:.2f} | {r.karras_ipndm:.2e} | "
                     f"{r.karras_ipndm / r.best_peer:.2f} | {r.default:.2e} | {r.default / r.best_peer:.2f} | "
                     f"{r.best_peer:.2e} {r.best_peer_name} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two small problems, 8 paths, NFE 5 and 6")
    parser.add_argument("--problems", nargs="*", help="names of the problems to run (default: all)")
    add_skip_peer_argument(parser)
    args = parser.parse_args(argv)
    peers = required_peers(args.skip_peer, "benchmarks.gits")
    problems = [p for p in benchmark_problems(smoke=args.smoke) if not args.problems or p.name in args.problems]
    budgets, paths = ((5, 6), 8) if args.smoke else (BUDGETS, CALIBRATION_PATHS)
    start = time.perf_counter()
    rows, calls = [], []
    for problem in problems:
        problem_rows, calibration = evaluate(problem, peers, budgets, paths, 1e-6 if args.smoke else
                                             REFERENCE_TOLERANCE, None if args.smoke else CACHE_DIR)
        rows += problem_rows
        calls.append(f"| {problem.name} | {calibration.calls} |")
    header = with_skipped_peers(f"Machine: {machine_description()}; {time.perf_counter() - start:.0f} s",
                                args.skip_peer)
    grids = "\n".join(f"* {r.problem}, NFE {r.nfe}: {', '.join(f'{s:.3g}' for s in r.grid)}" for r in rows)
    report = "\n\n".join([header,
                          "### GITS + iPNDM (calibrated) against the uncalibrated samplers\n\n" + format_rows(rows),
                          "### Calibration calls (per-sample denoiser calls: teacher; the cost matrix adds none)\n\n"
                          "| problem | calls |\n|---|---:|\n" + "\n".join(calls),
                          "### GITS grids (then the final denoise)\n\n" + grids])
    print(report)
    return report


if __name__ == "__main__":
    exit_on_missing_peer(main)

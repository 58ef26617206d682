"""Measured convergence orders for the demo: :func:`probflow.convergence.estimate_order` per solver on one problem."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from probflow.convergence import OrderEstimate, estimate_order, get_problem, suggested_steps
from probflow.convergence.fit import declared_text, measured_text
from probflow.solvers import Solver, get_solver, solver_names

SIGMA_MAX = 80.0


def fixed_grid_deterministic_solvers() -> tuple[str, ...]:
    """Every registered solver with a deterministic order on a fixed grid (the ones ``probflow order`` measures)."""
    return tuple(name for name in solver_names() if _has_grid_order(get_solver(name)))


def _has_grid_order(solver: Solver) -> bool:
    return not solver.stochastic and not solver.adaptive


def measure_orders(problem_name: str, names: tuple[str, ...], *, seed: int = 0,
                   progress: bool = True) -> list[OrderEstimate]:
    """Fit each solver's global order on ``problem_name``'s probability-flow ODE (errors at sigma_min, Karras grids
    at :func:`~probflow.convergence.suggested_steps`); ``names`` empty means
    :func:`fixed_grid_deterministic_solvers`."""
    problem = get_problem(problem_name)
    denoiser = problem.build()
    state = problem.initial_state(denoiser, SIGMA_MAX, seed)
    estimates = []
    for name in tqdm(names or fixed_grid_deterministic_solvers(), desc="convergence orders", disable=not progress):
        solver = get_solver(name)
        estimates.append(estimate_order(solver, denoiser, state, steps=suggested_steps(solver), sigma_max=SIGMA_MAX,
                                        generator=torch.Generator().manual_seed(seed)))
    return estimates


def order_table(estimates: list[OrderEstimate]) -> str:
    """A markdown table: solver, declared order, measured order +- standard error, R^2, levels fitted."""
    lines = ["| solver | declared | measured | R² | levels fitted |", "|---|---|---|---|---|"]
    for estimate in estimates:
        lines.append(f"| {estimate.solver} | {declared_text(estimate)} | {measured_text(estimate, '±')} | "
                     f"{estimate.r_squared:.4f} | {len(estimate.fitted)}/{len(estimate.steps)} |")
    return "\n".join(lines)

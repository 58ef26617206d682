"""``probflow.sample``: the most accurate sample for a budget of model calls, with no glue code."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from probflow.errors import SolverConfigError
from probflow.noise import GeneratorLike
from probflow.schedules import karras
from probflow.solve import Callback, solve
from probflow.solvers.base import Solver
from probflow.solvers.dpm_solver_pp import DPMSolverPP
from probflow.terms import ProbabilityFlowODE, ReverseSDE


@dataclass(frozen=True)
class Recommendation:
    """A solver and a Karras grid (EDM eq. 5) chosen for a budget of denoiser calls."""

    solver: Solver
    num_steps: int
    rho: float


def recommended(nfe: int) -> Recommendation:
    """probflow's recommended configuration for ``nfe`` calls, the same for every problem.

    DPM-Solver++ of order 3 (exponential Adams-Bashforth in log sigma, second-order start-up) on a Karras
    grid with rho = 7: it has the highest verified order among the one-call-per-step methods, and a
    multistep method spends every call on a new point of the grid. See ``benchmarks/RESULTS.md`` for the
    measured errors against the peers. Budgets below 3 fall back to Euler-type DPM-Solver++(1).
    """
    nfe = _check_nfe(nfe)
    solver = DPMSolverPP(order=3) if nfe >= 3 else DPMSolverPP(order=1)
    return Recommendation(solver=solver, num_steps=_steps_within(solver, nfe), rho=7.0)


def _check_nfe(nfe: object) -> int:
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < 1:
        raise SolverConfigError(f"nfe must be a positive integer, got {nfe!r}")
    return nfe


def _steps_within(solver: Solver, nfe: int) -> int:
    """The most steps (with the final step into 0) whose calls fit in ``nfe``."""
    if solver.nfe(1) > nfe:
        raise SolverConfigError(f"{solver.name} needs at least {solver.nfe(1)} calls, got nfe={nfe}")
    steps = 1
    while solver.nfe(steps + 1) <= nfe:
        steps += 1
    return steps


def sample(
    denoiser,
    noise: torch.Tensor,
    *,
    nfe: int,
    solver: Solver | None = None,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float | None = None,
    generator: GeneratorLike = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Draw samples: start at ``x = noise * sigma_max`` and integrate to sigma = 0 with at most ``nfe`` calls.

    ``noise`` is standard normal of shape ``[batch, ...]``. With ``solver=None`` the :func:`recommended`
    solver and grid for this budget are used; otherwise ``solver`` runs on a Karras grid (``rho``, default 7)
    with as many steps as fit in the budget; an SDE solver integrates the :class:`~probflow.ReverseSDE` (default
    Langevin strength). ``generator`` seeds stochastic solvers (per sample if a list).
    """
    nfe = _check_nfe(nfe)
    if not isinstance(noise, torch.Tensor):
        raise TypeError(f"noise must be a torch.Tensor of shape [batch, ...], got {type(noise).__name__}")
    if not (0 < sigma_min < sigma_max):
        raise SolverConfigError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    if solver is None:
        choice = recommended(nfe)
        solver, num_steps, rho = choice.solver, choice.num_steps, choice.rho if rho is None else rho
    else:
        if getattr(solver, "adaptive", False):
            raise SolverConfigError(f"{solver.name} is adaptive and cannot honour a fixed nfe; use probflow.solve")
        num_steps = _steps_within(solver, nfe)
    sigmas = karras(num_steps, sigma_min, sigma_max, 7.0 if rho is None else rho)
    term = ReverseSDE(denoiser) if solver.term_kind == "sde" else ProbabilityFlowODE(denoiser)
    solution = solve(term, solver, noise * sigma_max, sigmas, generator=generator, callback=callback,
                     progress=progress)
    return solution.x

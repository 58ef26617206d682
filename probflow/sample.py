"""``probflow.sample``: the most accurate sample for a budget of model calls, with no glue code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.noise import GeneratorLike
from probflow.schedules import SCHEDULES, karras
from probflow.solve import Callback, solve
from probflow.solvers.base import Solver
from probflow.solvers.exponential_adams import ExponentialAdams
from probflow.solvers.registry import as_solver
from probflow.validation import check_int, check_sigma_range, validate_state

if TYPE_CHECKING:
    from probflow.calibration import Schedule


@dataclass(frozen=True)
class Recommendation:
    """A solver and the grid it runs on, chosen for a budget of denoiser calls.

    ``schedule`` names a :data:`probflow.schedules.SCHEDULES` entry and ``schedule_params`` its shape parameters;
    :meth:`sigmas` builds the grid, ending in 0.
    """

    solver: Solver
    num_steps: int
    schedule: str
    schedule_params: dict[str, float] = field(default_factory=dict)

    def sigmas(self, sigma_min: float, sigma_max: float) -> torch.Tensor:
        """The recommended grid from ``sigma_max`` down to ``sigma_min``, then 0."""
        return SCHEDULES[self.schedule](self.num_steps, sigma_min, sigma_max, **self.schedule_params)

    def config(self) -> dict:
        """The solver's :meth:`~probflow.solvers.Solver.config` and the grid, as JSON values."""
        return {"solver": self.solver.config(), "num_steps": self.num_steps, "schedule": self.schedule,
                "schedule_params": dict(self.schedule_params)}


def recommended(nfe: int) -> Recommendation:
    """probflow's recommended configuration for ``nfe`` calls, the same for every problem.

    Every configuration is an :class:`~probflow.solvers.ExponentialAdams` multistep method in
    ``lambda = -log sigma`` that spends one call per grid point (``nfe`` points) and takes the step into
    sigma = 0 without a call, by extrapolating the last two denoised values to sigma = 0 in ``sigma^2``:

    * ``nfe < 15``: noise form (DEIS-type, Zhang & Chen 2023), third-order predictor only -- with steps of
      ``h ~ 1`` in lambda its weights, largest where the interpolant is known, are the most robust (below 8
      calls on a Karras grid with ``rho = 30``, whose first steps are shorter);
    * ``15 <= nfe < 35``: data form (DPM-Solver++-type, Lu et al. 2022), third-order predictor and a 3-node
      Adams-Moulton corrector (UniPC-type PEC, Zhao et al. 2023);
    * ``nfe >= 35``: data form, fourth-order predictor and 5-node corrector (UniC).

    From 8 calls on, grids are :func:`~probflow.schedules.piecewise.piecewise_geometric`: log-uniform steps,
    shorter (by the factor ``outer_density``) inside a band of noise levels where the denoiser of data scaled
    to [-1, 1] changes fastest along a path, and longer above it, where the solution is nearly linear. The
    solvers, bands and densities were chosen on ``benchmarks/accuracy.py``'s problems at 10, 20 and 50 calls
    (minimising the worst ratio to the best of k-diffusion's and diffusers' samplers) and then frozen; nothing
    is adapted per problem at sampling time. The measured errors are in ``benchmarks/RESULTS.md``.
    """
    nfe = check_int("nfe", nfe, minimum=1, error=SolverConfigError)
    if nfe < 8:
        solver, schedule, params = ExponentialAdams(3, form="noise", corrector_order=0), "karras", {"rho": 30.0}
    elif nfe < 15:
        solver, schedule = ExponentialAdams(3, form="noise", corrector_order=0), "piecewise_geometric"
        params = {"band_low": 0.0026, "band_high": 7.3, "outer_density": 0.49}
    elif nfe < 35:
        solver, schedule = ExponentialAdams(3, form="data", corrector_order=3), "piecewise_geometric"
        params = {"band_low": 0.0035, "band_high": 2.5, "outer_density": 0.53}
    else:
        solver, schedule = ExponentialAdams(4, form="data", corrector_order=5), "piecewise_geometric"
        params = {"band_low": 0.0063, "band_high": 2.95, "outer_density": 0.57}
    return Recommendation(solver, solver.steps_within(nfe), schedule, params)


def sample(
    denoiser,
    noise: torch.Tensor,
    *,
    nfe: int | None = None,
    schedule: Schedule | None = None,
    solver: Solver | str | None = None,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float | None = None,
    generator: GeneratorLike = None,
    callback: Callback | None = None,
    progress: bool = False,
    model_kwargs: dict | None = None,
) -> torch.Tensor:
    """Draw samples: start at ``x = noise * sigma_max`` and integrate to sigma = 0 with at most ``nfe`` calls.

    ``noise`` is standard normal of shape ``[batch, ...]``. With ``solver=None`` the :func:`recommended`
    solver and grid for this budget are used (a given ``rho`` replaces that grid by a Karras grid); otherwise
    ``solver`` (an instance or a spec such as ``"heun"`` or ``"ddim(eta=1)"``) runs on a Karras grid (``rho``,
    default 7) with as many steps as fit in the budget; an SDE solver integrates the :class:`~probflow.ReverseSDE`
    (default Langevin strength). ``generator`` seeds stochastic solvers (per sample if a list); ``model_kwargs``
    reach every denoiser call (:func:`probflow.solve`).

    With a calibrated ``schedule`` (:func:`probflow.calibrate`), its solver runs on its grid from its ``sigma_max``;
    ``nfe``, if given, must be the schedule's, and a denoiser other than the one it was calibrated for warns.
    """
    noise = validate_state(noise, name="noise", error=InvalidArgumentError)
    if schedule is not None:
        return _sample_on_schedule(denoiser, noise, schedule, nfe=nfe, solver=solver, rho=rho, generator=generator,
                                   callback=callback, progress=progress, model_kwargs=model_kwargs)
    nfe = check_int("nfe", nfe, minimum=1, error=SolverConfigError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    if solver is None and rho is None:
        choice = recommended(nfe)
        solver, sigmas = choice.solver, choice.sigmas(sigma_min, sigma_max)
    else:
        solver = recommended(nfe).solver if solver is None else as_solver(solver)
        sigmas = karras(solver.steps_within(nfe), sigma_min, sigma_max, 7.0 if rho is None else rho)
    solution = solve(denoiser, solver, noise * sigma_max, sigmas, generator=generator, callback=callback,
                     progress=progress, model_kwargs=model_kwargs)
    return solution.x


def _sample_on_schedule(denoiser, noise: torch.Tensor, schedule: Schedule, *, nfe: int | None, solver, rho,
                        **options) -> torch.Tensor:
    if solver is not None or rho is not None:
        raise SolverConfigError("a schedule brings its own solver and grid: give no solver or rho with it")
    if nfe is not None and check_int("nfe", nfe, minimum=1, error=SolverConfigError) != schedule.nfe:
        raise SolverConfigError(f"the schedule was calibrated for nfe={schedule.nfe}, not nfe={nfe}")
    schedule.check_denoiser(denoiser, noise.shape[1:], noise.device)
    return solve(denoiser, schedule.solver, noise * schedule.sigma_max, schedule.sigmas, **options).x

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

#: EDM's noise range (Karras et al. 2022), the default of every grid that is not the recommended one.
DEFAULT_SIGMA_MIN = 0.002
DEFAULT_SIGMA_MAX = 80.0


@dataclass(frozen=True)
class Recommendation:
    """A solver and the grid it runs on, chosen for a budget of denoiser calls.

    ``schedule`` names a :data:`probflow.schedules.SCHEDULES` entry and ``schedule_params`` its shape parameters;
    ``sigma_min`` is the grid's last positive noise level; :meth:`sigmas` builds the grid, ending in 0.
    """

    solver: Solver
    num_steps: int
    schedule: str
    sigma_min: float
    schedule_params: dict[str, float] = field(default_factory=dict)

    def sigmas(self, sigma_max: float = DEFAULT_SIGMA_MAX, *, sigma_min: float | None = None) -> torch.Tensor:
        """The recommended grid from ``sigma_max`` down to ``sigma_min`` (default: the recommendation's), then 0."""
        sigma_min = self.sigma_min if sigma_min is None else sigma_min
        return SCHEDULES[self.schedule](self.num_steps, sigma_min, sigma_max, **self.schedule_params)

    def config(self) -> dict:
        """The solver's :meth:`~probflow.solvers.Solver.config` and the grid, as JSON values."""
        return {"solver": self.solver.config(), "num_steps": self.num_steps, "schedule": self.schedule,
                "sigma_min": self.sigma_min, "schedule_params": dict(self.schedule_params)}


def recommended(nfe: int) -> Recommendation:
    """probflow's default for ``nfe`` calls, the same for every problem: the configuration that is never far behind
    the best peer, chosen by minimax over 14 problems and checked by leave-one-problem-out.

    Every configuration is an :class:`~probflow.solvers.ExponentialAdams` multistep method in ``lambda = -log
    sigma`` (data form: DPM-Solver++-type, Lu et al. 2022; noise form: DEIS-type, Zhang & Chen 2023; a corrector
    is UniPC's UniC, Zhao et al. 2023) that spends one call per grid point and takes the step into sigma = 0 by
    extrapolating the last two denoised values in ``sigma^2``, on a grid ending at its own ``sigma_min``:

    * ``nfe <= 5``: order 2, data form, a 3-node corrector; log-uniform grid to ``sigma_min = 0.02``;
    * ``6 <= nfe <= 7``: order 3, noise form, no corrector; Karras grid with ``rho = 30`` to 0.02;
    * ``8 <= nfe <= 9``: order 3, noise form, no corrector; log-uniform to 0.005;
    * ``10 <= nfe <= 14``: order 2, data form, a 3-node corrector; piecewise geometric (band 0.0063 .. 2.95,
      outer density 0.57) to 0.01;
    * ``15 <= nfe <= 34``: order 3, data form, a 3-node corrector; log-uniform to 0.005;
    * ``nfe >= 35``: order 4, data form, a 5-node corrector; log-uniform to ``0.002 (80 / 0.002)^(1/n)``, one
      log-uniform step above 0.002 (where diffusers' VP schedulers end before their step into 0).

    Chosen by ``python -m benchmarks.select_default``: 151 candidates (solver forms, grids, ``sigma_min``) on 14
    problems (six it was tuned on before, eight new families: digits KDEs at three bandwidths, a four-decade
    anisotropic Gaussian, 0.98/0.02 mixtures of unequal scales, KDEs on a circle and a swiss roll), each scored by
    its error divided by the best of 11 k-diffusion and diffusers samplers at the same budget; per budget, the
    candidate with the smallest *worst* ratio. Its worst ratio over the 14 problems: 5.9 (NFE 5), 8.2 (6), 1.8 (8),
    2.0 (10), 2.1 (20), 0.84 (50), against 31, 16, 20, 51, 27 and 1.1 for the previous, benchmark-tuned default.
    Chosen without each problem in turn, the worst held-out ratio is 9-36 at NFE 5-20 (the anisotropic Gaussian,
    which no other problem predicts) and 1.15 at 50; see ``benchmarks/RESULTS.md``, section 6. A per-model
    :func:`probflow.calibrate` schedule is what beats the best peer everywhere.
    """
    nfe = check_int("nfe", nfe, minimum=1, error=SolverConfigError)
    if nfe <= 5:
        solver, schedule, params, sigma_min = ExponentialAdams(2, corrector_order=3), "exponential", {}, 0.02
    elif nfe <= 7:
        solver = ExponentialAdams(3, form="noise", corrector_order=0)
        schedule, params, sigma_min = "karras", {"rho": 30.0}, 0.02
    elif nfe <= 9:
        solver, schedule, params = ExponentialAdams(3, form="noise", corrector_order=0), "exponential", {}
        sigma_min = 0.005
    elif nfe <= 14:
        solver, schedule = ExponentialAdams(2, corrector_order=3), "piecewise_geometric"
        params, sigma_min = {"band_low": 0.0063, "band_high": 2.95, "outer_density": 0.57}, 0.01
    elif nfe <= 34:
        solver, schedule, params, sigma_min = ExponentialAdams(3, corrector_order=3), "exponential", {}, 0.005
    else:
        solver, schedule, params = ExponentialAdams(4, corrector_order=5), "exponential", {}
        sigma_min = 0.002 * (DEFAULT_SIGMA_MAX / 0.002) ** (1.0 / solver.steps_within(nfe))
    return Recommendation(solver, solver.steps_within(nfe), schedule, sigma_min, params)


def sample(
    denoiser,
    noise: torch.Tensor,
    *,
    nfe: int | None = None,
    schedule: Schedule | None = None,
    solver: Solver | str | None = None,
    sigma_min: float | None = None,
    sigma_max: float = DEFAULT_SIGMA_MAX,
    rho: float | None = None,
    generator: GeneratorLike = None,
    callback: Callback | None = None,
    progress: bool = False,
    model_kwargs: dict | None = None,
    check_schedule: bool = True,
) -> torch.Tensor:
    """Draw samples: start at ``x = noise * sigma_max`` and integrate to sigma = 0 with at most ``nfe`` calls.

    ``noise`` is standard normal of shape ``[batch, ...]``. With ``solver=None`` the :func:`recommended`
    solver and grid for this budget are used, ending at its own ``sigma_min`` unless one is given (a given ``rho``
    replaces that grid by a Karras grid, ending at ``sigma_min`` or 0.002); otherwise
    ``solver`` (an instance or a spec such as ``"heun"`` or ``"ddim(eta=1)"``) runs on a Karras grid (``rho``,
    default 7) with as many steps as fit in the budget; an SDE solver integrates the :class:`~probflow.ReverseSDE`
    (default Langevin strength). ``generator`` seeds stochastic solvers (per sample if a list); ``model_kwargs``
    reach every denoiser call (:func:`probflow.solve`).

    With a calibrated ``schedule`` (:func:`probflow.calibrate`), its solver runs on its grid from its ``sigma_max``;
    ``nfe``, if given, must be the schedule's, and a denoiser other than the one it was calibrated for warns: the
    first time a denoiser meets a schedule it is probed (3 calls on 4 fixed inputs, outside the budget) unless
    ``check_schedule=False``.
    """
    noise = validate_state(noise, name="noise", error=InvalidArgumentError)
    if schedule is not None:
        return _sample_on_schedule(denoiser, noise, schedule, nfe=nfe, solver=solver, rho=rho, check=check_schedule,
                                   generator=generator, callback=callback, progress=progress,
                                   model_kwargs=model_kwargs)
    nfe = check_int("nfe", nfe, minimum=1, error=SolverConfigError)
    if solver is None and rho is None:
        choice = recommended(nfe)
        sigma_min, sigma_max = check_sigma_range(choice.sigma_min if sigma_min is None else sigma_min, sigma_max)
        solver, sigmas = choice.solver, choice.sigmas(sigma_max, sigma_min=sigma_min)
    else:
        sigma_min, sigma_max = check_sigma_range(DEFAULT_SIGMA_MIN if sigma_min is None else sigma_min, sigma_max)
        solver = recommended(nfe).solver if solver is None else as_solver(solver)
        sigmas = karras(solver.steps_within(nfe), sigma_min, sigma_max, 7.0 if rho is None else rho)
    solution = solve(denoiser, solver, noise * sigma_max, sigmas, generator=generator, callback=callback,
                     progress=progress, model_kwargs=model_kwargs)
    return solution.x


def _sample_on_schedule(denoiser, noise: torch.Tensor, schedule: Schedule, *, nfe: int | None, solver, rho,
                        check: bool, **options) -> torch.Tensor:
    if solver is not None or rho is not None:
        raise SolverConfigError("a schedule brings its own solver and grid: give no solver or rho with it")
    if nfe is not None and check_int("nfe", nfe, minimum=1, error=SolverConfigError) != schedule.nfe:
        raise SolverConfigError(f"the schedule was calibrated for nfe={schedule.nfe}, not nfe={nfe}")
    if check:
        schedule.check_denoiser(denoiser, noise.shape[1:], noise.device)
    return solve(schedule.denoiser(denoiser), schedule.solver, noise * schedule.sigma_max, schedule.sigmas,
                 **options).x

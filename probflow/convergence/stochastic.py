"""Strong and weak orders of the stochastic solvers on the reverse-time SDE.

The SDE (Karras et al. 2022, eq. 6, in ``tau = -sigma``; :class:`~probflow.ReverseSDE`) is

    dx = (1/sigma + beta(sigma)) (D(x, sigma) - x) dtau + sqrt(2 beta(sigma)) sigma dW_tau

and a scheme has strong order ``q`` if ``E|x_N - x(sigma_min)| = O(N^-q)`` on the same Brownian path, weak order
``p`` if ``|E phi(x_N) - E phi(x(sigma_min))| = O(N^-p)`` for smooth ``phi`` (Kloeden & Platen 1992, sec. 9.6-9.7).
The noise is additive (``g`` does not depend on ``x``), so Euler-Maruyama is strong order 1 here, not the generic
1/2 (Kloeden & Platen, sec. 10.2 and 10.4).

Both estimates solve every level and a reference on one Brownian path per sample (:class:`.GridBrownian`,
sampled on the reference grid, of which every level's grid is a sub-grid). The reference is the same solver, or
``reference_solver``, ``reference_factor`` times finer than the finest level. If ``e_N = C N^-q``, the measured
``e_N - e_ref = C N^-q (1 - (N/M)^q)`` raises the local order of the finest pair by ~0.05 for ``q = 1`` and
``M = 16 N_finest`` (by ~0.13 for ``q = 1/2``; a larger ``reference_factor`` shrinks it).

* :func:`estimate_strong_order`: error ``mean |x_N - x_ref|`` over the batch (one path per sample) and elements.
* :func:`estimate_weak_order`: on Gaussian data ``N(mu, s^2)`` the marginal at ``sigma_min`` is exactly
  ``N(mu, v)``, ``v = s^2 + sigma_min^2`` (EDM eq. 6: every ``beta`` has the ODE's marginals). With the test
  functions ``phi_1 = (x - mu)/sqrt(v)`` and ``phi_2 = (x - mu)^2 / v`` (exact means 0 and 1), the weak error of a
  level is ``sum_k |mean(phi_k(x_N) - phi_k(x_ref))|`` over a sample started from the exact marginal at
  ``sigma_max`` and pooled over every coordinate. Sharing the path makes ``phi(x_N) - phi(x_ref)`` small, so its
  Monte Carlo error is far below that of ``mean phi(x_N)`` alone (the coupling of multilevel Monte Carlo; Giles
  2008, "Multilevel Monte Carlo path simulation"): thousands of samples suffice where a plain estimate
  needs millions. The exact moments check the reference: ``reference_error = sum_k |mean phi_k(x_ref) - E phi_k|``,
  and a warning says when it exceeds ``noise_floor`` Monte Carlo standard errors plus the reference's
  extrapolated bias, i.e. when the solver does not converge to the right law. Levels whose error is below
  ``noise_floor`` standard errors are dropped as Monte Carlo noise. Noise the solver draws with ``randn`` (EDM
  churn) is not on the path, so it is not coupled across levels and needs many more samples.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence

import torch

from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.convergence.fit import OrderEstimate, check_steps, fit_order
from probflow.convergence.grid_brownian import GridBrownianNoise
from probflow.convergence.grids import Schedule, karras_schedule, schedule_grid
from probflow.convergence.roundoff import roundoff_floors
from probflow.denoisers.analytic import Gaussian
from probflow.solve import Solution, solve
from probflow.validation import validate_state
from probflow.solvers.base import Solver
from probflow.solvers.registry import as_solver
from probflow.terms import ReverseSDE

DEFAULT_STRONG_STEPS = (32, 64, 128, 256)
DEFAULT_WEAK_STEPS = (16, 32, 64, 128)

BetaLike = float | Callable[[torch.Tensor], torch.Tensor] | None


@dataclasses.dataclass(frozen=True)
class CoupledStudy:
    """What every coupled study shares: the grids and how finely the reference is solved."""

    steps: Sequence[int]
    sigma_max: float = 80.0
    sigma_min: float = 0.002
    rho: float = 7.0
    schedule: Schedule | None = None
    beta: BetaLike = None
    reference_factor: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_steps(self.steps))

    @property
    def reference_steps(self) -> int:
        """The smallest multiple of every level's step count that is at least ``reference_factor`` x the finest."""
        common = math.lcm(*self.steps)
        return common * math.ceil(self.reference_factor * max(self.steps) / common)

    def run(self, solver: Solver, denoiser, x: torch.Tensor, generator: torch.Generator | None = None,
            reference_solver: Solver | None = None) -> CoupledSolves:
        """Solve the reference and every level from ``x`` (float64), all on one :class:`.GridBrownian` path per
        sample seeded by ``generator``."""
        solver = _stochastic(solver)
        state = validate_state(x).to(torch.float64)
        schedule = self.schedule or karras_schedule(self.sigma_max, self.sigma_min, self.rho)
        fine_grid = schedule_grid(schedule, self.reference_steps, self.sigma_max, self.sigma_min)
        noise = GridBrownianNoise(fine_grid, state.shape, generator)
        reference_solver = reference_solver or solver
        reference = solve(self.term(reference_solver, denoiser), reference_solver, state, fine_grid, generator=noise)
        levels = [solve(self.term(solver, denoiser), solver, state, fine_grid[:: self.reference_steps // n],
                        generator=noise) for n in self.steps]
        return CoupledSolves(self, solver, reference, levels)

    def term(self, solver: Solver, denoiser):
        """The SDE for SDE solvers; ODE-term solvers (ancestral, DDIM, EDM churn) add their own noise to the ODE."""
        return ReverseSDE(denoiser, self.beta) if solver.term_kind == "sde" else denoiser


@dataclasses.dataclass(frozen=True)
class CoupledSolves:
    """The outcome of :meth:`CoupledStudy.run`: the reference solution and one solution per level."""

    study: CoupledStudy
    solver: Solver
    reference: Solution
    levels: list[Solution]

    def extrapolated_reference_error(self, estimate: OrderEstimate) -> float:
        """``e_finest (N_finest / N_reference)^order``: the reference's own error if the fitted law holds."""
        finest = estimate.fitted[-1] if estimate.fitted else len(self.levels) - 1
        ratio = self.study.steps[finest] / self.study.reference_steps
        return estimate.errors[finest] * ratio ** max(estimate.order, 0.0)


def _stochastic(solver: Solver | str) -> Solver:
    solver = as_solver(solver)
    if not solver.stochastic:
        raise SolverConfigError(f"{solver.name} is deterministic: use estimate_order")
    return solver


def _check_gaussian(problem: object) -> None:
    if not isinstance(problem, Gaussian):
        raise InvalidArgumentError(f"the weak order needs exact moments: problem must be a Gaussian, got {type(problem).__name__}")


def strong_order(solves: CoupledSolves, denoiser, slope_tolerance: float = 0.2) -> OrderEstimate:
    """The strong order from coupled solves: errors ``mean |x_N - x_ref|`` over every sample and element, with the
    reference's error extrapolated from the fit."""
    errors = [float((level.x - solves.reference.x).abs().mean()) for level in solves.levels]
    nfe = [level.nfe for level in solves.levels]
    estimate = fit_order(solves.solver.name, "strong", solves.solver.strong_order, solves.study.steps, nfe, errors,
                         floors=roundoff_floors(errors, nfe, solves.reference.x, denoiser),
                         slope_tolerance=slope_tolerance)
    return dataclasses.replace(estimate, reference_error=solves.extrapolated_reference_error(estimate))


def weak_order(solves: CoupledSolves, problem: Gaussian, noise_floor: float = 3.0, slope_tolerance: float = 0.25
               ) -> OrderEstimate:
    """The weak order from coupled solves started at the exact marginal of ``problem`` (module docstring); warns
    when the reference's moments are off the exact ones by more than Monte Carlo noise and its expected bias."""
    _check_gaussian(problem)
    sigma_min = solves.study.sigma_min
    reference_values = gaussian_test_functions(solves.reference.x, problem, sigma_min)
    errors, floors = [], {}
    for index, level in enumerate(solves.levels):
        difference = gaussian_test_functions(level.x, problem, sigma_min) - reference_values
        error, standard_error = _mean_error(difference, (0.0, 0.0))
        errors.append(error)
        if error < noise_floor * standard_error:
            floors[index] = (f"Monte Carlo noise: error {error:.1e} < {noise_floor:g} x standard error "
                             f"{standard_error:.1e}")
    reference_error, reference_noise = _mean_error(reference_values, (0.0, 1.0))
    solver = solves.solver
    estimate = fit_order(solver.name, "weak", solver.order, solves.study.steps, [level.nfe for level in solves.levels],
                         errors, floors=floors, slope_tolerance=slope_tolerance, reference_error=reference_error)
    if reference_error > noise_floor * reference_noise + solves.extrapolated_reference_error(estimate):
        warnings.warn(f"{solver.name}: on the finest grid the moments still differ from the exact Gaussian ones by "
                      f"{reference_error:.2e} (Monte Carlo standard error {reference_noise:.1e}): it does not "
                      f"converge to the data distribution", RuntimeWarning, stacklevel=2)
    return estimate


def estimate_strong_order(
    solver: Solver,
    denoiser,
    x: torch.Tensor,
    *,
    steps: Sequence[int] = DEFAULT_STRONG_STEPS,
    sigma_max: float = 80.0,
    sigma_min: float = 0.002,
    rho: float = 7.0,
    schedule: Schedule | None = None,
    beta: BetaLike = None,
    reference_solver: Solver | None = None,
    reference_factor: int = 16,
    generator: torch.Generator | None = None,
    slope_tolerance: float = 0.2,
) -> OrderEstimate:
    """Fit the strong order of ``solver``: ``E|x_N - x_ref|`` on one Brownian path per sample (module docstring).

    ``x`` (``[paths, ...]``, computed in float64) is the state at ``sigma_max``; ``generator`` seeds the path.
    SDE solvers integrate ``ReverseSDE(denoiser, beta)`` (``beta=None`` is ``1/sigma``); ancestral-type solvers
    bring their own noise schedule. ``reference_error`` is extrapolated from the fit.
    """
    study = CoupledStudy(steps, sigma_max, sigma_min, rho, schedule, beta, reference_factor)
    return strong_order(study.run(solver, denoiser, x, generator, reference_solver), denoiser, slope_tolerance)


def gaussian_test_functions(samples: torch.Tensor, problem: Gaussian, sigma_min: float) -> torch.Tensor:
    """``[2, n]``: ``phi_1 = (x - mu)/sqrt(v)`` and ``phi_2 = phi_1^2``, ``v = s^2 + sigma_min^2``, every coordinate
    of every sample pooled into ``n`` values. Under the exact marginal at ``sigma_min`` their means are 0 and 1."""
    standardised = (samples - problem.mean) / (problem.std**2 + sigma_min**2).sqrt()
    flat = standardised.reshape(-1)
    return torch.stack([flat, flat.square()])


def _mean_error(values: torch.Tensor, exact: Sequence[float]) -> tuple[float, float]:
    """``(sum_k |mean(values_k) - exact_k|, its Monte Carlo standard error)`` for ``values`` of shape ``[k, n]``."""
    error = sum(abs(float(row.mean()) - target) for row, target in zip(values, exact))
    return error, math.sqrt(float(values.var(dim=1).sum()) / values.shape[1])


def estimate_weak_order(
    solver: Solver,
    problem: Gaussian,
    *,
    num_samples: int = 4096,
    steps: Sequence[int] = DEFAULT_WEAK_STEPS,
    sigma_max: float = 80.0,
    sigma_min: float = 0.002,
    rho: float = 7.0,
    schedule: Schedule | None = None,
    beta: BetaLike = None,
    reference_factor: int = 16,
    generator: torch.Generator | None = None,
    noise_floor: float = 3.0,
    slope_tolerance: float = 0.25,
) -> OrderEstimate:
    """Fit the weak order of ``solver`` on Gaussian data, checked against the exact moments (module docstring).

    ``num_samples`` draws from ``N(mu, s^2 + sigma_max^2)`` (the exact marginal at ``sigma_max``) start every
    level; ``generator`` seeds them and the path. Sampling the path takes about four float64 tensors of
    ``reference_steps + 1`` times ``num_samples`` times the problem's dimension (:class:`.GridBrownian`). For the strong order of the same solves, run a
    :class:`CoupledStudy` and pass it to both :func:`strong_order` and :func:`weak_order`.
    """
    _check_gaussian(problem)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise InvalidArgumentError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    study = CoupledStudy(steps, sigma_max, sigma_min, rho, schedule, beta, reference_factor)
    start = problem.sample_noisy(num_samples, sigma_max, generator)
    return weak_order(study.run(solver, problem, start, generator), problem, noise_floor, slope_tolerance)

"""Measured global order of an ODE solver on the probability-flow ODE of a denoiser.

``estimate_order`` solves ``dx/dsigma = (x - D(x, sigma))/sigma`` (Karras et al. 2022, eq. 1 and 3) from
``sigma_max`` to ``sigma_min`` on grids of increasing step counts ``N_l``, measures the root-mean-square error
``e_l = sqrt(mean((x_l - x_ref)^2))`` at ``sigma_min`` and fits ``e_l ~ C N_l^-p`` (:mod:`.fit`).

Pitfalls, and how they are handled:

* **The final step to 0.** It is one Euler-like denoise of order 1 for every solver, so errors are measured at
  ``sigma_min`` on grids without the 0 (:mod:`.grids`).
* **The reference.** The exact flow when the denoiser provides ``exact_flow(x, sigma_from, sigma_to)``
  (:class:`~probflow.denoisers.Gaussian`), a caller-supplied tensor or callable of the same signature, or else
  dopri8 at ``rtol = atol = 1e-12`` in float64 (:mod:`.reference`). Levels whose error is less than
  ``REFERENCE_MARGIN`` (100) times the reference's estimated error are dropped and a warning names them.
* **Round-off.** The state runs in float64. A level is on the round-off floor, and dropped, when its error is
  below ``ROUNDOFF_MARGIN`` (10) times the rounding a solve can accumulate (:mod:`.roundoff`), which includes
  one rounding of the denoiser's output in its own dtype (float32 networks). A floor the bound misses shows as
  local slopes collapsing at the finest levels, which the fit leaves out too (:mod:`.fit`).
* **Pre-asymptotic coarse levels** (large steps through the stiff region near ``sigma ~ data scale``): the fit
  keeps the longest run of levels whose local slopes agree, and says when fewer than three do.
  :func:`suggested_steps` gives step counts that reach the asymptotic range.
* **Multistep start-up.** One start-up step of a method of order ``q`` caps the global order at ``q + 1``;
  LMS(3, 4) and DPM-Solver++(3M) start with single-step methods of high enough order (see their docstrings),
  which the order tests verify. ``LMS(k, startup="adams")`` is capped at 2 and declares it; from a large
  ``sigma_max`` the cap shows only past ~1000 steps, because the first steps there follow nearly straight lines.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch

from probflow.convergence.fit import OrderEstimate, check_steps, fit_order
from probflow.convergence.grids import Schedule, karras_schedule, schedule_grid
from probflow.convergence.reference import REFERENCE_TOLERANCE, ode_reference, rms_difference
from probflow.convergence.roundoff import roundoff_floors
from probflow.convergence.stochastic import estimate_strong_order
from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.noise import GeneratorLike
from probflow.solve import solve
from probflow.validation import validate_state
from probflow.solvers.base import Solver
from probflow.solvers.registry import as_solver

DEFAULT_STEPS = (32, 64, 128, 256)
REFERENCE_MARGIN = 100.0

Reference = torch.Tensor | Callable[[torch.Tensor, float, float], torch.Tensor] | None


def suggested_steps(solver: Solver) -> tuple[int, ...]:
    """Four doublings from ``solver.asymptotic_steps``: its asymptotic range on Karras grids, above float64 round-off.

    Each solver declares where its asymptotic range starts (:attr:`~probflow.solvers.Solver.asymptotic_steps`,
    measured over the property tests' problem family: Gaussians and mixtures, ``rho`` in [3, 10]).
    """
    return tuple(solver.asymptotic_steps << k for k in range(4))


def resolve_reference(reference: Reference, denoiser, x: torch.Tensor, sigma_max: float, sigma_min: float,
                      tolerance: float = REFERENCE_TOLERANCE) -> tuple[torch.Tensor, float | None]:
    """``(x_ref at sigma_min, its estimated error)``: from ``reference`` (a tensor, error unknown: None; or a callable
    ``(x, sigma_from, sigma_to)``), else the denoiser's ``exact_flow`` (error 0), else dopri8 (:mod:`.reference`).
    Solve it once to share it between several :func:`estimate_order` calls."""
    if isinstance(reference, torch.Tensor):
        if reference.shape != x.shape:
            raise InvalidArgumentError(f"reference has shape {tuple(reference.shape)}, x has {tuple(x.shape)}")
        return reference.to(torch.float64), None
    if reference is not None and not callable(reference):
        raise InvalidArgumentError(f"reference must be a tensor, a callable (x, sigma_from, sigma_to) or None, "
                        f"got {type(reference).__name__}")
    exact = reference if reference is not None else getattr(denoiser, "exact_flow", None)
    if exact is not None:
        with torch.no_grad():
            return exact(x, sigma_max, sigma_min).to(torch.float64), 0.0 if reference is None else None
    return ode_reference(denoiser, x, sigma_max, sigma_min, tolerance=tolerance)


def estimate_order(
    solver: Solver,
    denoiser,
    x: torch.Tensor,
    *,
    steps: Sequence[int] = DEFAULT_STEPS,
    sigma_max: float = 80.0,
    sigma_min: float = 0.002,
    rho: float = 7.0,
    schedule: Schedule | None = None,
    reference: Reference = None,
    reference_error: float | None = None,
    reference_tolerance: float = REFERENCE_TOLERANCE,
    generator: GeneratorLike = None,
    slope_tolerance: float = 0.1,
) -> OrderEstimate:
    """Fit the global order of ``solver`` on the probability-flow ODE of ``denoiser`` (module docstring).

    ``x`` is the state at ``sigma_max`` (computed in float64). The grids are ``karras(N + 1, sigma_min,
    sigma_max, rho, append_zero=False)`` for ``N`` in ``steps``, or ``schedule(N)`` (``N + 1`` sigmas from
    ``sigma_max`` to ``sigma_min``). ``reference`` is the exact ``x(sigma_min)`` as a tensor, or a callable
    ``(x, sigma_from, sigma_to)``; by default the denoiser's ``exact_flow``, else dopri8 at ``rtol = atol =
    reference_tolerance`` (:mod:`.reference`). ``reference_error`` is a supplied tensor's estimated error (from
    :func:`resolve_reference`), which turns on the reference check. ``slope_tolerance`` bounds how far the local
    slopes of the fitted levels may stray from their mean (:mod:`.fit`).

    A stochastic solver has no deterministic order: it is passed on to
    :func:`~probflow.convergence.estimate_strong_order` with ``generator`` seeding the Brownian path.
    """
    solver = as_solver(solver)
    if solver.stochastic:
        return estimate_strong_order(solver, denoiser, x, steps=steps, sigma_max=sigma_max, sigma_min=sigma_min,
                                     rho=rho, schedule=schedule, generator=generator)
    if solver.adaptive:
        raise SolverConfigError(f"{solver.name} is adaptive: its error follows its tolerance, not the grid")
    steps = check_steps(steps)
    state = validate_state(x).to(torch.float64)
    schedule = schedule or karras_schedule(sigma_max, sigma_min, rho)
    grids = [schedule_grid(schedule, n, sigma_max, sigma_min) for n in steps]
    reference_state, resolved_error = resolve_reference(reference, denoiser, state, sigma_max, sigma_min,
                                                        reference_tolerance)
    reference_error = resolved_error if reference_error is None else reference_error
    errors, nfe = [], []
    for grid in grids:
        solution = solve(denoiser, solver, state, grid)
        errors.append(rms_difference(solution.x, reference_state))
        nfe.append(solution.nfe)
    floors = roundoff_floors(errors, nfe, reference_state, denoiser)
    unresolved = {index: f"reference: error {error:.1e} < {REFERENCE_MARGIN:g} x reference error {reference_error:.1e}"
                  for index, error in enumerate(errors)
                  if index not in floors and reference_error and error < REFERENCE_MARGIN * reference_error}
    floors.update(unresolved)
    if unresolved:
        warnings.warn(f"{solver.name}: the reference (error ~{reference_error:.1e}) is not {REFERENCE_MARGIN:g}x below "
                      f"the finest levels' errors; those levels were dropped", RuntimeWarning, stacklevel=2)
    return fit_order(solver.name, "ode", solver.order, steps, nfe, errors, floors=floors,
                     slope_tolerance=slope_tolerance, reference_error=reference_error)

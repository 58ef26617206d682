"""``probflow.calibrate``: the most accurate grid (and solver form) for *this* denoiser and budget, validated on noise
it was not fitted on.

1. The calibration noise ``[K, ...]`` is split at random (``seed``) into fit paths and held-out paths
   (``heldout`` of them, at least one).
2. The teacher (:mod:`.teacher`) solves every path to sigma = 0 with high accuracy, once for all budgets.
3. For each budget, each candidate solver's grid family is fitted on the fit paths, the grids of the
   :data:`REFINED_FAMILIES` best candidates are refined point by point and the lower fit objective is kept; then
   (``shift_noise_levels``, the default) the kept grid is refined together with the noise level the denoiser is told
   at each grid point (:mod:`.noise_levels`), kept if its fit objective is lower (:mod:`.search`). All of it runs
   within ``max_calls`` per-sample denoiser calls (the teacher's calls are counted apart, once, in the first
   budget).
4. Validation: the median per-sample RMS error to the teacher on the held-out paths, of the calibrated sampler and
   of ``probflow.sample``'s default (:func:`probflow.recommended`) on the same paths. A calibrated sampler whose
   held-out error is not below the default's is never returned: the default is, with ``info["fallback"]`` saying so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import torch
from tqdm.auto import tqdm

from probflow.calibration.fingerprint import fingerprint
from probflow.calibration.noise_levels import ShiftedNoiseLevels
from probflow.calibration.schedule import Schedule
from probflow.calibration.search import (
    FAMILY_STARTS, Budget, Objective, SearchResult, adam, best_start, family_sigmas, point_parameters, point_sigmas,
    shifted_point_sigmas,
)
from probflow.calibration.teacher import Teacher, per_sample_rms, teach
from probflow.conditioning import select_rows
from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.sample import recommended
from probflow.solve import solve
from probflow.solvers import ExponentialAdams, Solver
from probflow.solvers.registry import as_solver
from probflow.validation import check_int, check_open_unit, check_positive, validate_state

#: Per-sample denoiser calls of the search for one budget, when ``max_calls`` is not given.
DEFAULT_MAX_CALLS = 250_000
#: Share of a budget's calls that the family fits of all candidates together may spend (each candidate an equal
#: part, of which at most half goes to evaluating the starting points); the rest refines every point of the grids
#: of the :data:`REFINED_FAMILIES` best candidates.
FAMILY_SHARE = 0.4
#: How many of the best-fitting candidates have every point of their grid refined (each with an equal share of the
#: rest of the budget); the one with the lowest fit objective after refinement is kept.
REFINED_FAMILIES = 2
#: Share of a budget's calls kept for refining the grid together with the told noise levels (what the point
#: refinement leaves unspent goes there too).
SHIFT_SHARE = 0.3


def default_candidates(nfe: int) -> list[Solver]:
    """The solvers calibrated for a budget when none are given: the recommended one, and the exponential Adams
    forms that it was chosen among, each of which is the recommended one at some budget (data form of order 2 and 3
    with a corrector, noise form of order 3 without). Every budget gets all of them: a form that was the best
    compromise over the benchmark problems at one budget can fit a given model best at another. Adding the order-2
    data form where it had been missing lowered the held-out error at NFE 6 on all 4 benchmark problems tried
    (1.6-21x) and at NFE 8 on 4 of 7 (1.2-10x), and raised it on none."""
    candidates = [recommended(nfe).solver, ExponentialAdams(2, form="data", corrector_order=3),
                  ExponentialAdams(3, form="data", corrector_order=3), ExponentialAdams(3, form="noise", corrector_order=0)]
    return list(dict.fromkeys(candidates))


def calibrate(
    denoiser,
    noise: torch.Tensor,
    nfe: int | Sequence[int],
    *,
    solvers: Sequence[Solver | str] | None = None,
    sigma_max: float = 80.0,
    heldout: float = 0.25,
    max_calls: int | None = None,
    teacher_steps: int = 256,
    seed: int = 0,
    model_kwargs: Mapping[str, object] | None = None,
    shift_noise_levels: bool = True,
    progress: bool = False,
) -> Schedule | dict[int, Schedule]:
    """Calibrate a :class:`~probflow.calibration.Schedule` for ``denoiser`` at each budget in ``nfe`` (module docstring).

    ``noise`` holds ``K >= 4`` standard-normal draws ``[K, ...]`` (sampling starts at ``noise * sigma_max``);
    ``solvers`` the candidate solvers (default :func:`default_candidates`); ``max_calls`` the per-sample denoiser
    calls each budget's search may spend (default :data:`DEFAULT_MAX_CALLS`; forward and backward passes count).
    ``model_kwargs`` are passed to every call (per-sample tensors follow their paths). ``shift_noise_levels=False``
    fits the grid alone, for samplers that take nothing but a sigma grid (:class:`Schedule`). Returns a
    :class:`~probflow.calibration.Schedule` for one budget, a ``{nfe: Schedule}`` dict for several.
    """
    budgets = [nfe] if isinstance(nfe, int) else list(nfe)
    budgets = [check_int("nfe", n, minimum=1, error=SolverConfigError) for n in budgets]
    if not budgets:
        raise SolverConfigError("nfe names no budget")
    noise = validate_state(noise, name="noise", error=InvalidArgumentError)
    if noise.shape[0] < 4:
        raise InvalidArgumentError(f"calibration needs at least 4 noise draws (fit and held-out paths), got "
                                   f"{noise.shape[0]}")
    sigma_max = check_positive("sigma_max", sigma_max, error=SolverConfigError)
    heldout = check_open_unit("heldout", heldout, error=InvalidArgumentError)
    max_calls = DEFAULT_MAX_CALLS if max_calls is None else check_int("max_calls", max_calls, minimum=1,
                                                                        error=InvalidArgumentError)
    candidates = None if solvers is None else [as_solver(solver) for solver in solvers]
    teacher_started = time.perf_counter()
    states = noise.to(torch.float64) * sigma_max
    order = torch.randperm(len(states), generator=torch.Generator().manual_seed(int(seed)))
    held = order[:max(1, round(heldout * len(states)))]
    fit = order[len(held):]
    teacher = teach(denoiser, states, sigma_max, steps=teacher_steps, model_kwargs=model_kwargs)
    teacher_seconds = time.perf_counter() - teacher_started
    context = _Context(denoiser, states, teacher, fit, held, model_kwargs, sigma_max)
    recorded_fingerprint = (fingerprint(denoiser, noise.shape[1:], device=noise.device) if model_kwargs is None
                            else None)
    schedules = {}
    for position, budget in enumerate(tqdm(budgets, desc="calibrate", disable=not progress)):
        budget_started = time.perf_counter()
        schedule = _calibrate_budget(context, budget, candidates or default_candidates(budget), max_calls,
                                     shift_noise_levels)
        info = dict(schedule.info)
        info["calls"]["teacher"] = teacher.calls if position == 0 else 0
        info["calls"]["total"] = sum(value for key, value in info["calls"].items() if key != "total")
        # The teacher, shared by all budgets, is counted (calls and time) in the first.
        info.update(wall_time_s=time.perf_counter() - budget_started + (teacher_seconds if position == 0 else 0.0),
                    fingerprint=recorded_fingerprint, split_seed=int(seed), sigma_max=sigma_max,
                    paths={"fit": len(fit), "heldout": len(held)}, teacher=teacher.record(),
                    probflow_version=_version())
        schedules[budget] = Schedule(schedule.grid, schedule.solver, schedule.nfe, info, schedule.model_grid)
    return schedules[budgets[0]] if isinstance(nfe, int) else schedules


class _Context:
    """What every budget's calibration shares: the denoiser, the states, the teacher and the split."""

    def __init__(self, denoiser, states: torch.Tensor, teacher: Teacher, fit: torch.Tensor, held: torch.Tensor,
                 model_kwargs: Mapping[str, object] | None, sigma_max: float):
        self.denoiser = denoiser
        self.sigma_max = sigma_max
        self.fit_states, self.fit_teacher = states[fit], teacher.endpoints[fit]
        self.held_states, self.held_teacher = states[held], teacher.endpoints[held]
        self.fit_kwargs = select_rows(model_kwargs, len(states), fit)
        self.held_kwargs = select_rows(model_kwargs, len(states), held)

    def objective(self, solver: Solver, budget: Budget) -> Objective:
        return Objective(self.denoiser, solver, self.fit_states, self.fit_teacher, budget, self.fit_kwargs)

    def heldout_error(self, solver: Solver, sigmas: torch.Tensor,
                      log_shifts: torch.Tensor | None = None) -> tuple[float, int]:
        """Median per-sample RMS error to the teacher on the held-out paths, and its calls."""
        denoiser = self.denoiser if log_shifts is None else ShiftedNoiseLevels(self.denoiser, sigmas, log_shifts)
        solution = solve(denoiser, solver, self.held_states, sigmas, model_kwargs=self.held_kwargs)
        return float(per_sample_rms(solution.x, self.held_teacher).median()), solution.nfe * len(self.held_states)


def _calibrate_budget(context: _Context, nfe: int, candidates: list[Solver], max_calls: int,
                      shift_noise_levels: bool) -> Schedule:
    family_budgets = [Budget(int(FAMILY_SHARE * max_calls / len(candidates))) for _ in candidates]
    fitted = [(solver, _fit_family(context, solver, nfe, budget)) for solver, budget in zip(candidates, family_budgets)]
    family_calls = sum(budget.spent for budget in family_budgets)
    finalists = sorted(fitted, key=lambda pair: pair[1].loss)[:REFINED_FAMILIES]
    reserved = int(SHIFT_SHARE * max_calls) if shift_noise_levels else 0
    point_budgets = [Budget(max(0, max_calls - family_calls - reserved) // len(finalists)) for _ in finalists]
    refined = [(solver, _refine_points(context, solver, family, budget))
               for (solver, family), budget in zip(finalists, point_budgets)]
    solver, refined = min(refined, key=lambda pair: pair[1].loss)
    search_calls = family_calls + sum(budget.spent for budget in point_budgets)
    grid_only = refined
    if shift_noise_levels:
        shift_budget = Budget(max_calls - search_calls)
        refined = _shift_noise_levels(context, solver, refined, shift_budget)
        search_calls += shift_budget.spent
    family = dict(fitted)[solver]
    default = recommended(nfe)
    default_sigmas = default.sigmas(context.sigma_max)
    calibrated_error, calibrated_calls = context.heldout_error(solver, refined.sigmas, refined.log_shifts)
    default_error, default_calls = context.heldout_error(default.solver, default_sigmas)
    fallback = not calibrated_error < default_error
    info = {
        "fallback": fallback,
        "note": ("the calibrated sampler was not more accurate than the default on the held-out paths; this is the "
                 "default" if fallback else "calibrated"),
        "heldout_error": default_error if fallback else calibrated_error,
        "calibrated_heldout_error": calibrated_error,
        "default_heldout_error": default_error,
        "fit_objective": refined.loss,
        "grid_only_fit_objective": grid_only.loss,
        "shifted_noise_levels": refined.log_shifts is not None and not fallback,
        "candidates": {candidate.spec: loss for candidate, loss in ((s, r.loss) for s, r in fitted)},
        "iterations": {"family": family.iterations, "points": grid_only.iterations,
                       "shifts": refined.iterations if refined is not grid_only else 0},
        "calls": {"search": search_calls,
                  "validation": calibrated_calls + default_calls},
        "default": default.config(),
    }
    if fallback:
        return Schedule(tuple(default_sigmas.tolist()), default.solver, nfe, info)
    told = None if refined.log_shifts is None else tuple((refined.sigmas[:-1] * refined.log_shifts.exp()).tolist())
    return Schedule(tuple(refined.sigmas.tolist()), solver, nfe, info, told)


def _shift_noise_levels(context: _Context, solver: Solver, refined: SearchResult, budget: Budget) -> SearchResult:
    """Every point of the grid and the noise level told at each but the first, by Adam from the refined grid told
    its own noise levels; the refined grid if nothing better."""
    gaps = point_parameters(refined.sigmas)
    start = torch.cat([gaps, torch.zeros_like(gaps)])
    shifted = adam(context.objective(solver, budget), lambda parameters: shifted_point_sigmas(parameters,
                   context.sigma_max), start, iterations=300, learning_rate=0.05, patience=25)
    return shifted if shifted.loss < refined.loss else refined


def _refine_points(context: _Context, solver: Solver, family: SearchResult, budget: Budget) -> SearchResult:
    """Every point of a fitted family grid, by Adam on the log-sigma gaps; the family grid if nothing better."""
    if len(family.sigmas) <= 2:
        return family
    refined = adam(context.objective(solver, budget), lambda theta: (point_sigmas(theta, context.sigma_max), None),
                   point_parameters(family.sigmas), iterations=300, learning_rate=0.05, patience=25)
    return refined if refined.loss < family.loss else family


def _fit_family(context: _Context, solver: Solver, nfe: int, budget: Budget) -> SearchResult:
    """The family grid of the solver's steps that fits best: from the best start, by Adam on its parameters."""
    steps = solver.steps_within(nfe)
    objective = context.objective(solver, budget)
    starts = [torch.tensor([math.log(rho), math.log(sigma_min), math.log(kappa)], dtype=torch.float64)
              for rho, sigma_min, kappa in FAMILY_STARTS]
    if steps == 1:
        sigmas = family_sigmas(starts[0], steps, context.sigma_max)
        with torch.no_grad():
            return SearchResult(sigmas, starts[0], float(objective(sigmas)))
    grids = [family_sigmas(start, steps, context.sigma_max) for start in starts]
    index, start_loss = best_start(objective, grids, Budget(budget.limit // 2))
    start, start_grid = starts[index], grids[index]
    result = adam(objective, lambda parameters: (family_sigmas(parameters, steps, context.sigma_max), None), start,
                  iterations=60, learning_rate=0.1)
    if result.loss > start_loss:
        return SearchResult(start_grid, start, start_loss)
    return result


def _version() -> str:
    import probflow

    return probflow.__version__

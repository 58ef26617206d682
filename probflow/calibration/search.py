"""Searching a sigma grid for one solver and budget: a low-dimensional family first, then every point.

**Objective.** ``L(sigmas) = exp(mean_{k in M} log rms(solve(D, solver, x_k, sigmas) - teacher_k))``: the
geometric mean, over the fit paths ``M`` but the quarter with the smallest errors (:data:`TRIM`), of the actual
solver's per-sample RMS error on the candidate grid against teacher endpoints of the same states at sigma = 0 (a
global, solver-aware objective, not the local cost of one Euler step). The geometric mean weighs every path's
*relative* improvement alike; an arithmetic mean is ruled by the few paths that end in another mode than the
teacher's (errors ~1 where the rest are ~1e-3), whose gradients are noise. Dropping the smallest errors closes a way
to lower ``L`` without a better grid: a 2-d error vector crosses 0 for some value of a few grid parameters, and
``log rms`` of that path goes to minus infinity. On uneven-2d at NFE 5, L-BFGS from the calibrated grid lowered
the untrimmed ``L`` by 41% while the error on the evaluation noise did not change. The largest errors are kept:
trimming them too let the search sacrifice a quarter of the paths (gaussian-16d at NFE 6 with told noise levels:
held-out error 2.1e-3 with the top quarter dropped as well, 1.05e-3 without). ``probflow.solve`` is differentiable
in its grid, so ``dL/dsigmas`` is one backward pass.

**Grids.** ``N`` steps into 0 (as many as the solver's budget allows) start at ``sigma_0 = sigma_max``, end with the
step from ``sigma_{N-1}`` (``sigma_min``, free) to 0. Two parameterisations of the free points:

* the *family* ``sigma_i = sigma_max (1 + r_i expm1(log(sigma_min / sigma_max) / rho))^rho`` with ``r_i = (i /
  (N - 1))^kappa``: Karras et al. (2022, eq. 5) with a warp of the step index, three parameters ``(log rho,
  log sigma_min, log kappa)``;
* *every point*: ``log sigma_i = log sigma_max - sum_{j <= i} softplus(theta_j)``, ``i = 1 .. N-1``: every grid
  that decreases strictly, and no other.
* *every point and the told noise levels*: the same ``theta`` and ``delta_1 .. delta_{N-1}``, the log of the
  factor by which the noise level the denoiser is told differs from ``sigma_i`` (:mod:`probflow.calibration.
  noise_levels`), starting from 0, searched as ``delta_i = SHIFT_STEP phi_i`` (:data:`SHIFT_STEP`): Adam moves
  every parameter by about its step size per iteration, and the told levels need smaller moves than the grid's
  gaps. With ``delta`` searched directly, the search never improved the fit at NFE 20 (no benchmark cell kept its
  shifts) and its reserved calls were lost to the grid; with ``SHIFT_STEP = 0.05`` it moved too slowly at NFE 5
  (aniso-gaussian-32d: held-out 1.0e-2 against 5.8e-3 with 0.2). ``delta_0 = 0``: the start ``x_0 = sigma_max n`` is fixed by the noise, and a VP
  pipeline feeds the pure noise to the model as its input at the first timestep, which is right only for the
  grid's own first level. Fixing it cost nothing measurable: on three benchmark cells at NFE 5-6 (gaussian-16d at
  6, uneven-2d at 5 and 6) the held-out error changed by -58%, +14% and -8% against a free ``delta_0``.

**Search.** Adam (Kingma & Ba 2015) on each parameterisation in turn, with a cosine-decaying step size; a step whose
loss is not finite (a grid on which the solver blows up) is undone and the step size halved. The best grid seen is
kept. Every solve is counted in *per-sample denoiser calls*: a forward solve of ``K`` paths with ``n`` calls costs
``K n``, and its backward pass as much again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from probflow.calibration.noise_levels import ShiftedNoiseLevels
from probflow.errors import NonFiniteResultError
from probflow.solve import solve
from probflow.solvers.base import Solver

#: The family's starting points ``(rho, sigma_min, kappa)``, EDM's grid first: a coarse grid over the shapes that
#: the benchmark's best grids span (log-uniform-like rho = 15 to uniform-like rho = 1, sigma_min 0.002 to 0.05).
FAMILY_STARTS = tuple((rho, sigma_min, kappa) for rho in (7.0, 3.0, 15.0, 1.0) for sigma_min in (0.002, 0.01, 0.05)
                      for kappa in (1.0, 0.7, 1.5))


#: Share of the fit paths, those with the smallest errors, left out of the geometric mean (module docstring).
TRIM = 0.25


def trimmed_geometric_mean(errors: torch.Tensor) -> torch.Tensor:
    """The geometric mean of ``errors`` ``[K]`` without the ``floor(TRIM K)`` smallest (at least one error is
    kept); differentiable in the kept ones."""
    drop = min(math.floor(TRIM * len(errors)), len(errors) - 1)
    return errors.clamp_min(1e-300).log().sort().values[drop:].mean().exp()


def family_sigmas(parameters: torch.Tensor, steps: int, sigma_max: float) -> torch.Tensor:
    """The family's grid (module docstring) of ``steps`` steps into 0 for ``parameters = (log rho, log sigma_min,
    log kappa)``; differentiable in them."""
    log_rho, log_sigma_min, log_kappa = parameters
    rho = log_rho.exp()
    fractions = (torch.arange(steps, dtype=torch.float64) / max(steps - 1, 1)) ** log_kappa.exp()
    shrink = torch.expm1((log_sigma_min - math.log(sigma_max)) / rho)
    positive = sigma_max * torch.exp(rho * torch.log1p(fractions * shrink))
    return torch.cat([positive, positive.new_zeros(1)])


def point_sigmas(theta: torch.Tensor, sigma_max: float) -> torch.Tensor:
    """The every-point grid (module docstring): ``[sigma_max, ..., sigma_min, 0]`` from ``len(theta)`` gaps."""
    log_sigmas = math.log(sigma_max) - torch.cumsum(torch.nn.functional.softplus(theta), dim=0)
    start = torch.full((1,), sigma_max, dtype=torch.float64)
    return torch.cat([start, log_sigmas.exp(), start.new_zeros(1)])


def point_parameters(sigmas: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`point_sigmas`: ``theta = log(expm1(gap))`` of the log-sigma gaps of a grid into 0."""
    gaps = -torch.diff(sigmas[:-1].detach().log())
    return torch.log(torch.expm1(gaps))


@dataclass
class Budget:
    """Per-sample denoiser calls spent and allowed (``limit=None``: no limit)."""

    limit: int | None
    spent: int = 0

    def allows(self, cost: int) -> bool:
        return self.limit is None or self.spent + cost <= self.limit


@dataclass
class SearchResult:
    """The best grid found (and the log-shifts of its told noise levels, if searched), the parameters that give it,
    its fit-set objective, and the search's record."""

    sigmas: torch.Tensor
    parameters: torch.Tensor
    loss: float
    iterations: int = 0
    history: list[float] = field(default_factory=list)
    log_shifts: torch.Tensor | None = None


#: A map from search parameters to a grid into 0 and its log-shifts (``None``: the denoiser is told the grid).
Parameterisation = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


#: Scale of the told noise levels' search parameters: ``delta_i = SHIFT_STEP phi_i`` (module docstring).
SHIFT_STEP = 0.2


def shifted_point_sigmas(parameters: torch.Tensor, sigma_max: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The every-point grid of the first ``N - 1`` parameters, and the ``N`` log-shifts: 0 at ``sigma_max``, then
    ``SHIFT_STEP`` times the ``N - 1`` parameters that follow (module docstring)."""
    gaps = len(parameters) // 2
    shifts = SHIFT_STEP * parameters[gaps:]
    return point_sigmas(parameters[:gaps], sigma_max), torch.cat([parameters.new_zeros(1), shifts])


class Objective:
    """``L(sigmas)`` on the fit paths (module docstring), counting every call in ``budget``."""

    def __init__(self, denoiser, solver: Solver, states: torch.Tensor, teacher: torch.Tensor, budget: Budget,
                 model_kwargs: Mapping[str, object] | None = None):
        self.denoiser = denoiser
        self.solver = solver
        self.states = states
        self.teacher = teacher
        self.budget = budget
        self.model_kwargs = model_kwargs

    def cost(self, steps: int, backward: bool) -> int:
        """Calls of one evaluation on a grid of ``steps`` steps into 0."""
        return self.solver.nfe(steps) * self.states.shape[0] * (2 if backward else 1)

    def __call__(self, sigmas: torch.Tensor, log_shifts: torch.Tensor | None = None) -> torch.Tensor:
        """The loss (a 0-d tensor, differentiable when ``sigmas`` or ``log_shifts`` require grad); ``inf`` if the
        solve blows up. With ``log_shifts`` the denoiser is told shifted noise levels at the grid points."""
        backward = sigmas.requires_grad or (log_shifts is not None and log_shifts.requires_grad)
        self.budget.spent += self.cost(len(sigmas) - 1, backward)
        denoiser = self.denoiser if log_shifts is None else ShiftedNoiseLevels(self.denoiser, sigmas, log_shifts)
        try:
            solution = solve(denoiser, self.solver, self.states, sigmas, grad=backward,
                             model_kwargs=self.model_kwargs)
        except NonFiniteResultError:
            return torch.tensor(math.inf, dtype=torch.float64)
        return trimmed_geometric_mean((solution.x - self.teacher).flatten(1).pow(2).mean(dim=1).sqrt())


def adam(objective: Objective, to_grid: Parameterisation, start: torch.Tensor, *,
         iterations: int, learning_rate: float, patience: int = 15, tolerance: float = 1e-3) -> SearchResult:
    """Minimise ``objective(*to_grid(parameters))`` from ``start`` (module docstring); stops when the budget cannot
    pay another iteration, after ``iterations``, or when the best loss has not improved by ``tolerance`` (relative)
    for ``patience`` iterations."""
    parameters = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([parameters], lr=learning_rate)
    best = SearchResult(to_grid(parameters)[0].detach(), start.detach().clone(), math.inf)
    steps = len(best.sigmas) - 1
    since_improvement, scale = 0, 1.0
    for iteration in range(iterations):
        if not objective.budget.allows(objective.cost(steps, backward=True)):
            break
        for group in optimizer.param_groups:
            group["lr"] = scale * learning_rate * 0.5 * (1.0 + math.cos(math.pi * iteration / iterations))
        optimizer.zero_grad()
        sigmas, log_shifts = to_grid(parameters)
        loss = objective(sigmas, log_shifts)
        best.history.append(float(loss.detach()))
        if not torch.isfinite(loss):
            with torch.no_grad():
                parameters.copy_(best.parameters)
            scale /= 2.0
            continue
        value = best.history[-1]
        since_improvement = 0 if value < best.loss * (1.0 - tolerance) else since_improvement + 1
        if value < best.loss:
            best.sigmas, best.loss, best.parameters = sigmas.detach(), value, parameters.detach().clone()
            best.log_shifts = None if log_shifts is None else log_shifts.detach()
        if since_improvement >= patience:
            break
        loss.backward()
        if not bool(torch.isfinite(parameters.grad).all()):
            parameters.grad.zero_()
            scale /= 2.0
        optimizer.step()
        best.iterations = iteration + 1
    return best


def best_start(objective: Objective, candidates: Sequence[torch.Tensor], cap: Budget) -> tuple[int, float]:
    """The index of the candidate grid with the lowest loss (evaluated without gradients, in order, as far as the
    objective's budget and the ``cap`` on this evaluation allow; the first candidate, with loss ``inf``, if they
    allow none) and that loss."""
    best, best_loss = 0, math.inf
    for index, sigmas in enumerate(candidates):
        cost = objective.cost(len(sigmas) - 1, backward=False)
        if not (objective.budget.allows(cost) and cap.allows(cost)):
            break
        cap.spent += cost
        with torch.no_grad():
            loss = float(objective(sigmas))
        if loss < best_loss:
            best, best_loss = index, loss
    return best, best_loss

"""EDM's stochastic sampler (Karras et al. 2022, Algorithm 2): churn, then a Heun step."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_weighted
from probflow.solvers.grid import Grid
from probflow.solvers.runge_kutta import HEUN2, RungeKuttaSteps
from probflow.validation import check_nonnegative, check_real


class _EDMStochasticStepper:
    """``gamma_i`` and the churn kick ``sqrt(sigma_hat^2 - sigma^2) S_noise = sigma sqrt(gamma (2 + gamma)) S_noise`` of
    every step (the step into 0 included: it churns, then denoises at ``sigma_hat``), and Heun steps from
    ``sigma_hat`` to the next sigma."""

    def __init__(self, config: EDMStochastic, grid: Grid, noise: NoiseSource):
        self.grid = grid
        self.noise = noise
        gamma_max = min(config.s_churn / grid.num_steps, math.sqrt(2.0) - 1.0)
        sigma = grid.sigmas[:-1]
        churned = (config.s_tmin <= sigma.detach()) & (sigma.detach() <= config.s_tmax)
        gammas = torch.where(churned, torch.tensor(gamma_max, dtype=torch.float64), 0.0)
        self.gammas = gammas.numpy()
        sigma_hat = sigma * (1.0 + gammas)
        self.sigma_hats = grid.constants(sigma_hat)
        self.kicks = grid.constants(sigma * torch.sqrt(gammas * (2.0 + gammas)) * config.s_noise)
        self.heun = RungeKuttaSteps(HEUN2, grid, sigma_hat[:grid.interior_steps], grid.sigma_to)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        if self.gammas[i] > 0.0:
            x = add_weighted(x, [self.kicks[i]], [self.noise.randn()])
        if i == self.grid.interior_steps:  # the step into 0
            denoised = yield x, self.sigma_hats[i]
            return denoised, denoised
        return (yield from self.heun.step(i, x))


@dataclass(frozen=True, repr=False)
class EDMStochastic(Solver):
    """EDM Algorithm 2 (Karras et al. 2022): stochastic churn followed by a Heun step.

    For each step with ``S_tmin <= sigma_i <= S_tmax``: ``gamma = min(S_churn/N, sqrt(2) - 1)``,
    ``sigma_hat = sigma_i (1 + gamma)``, ``x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) S_noise z``; then a Heun step
    from ``sigma_hat`` to ``sigma_{i+1}`` (Euler into 0, which is the denoise at ``sigma_hat``). N is the number of
    steps (EDM; the lesson divided by N - 1). With ``s_churn = 0`` it is exactly :class:`Heun`. Two calls per step,
    NFE = 2N - 1.

    The churn adds noise and the Heun step removes it along the ODE; with churn the method samples the
    right distribution only in the limit, so its weak order is 1 and strong order 0.5 (fresh noise).
    """

    family: ClassVar[str] = "edm_stochastic"
    stochastic: ClassVar[bool] = True
    strong_order: ClassVar[float] = 0.5
    calls_per_step: ClassVar[int] = 2
    steps_into_zero: ClassVar[bool] = True
    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = math.inf
    s_noise: float = 1.0

    def __post_init__(self) -> None:
        error = SolverConfigError
        for name in ("s_churn", "s_tmin", "s_noise"):
            object.__setattr__(self, name, check_nonnegative(name, getattr(self, name), error=error))
        if self.s_tmax != math.inf:  # the default: churn up to any sigma
            object.__setattr__(self, "s_tmax", check_real("s_tmax (>= s_tmin)", self.s_tmax, minimum=self.s_tmin,
                                                          error=error))

    def start(self, grid: Grid, noise: NoiseSource) -> _EDMStochasticStepper:
        return _EDMStochasticStepper(self, grid, noise)

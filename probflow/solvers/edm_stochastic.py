"""EDM's stochastic sampler (Karras et al. 2022, Algorithm 2): churn, then a Heun step."""

from __future__ import annotations

import math

import numpy as np
import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.runge_kutta import HEUN2, runge_kutta_step


class _EDMStochasticStepper:
    def __init__(self, config: "EDMStochastic", model: ModelCall, sigmas: list[float], noise: NoiseSource):
        self.config = config
        self.model = model
        self.noise = noise
        self.sigmas = sigmas
        num_steps = len(sigmas) - 1
        gamma_max = min(config.s_churn / num_steps, math.sqrt(2.0) - 1.0)
        sigma = np.asarray(sigmas[:-1])
        self.gammas = np.where((config.s_tmin <= sigma) & (sigma <= config.s_tmax), gamma_max, 0.0)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        gamma = float(self.gammas[i])
        sigma_hat = sigma * (1.0 + gamma)
        if gamma > 0.0:
            kick = math.sqrt(sigma_hat**2 - sigma**2) * self.config.s_noise
            x = torch.add(x, self.noise.randn(), alpha=kick)
        if sigma_next == 0.0:
            denoised = self.model(x, sigma_hat)
            return denoised, denoised
        return runge_kutta_step(self.model, HEUN2, x, sigma_hat, sigma_next)


class EDMStochastic(Solver):
    """EDM Algorithm 2 (Karras et al. 2022): stochastic churn followed by a Heun step.

    For each step with ``S_tmin <= sigma_i <= S_tmax``: ``gamma = min(S_churn/N, sqrt(2) - 1)``,
    ``sigma_hat = sigma_i (1 + gamma)``, ``x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) S_noise z``; then a Heun step
    from ``sigma_hat`` to ``sigma_{i+1}`` (Euler into 0). N is the number of steps (EDM; the lesson divided by
    N - 1). With ``s_churn = 0`` it is exactly :class:`Heun`. Two calls per step, NFE = 2N - 1.

    The churn adds noise and the Heun step removes it along the ODE; with churn the method samples the
    right distribution only in the limit, so its weak order is 1 and strong order 0.5 (fresh noise).
    """

    name = "edm_stochastic"
    stochastic = True
    order = 1
    strong_order = 0.5
    calls_per_step = 2

    def __init__(self, s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = math.inf, s_noise: float = 1.0):
        for label, value in (("s_churn", s_churn), ("s_tmin", s_tmin), ("s_noise", s_noise)):
            if not (value >= 0 and math.isfinite(value)):
                raise SolverConfigError(f"{label} must be a finite number >= 0, got {value!r}")
        if not s_tmax >= s_tmin:
            raise SolverConfigError(f"s_tmax must be >= s_tmin, got s_tmin={s_tmin!r}, s_tmax={s_tmax!r}")
        self.s_churn = float(s_churn)
        self.s_tmin = float(s_tmin)
        self.s_tmax = float(s_tmax)
        self.s_noise = float(s_noise)

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _EDMStochasticStepper:
        return _EDMStochasticStepper(self, model, sigmas, noise)

    def __repr__(self) -> str:
        return (f"EDMStochastic(s_churn={self.s_churn:g}, s_tmin={self.s_tmin:g}, s_tmax={self.s_tmax:g}, "
                f"s_noise={self.s_noise:g})")

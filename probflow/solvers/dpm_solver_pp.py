"""DPM-Solver++ multistep: the data-prediction exponential integrator in lambda = -log sigma."""

from __future__ import annotations

import math
from collections import deque
from functools import partial

import numpy as np
import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.combination import accumulate_
from probflow.solvers.exponential_adams import exponential_adams_weights, half_log_snr
from probflow.solvers.quadrature import multistep_weights


class _DPMSolverPPStepper:
    """Coefficients of every step computed once, as float64 arrays. Every step starts from the first-order step
    ``lerp(D_i, x, r) = r x + (1 - r) D_i`` (``r = sigma'/sigma``) and adds the multistep correction: ``two_step[i]``
    holds 2M's weights of ``(D_i, D_{i-1})``, ``three_step[i]`` 3M's of ``(D_i, D_{i-1}, D_{i-2})``."""

    def __init__(self, order: int, model: ModelCall, sigmas: list[float]):
        self.order = order
        self.model = model
        self.sigmas = sigmas
        steps = np.arange(len(sigmas) - 1)
        grid = np.asarray(sigmas)
        sigma, sigma_next = grid[:-1], grid[1:]
        multistep = (steps >= 1) & (sigma_next > 0.0)
        lambdas = half_log_snr(grid)
        step_sizes = np.diff(lambdas)
        # 2M: (1 - r) D~ = (1 - r) D_i + w (D_i - D_{i-1}) with w = (1 - r) / (2 h_{i-1}/h_i).
        rows = np.flatnonzero(multistep & ((steps == 1) | (order == 2)))
        correction = (1.0 - sigma_next / sigma)[rows] * 0.5 * step_sizes[rows] / step_sizes[rows - 1]
        self.two_step = np.zeros((len(steps), 2))
        self.two_step[rows] = np.stack([correction, -correction], axis=1)
        # 3M: r x + sum_j c_j D_{i-j}, of which the first-order step already holds (1 - r) D_i.
        three_step_counts = np.where(multistep & (steps >= 2) & (order == 3), 3, 0)
        self.three_step = multistep_weights(lambdas, three_step_counts, partial(exponential_adams_weights, "data"))
        self.three_step[:, 0] -= np.where(three_step_counts > 0, 1.0 - sigma_next / sigma, 0.0)
        self.previous: deque[torch.Tensor] = deque(maxlen=order - 1)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        denoised = self.model(x, sigma)
        if sigma_next == 0.0:
            return denoised, denoised
        if i == 0 and self.order == 3:
            sigma_mid = math.sqrt(sigma * sigma_next)
            x_mid = torch.lerp(denoised, x, sigma_mid / sigma)
            x_next = torch.lerp(self.model(x_mid, sigma_mid), x, sigma_next / sigma)
        else:
            x_next = torch.lerp(denoised, x, sigma_next / sigma)
            if i >= 1 and self.order >= 2:
                weights = self.two_step[i] if i == 1 or self.order == 2 else self.three_step[i]
                accumulate_(x_next, weights.tolist(), (denoised, *self.previous))
        self.previous.appendleft(denoised)
        return x_next, denoised


class DPMSolverPP(Solver):
    """DPM-Solver++ multistep in data-prediction form (Lu et al. 2022, "DPM-Solver++", Alg. 2), VE case.

    With ``lambda = -log sigma`` and ``h = lambda_{i+1} - lambda_i`` the exact solution of the ODE is
    ``x_{i+1} = (sigma_{i+1}/sigma_i) x_i + integral_{lambda_i}^{lambda_{i+1}} exp(l - lambda_{i+1}) D(l) dl``;
    the methods replace ``D`` by a polynomial through past denoised values:

    * ``order=1``: ``x_{i+1} = (s'/s) x + (1 - s'/s) D_i`` (DPM-Solver++1 = DDIM = Euler in sigma).
    * ``order=2`` (2M, as published): ``D~ = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}``, ``r = h_{i-1}/h_i``,
      ``x_{i+1} = (s'/s) x + (1 - s'/s) D~``; the first step is order 1 (local error O(h^2), harmless for
      global order 2).
    * ``order=3``: exponential Adams-Bashforth of order 3: the exact integral of the quadratic through
      ``D_i, D_{i-1}, D_{i-2}`` in lambda, weights computed once per grid (see ``solvers.quadrature``). A
      first-order start-up step would cap the global order at 2, so step 0 is the second-order single-step
      midpoint (DPM-Solver++(2S) with r = 1/2, one extra call) and step 1 is 2M.

    The step into sigma = 0 is the final denoise. Order = ``order``; one call per step (+1 for order 3).
    """

    name = "dpmpp"

    def __init__(self, order: int = 2):
        if order not in (1, 2, 3):
            raise SolverConfigError(f"DPMSolverPP order must be 1, 2 or 3, got {order!r}")
        self.order = order
        self.name = f"dpmpp_{order}m"

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        extra = 1 if self.order == 3 and num_steps - int(ends_at_zero) >= 1 else 0
        return super().nfe(num_steps, ends_at_zero) + extra

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _DPMSolverPPStepper:
        return _DPMSolverPPStepper(self.order, model, sigmas)

    def __repr__(self) -> str:
        return f"DPMSolverPP(order={self.order})"

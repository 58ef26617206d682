"""DPM-Solver++ multistep: the data-prediction exponential integrator in lambda = -log sigma."""

from __future__ import annotations

import math

import numpy as np
import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.quadrature import lagrange_integral_weights


def _exponential_weights(lambdas: list[float], i: int, order: int) -> list[float]:
    """``c_j = integral_{lambda_i}^{lambda_{i+1}} exp(l - lambda_{i+1}) l_j(l) dl`` over the last ``order`` nodes."""
    nodes = [lambdas[i - j] for j in range(order)]
    end = lambdas[i + 1]
    return lagrange_integral_weights(nodes, lambdas[i], end, weight=lambda t: np.exp(t - end))


class _DPMSolverPPStepper:
    def __init__(self, order: int, model: ModelCall, sigmas: list[float]):
        self.order = order
        self.model = model
        self.sigmas = sigmas
        lambdas = [-math.log(s) if s > 0 else math.inf for s in sigmas]
        self.plans: list[tuple] = []
        for i in range(len(sigmas) - 1):
            if sigmas[i + 1] == 0.0:
                self.plans.append(("denoise",))
            elif i == 0 and order == 3:
                self.plans.append(("midpoint", math.sqrt(sigmas[i] * sigmas[i + 1])))
            elif i == 0 or order == 1:
                self.plans.append(("first",))
            elif i == 1 or order == 2:
                ratio = (lambdas[i] - lambdas[i - 1]) / (lambdas[i + 1] - lambdas[i])
                self.plans.append(("2m", 1.0 + 0.5 / ratio, -0.5 / ratio))
            else:
                self.plans.append(("3m", *_exponential_weights(lambdas, i, 3)))
        self.previous: list[torch.Tensor] = []

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        plan = self.plans[i]
        kind = plan[0]
        denoised = self.model(x, sigma)
        if kind == "denoise":
            return denoised, denoised
        ratio = sigma_next / sigma
        if kind == "first":
            x_next = torch.lerp(denoised, x, ratio)
        elif kind == "midpoint":
            sigma_mid = plan[1]
            x_mid = torch.lerp(denoised, x, sigma_mid / sigma)
            x_next = torch.lerp(self.model(x_mid, sigma_mid), x, ratio)
        elif kind == "2m":
            corrected = torch.add(denoised * plan[1], self.previous[0], alpha=plan[2])
            x_next = torch.lerp(corrected, x, ratio)
        else:
            x_next = torch.add(x * ratio, denoised, alpha=plan[1])
            x_next = torch.add(x_next, self.previous[0], alpha=plan[2])
            x_next = torch.add(x_next, self.previous[1], alpha=plan[3])
        self.previous = [denoised, *self.previous[: self.order - 2]]
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

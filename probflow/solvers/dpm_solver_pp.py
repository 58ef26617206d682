"""DPM-Solver++ multistep: the data-prediction exponential integrator in lambda = -log sigma."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import accumulate_
from probflow.solvers.exponential_adams import exponential_adams_weights, half_log_snr
from probflow.solvers.grid import Grid
from probflow.solvers.quadrature import multistep_weights
from probflow.validation import check_choice


class _DPMSolverPPStepper:
    """Coefficients of every step computed once. Every step starts from the first-order step
    ``lerp(D_i, x, r) = r x + (1 - r) D_i`` (``r = sigma'/sigma``) and adds the multistep correction: row ``i`` of
    ``corrections`` holds 2M's weights of ``(D_i, D_{i-1})`` or 3M's of ``(D_i, D_{i-1}, D_{i-2})``."""

    def __init__(self, order: int, grid: Grid):
        self.order = order
        self.grid = grid
        zero = torch.zeros((), dtype=torch.float64)
        steps = torch.arange(grid.interior_steps)
        sigmas = grid.sigmas[:grid.interior_steps + 1]
        sigma, sigma_next = grid.sigma_from, grid.sigma_to
        multistep = steps >= 1
        ratio = sigma_next / sigma
        lambdas = half_log_snr(sigmas)
        step_sizes = torch.diff(lambdas)
        # 2M: (1 - r) D~ = (1 - r) D_i + w (D_i - D_{i-1}) with w = (1 - r) / (2 h_{i-1}/h_i).
        two_step_rows = multistep & ((steps == 1) | (order == 2))
        previous_sizes = torch.cat([step_sizes[:1], step_sizes[:-1]])
        correction = torch.where(two_step_rows, (1.0 - ratio) * 0.5 * step_sizes / previous_sizes, zero)
        corrections = torch.stack([correction, -correction], dim=1)
        if order == 3:
            # 3M: r x + sum_j c_j D_{i-j}, of which the first-order step already holds (1 - r) D_i.
            three_step = multistep & (steps >= 2)
            weights = multistep_weights(lambdas, torch.where(three_step, 3, 0),
                                        partial(exponential_adams_weights, "data"))
            three = torch.cat([weights[:, :1] - torch.where(three_step, 1.0 - ratio, zero)[:, None], weights[:, 1:]],
                              dim=1)
            corrections = torch.where(three_step[:, None], three, torch.nn.functional.pad(corrections, (0, 1)))
        self.corrections = grid.constants(corrections)
        self.ratios = grid.constants(ratio)
        if order == 3 and grid.values[1] > 0.0:
            # Step 0 is the 2S midpoint at sigma_mid = sqrt(sigma_0 sigma_1) (a step into 0 is the final denoise).
            sigma_mid = torch.sqrt(sigmas[0] * sigmas[1])
            self.midpoint = grid.constants(torch.stack([sigma_mid, sigma_mid / sigmas[0]]))
        self.previous: deque[torch.Tensor] = deque(maxlen=order - 1)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        denoised = yield x, self.grid.sigma(i)
        if i == 0 and self.order == 3:
            sigma_mid, midpoint_ratio = self.midpoint
            x_mid = torch.lerp(denoised, x, midpoint_ratio)
            x_next = torch.lerp((yield x_mid, sigma_mid), x, self.ratios[0])
        else:
            x_next = torch.lerp(denoised, x, self.ratios[i])
            if i >= 1 and self.order >= 2:
                x_next = accumulate_(x_next, self.corrections[i], (denoised, *self.previous))
        self.previous.appendleft(denoised)
        return x_next, denoised


@dataclass(frozen=True, repr=False)
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

    family: ClassVar[str] = "dpmpp"
    order: int = 2

    def __post_init__(self) -> None:
        check_choice("DPMSolverPP order", self.order, (1, 2, 3), error=SolverConfigError)

    @property
    def name(self) -> str:
        return f"dpmpp_{self.order}m"

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        extra = 1 if self.order == 3 and num_steps - int(ends_at_zero) >= 1 else 0
        return super().nfe(num_steps, ends_at_zero) + extra

    def start(self, grid: Grid) -> _DPMSolverPPStepper:
        return _DPMSolverPPStepper(self.order, grid)

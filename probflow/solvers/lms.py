"""Linear multistep (variable-step Adams-Bashforth) in sigma: k-diffusion's and the lesson's LMS sampler."""

from __future__ import annotations

from collections import deque
from functools import partial

import numpy as np
import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.combination import add_weighted
from probflow.solvers.quadrature import lagrange_integral_weights, multistep_weights
from probflow.solvers.runge_kutta import EULER, HEUN2, RK3, runge_kutta_step

_STARTUP_TABLEAUS = {1: EULER, 2: HEUN2, 3: RK3}


class _LMSStepper:
    """Row ``i`` of ``weights`` holds step ``i``'s Adams weights divided by their nodes' sigmas, ``c_ij /
    sigma_{i-j}`` (zero-padded float64), so that the history keeps ``u_m = x_m - D_m`` and no division is left
    per step. The first ``startup_steps`` steps are Runge-Kutta steps, and a step into 0 is the final denoise."""

    def __init__(self, order: int, startup: str, model: ModelCall, sigmas: list[float]):
        self.model = model
        self.sigmas = sigmas
        self.history: deque[torch.Tensor] = deque(maxlen=order)
        self.startup = _STARTUP_TABLEAUS.get(order - 1)
        # Runge-Kutta until the Adams order min(k, i + 1) reaches k - 1, i.e. for steps i < k - 2.
        self.startup_steps = max(order - 2, 0) if startup == "runge_kutta" else 0
        steps = np.arange(len(sigmas) - 1)
        grid = np.asarray(sigmas, dtype=np.float64)
        adams = (steps >= self.startup_steps) & (grid[1:] > 0.0)
        counts = np.where(adams, np.minimum(order, steps + 1), 0)
        self.weights = multistep_weights(grid, counts, partial(lagrange_integral_weights, num_points=order),
                                         node_scales=grid)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        if sigma_next == 0.0:
            # Into sigma = 0: the final denoise, never mixed with history taken at other sigmas.
            denoised = self.model(x, sigma)
            return denoised, denoised
        if i < self.startup_steps:
            x_next, denoised = runge_kutta_step(self.model, self.startup, x, sigma, sigma_next)
            self.history.appendleft(x - denoised)
            return x_next, denoised
        denoised = self.model(x, sigma)
        self.history.appendleft(x - denoised)
        return add_weighted(x, self.weights[i].tolist(), self.history), denoised


class LMS(Solver):
    """Variable-step Adams-Bashforth of order ``k`` on ``dx/dsigma = (x - D)/sigma``.

    ``x_{i+1} = x_i + sum_{j<k} c_{ij} d_{i-j}``, ``d_m = (x_m - D(x_m, sigma_m))/sigma_m``, with
    ``c_{ij} = integral_{sigma_i}^{sigma_{i+1}} l_j(s) ds`` for the Lagrange basis over
    ``sigma_i, ..., sigma_{i-k+1}`` (Hairer, Norsett & Wanner I, III.5; Karras et al. 2022 and k-diffusion's
    ``sample_lms``). The coefficients are exact (Gauss-Legendre with k points integrates degree k-1 exactly)
    and computed once per grid.

    Start-up: with too little history the method has lower order, and one step of local order q caps the
    global order at q + 1. ``startup="runge_kutta"`` (default) takes the first steps with an explicit RK
    method of order ``k - 1`` until the Adams order reaches ``k - 1`` (k = 3: one Heun step; k = 4: two RK3
    steps), so the declared order is ``k``, at the price of a few extra calls (see ``nfe``).
    ``startup="adams"`` is the classic sampler (Adams of growing order, NFE = N); its order is ``min(k, 2)``.
    The step into sigma = 0 is the final denoise and never mixes stale history.
    """

    name = "lms"

    def __init__(self, order: int = 4, startup: str = "runge_kutta"):
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise SolverConfigError(f"LMS order must be an integer >= 1, got {order!r}")
        if order > 4:
            raise SolverConfigError(f"LMS order must be at most 4 (higher Adams methods are unstable here), got {order}")
        if startup not in ("runge_kutta", "adams"):
            raise SolverConfigError(f"LMS startup must be 'runge_kutta' or 'adams', got {startup!r}")
        self.lms_order = order
        self.startup = startup
        self.order = order if startup == "runge_kutta" else min(order, 2)
        self.name = f"lms{order}" if startup == "runge_kutta" else f"lms{order}-adams-startup"

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        """N calls, plus ``stages - 1`` extra for each Runge-Kutta start-up step."""
        calls = super().nfe(num_steps, ends_at_zero)
        if self.startup == "adams" or self.lms_order < 3:
            return calls
        startup_steps = min(self.lms_order - 2, num_steps - int(ends_at_zero))
        return calls + startup_steps * (_STARTUP_TABLEAUS[self.lms_order - 1].stages - 1)

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _LMSStepper:
        return _LMSStepper(self.lms_order, self.startup, model, sigmas)

    def __repr__(self) -> str:
        return f"LMS(order={self.lms_order}, startup={self.startup!r})"

"""Linear multistep (variable-step Adams-Bashforth) in sigma: k-diffusion's and the lesson's LMS sampler."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_weighted
from probflow.solvers.grid import Grid
from probflow.solvers.quadrature import lagrange_integral_weights, multistep_weights
from probflow.solvers.runge_kutta import EULER, HEUN2, RK3, RungeKuttaSteps
from probflow.validation import check_choice, check_int

_STARTUP_TABLEAUS = {1: EULER, 2: HEUN2, 3: RK3}
STARTUPS = ("runge_kutta", "adams")


class _LMSStepper:
    """Row ``i`` of ``weights`` holds step ``i``'s Adams weights divided by their nodes' sigmas, ``c_ij /
    sigma_{i-j}`` (zero-padded), so that the history keeps ``u_m = x_m - D_m`` and no division is left per step.
    The first ``startup_steps`` steps are Runge-Kutta steps."""

    def __init__(self, order: int, startup: str, grid: Grid):
        self.history: deque[torch.Tensor] = deque(maxlen=order)
        # Runge-Kutta until the Adams order min(k, i + 1) reaches k - 1, i.e. for steps i < k - 2.
        self.startup_steps = max(order - 2, 0) if startup == "runge_kutta" else 0
        if self.startup_steps:
            self.startup = RungeKuttaSteps(_STARTUP_TABLEAUS[order - 1], grid, grid.sigma_from, grid.sigma_to)
        steps = torch.arange(grid.num_steps)
        adams = (steps >= self.startup_steps) & (grid.sigmas[1:].detach() > 0.0)
        counts = torch.where(adams, torch.clamp(steps + 1, max=order), 0)
        self.weights = grid.constants(multistep_weights(
            grid.sigmas, counts, partial(lagrange_integral_weights, num_points=order), node_scales=grid.sigmas))
        self.grid = grid

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        if i < self.startup_steps:
            x_next, denoised = yield from self.startup.step(i, x)
        else:
            denoised = yield x, self.grid.sigma(i)
            x_next = None
        self.history.appendleft(x - denoised)
        if x_next is None:
            x_next = add_weighted(x, self.weights[i], self.history)
        return x_next, denoised


@dataclass(frozen=True, repr=False, init=False)
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

    family: ClassVar[str] = "lms"
    adams_order: int = field(default=4, metadata={"parameter": "order"})
    startup: str = "runge_kutta"

    def __init__(self, order: int = 4, startup: str = "runge_kutta"):
        object.__setattr__(self, "adams_order", check_int("LMS order", order, minimum=1, maximum=4,
                                                          error=SolverConfigError))
        object.__setattr__(self, "startup", check_choice("LMS startup", startup, STARTUPS, error=SolverConfigError))

    @property
    def order(self) -> int:
        return self.adams_order if self.startup == "runge_kutta" else min(self.adams_order, 2)

    @property
    def name(self) -> str:
        return f"lms{self.adams_order}" + ("" if self.startup == "runge_kutta" else "-adams-startup")

    @property
    def asymptotic_steps(self) -> int:
        """Variable-step Adams approaches its order slowly on Karras grids, whose step ratios vary strongly: LMS2
        from about 64 steps, LMS3 and LMS4 from about 128."""
        return {1: 32, 2: 64}.get(self.order, 128)

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        """N calls, plus ``stages - 1`` extra for each Runge-Kutta start-up step."""
        calls = super().nfe(num_steps, ends_at_zero)
        if self.startup == "adams" or self.adams_order < 3:
            return calls
        startup_steps = min(self.adams_order - 2, num_steps - int(ends_at_zero))
        return calls + startup_steps * (_STARTUP_TABLEAUS[self.adams_order - 1].stages - 1)

    def start(self, grid: Grid) -> _LMSStepper:
        return _LMSStepper(self.adams_order, self.startup, grid)

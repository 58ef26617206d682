"""Any torchdiffeq method on the probability-flow ODE (Chen et al. 2018, ``torchdiffeq.odeint``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.base import Solver
from probflow.solvers.grid import Grid
from probflow.terms import ProbabilityFlowODE
from probflow.validation import check_choice, check_positive

#: method -> (order, calls per step) for torchdiffeq's fixed-grid methods. "rk4" is Kutta's 3/8 rule.
#: Its Adams methods are not offered: their constant-step coefficients make them order 2 (implicit) or
#: unstable (explicit) on the non-uniform Karras grids diffusion sampling uses (measured).
FIXED_GRID_METHODS = {
    "euler": (1, 1),
    "midpoint": (2, 2),
    "heun2": (2, 2),
    "heun3": (3, 3),
    "rk4": (4, 4),
}
#: method -> order for torchdiffeq's adaptive methods (calls depend on the tolerances).
ADAPTIVE_METHODS = {"dopri5": 5, "dopri8": 8, "bosh3": 3, "fehlberg2": 2, "adaptive_heun": 2}


class _TorchDiffEqStepper:
    """Integrates the counted term over every positive sigma of the grid at the first step, then hands out the
    states at the grid points (torchdiffeq's dense output for adaptive methods)."""

    def __init__(self, config: TorchDiffEq, term: ProbabilityFlowODE, grid: Grid):
        self.config = config
        self.term = term
        self.grid = grid
        self.states: torch.Tensor | None = None

    def _integrate(self, x: torch.Tensor) -> torch.Tensor:
        positive = self.grid.sigmas[:self.grid.interior_steps + 1].to(device=x.device, dtype=x.dtype)
        times = ProbabilityFlowODE.sigma_to_time(positive, self.config.time_variable)
        options = dict(self.config.options)
        if self.config.adaptive:
            # Land on the last time rather than stepping past it: a step beyond the last positive sigma would
            # evaluate the denoiser at sigma <= 0 (in the "sigma" time variable).
            options.setdefault("step_t", times[-1:].detach())
            tolerances = {"rtol": self.config.rtol, "atol": self.config.atol}
        else:
            tolerances = {}
        # Imported here: torchdiffeq imports scipy.integrate, which would add ~0.4 s to ``import probflow``.
        import torchdiffeq

        field_ = self.term.vector_field(self.config.time_variable)
        return torchdiffeq.odeint(field_, x, times, method=self.config.method, options=options or None, **tolerances)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        if self.states is None:
            self.states = self._integrate(x)
        return self.states[i + 1], None


@dataclass(frozen=True, repr=False, init=False)
class TorchDiffEq(Solver):
    """Run ``torchdiffeq.odeint`` with ``method`` on the same probability-flow ODE.

    * Fixed-grid methods (``FIXED_GRID_METHODS``) step exactly on the given sigma grid, so
      ``TorchDiffEq("euler")`` equals :class:`Euler` and ``TorchDiffEq("rk4")`` equals
      ``RungeKutta(RK4_38)`` (torchdiffeq's rk4 is the 3/8 rule).
    * Adaptive methods (``ADAPTIVE_METHODS``) integrate between the grid's end points with their own step
      control (``rtol``, ``atol``: finite and > 0) and report the state at every grid point by their dense output.
    * The vector field is 0/0 at sigma = 0, so the solve ends at the last positive sigma and, when the grid
      ends at 0, the loop takes the final denoise ``x = D(x, sigma_last)``.

    ``time_variable`` is ``"sigma"`` or ``"log_sigma"`` (``dx/dlog sigma = x - D``). The integration runs
    inside the first step; callbacks then receive ``denoised=None``. Every denoiser call is counted.
    ``options`` are passed to ``odeint`` as its ``options`` dict.
    """

    family: ClassVar[str] = "torchdiffeq"
    integrates_term: ClassVar[bool] = True
    method: str = "dopri5"
    rtol: float = 1e-5
    atol: float = 1e-5
    time_variable: str = "sigma"
    options: tuple[tuple[str, Any], ...] = field(default=(), metadata={"keywords": True})

    def __init__(self, method: str = "dopri5", *, rtol: float = 1e-5, atol: float = 1e-5,
                 time_variable: str = "sigma", **options: Any):
        error = SolverConfigError
        check_choice("torchdiffeq method", method, (*FIXED_GRID_METHODS, *ADAPTIVE_METHODS), error=error)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "rtol", check_positive("rtol", rtol, error=error))
        object.__setattr__(self, "atol", check_positive("atol", atol, error=error))
        object.__setattr__(self, "time_variable", check_choice("time_variable", time_variable,
                                                               ProbabilityFlowODE.time_variables, error=error))
        object.__setattr__(self, "options", tuple(sorted(options.items())))

    @property
    def name(self) -> str:
        return f"torchdiffeq:{self.method}"

    @property
    def adaptive(self) -> bool:
        return self.method in ADAPTIVE_METHODS

    @property
    def order(self) -> int:
        return ADAPTIVE_METHODS[self.method] if self.adaptive else FIXED_GRID_METHODS[self.method][0]

    @property
    def calls_per_step(self) -> int | None:
        return None if self.adaptive else FIXED_GRID_METHODS[self.method][1]

    @property
    def asymptotic_steps(self) -> int:
        """As :attr:`RungeKutta.asymptotic_steps`: midpoint is third order on Gaussian data down to about 64 steps."""
        return 64 if self.method == "midpoint" else super().asymptotic_steps

    def start(self, grid: Grid, term: ProbabilityFlowODE) -> _TorchDiffEqStepper:
        return _TorchDiffEqStepper(self, term, grid)

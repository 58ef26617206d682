"""Any torchdiffeq method on the probability-flow ODE (Chen et al. 2018, ``torchdiffeq.odeint``)."""

from __future__ import annotations

import torch
import torchdiffeq

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.terms import ProbabilityFlowODE

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
    def __init__(self, config: "TorchDiffEq", term: ProbabilityFlowODE, model: ModelCall, sigmas: list[float]):
        self.config = config
        self.model = model
        self.sigmas = sigmas
        self.field = ProbabilityFlowODE(model).vector_field(config.time_variable)
        self.positive = [s for s in sigmas if s > 0.0]
        self.states: torch.Tensor | None = None

    def _integrate(self, x: torch.Tensor) -> torch.Tensor:
        times = ProbabilityFlowODE.sigma_to_time(
            torch.tensor(self.positive, dtype=x.dtype, device=x.device), self.config.time_variable
        )
        options = dict(self.config.options)
        if self.config.adaptive:
            # Land on the last time rather than stepping past it: a step beyond the last positive sigma would
            # evaluate the denoiser at sigma <= 0 (in the "sigma" time variable).
            options.setdefault("step_t", times[-1:])
        kwargs = {"rtol": self.config.rtol, "atol": self.config.atol} if self.config.adaptive else {}
        return torchdiffeq.odeint(self.field, x, times, method=self.config.method, options=options or None, **kwargs)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        if sigma_next == 0.0:
            denoised = self.model(x, sigma)
            return denoised, denoised
        if self.states is None:
            self.model.step = None  # odeint covers the whole grid now: errors locate each call by its sigma
            try:
                self.states = self._integrate(x)
            except (AssertionError, RuntimeError):
                # A non-finite field breaks torchdiffeq's step control ("underflow in dt"); name the bad call.
                self.model.check_finite()
                raise
        return self.states[i + 1], None


class TorchDiffEq(Solver):
    """Run ``torchdiffeq.odeint`` with ``method`` on the same probability-flow ODE.

    * Fixed-grid methods (``FIXED_GRID_METHODS``) step exactly on the given sigma grid, so
      ``TorchDiffEq("euler")`` equals :class:`Euler` and ``TorchDiffEq("rk4")`` equals
      ``RungeKutta(RK4_38)`` (torchdiffeq's rk4 is the 3/8 rule).
    * Adaptive methods (``ADAPTIVE_METHODS``) integrate between the grid's end points with their own step
      control (``rtol``, ``atol``) and report the state at every grid point by their dense output.
    * The vector field is 0/0 at sigma = 0, so the solve ends at the last positive sigma and, when the grid
      ends at 0, takes one more call for the final denoise ``x = D(x, sigma_last)``.

    ``time_variable`` is ``"sigma"`` or ``"log_sigma"`` (``dx/dlog sigma = x - D``). The integration runs
    inside the first step; callbacks then receive ``denoised=None``. Every denoiser call is counted.
    """

    name = "torchdiffeq"

    def __init__(self, method: str = "dopri5", *, rtol: float = 1e-5, atol: float = 1e-5,
                 time_variable: str = "sigma", **options):
        if method not in FIXED_GRID_METHODS and method not in ADAPTIVE_METHODS:
            known = ", ".join(sorted({**FIXED_GRID_METHODS, **ADAPTIVE_METHODS}))
            raise SolverConfigError(f"unknown torchdiffeq method {method!r}; known: {known}")
        if time_variable not in ProbabilityFlowODE.time_variables:
            raise SolverConfigError(
                f"time_variable must be one of {ProbabilityFlowODE.time_variables}, got {time_variable!r}"
            )
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.time_variable = time_variable
        self.options = options
        self.adaptive = method in ADAPTIVE_METHODS
        self.order = ADAPTIVE_METHODS[method] if self.adaptive else FIXED_GRID_METHODS[method][0]
        self.calls_per_step = 0 if self.adaptive else FIXED_GRID_METHODS[method][1]
        self.name = f"torchdiffeq:{method}"

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        if self.adaptive:
            raise SolverConfigError(f"{self.name} is adaptive: its NFE is only known after solving")
        return super().nfe(num_steps, ends_at_zero)

    def start(self, term: ProbabilityFlowODE, model: ModelCall, sigmas: list[float], noise: NoiseSource
              ) -> _TorchDiffEqStepper:
        return _TorchDiffEqStepper(self, term, model, sigmas)

    def __repr__(self) -> str:
        return f"TorchDiffEq({self.method!r}, time_variable={self.time_variable!r})"

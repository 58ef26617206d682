"""DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12), written on the VE state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_noise, add_weighted
from probflow.solvers.grid import Grid
from probflow.validation import check_nonnegative

#: The lesson's options, which ``DDIM`` accepted before they moved to
#: :class:`probflow.comparison.lesson_ddim.LessonDDIM`.
LESSON_OPTIONS = ("alpha_bar_predictor", "clip", "noise_cutoff", "noise_scale", "median_sigma")


def ddim_noise_std(sigma: torch.Tensor, sigma_next: torch.Tensor, eta: float) -> torch.Tensor:
    """``s = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')`` (Song et al. 2021 eq. 16), elementwise, with
    ``abar = 1/(1 + sigma^2)`` and ``bbar = 1 - abar``."""
    alpha_bar, alpha_bar_next = 1.0 / (1.0 + sigma**2), 1.0 / (1.0 + sigma_next**2)
    beta_bar, beta_bar_next = 1.0 - alpha_bar, 1.0 - alpha_bar_next
    return eta * torch.sqrt(beta_bar_next / beta_bar) * torch.sqrt(torch.clamp(1.0 - alpha_bar / alpha_bar_next, min=0.0))


def ddim_coefficients(sigma_next: torch.Tensor, noise_std: torch.Tensor,
                      noise_cutoff: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sqrt((bbar' - s^2)/abar'), s/sqrt(abar'))``: the eps and z weights of a step on the VE state.

    When ``bbar' <= s^2 + noise_cutoff`` the step is deterministic (``s = 0``): the published rule needs
    ``s^2 <= bbar'`` (``eta <= 1``), and the lesson cuts the noise off near the end with ``noise_cutoff = 0.01``.
    """
    alpha_bar_next = 1.0 / (1.0 + sigma_next**2)
    beta_bar_next = 1.0 - alpha_bar_next
    s = torch.where(beta_bar_next <= noise_std**2 + noise_cutoff, torch.zeros_like(noise_std), noise_std)
    direction = torch.sqrt(torch.clamp(beta_bar_next - s**2, min=0.0) / alpha_bar_next)
    return direction, s / torch.sqrt(alpha_bar_next)


class _DDIMStepper:
    def __init__(self, eta: float, grid: Grid, noise: NoiseSource | None):
        self.grid = grid
        self.noise = noise
        std = ddim_noise_std(grid.sigma_from, grid.sigma_to, eta)
        directions, noise_weights = ddim_coefficients(grid.sigma_to, std)
        self.directions = grid.constants(directions)
        self.noise_weights = grid.constants(noise_weights)
        self.draws = grid.positive(noise_weights)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        sigma = self.grid.sigma(i)
        denoised = yield x, sigma
        eps = (x - denoised).div_(sigma)
        x_next = add_weighted(denoised, [self.directions[i]], [eps])
        return add_noise(x_next, self.noise_weights[i], self.noise, *self.grid.values[i:i + 2],
                         draws=self.draws[i]), denoised


@dataclass(frozen=True, repr=False)
class DDIM(Solver):
    """DDIM with stochasticity ``eta`` on the VE state ``x = x_vp / sqrt(abar)``.

    With ``abar = 1/(1 + sigma^2)``, ``bbar = 1 - abar`` and ``eps = (x - D)/sigma`` (Song et al. 2021, eq. 12/16)::

        s       = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')
        x_vp'   = sqrt(abar') D + sqrt(bbar' - s^2) eps + s z
        x_next  = x_vp' / sqrt(abar')

    * ``eta = 0`` is deterministic and, on the VE state, identical to :class:`Euler` in sigma.
    * ``eta = 1`` has ``s / sqrt(abar') = sigma_up`` of :func:`~probflow.solvers.ancestral.ancestral_split`, so
      DDIM(1) and :class:`EulerAncestral` make the same update.

    The noise ``z`` comes from the solve's ``generator`` (per-sample generators, or a
    :class:`~probflow.brownian.BrownianNoise` path). One call per step; order 1 for eta = 0, weak order 1 for
    eta > 0, and strong order 1 on a Brownian path (the additive-noise case, as for :class:`EulerAncestral`). The
    step into 0 is the final denoise. The lesson's variant (a per-image predicted ``abar``, clipping, a noise
    cutoff) is :class:`probflow.comparison.lesson_ddim.LessonDDIM`.
    """

    family: ClassVar[str] = "ddim"
    eta: float = 0.0

    def __new__(cls, *args: Any, **options: Any) -> DDIM:
        if cls is DDIM and any(name in options for name in LESSON_OPTIONS):
            from probflow._deprecation import warn_once
            from probflow.comparison.lesson_ddim import LessonDDIM

            warn_once("DDIM lesson options", "DDIM's lesson options (alpha_bar_predictor, clip, noise_cutoff, "
                      "noise_scale, median_sigma) moved to probflow.comparison.lesson_ddim.LessonDDIM; DDIM is the "
                      "published update rule")
            return super().__new__(LessonDDIM)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_nonnegative("eta", self.eta, error=SolverConfigError))

    @property
    def stochastic(self) -> bool:
        return self.eta > 0

    @property
    def strong_order(self) -> float | None:
        return 1.0 if self.stochastic else None

    def start(self, grid: Grid, noise: NoiseSource | None = None) -> _DDIMStepper:
        return _DDIMStepper(self.eta, grid, noise)

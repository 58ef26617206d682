"""Euler-ancestral sampling: a deterministic Euler step to sigma_down, then fresh noise of size sigma_up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_noise
from probflow.solvers.grid import Grid
from probflow.solvers.quadrature import TensorLike
from probflow.validation import check_nonnegative


def ancestral_split(sigma: TensorLike, sigma_next: TensorLike, eta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sigma_down, sigma_up)`` with ``sigma_down^2 + sigma_up^2 = sigma_next^2``, elementwise over the steps.

    ``sigma_up = min(sigma_next, eta * sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2))``: for eta = 1 the
    exact variance of the DDPM posterior ``q(x_{next} | x, x_0)`` in VE form (Ho et al. 2020, eq. 7;
    k-diffusion ``get_ancestral_step``); eta = 0 is deterministic (``sigma_up = 0``, ``sigma_down = sigma_next``).
    """
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    sigma_next = torch.as_tensor(sigma_next, dtype=torch.float64)
    sigma_up = torch.minimum(sigma_next, eta * torch.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return torch.sqrt(sigma_next**2 - sigma_up**2), sigma_up


class _AncestralStepper:
    """``down_ratios[i] = sigma_down / sigma`` and ``noise_weights[i] = s_noise * sigma_up`` of every step."""

    def __init__(self, eta: float, s_noise: float, grid: Grid, noise: NoiseSource):
        self.grid = grid
        self.noise = noise
        sigma_down, sigma_up = ancestral_split(grid.sigma_from, grid.sigma_to, eta)
        self.down_ratios = grid.constants(sigma_down / grid.sigma_from)
        self.noise_weights = grid.constants(s_noise * sigma_up)
        self.draws = grid.positive(s_noise * sigma_up)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        denoised = yield x, self.grid.sigma(i)
        x_next = torch.lerp(denoised, x, self.down_ratios[i])
        return add_noise(x_next, self.noise_weights[i], self.noise, *self.grid.values[i:i + 2],
                         draws=self.draws[i]), denoised


@dataclass(frozen=True, repr=False)
class EulerAncestral(Solver):
    """Euler-ancestral (k-diffusion ``sample_euler_ancestral``; the lesson's ancestral sampler).

    ``x' = D + (sigma_down/sigma)(x - D)`` (an Euler step to sigma_down), then ``x_next = x' + s_noise sigma_up z``
    with the split of :func:`ancestral_split`. With eta = 1 it is a discretisation of the reverse-time SDE
    and samples the data distribution as the grid is refined: weak order 1. Driven by one Brownian path
    (:class:`~probflow.brownian.BrownianNoise`) it is strong order 1, like Euler-Maruyama on this additive-noise
    SDE, from which its coefficients differ only at relative O(h) (measured 0.99 in the convergence tests).
    One call per step; the step into 0 is the final denoise (``sigma_down = sigma_up = 0`` there).
    """

    family: ClassVar[str] = "euler_ancestral"
    stochastic: ClassVar[bool] = True
    strong_order: ClassVar[float] = 1.0
    eta: float = 1.0
    s_noise: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_nonnegative("eta", self.eta, error=SolverConfigError))
        object.__setattr__(self, "s_noise", check_nonnegative("s_noise", self.s_noise, error=SolverConfigError))

    def start(self, grid: Grid, noise: NoiseSource) -> _AncestralStepper:
        return _AncestralStepper(self.eta, self.s_noise, grid, noise)

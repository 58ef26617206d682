"""Shared fixtures for the core tests: analytic problems in float64 and a call-counting denoiser."""

from __future__ import annotations

import torch

from probflow.denoisers import Gaussian, GaussianMixture
from probflow.schedules import karras


def gaussian_problem(dim: int = 3, seed: int = 0) -> Gaussian:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(dim, generator=generator, dtype=torch.float64)
    std = 0.2 + torch.rand(dim, generator=generator, dtype=torch.float64)
    return Gaussian(mean, std)


def mixture_problem(dim: int = 2, components: int = 3, seed: int = 0) -> GaussianMixture:
    generator = torch.Generator().manual_seed(seed)
    means = 2.0 * torch.randn(components, dim, generator=generator, dtype=torch.float64)
    return GaussianMixture(means, 0.3)


def start_state(batch: int, dim: int, sigma_max: float = 80.0, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return sigma_max * torch.randn(batch, dim, generator=generator, dtype=torch.float64)


def grid(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, zero: bool = True):
    return karras(n, sigma_min, sigma_max, rho, append_zero=zero)


class CountingDenoiser:
    """Wraps a denoiser and counts its calls independently of probflow's own NFE counter."""

    def __init__(self, denoiser):
        self.denoiser = denoiser
        self.calls = 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.denoiser(x, sigma)

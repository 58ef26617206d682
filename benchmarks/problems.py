"""Benchmark problems: data distributions whose exact denoiser is known, and their exact sampling endpoints.

Every problem starts every method from the same state ``x = SIGMA_MAX * n``, ``n ~ N(0, I)`` (float64), at
``sigma = SIGMA_MAX``; the *reference endpoint* is the exact solution of the probability-flow ODE
``dx/dsigma = (x - D(x, sigma))/sigma`` (Karras et al. 2022, eq. 1 and 3) from that state to ``sigma = 0``.

How the reference reaches sigma = 0. The vector field is 0/0 at sigma = 0, so the reference integrates in
``t = log sigma`` (``dx/dt = x - D``) with torchdiffeq's dopri8 at ``rtol = atol = REFERENCE_TOLERANCE`` down
to ``REFERENCE_SIGMA_END`` and then takes ``D(x, REFERENCE_SIGMA_END)``. That last step is exact up to
``O(sigma_end^2 / s^2)`` relative to the distance from the nearest mode, for a mode of standard deviation
``s``: near sigma = 0 one mixture component owns ``x`` and the flow is that Gaussian's,
``x(sigma) = mu + a sqrt(s^2 + sigma^2)/s`` with endpoint ``mu + a``, while ``D(x(sigma), sigma) = mu + a s/sqrt(s^2 +
sigma^2)``; with ``sigma_end = 1e-6`` and ``s >= 0.01`` the relative gap is below ``5e-9``. The Gaussian problem
has the closed-form endpoint ``mu + (x - mu) s/sqrt(s^2 + SIGMA_MAX^2)``, which checks the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from probflow.denoisers.analytic import AnalyticDenoiser, Gaussian, GaussianMixture
from probflow.solve import solve
from probflow.solvers.torchdiffeq_backend import TorchDiffEq

SIGMA_MAX = 80.0
REFERENCE_SIGMA_END = 1e-6
REFERENCE_TOLERANCE = 1e-10


class KernelDensity(AnalyticDenoiser):
    """Exact denoiser of a Gaussian kernel density estimate ``p = (1/K) sum_k N(y_k, h^2 I)`` of a data set.

    It is :class:`~probflow.denoisers.analytic.GaussianMixture` ``(data, std=h)`` specialised to one shared
    isotropic variance, which turns the posterior into two matrix products: with ``v = h^2 + sigma^2``,
    ``w = softmax_k((x . y_k - |y_k|^2 / 2) / v)`` (``|x|^2`` is common to every ``k`` and drops out) and
    ``D(x, sigma) = (sigma^2 sum_k w_k y_k + h^2 x) / v`` (EDM appendix B.3 with Gaussian kernels). The general
    mixture forms ``[batch, K, dim]`` differences, which is too slow for 1797 kernels at benchmark sizes.
    """

    def __init__(self, data: torch.Tensor, bandwidth: float) -> None:
        super().__init__(data.shape[1:])
        flat = data.reshape(data.shape[0], -1).to(torch.float64)
        self.bandwidth = float(bandwidth)
        self.register_buffer("points", flat)
        self.register_buffer("half_square_norms", 0.5 * (flat**2).sum(dim=1))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        self._check_sample_shape(x)
        x_flat = x.reshape(x.shape[0], -1)
        sigma_squared = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2
        total_variance = self.bandwidth**2 + sigma_squared
        points = self.points.to(x.dtype)
        logits = (x_flat @ points.T - self.half_square_norms.to(x.dtype)) / total_variance
        weighted_points = torch.softmax(logits, dim=1) @ points
        denoised = (sigma_squared * weighted_points + self.bandwidth**2 * x_flat) / total_variance
        return denoised.reshape(x.shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        index = torch.randint(self.points.shape[0], (n,), generator=generator)
        noise = torch.randn((n, self.points.shape[1]), generator=generator, dtype=torch.float64)
        return (self.points[index] + self.bandwidth * noise).reshape(n, *self.shape)


@dataclass(frozen=True)
class Problem:
    """A named data distribution with its exact denoiser and the batch size used to measure errors."""

    name: str
    description: str
    denoiser: AnalyticDenoiser
    num_samples: int

    def noise(self, seed: int = 0) -> torch.Tensor:
        """The shared standard-normal draw ``[num_samples, *shape]`` (float64) every method starts from."""
        generator = torch.Generator().manual_seed(seed)
        return torch.randn((self.num_samples, *self.denoiser.shape), generator=generator, dtype=torch.float64)


def reference_endpoint(denoiser: AnalyticDenoiser, noise: torch.Tensor,
                       tolerance: float = REFERENCE_TOLERANCE) -> torch.Tensor:
    """The sigma = 0 endpoint of the probability-flow ODE from ``SIGMA_MAX * noise`` (see the module docstring)."""
    solver = TorchDiffEq("dopri8", rtol=tolerance, atol=tolerance, time_variable="log_sigma")
    return solve(denoiser, solver, SIGMA_MAX * noise, [SIGMA_MAX, REFERENCE_SIGMA_END, 0.0]).x


def gaussian_endpoint(gaussian: Gaussian, noise: torch.Tensor) -> torch.Tensor:
    """Closed form for Gaussian data: ``mu + (x - mu) s / sqrt(s^2 + SIGMA_MAX^2)`` with ``x = SIGMA_MAX * noise``."""
    return gaussian.exact_flow(SIGMA_MAX * noise, SIGMA_MAX, 0.0)


def _ring(modes: int, radius: float) -> torch.Tensor:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def _digits_kde(bandwidth: float) -> KernelDensity:
    from probflow.data.digits import load_digits

    images, _ = load_digits("all", dtype=torch.float64)
    return KernelDensity(images.reshape(images.shape[0], -1), bandwidth)


def benchmark_problems(smoke: bool = False) -> list[Problem]:
    """The accuracy benchmark's problems; ``smoke`` keeps the Gaussian and a 100-kernel KDE, with 8 samples each."""
    generator = torch.Generator().manual_seed(1234)
    grid_axis = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)
    grid_means = torch.cartesian_prod(grid_axis, grid_axis)
    uneven_means = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, 1.0], [0.3, -0.8]], dtype=torch.float64)
    high_means = 0.6 * torch.randn(12, 48, generator=generator, dtype=torch.float64)
    high_std = 0.05 + 0.25 * torch.rand(12, 48, generator=generator, dtype=torch.float64)
    kde = _digits_kde(0.1)
    if smoke:
        kde = KernelDensity(kde.points[:100], kde.bandwidth)
    problems = [
        Problem("gaussian-16d", "diagonal Gaussian, 16 dims, means in [-1, 1], std 0.01 .. 1 (geometric)",
                Gaussian(torch.linspace(-1.0, 1.0, 16, dtype=torch.float64),
                         torch.logspace(-2.0, 0.0, 16, dtype=torch.float64)), 500),
        Problem("ring-8", "2-D, 8 modes on the unit circle, std 0.02", GaussianMixture(_ring(8, 1.0), 0.02), 1000),
        Problem("grid-25", "2-D, 5x5 grid of modes on [-1, 1]^2, std 0.02", GaussianMixture(grid_means, 0.02), 1000),
        Problem("uneven-2d", "2-D, 4 modes, weights .5/.2/.2/.1, std .01/.05/.2/.03",
                GaussianMixture(uneven_means, torch.tensor([0.01, 0.05, 0.2, 0.03], dtype=torch.float64),
                                weights=torch.tensor([0.5, 0.2, 0.2, 0.1], dtype=torch.float64)), 1000),
        Problem("mixture-48d", "48 dims, 12 modes, means N(0, 0.36 I), diagonal std U(0.05, 0.3)",
                GaussianMixture(high_means, high_std), 300),
        Problem("digits-kde", f"KDE of sklearn digits (8x8 in [-1, 1], {kde.points.shape[0]} images), bandwidth 0.1",
                kde, 200),
    ]
    if smoke:
        return [Problem(p.name, p.description, p.denoiser, 8) for p in (problems[0], problems[-1])]
    return problems

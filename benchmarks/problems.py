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
sigma^2)``; with ``sigma_end = 1e-6`` and ``s >= 0.01`` the relative gap is below ``5e-9`` (``5e-7`` for the
anisotropic Gaussian's narrowest axis, ``s = 1e-3``, where the closed form checks it). The Gaussian problems have
the closed-form endpoint ``mu + (x - mu) s/sqrt(s^2 + SIGMA_MAX^2)``, which checks the reference.

The problems come in two sets. The first six (Gaussian, ring, grid, uneven 2-D, 48-d mixture, digits KDE at
bandwidth 0.1) are the ones :func:`probflow.recommended` was tuned on. The others are families unlike them, added
to measure how the default generalises (issue #13): digits KDEs at bandwidths 0.05, 0.2 and 0.5, a Gaussian whose
standard deviations span four decades, two mixtures with 0.98/0.02 weights and 0.01/1 scales, and KDEs along a
circle and a swiss roll embedded in 32 and 16 dimensions. Each builder's docstring states its formula.
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


def anisotropic_gaussian(dims: int = 32, std_low: float = 1e-3, std_high: float = 10.0) -> Gaussian:
    """``y ~ N(mu, diag(s^2))`` with ``s_d = std_low (std_high / std_low)^(d / (dims - 1))`` (geometric, four
    decades by default) and ``mu_d`` evenly spaced in [-1, 1]; ``D = mu + s^2 / (s^2 + sigma^2) (x - mu)``.

    The narrowest axes are finer than the peers' ``sigma_min = 0.002`` and the widest are ten times the data
    scale the default grid assumes. A rotated copy would add nothing: every sampler here updates ``x`` by
    linear combinations of ``x`` and ``D(x)`` with scalar weights, so a rotation ``Q`` of the data maps each
    run from noise ``n`` to ``Q`` times the unrotated run from ``Q^T n``, which is standard normal too.
    """
    return Gaussian(torch.linspace(-1.0, 1.0, dims, dtype=torch.float64),
                    torch.logspace(math.log10(std_low), math.log10(std_high), dims, dtype=torch.float64))


def skewed_mixture(narrow_weight: float, dims: int = 8, narrow_std: float = 0.01,
                   broad_std: float = 1.0) -> GaussianMixture:
    """Two isotropic components with very unequal weights and scales:
    ``p = w N(0.5 * 1, s_n^2 I) + (1 - w) N(-0.5 * 1, s_b^2 I)`` (``1`` the all-ones vector), ``s_n = 0.01``,
    ``s_b = 1``; ``D`` is :class:`~probflow.denoisers.GaussianMixture`'s posterior mean.

    With ``w = 0.98`` most paths end in the narrow mode while the broad one bends them at ``sigma ~ 1``;
    with ``w = 0.02`` most end in the broad mode, and the narrow one, whose peak density is ``100^dims`` times
    higher, captures nearby paths late.
    """
    means = 0.5 * torch.stack([torch.ones(dims), -torch.ones(dims)]).to(torch.float64)
    return GaussianMixture(means, torch.tensor([narrow_std, broad_std], dtype=torch.float64),
                           weights=torch.tensor([narrow_weight, 1.0 - narrow_weight], dtype=torch.float64))


def _orthonormal_frame(ambient: int, intrinsic: int, seed: int) -> torch.Tensor:
    """``[ambient, intrinsic]`` orthonormal columns: the Q factor of a seeded Gaussian matrix."""
    gaussian = torch.randn(ambient, intrinsic, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.linalg.qr(gaussian).Q


def circle_kde(points: int = 512, ambient: int = 32, bandwidth: float = 0.01) -> KernelDensity:
    """A KDE along a unit circle in a random plane of ``R^ambient``: ``y_k = E (cos t_k, sin t_k)``,
    ``t_k = 2 pi k / points``, ``E`` orthonormal ``[ambient, 2]``; ``p = (1/K) sum_k N(y_k, h^2 I)``.

    512 kernels of bandwidth 0.01 are 0.0123 apart, so the density is a thin tube around a 1-D manifold.
    """
    angles = torch.arange(points, dtype=torch.float64) * (2 * math.pi / points)
    circle = torch.stack([angles.cos(), angles.sin()], dim=1)
    return KernelDensity(circle @ _orthonormal_frame(ambient, 2, seed=11).T, bandwidth)


def swiss_roll_kde(points: int = 1000, ambient: int = 16, bandwidth: float = 0.04) -> KernelDensity:
    """A KDE on a swiss roll (a 2-D manifold) in a random 3-space of ``R^ambient``:
    ``y_k = E (t_k cos t_k / T, v_k, t_k sin t_k / T)`` with ``t_k = 1.5 pi (1 + 2 u_k)``, ``T = 4.5 pi``,
    ``u_k ~ U(0, 1)``, ``v_k ~ U(-1, 1)`` (seeded), ``E`` orthonormal ``[ambient, 3]``;
    ``p = (1/K) sum_k N(y_k, h^2 I)``: coordinates in [-1, 1], kernels about 0.11 apart along the sheet.
    """
    generator = torch.Generator().manual_seed(12)
    turns = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(points, generator=generator, dtype=torch.float64))
    height = 2.0 * torch.rand(points, generator=generator, dtype=torch.float64) - 1.0
    scale = 4.5 * math.pi
    roll = torch.stack([turns * turns.cos() / scale, height, turns * turns.sin() / scale], dim=1)
    return KernelDensity(roll @ _orthonormal_frame(ambient, 3, seed=13).T, bandwidth)


def _tuned_problems(smoke: bool) -> list[Problem]:
    """The six problems the recommended sampler was tuned on."""
    generator = torch.Generator().manual_seed(1234)
    grid_axis = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)
    grid_means = torch.cartesian_prod(grid_axis, grid_axis)
    uneven_means = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, 1.0], [0.3, -0.8]], dtype=torch.float64)
    high_means = 0.6 * torch.randn(12, 48, generator=generator, dtype=torch.float64)
    high_std = 0.05 + 0.25 * torch.rand(12, 48, generator=generator, dtype=torch.float64)
    kde = _digits_kde(0.1)
    if smoke:
        kde = KernelDensity(kde.points[:100], kde.bandwidth)
    return [
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


def _held_out_problems() -> list[Problem]:
    """Families the recommended sampler was not tuned on (see the module docstring)."""
    digits = [Problem(f"digits-kde-{bandwidth}", f"KDE of sklearn digits (1797 images, 64 dims), bandwidth {bandwidth}",
                      _digits_kde(bandwidth), 100) for bandwidth in (0.05, 0.2, 0.5)]
    return digits + [
        Problem("aniso-gaussian-32d", "diagonal Gaussian, 32 dims, means in [-1, 1], std 1e-3 .. 10 (geometric)",
                anisotropic_gaussian(), 500),
        Problem("skewed-narrow-8d", "8 dims, weights .98/.02 on stds 0.01/1 (the narrow mode is the common one)",
                skewed_mixture(0.98), 500),
        Problem("skewed-broad-8d", "8 dims, weights .02/.98 on stds 0.01/1 (the narrow mode is the rare one)",
                skewed_mixture(0.02), 500),
        Problem("circle-32d", "KDE of 512 points on a unit circle in a random plane of R^32, bandwidth 0.01",
                circle_kde(), 300),
        Problem("swissroll-16d", "KDE of 1000 points on a swiss roll in a random 3-space of R^16, bandwidth 0.04",
                swiss_roll_kde(), 200),
    ]


def benchmark_problems(smoke: bool = False) -> list[Problem]:
    """The accuracy benchmark's problems: the six tuned ones, then the held-out families.

    ``smoke`` keeps the Gaussian and a 100-kernel KDE, with 8 samples each.
    """
    tuned = _tuned_problems(smoke)
    if smoke:
        return [Problem(p.name, p.description, p.denoiser, 8) for p in (tuned[0], tuned[-1])]
    return tuned + _held_out_problems()

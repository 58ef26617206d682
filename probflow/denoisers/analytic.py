"""Exact denoisers of known data distributions: ground truth for solver and convergence tests.

For data ``y ~ p`` and ``x = y + sigma n`` with ``n ~ N(0, I)``, the ideal denoiser is the posterior mean
``D(x, sigma) = E[y | x]`` (EDM eq. 3 and appendix B.3). For Gaussian data and Gaussian mixtures it has a
closed form, which is computed here in the dtype and on the device of ``x``; the distributions' parameters are
float64 buffers.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from probflow.errors import DenoiserConfigError, InvalidArgumentError
from probflow.denoisers.base import DenoiserModule, batch_sigma, broadcast_sigma

TensorLike = torch.Tensor | float | Sequence[float]


class AnalyticDenoiser(DenoiserModule, ABC):
    """A data distribution over samples of shape :attr:`shape` together with its exact denoiser ``E[y | x]``."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = torch.Size(shape)

    @abstractmethod
    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """``E[y | x]`` for ``x`` of shape ``[batch, *shape]``."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` clean samples ``y``, shape ``[n, *shape]``, in the parameters' dtype."""

    def sample_noisy(
        self, n: int, sigma: torch.Tensor | float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` noisy samples ``x = y + sigma * noise`` with ``noise ~ N(0, I)`` and ``sigma`` a scalar or ``[n]``."""
        clean = self.sample(n, generator)
        noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
        return clean + broadcast_sigma(sigma, clean) * noise

    def _check_sample_shape(self, x: torch.Tensor) -> None:
        if x.ndim < 1 or x.shape[1:] != self.shape:
            raise InvalidArgumentError(f"x must have shape [batch, {', '.join(map(str, self.shape))}], got {tuple(x.shape)}")


def _float64(value: TensorLike) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64).detach().clone()


def _check_non_negative(std: torch.Tensor) -> None:
    if not bool((std >= 0).all()) or not bool(torch.isfinite(std).all()):
        raise DenoiserConfigError("std must be finite and non-negative")


class Gaussian(AnalyticDenoiser):
    """Diagonal Gaussian data ``y ~ N(mu, diag(s^2))``.

    ``D(x, sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu)`` (the conjugate Gaussian posterior mean).
    ``mean`` and ``std`` broadcast to one sample's shape, which defaults to their broadcast shape.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: TensorLike, std: TensorLike, shape: Sequence[int] | None = None) -> None:
        mean, std = _float64(mean), _float64(std)
        _check_non_negative(std)
        try:
            sample_shape = torch.broadcast_shapes(mean.shape, std.shape) if shape is None else torch.Size(shape)
            broadcastable = torch.broadcast_shapes(mean.shape, std.shape, sample_shape) == sample_shape
        except RuntimeError:
            broadcastable = False
        if not broadcastable:
            target = "a common shape" if shape is None else f"shape {tuple(shape)}"
            raise DenoiserConfigError(f"mean {tuple(mean.shape)} and std {tuple(std.shape)} must broadcast to {target}")
        super().__init__(sample_shape)
        self.register_buffer("mean", mean.expand(sample_shape).clone())
        self.register_buffer("std", std.expand(sample_shape).clone())

    def _mean_and_variance_like(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_sample_shape(x)
        return self.mean.to(x), self.std.to(x) ** 2

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        mean, variance = self._mean_and_variance_like(x)
        return mean + variance / (variance + broadcast_sigma(sigma, x) ** 2) * (x - mean)

    def exact_flow(
        self, x: torch.Tensor, sigma_from: torch.Tensor | float, sigma_to: torch.Tensor | float
    ) -> torch.Tensor:
        """The exact solution of the probability-flow ODE ``dx/dsigma = (x - D(x, sigma)) / sigma`` (EDM eqs. 1 and 3
        with ``sigma(t) = t``): ``x(sigma_to) = mu + (x - mu) sqrt((s^2 + sigma_to^2) / (s^2 + sigma_from^2))``."""
        mean, variance = self._mean_and_variance_like(x)
        ratio = (variance + broadcast_sigma(sigma_to, x) ** 2) / (variance + broadcast_sigma(sigma_from, x) ** 2)
        return mean + (x - mean) * ratio.sqrt()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn((n, *self.shape), generator=generator, dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + self.std * noise


class GaussianMixture(AnalyticDenoiser):
    """Mixture ``y ~ sum_k pi_k N(mu_k, diag(s_k^2))`` with ``K`` components.

    With ``v_k = s_k^2 + sigma^2``, the posterior component weights are
    ``w_k(x, sigma) = softmax_k(ln pi_k + ln N(x; mu_k, diag(v_k)))`` and
    ``D(x, sigma) = sum_k w_k (mu_k + s_k^2 / v_k (x - mu_k))`` (Bayes' rule with each component's Gaussian
    conjugate posterior mean; EDM appendix B.3 treats the Dirac case).

    ``means`` has shape ``[K, *shape]``; ``std`` is a scalar, ``[K]`` (isotropic per component) or ``[K, *shape]``
    (diagonal); ``weights`` (``[K]``, positive, normalised here) default to uniform. The softmax runs as a streaming
    log-sum-exp over chunks of components, so memory stays near ``max_chunk_elements`` values of ``x``'s dtype
    whatever ``K`` (a kernel density estimate of a data set is ``GaussianMixture(data, std=h)``).
    """

    means: torch.Tensor
    variances: torch.Tensor
    log_weights: torch.Tensor

    def __init__(
        self,
        means: TensorLike,
        std: TensorLike,
        weights: TensorLike | None = None,
        max_chunk_elements: int = 2**22,
    ) -> None:
        means, std = _float64(means), _float64(std)
        if means.ndim < 2:
            raise DenoiserConfigError(f"means must have shape [K, *sample_shape], got {tuple(means.shape)}")
        _check_non_negative(std)
        super().__init__(means.shape[1:])
        components, dimension = means.shape[0], math.prod(self.shape)
        if std.ndim == 0 or std.shape == (components,):
            variances = (std**2).expand(components).reshape(components, 1)
        elif std.shape == means.shape:
            variances = (std**2).reshape(components, dimension)
        else:
            raise DenoiserConfigError(
                f"std must be a scalar, of shape [{components}] or of shape {tuple(means.shape)}, "
                f"got {tuple(std.shape)}"
            )
        weights = torch.ones(components, dtype=torch.float64) if weights is None else _float64(weights)
        if weights.shape != (components,) or not bool((weights > 0).all()) or not bool(torch.isfinite(weights).all()):
            raise DenoiserConfigError(f"weights must be {components} finite positive numbers, got shape {tuple(weights.shape)}")
        self.max_chunk_elements = max_chunk_elements
        self.register_buffer("means", means)
        self.register_buffer("variances", variances.clone())
        self.register_buffer("log_weights", (weights / weights.sum()).log())

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        self._check_sample_shape(x)
        batch = x.shape[0]
        x_flat = x.reshape(batch, 1, -1)
        sigma_squared = batch_sigma(sigma, x).reshape(batch, 1, 1) ** 2
        means = self.means.reshape(self.means.shape[0], -1)
        chunk = max(1, self.max_chunk_elements // max(1, x_flat.numel()))
        running_max = torch.full((batch,), -math.inf, dtype=x.dtype, device=x.device)
        normaliser = torch.zeros(batch, dtype=x.dtype, device=x.device)
        weighted_sum = torch.zeros_like(x_flat[:, 0])
        for start in range(0, means.shape[0], chunk):
            mean = means[start : start + chunk].to(x)[None]
            variance = self.variances[start : start + chunk].to(x)[None]
            total_variance = variance + sigma_squared
            difference = x_flat - mean
            log_density = -0.5 * (
                (difference**2 / total_variance).sum(-1) + total_variance.log().expand_as(difference).sum(-1)
            )
            log_joint = self.log_weights[start : start + chunk].to(x) + log_density
            new_max = torch.maximum(running_max, log_joint.amax(dim=1))
            rescale = (running_max - new_max).exp()
            unnormalised = (log_joint - new_max[:, None]).exp()
            # mu + s^2 / v (x - mu) as the convex combination (sigma^2 mu + s^2 x) / v: exactly mu when s = 0.
            posterior_mean = (sigma_squared * mean + variance * x_flat) / total_variance
            normaliser = normaliser * rescale + unnormalised.sum(dim=1)
            weighted_sum = weighted_sum * rescale[:, None] + (unnormalised[..., None] * posterior_mean).sum(dim=1)
            running_max = new_max
        return (weighted_sum / normaliser[:, None]).reshape(x.shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        component = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)
        means = self.means.reshape(self.means.shape[0], -1)
        noise = torch.randn((n, means.shape[1]), generator=generator, dtype=means.dtype, device=means.device)
        return (means[component] + self.variances[component].sqrt() * noise).reshape(n, *self.shape)


class Empirical(GaussianMixture):
    """The optimal denoiser of a finite data set ``{y_i}``, a uniform mixture of Diracs (EDM appendix B.3):
    ``D(x, sigma) = sum_i softmax_i(-||x - y_i||^2 / (2 sigma^2)) y_i``.

    It is the ``std = 0`` case of :class:`GaussianMixture` and shares its chunked log-sum-exp; ``data`` has shape
    ``[N, *shape]``. For a kernel density estimate with bandwidth ``h`` use ``GaussianMixture(data, std=h)``.
    """

    def __init__(self, data: TensorLike, max_chunk_elements: int = 2**22) -> None:
        super().__init__(data, std=0.0, max_chunk_elements=max_chunk_elements)

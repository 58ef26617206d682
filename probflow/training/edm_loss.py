"""The EDM training objective (Karras et al. 2022, eq. 2 weighted as in eq. 8 and Table 1, "Ours")."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from probflow.denoisers import Denoiser, broadcast_sigma


@dataclass(frozen=True)
class EDMLoss:
    """``L = E_{sigma, y, n}[ lambda(sigma) |D(y + sigma n, sigma) - y|^2 ]``, averaged over pixels.

    ``ln sigma ~ N(p_mean, p_std^2)`` (EDM Table 1 "Ours": -1.2, 1.2) and
    ``lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2`` with ``sd = sigma_data``, the std of the data
    (EDM uses 0.5; the lesson measured 0.66 for Fashion-MNIST in [-1, 1]).

    Equivalent form used by the lesson (23_karras): for an EDM-preconditioned
    ``D = c_skip x + c_out F(c_in x, c_noise)``, ``lambda = 1 / c_out^2``, so the weighted error equals the
    plain MSE ``|F(c_in x, c_noise) - (y - c_skip x) / c_out|^2`` (EDM eq. 8). ``D`` may be any denoiser.
    """

    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2

    def weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """``lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2``."""
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def weighted_error(
        self, denoiser: Denoiser, clean: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """``mean(lambda(sigma) (D(y + sigma n, sigma) - y)^2)`` for given ``sigma`` (``[batch]``) and ``n``."""
        sigma_b = broadcast_sigma(sigma, clean)
        denoised = denoiser(clean + sigma_b * noise, sigma)
        return (broadcast_sigma(self.weight(sigma), clean) * (denoised - clean) ** 2).mean()

    def __call__(
        self, denoiser: Denoiser, clean: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``sigma`` and ``n`` (from ``generator``, else the global RNG) and return the weighted error."""
        normal = torch.randn(clean.shape[0], generator=generator, dtype=clean.dtype, device=clean.device)
        sigma = (self.p_mean + self.p_std * normal).exp()
        noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
        return self.weighted_error(denoiser, clean, sigma, noise)

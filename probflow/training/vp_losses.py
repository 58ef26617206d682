"""The lesson's continuous-time cosine-schedule epsilon objective (fastai course22p2, 22_cosine and 22_noise-pred)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from probflow.denoisers import broadcast_sigma, cosine_alpha_bar

EpsilonNetwork = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def vp_noisy(clean: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps`` (Ho et al. 2020, eq. 4); ``alpha_bar`` is [batch]."""
    alpha_bar = broadcast_sigma(alpha_bar, clean)
    return alpha_bar.sqrt() * clean + (1 - alpha_bar).sqrt() * noise


@dataclass(frozen=True)
class CosineEpsilonLoss:
    """``L = E |model(x_t, t) - eps|^2`` with ``t ~ U(0, 1)`` clamped to ``t_max`` and
    ``alpha_bar(t) = cos^2(pi t / 2)`` in :func:`vp_noisy` (Ho et al. 2020, eq. 14; cosine schedule of
    Nichol & Dhariwal 2021 without the offset, as in the lesson). The float ``t`` is the network's time input.

    ``time_input=False`` gives the lesson's time-free epsilon network (22_noise-pred): the same noising,
    but the network is called as ``model(x_t, None)``, i.e. with time 0, and never sees the noise level.
    """

    t_max: float = 0.999
    time_input: bool = True

    def __call__(
        self, model: EpsilonNetwork, clean: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        uniform = torch.rand(clean.shape[0], generator=generator, dtype=clean.dtype, device=clean.device)
        t = uniform.clamp(max=self.t_max)
        noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
        noisy = vp_noisy(clean, cosine_alpha_bar(t), noise)
        return F.mse_loss(model(noisy, t if self.time_input else None), noise)


@dataclass(frozen=True)
class NoiseLevelLoss:
    """``L = E (regressor(x_t) - logit(alpha_bar))^2`` with ``alpha_bar ~ U(0, 1)`` per image (22_noise-pred).

    ``alpha_bar`` is clamped to ``[bound, 1 - bound]`` so that the target stays finite (``|logit| <= 9.2``
    for the default). ``logit(U)`` follows the standard logistic distribution, so the best constant
    prediction (0) scores its variance, ``pi^2 / 3 ~ 3.29`` (the lesson printed about 3.57).
    """

    bound: float = 1e-4

    def __call__(
        self,
        regressor: Callable[[torch.Tensor], torch.Tensor],
        clean: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        uniform = torch.rand(clean.shape[0], generator=generator, dtype=clean.dtype, device=clean.device)
        alpha_bar = uniform.clamp(self.bound, 1 - self.bound)
        noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
        return F.mse_loss(regressor(vp_noisy(clean, alpha_bar, noise)), torch.logit(alpha_bar))

"""The object :func:`probflow.pretrained.load` returns for a shipped denoiser."""

from __future__ import annotations

import torch
from torch import nn

from probflow.denoisers.base import DenoiserModule


class PretrainedDenoiser(DenoiserModule):
    """``D(x, sigma) = denoiser(x, sigma)``, plus what a user needs to sample from it.

    - ``shape``: the shape of one sample, e.g. ``(1, 8, 8)``, so ``noise = torch.randn(n, *D.shape)``.
    - ``sigma_data``: the standard deviation of the training data (EDM's ``sigma_data``).
    - ``noise_level``: for time-free models, the predictor of ``alpha_bar`` from ``x_vp``; otherwise ``None``.
    - ``denoiser``: the underlying adapter (e.g. ``EDMPrecond``), whose ``net`` is the network.
    """

    def __init__(
        self,
        denoiser: nn.Module,
        *,
        name: str,
        shape: tuple[int, ...],
        sigma_data: float,
        noise_level: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.name = name
        self.shape = tuple(shape)
        self.sigma_data = sigma_data
        self.noise_level = noise_level
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **model_kwargs: object) -> torch.Tensor:
        return self.denoiser(x, sigma, **model_kwargs)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, shape={self.shape}, sigma_data={self.sigma_data}"

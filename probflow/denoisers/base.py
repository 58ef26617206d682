"""The denoiser convention shared by every part of probflow.

A denoiser is any callable ``D(x, sigma) -> x0_hat`` (the k-diffusion / EDM convention): ``x`` is a
noisy batch ``x = y + sigma * n`` with ``n ~ N(0, I)``, ``sigma`` is a tensor of shape ``[batch]`` or a
scalar, and the result estimates ``E[y | x]``. A plain function and an ``nn.Module`` both qualify.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Denoiser(Protocol):
    """Structural type of a denoiser: ``D(x, sigma) -> x0_hat`` with ``x0_hat.shape == x.shape``."""

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor: ...


def broadcast_sigma(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Return ``sigma`` shaped ``[batch, 1, ..., 1]`` (or a 0-d tensor) so it broadcasts against ``x``.

    Accepts a Python number, a 0-d tensor or a ``[batch]`` tensor, in the dtype and on the device of ``x``.
    """
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        return sigma
    if sigma.ndim != 1 or sigma.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"sigma must be a scalar or of shape [batch={x.shape[0]}], got shape {tuple(sigma.shape)}")
    return sigma.reshape(sigma.shape[0], *([1] * (x.ndim - 1)))


def batch_sigma(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Return ``sigma`` as a ``[batch]`` tensor in the dtype and on the device of ``x``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0 or sigma.numel() == 1:
        return sigma.reshape(1).expand(x.shape[0])
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma must be a scalar or of shape [batch={x.shape[0]}], got shape {tuple(sigma.shape)}")
    return sigma

"""The denoiser convention shared by every part of probflow.

A denoiser is any callable ``D(x, sigma) -> x0_hat`` (the k-diffusion / EDM convention): ``x`` is a
noisy batch ``x = y + sigma * n`` with ``n ~ N(0, I)``, ``sigma`` is a tensor of shape ``[batch]`` or a
scalar, and the result estimates ``E[y | x]``. A plain function and an ``nn.Module`` both qualify.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from probflow.errors import InvalidArgumentError


@runtime_checkable
class Denoiser(Protocol):
    """Structural type of a denoiser: ``D(x, sigma) -> x0_hat`` with ``x0_hat.shape == x.shape``."""

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor: ...


class DenoiserModule(nn.Module):
    """Base class of probflow's own denoisers (adapters, analytic ground truths, wrappers).

    A ``DenoiserModule`` computes in the dtype of the ``x`` it is given -- the solver's compute dtype, float32 or
    float64 -- and calls any wrapped network through :func:`probflow.denoisers.network.call_network`, which casts to
    the network's own dtype and back: preconditioning stays in full precision around a half-precision network (EDM,
    k-diffusion and diffusers keep it in float32). :func:`probflow.solve` calls a ``DenoiserModule`` as it is; any
    other ``nn.Module`` denoiser is treated as a network and called through ``call_network`` itself.
    """


def broadcast_sigma(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Return ``sigma`` shaped ``[batch, 1, ..., 1]`` (or a 0-d tensor) so it broadcasts against ``x``.

    Accepts a Python number, a 0-d tensor or a ``[batch]`` tensor, in the dtype and on the device of ``x``.
    """
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        return sigma
    if sigma.ndim != 1 or sigma.shape[0] not in (1, x.shape[0]):
        raise InvalidArgumentError(f"sigma must be a scalar or of shape [batch={x.shape[0]}], got shape "
                                   f"{tuple(sigma.shape)}")
    return sigma.reshape(sigma.shape[0], *([1] * (x.ndim - 1)))


def batch_sigma(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Return ``sigma`` as a ``[batch]`` tensor in the dtype and on the device of ``x``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0 or sigma.numel() == 1:
        return sigma.reshape(1).expand(x.shape[0])
    if sigma.shape != (x.shape[0],):
        raise InvalidArgumentError(f"sigma must be a scalar or of shape [batch={x.shape[0]}], got shape "
                                   f"{tuple(sigma.shape)}")
    return sigma

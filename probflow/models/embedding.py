"""Sinusoidal embedding of a scalar noise level or time (Vaswani et al. 2017, sec. 3.5)."""

from __future__ import annotations

import math

import torch
from torch import nn

from probflow.errors import InvalidArgumentError


class SinusoidalEmbedding(nn.Module):
    """Map ``c`` of shape ``[batch]`` to ``[cos(f_k c), sin(f_k c)]_k`` of shape ``[batch, dim]``.

    The ``dim / 2`` angular frequencies are geometric, ``f_k = max_frequency ** (k / (dim/2 - 1))``,
    from 1 to ``max_frequency``. With the default 1000 an input in [0, 1] is resolved like the
    integer DDPM timesteps 0..1000 of the transformer embedding (Ho et al. 2020, appendix B);
    EDM's ``c_noise = ln(sigma) / 4`` spans a range of the same order.
    """

    def __init__(self, dim: int, max_frequency: float = 1000.0) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise InvalidArgumentError(f"embedding dim must be even and at least 4, got {dim}")
        exponents = torch.arange(dim // 2, dtype=torch.float64) / (dim // 2 - 1)
        self.register_buffer("frequencies", torch.exp(exponents * math.log(max_frequency)).float(), persistent=False)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        angles = c.to(self.frequencies.dtype)[:, None] * self.frequencies[None, :]
        return torch.cat([angles.cos(), angles.sin()], dim=1)

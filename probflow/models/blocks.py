"""Building blocks shared by the UNet and the ResNet encoders."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResBlock(nn.Module):
    """Pre-activation residual block (He et al. 2016, "Identity mappings"), with GroupNorm.

    ``out = skip(x) + conv2(act(norm2(conv1(act(norm1(x))) + W e)))``, where ``e`` is an optional
    conditioning embedding added per channel. ``conv2`` starts at zero, so the block starts as its
    skip path; the lesson zeroed this conv in every resnet block of its UNet for the same reason.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, num_groups: int, embedding_dim: int | None = None
    ) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embedding_projection = nn.Linear(embedding_dim, out_channels) if embedding_dim else None
        self.norm2 = nn.GroupNorm(num_groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.embedding_projection is not None:
            h = h + self.embedding_projection(F.silu(embedding))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h

"""A compact UNet (Ronneberger et al. 2015) for small single-channel images, conditioned on noise."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from probflow.errors import InvalidArgumentError
from probflow.models.blocks import ResBlock
from probflow.models.embedding import SinusoidalEmbedding


class UNet(nn.Module):
    """``net(x, noise_cond) -> y`` with ``y.shape == x.shape``; ``noise_cond`` has shape ``[batch]``.

    Layout: a 3x3 input conv; per level ``blocks_per_level`` :class:`ResBlock` (the level's width in
    ``channels``) followed by a stride-2 conv, except after the last level; one middle block; the
    mirrored decoder, whose blocks take the matching encoder activation concatenated on channels and
    whose levels end in nearest-neighbour 2x upsampling and a 3x3 conv; GroupNorm, SiLU and a 3x3
    output conv. ``noise_cond`` passes through :class:`SinusoidalEmbedding` and a two-layer MLP, and
    the result is added inside every block. The output conv and each block's second conv start at
    zero, as in the lesson, so the untrained net returns exactly 0.

    ``noise_cond=None`` stands for a zero condition: the lesson's time-free network was always given
    time 0. Height and width must be divisible by ``2 ** (len(channels) - 1)``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: tuple[int, ...] = (32, 64, 128),
        num_groups: int = 8,
        blocks_per_level: int = 1,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        channels = tuple(int(width) for width in channels)
        embedding_dim = embedding_dim or 4 * channels[0]
        self.hparams = dict(
            in_channels=in_channels,
            channels=list(channels),
            num_groups=num_groups,
            blocks_per_level=blocks_per_level,
            embedding_dim=embedding_dim,
        )
        self.embedding = nn.Sequential(
            SinusoidalEmbedding(channels[0]),
            nn.Linear(channels[0], embedding_dim),
            nn.SiLU(),
            nn.Linear(embedding_dim, embedding_dim),
        )
        block = dict(num_groups=num_groups, embedding_dim=embedding_dim)

        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        skip_channels = []
        width = channels[0]
        for level, level_width in enumerate(channels):
            for _ in range(blocks_per_level):
                self.down_blocks.append(ResBlock(width, level_width, **block))
                width = level_width
                skip_channels.append(width)
            if level < len(channels) - 1:
                self.downsamples.append(nn.Conv2d(width, width, 3, stride=2, padding=1))

        self.middle = ResBlock(width, width, **block)

        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for level in reversed(range(len(channels))):
            for _ in range(blocks_per_level):
                self.up_blocks.append(ResBlock(width + skip_channels.pop(), channels[level], **block))
                width = channels[level]
            if level > 0:
                self.upsamples.append(nn.Conv2d(width, width, 3, padding=1))

        self.norm_out = nn.GroupNorm(num_groups, width)
        self.conv_out = nn.Conv2d(width, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, noise_cond: torch.Tensor | None = None) -> torch.Tensor:
        factor = 2 ** len(self.downsamples)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise InvalidArgumentError(
                f"UNet with {len(self.downsamples) + 1} levels needs height and width divisible by {factor}, "
                f"got {tuple(x.shape[-2:])}"
            )
        if noise_cond is None:
            noise_cond = x.new_zeros(x.shape[0])
        embedding = self.embedding(noise_cond.to(x.dtype).reshape(-1).expand(x.shape[0]))

        h = self.conv_in(x)
        skips = []
        blocks = iter(self.down_blocks)
        for level in range(len(self.downsamples) + 1):
            for _ in range(self.hparams["blocks_per_level"]):
                h = next(blocks)(h, embedding)
                skips.append(h)
            if level < len(self.downsamples):
                h = self.downsamples[level](h)

        h = self.middle(h, embedding)

        blocks = iter(self.up_blocks)
        for level in range(len(self.upsamples) + 1):
            for _ in range(self.hparams["blocks_per_level"]):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), embedding)
            if level < len(self.upsamples):
                h = self.upsamples[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))

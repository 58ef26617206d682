"""ResNet-style encoders (He et al. 2016) and their heads: the classifier and the noise-level regressor."""

from __future__ import annotations

import torch
from torch import nn

from probflow.models.blocks import ResBlock


class ResNetEncoder(nn.Module):
    """``x -> h``: a 3x3 stem, then per width in ``channels`` one :class:`ResBlock` and a stride-2
    conv (none after the last), and global average pooling, giving ``h`` of shape ``[batch, channels[-1]]``.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], num_groups: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 3, padding=1)]
        width = channels[0]
        for level, level_width in enumerate(channels):
            layers.append(ResBlock(width, level_width, num_groups=num_groups))
            width = level_width
            if level < len(channels) - 1:
                layers.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        layers += [nn.GroupNorm(num_groups, width), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Classifier(nn.Module):
    """Image classifier ``logits = W h + b`` on :class:`ResNetEncoder` features ``h``.

    ``features(x) = h`` is the penultimate layer, the vector that FID and KID compare (the lesson's
    Fashion-MNIST classifier likewise fed its last residual block's output, before the linear head,
    to its metrics).
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, channels: tuple[int, ...] = (32, 64), num_groups: int = 8
    ) -> None:
        super().__init__()
        channels = tuple(int(width) for width in channels)
        self.hparams = dict(
            in_channels=in_channels, num_classes=num_classes, channels=list(channels), num_groups=num_groups
        )
        self.encoder = ResNetEncoder(in_channels, channels, num_groups)
        self.head = nn.Linear(channels[-1], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NoiseLevelRegressor(nn.Module):
    """Predict ``logit(alpha_bar)`` of a noisy image ``x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps``.

    The lesson's (22_noise-pred) regressor: a small ResNet, dropout 0.2, a final linear layer to one
    output. ``sigmoid`` of the output estimates ``alpha_bar``. Returns shape ``[batch]``.
    """

    def __init__(
        self, in_channels: int = 1, channels: tuple[int, ...] = (32, 64), num_groups: int = 8, dropout: float = 0.2
    ) -> None:
        super().__init__()
        channels = tuple(int(width) for width in channels)
        self.hparams = dict(in_channels=in_channels, channels=list(channels), num_groups=num_groups, dropout=dropout)
        self.encoder = ResNetEncoder(in_channels, channels, num_groups)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(x))).squeeze(1)

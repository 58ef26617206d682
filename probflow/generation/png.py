"""Sample grids as PNG files: tiles of ``[-1, 1]`` samples, enlarged by nearest-neighbour, encoded by Pillow.

Small images (8x8 digits: a 64-sample grid is 73 pixels wide) are enlarged by an integer factor, each pixel
becoming a ``factor x factor`` block, so that a viewer shows the pixels as they are instead of blurring them.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from probflow.errors import InvalidArgumentError
from probflow.extras import require
from probflow.files import write_bytes

#: Channel counts a grid can hold: grey and RGB.
CHANNELS = (1, 3)

#: The smallest side, in pixels, of grids written by ``probflow sample --grid``, ``compare`` and the demo.
GRID_MIN_SIZE = 256


def encode_png(image: np.ndarray) -> bytes:
    """The PNG bytes of a uint8 image ``[H, W]`` (grey) or ``[H, W, 3]`` (RGB), encoded by Pillow."""
    image_module = require("PIL.Image", feature="writing PNG images")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InvalidArgumentError(f"expected a uint8 image [H, W] or [H, W, 3], got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    image_module.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def upscale_nearest(samples: torch.Tensor, factor: int) -> torch.Tensor:
    """``[n, C, H, W]`` samples enlarged ``factor`` times by nearest-neighbour: pixel ``(i, j)`` becomes the block
    ``[factor i, factor (i + 1)) x [factor j, factor (j + 1))``."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise InvalidArgumentError(f"the upscale factor must be a positive integer, got {factor!r}")
    return samples.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def grid_scale(samples: torch.Tensor, columns: int | None = None, min_size: int = GRID_MIN_SIZE,
               padding: int = 1) -> int:
    """The smallest integer factor whose :func:`upscale_nearest` samples make an :func:`image_grid` at least
    ``min_size`` pixels on each side (1 if it already is): a side of ``k`` tiles of ``s`` pixels spans
    ``k (f s + padding) + padding``."""
    count, _, height, width = _check_grid_samples(samples).shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    return max(1, *(math.ceil((min_size - padding * (tiles + 1)) / (tiles * size))
                    for tiles, size in ((rows, height), (columns, width))))


def image_grid(samples: torch.Tensor, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile ``[n, C, H, W]`` samples in ``[-1, 1]`` (C = 1 or 3) into one uint8 image, row-major.

    Pixel value ``round(255 * clamp((x + 1) / 2, 0, 1))``; ``columns`` defaults to ``ceil(sqrt(n))``; the
    ``padding`` pixels between tiles are black.
    """
    count, channels, height, width = _check_grid_samples(samples).shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    pixels = ((samples.detach().cpu().double() + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8)
    for index, tile in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = tile
    return grid[..., 0] if channels == 1 else grid


def _check_grid_samples(samples: torch.Tensor) -> torch.Tensor:
    if samples.ndim != 4 or samples.shape[0] < 1 or samples.shape[1] not in CHANNELS:
        raise InvalidArgumentError(f"a grid needs samples [n, C, H, W] with n >= 1 and C = 1 or 3, got shape "
                                   f"{tuple(samples.shape)}")
    return samples


def write_grid_png(path: str | Path, samples: torch.Tensor, columns: int | None = None, *, min_size: int = 0) -> Path:
    """Write :func:`image_grid` of ``samples`` to ``path`` as a PNG (atomically); returns ``path``.

    With ``min_size`` the samples are first enlarged by :func:`upscale_nearest` with :func:`grid_scale`'s factor,
    so that the grid is at least ``min_size`` pixels on each side.
    """
    samples = upscale_nearest(samples, grid_scale(samples, columns, min_size))
    return write_bytes(path, encode_png(image_grid(samples, columns)))

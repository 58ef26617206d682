"""Sample grids as PNG files, written with zlib alone (PNG specification, ISO/IEC 15948, sections 5 and 11).

A PNG is the 8-byte signature and chunks ``length | type | data | CRC-32(type + data)``: IHDR (width, height,
bit depth 8, colour type 0 grey or 2 RGB), IDAT (the zlib-deflated scanlines, each prefixed by filter byte 0,
"none") and an empty IEND.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from probflow.files import write_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 3: 2}  # channels -> PNG colour type (grey, RGB)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: np.ndarray) -> bytes:
    """The PNG bytes of a uint8 image ``[H, W]`` (grey) or ``[H, W, 3]`` (RGB)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected a uint8 image [H, W] or [H, W, 3], got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    colour_type = COLOUR_TYPES[1 if image.ndim == 2 else 3]
    rows = np.ascontiguousarray(image).reshape(height, -1)
    scanlines = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(scanlines, 9)) + _chunk(b"IEND", b"")


def image_grid(samples: torch.Tensor, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile ``[n, C, H, W]`` samples in ``[-1, 1]`` (C = 1 or 3) into one uint8 image, row-major.

    Pixel value ``round(255 * clamp((x + 1) / 2, 0, 1))``; ``columns`` defaults to ``ceil(sqrt(n))``; the
    ``padding`` pixels between tiles are black.
    """
    if samples.ndim != 4 or samples.shape[1] not in COLOUR_TYPES:
        raise ValueError(f"a grid needs samples [n, C, H, W] with C = 1 or 3, got shape {tuple(samples.shape)}")
    count, channels, height, width = samples.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    pixels = ((samples.detach().cpu().double() + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8)
    for index, tile in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = tile
    return grid[..., 0] if channels == 1 else grid


def write_grid_png(path: str | Path, samples: torch.Tensor, columns: int | None = None) -> Path:
    """Write :func:`image_grid` of ``samples`` to ``path`` as a PNG (atomically); returns ``path``."""
    return write_bytes(path, encode_png(image_grid(samples, columns)))

"""Fashion-MNIST (Xiao et al. 2017) from local IDX files, zero-padded to 32x32 as in the lesson."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from probflow.errors import DataFileError, InvalidArgumentError, MissingFileError
from probflow.data.idx import read_idx

_FILE_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_idx_file(root: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (root / name).is_file():
            return root / name
    raise MissingFileError(f"expected {stem!r} or {stem + '.gz'!r} in folder {str(root)!r}; neither exists")


def load_fashion_mnist(
    root: str | Path,
    split: Literal["train", "test"] = "train",
    *,
    pad_to: int = 32,
    scale: tuple[float, float] = (-1.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images, labels)`` from the standard IDX files in ``root`` (raw or ``.gz``).

    Images come back as float32 ``[N, 1, pad_to, pad_to]``: ``pixel / 255`` mapped linearly onto
    ``scale`` (the lesson used (-1, 1) for Karras and (-0.5, 0.5) for the cosine models), then padded
    symmetrically with the value of a black pixel, 28 -> 32 adding 2 pixels on each side. Labels are
    int64 ``[N]``.
    """
    if split not in _FILE_STEMS:
        raise InvalidArgumentError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    image_stem, label_stem = _FILE_STEMS[split]
    images = read_idx(_find_idx_file(root, image_stem))
    labels = read_idx(_find_idx_file(root, label_stem))
    if images.ndim != 3:
        raise DataFileError(f"{image_stem}: expected 3 dimensions [N, rows, cols], got shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataFileError(f"{label_stem}: expected shape [{images.shape[0]}], got {labels.shape}")
    total_pad = pad_to - images.shape[1]
    if total_pad < 0 or total_pad % 2 or pad_to - images.shape[2] != total_pad:
        raise InvalidArgumentError(f"cannot pad {images.shape[1]}x{images.shape[2]} images symmetrically to {pad_to}x{pad_to}")
    low, high = scale
    scaled = images.astype(np.float32) / 255.0 * (high - low) + low
    padded = np.pad(scaled, ((0, 0), (total_pad // 2,) * 2, (total_pad // 2,) * 2), constant_values=low)
    return torch.from_numpy(padded).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

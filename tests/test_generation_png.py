"""The zlib-only PNG writer and the sample grid: decoded by an independent reader, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probflow.generation import encode_png, image_grid, write_grid_png

Image = pytest.importorskip("PIL.Image")


@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 3), (1, 1)])
def test_encoded_png_decodes_to_the_same_pixels(tmp_path, shape):
    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / "image.png"
    path.write_bytes(encode_png(pixels))
    with Image.open(path) as decoded:
        decoded.load()
        assert decoded.mode == ("L" if len(shape) == 2 else "RGB")
        assert np.array_equal(np.asarray(decoded), pixels)


def test_grid_places_sample_i_at_row_i_div_columns_and_maps_minus_one_one_to_0_255(tmp_path):
    samples = torch.linspace(-1.2, 1.2, 5 * 2 * 3).reshape(5, 1, 2, 3)
    grid = image_grid(samples, columns=3, padding=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1)
    for index in range(5):
        top, left = 1 + (index // 3) * 3, 1 + (index % 3) * 4
        expected = np.clip(np.rint((samples[index, 0].double().numpy() + 1) / 2 * 255), 0, 255)
        assert np.array_equal(grid[top : top + 2, left : left + 3], expected.astype(np.uint8))
    assert grid[4:6, 9:12].max() == 0  # the sixth cell is empty
    write_grid_png(tmp_path / "grid.png", samples, columns=3)
    with Image.open(tmp_path / "grid.png") as decoded:
        assert np.array_equal(np.asarray(decoded), grid)


def test_grid_refuses_channels_other_than_one_or_three():
    with pytest.raises(ValueError, match=r"C = 1 or 3, got shape \(2, 2, 4, 4\)"):
        image_grid(torch.zeros(2, 2, 4, 4))

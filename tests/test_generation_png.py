"""The PNG writer and the sample grid, decoded pixel for pixel, and the nearest-neighbour enlargement of grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probflow.generation import encode_png, image_grid, write_grid_png
from probflow.generation.png import grid_scale, upscale_nearest

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


def test_upscale_repeats_each_pixel_into_a_factor_by_factor_block():
    samples = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    enlarged = upscale_nearest(samples, 3)
    assert enlarged.shape == (2, 3, 6, 6)
    for row, column in np.ndindex(6, 6):
        assert torch.equal(enlarged[..., row, column], samples[..., row // 3, column // 3])
    with pytest.raises(ValueError, match="positive integer"):
        upscale_nearest(samples, 0)


@pytest.mark.parametrize(("count", "side", "min_size"), [(64, 8, 256), (10, 8, 256), (3, 28, 100), (4, 300, 256)])
def test_grid_scale_is_the_smallest_factor_reaching_min_size(count, side, min_size):
    samples = torch.zeros(count, 1, side, side)
    factor = grid_scale(samples, min_size=min_size)
    assert min(image_grid(upscale_nearest(samples, factor)).shape) >= min_size
    if factor > 1:
        assert min(image_grid(upscale_nearest(samples, factor - 1)).shape) < min_size


def test_a_grid_written_with_min_size_is_the_grid_of_the_enlarged_samples(tmp_path):
    samples = torch.linspace(-1, 1, 64 * 64).reshape(64, 1, 8, 8)
    write_grid_png(tmp_path / "grid.png", samples, min_size=256)
    with Image.open(tmp_path / "grid.png") as decoded:
        pixels = np.asarray(decoded)
    assert pixels.shape == (8 * (4 * 8 + 1) + 1,) * 2
    assert np.array_equal(pixels, image_grid(upscale_nearest(samples, 4)))

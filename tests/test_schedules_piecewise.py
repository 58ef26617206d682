"""piecewise_geometric: log-uniform pieces whose step ratio is the density ratio, exact ends, clear errors."""

from __future__ import annotations

import math

import pytest
import torch

from probflow.errors import SigmaGridError
from probflow.schedules import exponential, validate_sigmas
from probflow.schedules.piecewise import piecewise_geometric


def test_uniform_density_is_the_exponential_grid():
    grid = piecewise_geometric(17, 0.002, 80.0, band_low=0.01, band_high=3.0, outer_density=1.0)
    torch.testing.assert_close(grid, exponential(17, 0.002, 80.0), rtol=1e-13, atol=0.0)


@pytest.mark.parametrize("outer_density", [0.25, 0.5, 2.0])
def test_log_steps_outside_the_band_are_the_inside_steps_over_the_density(outer_density):
    band_low, band_high = 0.01, 3.0
    grid = piecewise_geometric(61, 0.002, 80.0, band_low=band_low, band_high=band_high,
                               outer_density=outer_density, append_zero=False)
    logs = grid.log()
    steps = logs[:-1] - logs[1:]
    inside = (grid[:-1] <= band_high) & (grid[1:] >= band_low)
    outside = (grid[1:] >= band_high) | (grid[:-1] <= band_low)
    inside_step, outside_step = steps[inside], steps[outside]
    torch.testing.assert_close(inside_step, inside_step[0].expand_as(inside_step), rtol=1e-10, atol=0.0)
    torch.testing.assert_close(outside_step, (inside_step[0] / outer_density).expand_as(outside_step),
                               rtol=1e-10, atol=0.0)


def test_grid_is_valid_with_exact_ends_and_a_trailing_zero():
    grid = piecewise_geometric(9, 0.003, 50.0, band_low=0.005, band_high=2.0, outer_density=0.5)
    validate_sigmas(grid)
    assert grid.shape == (10,)
    assert (grid[0].item(), grid[-2].item(), grid[-1].item()) == (50.0, 0.003, 0.0)


def test_a_band_outside_the_range_leaves_a_geometric_grid():
    grid = piecewise_geometric(11, 0.1, 10.0, band_low=20.0, band_high=30.0, outer_density=0.3)
    torch.testing.assert_close(grid, exponential(11, 0.1, 10.0), rtol=1e-13, atol=0.0)


def test_the_band_holds_its_share_of_the_steps():
    # 1 / density per unit log sigma outside, so the band's share of the log range is weighted up by 1/kappa.
    kappa, band_low, band_high, sigma_min, sigma_max = 0.5, 0.01, 1.0, 0.001, 100.0
    grid = piecewise_geometric(401, sigma_min, sigma_max, band_low=band_low, band_high=band_high,
                               outer_density=kappa, append_zero=False)
    inside_width = math.log(band_high / band_low)
    outside_width = math.log(sigma_max / sigma_min) - inside_width
    expected_share = inside_width / (inside_width + kappa * outside_width)
    share = float(((grid > band_low) & (grid < band_high)).double().mean())
    assert share == pytest.approx(expected_share, abs=0.01)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(band_low=0.5, band_high=0.1, outer_density=0.5), "band_low must be < band_high"),
    (dict(band_low=-1.0, band_high=0.1, outer_density=0.5), "band_low must be > 0"),
    (dict(band_low=0.01, band_high=1.0, outer_density=0.0), "outer_density must be > 0"),
])
def test_bad_parameters_raise_a_clear_error(kwargs, message):
    with pytest.raises(SigmaGridError, match=message):
        piecewise_geometric(5, 0.002, 80.0, **kwargs)

"""karras, exponential, polyexponential and linear against independent numpy formulas."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.errors import SigmaGridError
from probflow.schedules import exponential, karras, linear, polyexponential

RANGE_SCHEDULES = [karras, exponential, polyexponential, linear]

steps = st.integers(min_value=2, max_value=100)
sigma_mins = st.floats(min_value=1e-3, max_value=1.0)
ratios = st.floats(min_value=1.5, max_value=1e5)
PROPERTY = settings(derandomize=True, max_examples=20, deadline=None)


def _numpy_karras(n, sigma_min, sigma_max, rho):
    """EDM eq. 5 as a convex combination of the rho-th roots, raised back to rho."""
    weights = np.arange(n, dtype=np.float64) / (n - 1)
    return np.power((1 - weights) * sigma_max ** (1 / rho) + weights * sigma_min ** (1 / rho), rho)


def _numpy_exponential(n, sigma_min, sigma_max, rho):
    """A geometric sequence from sigma_max to sigma_min."""
    return np.geomspace(sigma_max, sigma_min, n)


def _numpy_polyexponential(n, sigma_min, sigma_max, rho):
    """k-diffusion's ramp ``linspace(1, 0, n) ** rho`` as the exponent of sigma_max / sigma_min."""
    return sigma_min * (sigma_max / sigma_min) ** (np.linspace(1.0, 0.0, n) ** rho)


def _numpy_linear(n, sigma_min, sigma_max, rho):
    """Evenly spaced in sigma."""
    return np.linspace(sigma_max, sigma_min, n)


NUMPY_REFERENCES = {
    karras: _numpy_karras,
    exponential: _numpy_exponential,
    polyexponential: _numpy_polyexponential,
    linear: _numpy_linear,
}


@pytest.mark.parametrize("schedule", RANGE_SCHEDULES, ids=lambda fn: fn.__name__)
@PROPERTY
@given(n=steps, sigma_min=sigma_mins, ratio=ratios, rho=st.floats(min_value=0.5, max_value=10.0))
def test_grid_matches_independent_numpy_formula(schedule, n, sigma_min, ratio, rho):
    sigma_max = sigma_min * ratio
    rho_argument = {"rho": rho} if schedule in (karras, polyexponential) else {}
    expected = NUMPY_REFERENCES[schedule](n, sigma_min, sigma_max, rho)
    np.testing.assert_allclose(schedule(n, sigma_min, sigma_max, **rho_argument)[:-1].numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("schedule", RANGE_SCHEDULES, ids=lambda fn: fn.__name__)
@PROPERTY
@given(n=steps, sigma_min=sigma_mins, ratio=ratios)
def test_grid_starts_exactly_at_sigma_max_and_ends_exactly_at_sigma_min_then_zero(schedule, n, sigma_min, ratio):
    sigma_max = sigma_min * ratio
    grid = schedule(n, sigma_min, sigma_max)
    assert grid[0].item() == sigma_max
    assert grid[n - 1].item() == sigma_min
    assert grid[n].item() == 0.0


@pytest.mark.parametrize("schedule", RANGE_SCHEDULES, ids=lambda fn: fn.__name__)
def test_one_step_grid_is_sigma_max_then_zero(schedule):
    assert schedule(1, 0.002, 80.0).tolist() == [80.0, 0.0]


@pytest.mark.parametrize(
    "with_rho, without_rho",
    [(karras, linear), (polyexponential, exponential)],
    ids=["karras-linear", "polyexponential-exponential"],
)
@PROPERTY
@given(n=steps, sigma_min=sigma_mins, ratio=ratios)
def test_rho_one_reduces_karras_to_linear_and_polyexponential_to_exponential(
    with_rho, without_rho, n, sigma_min, ratio
):
    sigma_max = sigma_min * ratio
    expected = without_rho(n, sigma_min, sigma_max)
    torch.testing.assert_close(with_rho(n, sigma_min, sigma_max, rho=1.0), expected, rtol=1e-13, atol=0)


@PROPERTY
@given(n=st.integers(min_value=3, max_value=100), sigma_min=sigma_mins, ratio=ratios, rho=st.floats(1.5, 3.0))
def test_polyexponential_with_rho_above_one_lies_below_exponential_inside_the_grid(n, sigma_min, ratio, rho):
    # the k-diffusion ramp direction: rho > 1 leaves sigma_max faster and crowds steps near sigma_min
    sigma_max = sigma_min * ratio
    inner = slice(1, n - 1)
    crowded = polyexponential(n, sigma_min, sigma_max, rho)[inner]
    assert bool((crowded < exponential(n, sigma_min, sigma_max)[inner]).all())


BAD_RANGE_PARAMETERS = [
    ({"n": 0}, "n must be a positive integer, got 0"),
    ({"n": 2.0}, "n must be a positive integer, got 2.0"),
    ({"n": True}, "n must be a positive integer, got True"),
    ({"sigma_min": 0.0}, "sigma_min must be > 0, got 0.0"),
    ({"sigma_min": -1.0}, "sigma_min must be > 0, got -1.0"),
    ({"sigma_min": math.nan}, "sigma_min must be finite, got nan"),
    ({"sigma_max": math.inf}, "sigma_max must be finite, got inf"),
    ({"sigma_min": 80.0}, "sigma_min must be < sigma_max, got sigma_min=80.0, sigma_max=80.0"),
    ({"sigma_min": 100.0}, "sigma_min must be < sigma_max, got sigma_min=100.0, sigma_max=80.0"),
    ({"sigma_max": "80"}, "sigma_max must be a real number, got '80'"),
]


@pytest.mark.parametrize("schedule", RANGE_SCHEDULES, ids=lambda fn: fn.__name__)
@pytest.mark.parametrize("override, message", BAD_RANGE_PARAMETERS)
def test_bad_range_parameter_raises_sigma_grid_error_naming_it(schedule, override, message):
    arguments = {"n": 10, "sigma_min": 0.002, "sigma_max": 80.0, **override}
    with pytest.raises(SigmaGridError, match=f"^{re.escape(message)}$"):
        schedule(**arguments)


@pytest.mark.parametrize("schedule", [karras, polyexponential], ids=lambda fn: fn.__name__)
@pytest.mark.parametrize(
    "rho, message",
    [(0.0, "rho must be > 0, got 0.0"), (-7.0, "rho must be > 0, got -7.0"), (math.nan, "rho must be finite, got nan")],
)
def test_bad_rho_raises_sigma_grid_error_naming_it(schedule, rho, message):
    with pytest.raises(SigmaGridError, match=f"^{message}$"):
        schedule(10, 0.002, 80.0, rho)


def test_range_too_narrow_for_n_distinct_float64_values_raises_instead_of_returning_a_flat_grid():
    with pytest.raises(SigmaGridError, match="^linear gives an invalid grid: sigmas must be strictly decreasing"):
        linear(100, 1.0, 1.0 + 1e-15)

"""The name-to-schedule registry: every entry runs from exactly sigma_max to exactly sigma_min, then 0."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.schedules import SCHEDULES, chen_between, karras, validate_sigmas, vp_between


#: Entries whose shape parameters have no default.
REQUIRED_PARAMETERS = {"piecewise_geometric": {"band_low": 0.01, "band_high": 3.0, "outer_density": 0.5}}


def test_registry_offers_the_cli_schedule_names():
    range_schedules = {"karras", "exponential", "polyexponential", "linear", "vp", "piecewise_geometric"}
    assert set(SCHEDULES) == range_schedules | {"chen-cosine", "chen-sigmoid", "chen-linear"}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@settings(derandomize=True, max_examples=20, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=200),
    sigma_min=st.floats(min_value=1e-3, max_value=0.05),
    sigma_max=st.floats(min_value=5.0, max_value=200.0),
)
def test_every_entry_runs_from_sigma_max_to_sigma_min_then_zero(name, n, sigma_min, sigma_max):
    grid = SCHEDULES[name](n, sigma_min, sigma_max, **REQUIRED_PARAMETERS.get(name, {}))
    validate_sigmas(grid)
    assert grid.shape == (n + 1,)
    assert (grid[0].item(), grid[n - 1].item(), grid[n].item()) == (sigma_max, sigma_min, 0.0)


def test_entries_pass_keyword_parameters_through():
    torch.testing.assert_close(SCHEDULES["karras"](10, 0.01, 50.0, rho=3.0), karras(10, 0.01, 50.0, rho=3.0))
    torch.testing.assert_close(SCHEDULES["vp"](10, 0.01, 50.0, eps_s=1e-2), vp_between(10, 0.01, 50.0, eps_s=1e-2))
    torch.testing.assert_close(
        SCHEDULES["chen-sigmoid"](10, 0.01, 50.0, tau=0.7), chen_between(10, 0.01, 50.0, kind="sigmoid", tau=0.7)
    )

"""The VP schedule (EDM Table 1) and its sigma-range form, against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.errors import SigmaGridError
from probflow.schedules import vp, vp_between

PROPERTY = settings(derandomize=True, max_examples=20, deadline=None)
betas_d = st.floats(min_value=1.0, max_value=30.0)
betas_min = st.floats(min_value=0.01, max_value=1.0)
epsilons = st.floats(min_value=1e-4, max_value=0.1)


def _numpy_vp_sigma(t: np.ndarray, beta_d: float, beta_min: float) -> np.ndarray:
    return np.sqrt(np.exp(beta_d * t**2 / 2 + beta_min * t) - 1)


@PROPERTY
@given(n=st.integers(min_value=1, max_value=100), beta_d=betas_d, beta_min=betas_min, eps_s=epsilons)
def test_vp_is_edm_table1_sigma_at_times_from_one_down_to_eps_s(n, beta_d, beta_min, eps_s):
    times = np.linspace(1.0, eps_s, n)
    expected = _numpy_vp_sigma(times, beta_d, beta_min)
    # exp(L) - 1 in numpy loses ~1e-16 / L relative accuracy where L(t) is small, hence rtol 1e-10
    np.testing.assert_allclose(vp(n, beta_d, beta_min, eps_s)[:-1].numpy(), expected, rtol=1e-10)


def test_vp_defaults_are_song_et_al_vp_sde():
    expected = _numpy_vp_sigma(np.linspace(1.0, 1e-3, 10), beta_d=19.9, beta_min=0.1)
    np.testing.assert_allclose(vp(10)[:-1].numpy(), expected, rtol=1e-10)


@PROPERTY
@given(n=st.integers(min_value=2, max_value=100), beta_d=betas_d, beta_min=betas_min, eps_s=epsilons)
def test_vp_between_recovers_the_betas_of_a_vp_schedule_from_its_end_sigmas(n, beta_d, beta_min, eps_s):
    sigma_max, sigma_min = _numpy_vp_sigma(np.array([1.0, eps_s]), beta_d, beta_min)
    np.testing.assert_allclose(
        vp_between(n, float(sigma_min), float(sigma_max), eps_s=eps_s).numpy(),
        vp(n, beta_d, beta_min, eps_s).numpy(),
        rtol=1e-8,
    )


@PROPERTY
@given(n=st.integers(min_value=2, max_value=100), sigma_min=st.floats(1e-3, 0.05), sigma_max=st.floats(10.0, 200.0))
def test_vp_between_starts_at_sigma_max_and_ends_at_sigma_min(n, sigma_min, sigma_max):
    grid = vp_between(n, sigma_min, sigma_max)
    assert (grid[0].item(), grid[n - 1].item(), grid[n].item()) == (sigma_max, sigma_min, 0.0)


@PROPERTY
@given(sigma_max=st.floats(1.0, 200.0), eps_s=st.floats(1e-3, 0.3), inside=st.booleans())
def test_vp_between_exists_exactly_when_sigma_min_is_below_the_concavity_bound(sigma_max, eps_s, inside):
    bound = eps_s * (2 - eps_s) * math.log1p(sigma_max**2)
    sigma_min = math.sqrt(math.expm1(bound * (0.99 if inside else 1.01)))
    if inside:
        assert vp_between(200, sigma_min, sigma_max, eps_s=eps_s)[0].item() == sigma_max
    else:
        with pytest.raises(SigmaGridError, match="do not give a positive, increasing sigma"):
            vp_between(200, sigma_min, sigma_max, eps_s=eps_s)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n": 0}, "n must be a positive integer, got 0"),
        ({"eps_s": 0.0}, r"eps_s must lie in \(0, 1\), got 0.0"),
        ({"eps_s": 1.0}, r"eps_s must lie in \(0, 1\), got 1.0"),
        ({"beta_d": math.nan}, "beta_d must be finite, got nan"),
        ({"beta_min": math.inf}, "beta_min must be finite, got inf"),
        ({"beta_d": -30.0}, "vp: beta_d=-30.0, beta_min=0.1, eps_s=0.001 do not give a positive, increasing sigma"),
        ({"beta_d": 0.0, "beta_min": -0.1}, "vp: beta_d=0.0, beta_min=-0.1, eps_s=0.001 do not give a positive"),
    ],
)
def test_vp_bad_parameter_raises_sigma_grid_error_naming_it(arguments, message):
    with pytest.raises(SigmaGridError, match=f"^{message}"):
        vp(**{"n": 10, **arguments})


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"sigma_min": 0.0}, "sigma_min must be > 0, got 0.0"),
        ({"sigma_min": 80.0}, "sigma_min must be < sigma_max, got sigma_min=80.0, sigma_max=80.0"),
        ({"eps_s": -1e-3}, r"eps_s must lie in \(0, 1\), got -0.001"),
        # log(1 + sigma^2) over t would have to be concave and fall again before t = 1
        ({"sigma_min": 1.0, "sigma_max": 1.1, "eps_s": 0.5}, "vp: beta_d=.* do not give a positive, increasing sigma"),
    ],
)
def test_vp_between_bad_range_raises_sigma_grid_error(arguments, message):
    with pytest.raises(SigmaGridError, match=f"^{message}"):
        vp_between(**{"n": 10, "sigma_min": 0.002, "sigma_max": 80.0, **arguments})

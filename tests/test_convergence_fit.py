"""The order fit: least squares against scipy, asymptotic-range selection, dropped levels and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import linregress

from probflow.convergence import OrderEstimate, fit_order, least_squares_order, local_slopes

STEPS = (16, 32, 64, 128, 256)


@given(order=st.floats(0.3, 6.0), constant=st.floats(1e-3, 1e3))
def test_an_exact_power_law_gives_its_exponent_with_zero_standard_error(order: float, constant: float) -> None:
    errors = [constant * n**-order for n in STEPS]
    estimate = fit_order("s", "ode", order, STEPS, STEPS, errors)
    assert estimate.order == pytest.approx(order, abs=1e-9)
    assert estimate.standard_error == pytest.approx(0.0, abs=1e-7)
    assert estimate.fitted == (0, 1, 2, 3, 4) and estimate.asymptotic and not estimate.dropped


def test_least_squares_slope_standard_error_and_r_squared_match_scipy_linregress() -> None:
    rng = np.random.default_rng(0)
    errors = 3.0 * np.asarray(STEPS, dtype=float) ** -2.0 * np.exp(0.1 * rng.standard_normal(len(STEPS)))
    order, standard_error, r_squared = least_squares_order(STEPS, errors)
    regression = linregress(np.log(STEPS), np.log(errors))
    assert order == pytest.approx(-regression.slope, rel=1e-12)
    assert standard_error == pytest.approx(regression.stderr, rel=1e-10)
    assert r_squared == pytest.approx(regression.rvalue**2, rel=1e-12)


def test_local_slopes_are_the_orders_between_consecutive_levels() -> None:
    errors = [1.0, 0.5, 0.0625]
    assert local_slopes([10, 20, 40], errors) == pytest.approx([1.0, 3.0])
    assert math.isnan(local_slopes([10, 20], [1.0, 0.0])[0])


def test_pre_asymptotic_coarse_levels_are_dropped_and_the_tail_is_fitted() -> None:
    # A coarse level far off the asymptotic power law 2 (e.g. a large first step through a stiff region).
    errors = [50.0 * STEPS[0] ** -2.0, *(n**-2.0 for n in STEPS[1:])]
    estimate = fit_order("s", "ode", 2, STEPS, STEPS, errors)
    assert estimate.order == pytest.approx(2.0, abs=1e-9)
    assert estimate.fitted == (1, 2, 3, 4)
    assert estimate.dropped[0].startswith("pre-asymptotic")


def test_levels_flattening_on_an_unflagged_floor_are_dropped() -> None:
    errors = [n**-4.0 for n in STEPS[:4]] + [0.9 * STEPS[3] ** -4.0]
    estimate = fit_order("s", "ode", 4, STEPS, STEPS, errors)
    assert estimate.fitted == (0, 1, 2, 3)
    assert estimate.dropped[4].startswith("past the asymptotic range")
    assert estimate.order == pytest.approx(4.0, abs=1e-9)


def test_floor_levels_and_non_positive_errors_are_left_out_with_their_reason() -> None:
    errors = [n**-3.0 for n in STEPS[:3]] + [0.0, 1e-16]
    estimate = fit_order("s", "ode", 3, STEPS, STEPS, errors, floors={4: "round-off floor"})
    assert estimate.fitted == (0, 1, 2)
    assert estimate.dropped[4] == "round-off floor"
    assert "not a positive finite number" in estimate.dropped[3]
    assert estimate.order == pytest.approx(3.0, abs=1e-9)


def test_a_fit_on_two_levels_is_flagged_as_not_asymptotic() -> None:
    slopes = [1.0, 2.3, 4.0, 2.0]  # no two consecutive ones agree: the finest pair is all there is
    errors = [1.0]
    for slope in slopes:
        errors.append(errors[-1] * 2.0**-slope)
    estimate = fit_order("s", "ode", 2, STEPS, STEPS, errors)
    assert estimate.fitted == (3, 4)
    assert not estimate.asymptotic
    assert math.isnan(estimate.standard_error)
    assert "not reached" in estimate.summary()


def test_fewer_than_two_usable_levels_give_nan_order() -> None:
    estimate = fit_order("s", "ode", 1, (8, 16), (8, 16), [0.1, 0.0])
    assert math.isnan(estimate.order) and not estimate.asymptotic


@pytest.mark.parametrize("steps", [(16,), (32, 16), (16, 16), (0, 8), (8.0, 16), (True, 4)])
def test_steps_must_be_increasing_positive_integers(steps) -> None:
    with pytest.raises(ValueError, match="steps must"):
        fit_order("s", "ode", 1, steps, steps, [1.0] * len(steps))


def test_within_compares_with_the_declared_or_a_given_order() -> None:
    estimate = OrderEstimate("s", "ode", 2.0, 2.15, 0.01, 1.0, STEPS, STEPS, (1.0,) * 5, (0.0,) * 4, (0, 1, 2, 3, 4))
    assert estimate.within(0.2) and not estimate.within(0.1)
    assert estimate.within(0.2, expected=2.3) and not estimate.within(0.1, expected=3.0)

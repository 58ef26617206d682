"""Conversions between sigma, alpha-bar and log-SNR: independent formulas and round trips."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.schedules import (
    alpha_bar_to_log_snr,
    alpha_bar_to_sigma,
    log_snr_to_alpha_bar,
    log_snr_to_sigma,
    sigma_to_alpha_bar,
    sigma_to_log_snr,
)

PROPERTY = settings(derandomize=True, max_examples=20, deadline=None)


def _float64_lists(low: float, high: float) -> st.SearchStrategy[torch.Tensor]:
    values = st.lists(st.floats(min_value=low, max_value=high), min_size=1, max_size=16)
    return values.map(lambda listed: torch.tensor(listed, dtype=torch.float64))


sigmas = _float64_lists(1e-3, 1e3)
alpha_bars = _float64_lists(1e-9, 1 - 1e-9)
log_snrs = _float64_lists(-20.0, 20.0)


@PROPERTY
@given(sigma=sigmas)
def test_sigma_to_alpha_bar_is_signal_variance_of_the_vp_sample(sigma):
    # x = x0 + sigma eps scaled to unit total variance has signal fraction 1 / (1 + sigma^2)
    sigma_np = sigma.numpy()
    np.testing.assert_allclose(sigma_to_alpha_bar(sigma).numpy(), sigma_np**-2 / (sigma_np**-2 + 1), rtol=1e-13)


@PROPERTY
@given(alpha_bar=alpha_bars)
def test_alpha_bar_to_sigma_and_log_snr_match_exact_rational_arithmetic(alpha_bar):
    # the odds abar / (1 - abar) computed exactly, then rounded once: accurate even for abar near 1
    odds = [Fraction(value) / (1 - Fraction(value)) for value in alpha_bar.tolist()]
    expected_sigma = [math.sqrt(1 / float(odd)) for odd in odds]
    expected_log_snr = [math.log(float(odd)) for odd in odds]
    np.testing.assert_allclose(alpha_bar_to_sigma(alpha_bar).numpy(), expected_sigma, rtol=1e-14)
    np.testing.assert_allclose(alpha_bar_to_log_snr(alpha_bar).numpy(), expected_log_snr, rtol=1e-12, atol=1e-14)


@PROPERTY
@given(sigma=sigmas)
def test_sigma_and_log_snr_round_trip(sigma):
    torch.testing.assert_close(log_snr_to_sigma(sigma_to_log_snr(sigma)), sigma, rtol=1e-14, atol=0)
    np.testing.assert_allclose(sigma_to_log_snr(sigma).numpy(), np.log(1 / sigma.numpy() ** 2), rtol=1e-13, atol=1e-13)


@PROPERTY
@given(sigma=sigmas)
def test_sigma_and_alpha_bar_round_trip(sigma):
    # 1 - abar carries abar's rounding error relative to sigma^2, so the loss grows as sigma -> 0
    torch.testing.assert_close(alpha_bar_to_sigma(sigma_to_alpha_bar(sigma)), sigma, rtol=1e-9, atol=0)


@PROPERTY
@given(alpha_bar=alpha_bars)
def test_alpha_bar_and_log_snr_round_trip(alpha_bar):
    torch.testing.assert_close(log_snr_to_alpha_bar(alpha_bar_to_log_snr(alpha_bar)), alpha_bar, rtol=1e-14, atol=0)


@PROPERTY
@given(log_snr=log_snrs)
def test_log_snr_to_alpha_bar_agrees_with_going_through_sigma(log_snr):
    direct = log_snr_to_alpha_bar(log_snr)
    torch.testing.assert_close(sigma_to_alpha_bar(log_snr_to_sigma(log_snr)), direct, rtol=1e-13, atol=0)
    torch.testing.assert_close(alpha_bar_to_log_snr(direct), log_snr, rtol=0, atol=1e-6)


def test_alpha_bar_to_log_snr_keeps_precision_where_alpha_bar_is_tiny():
    assert math.isclose(alpha_bar_to_log_snr(1e-300).item(), math.log(1e-300), rel_tol=1e-15)


def test_boundaries_map_to_infinities():
    assert sigma_to_alpha_bar(0.0).item() == 1.0
    assert sigma_to_log_snr(0.0).item() == math.inf
    assert alpha_bar_to_sigma(1.0).item() == 0.0
    assert alpha_bar_to_log_snr(0.0).item() == -math.inf


@pytest.mark.parametrize(
    "conversion",
    [
        sigma_to_alpha_bar,
        alpha_bar_to_sigma,
        sigma_to_log_snr,
        log_snr_to_sigma,
        alpha_bar_to_log_snr,
        log_snr_to_alpha_bar,
    ],
)
def test_floating_tensors_keep_their_dtype_and_numbers_become_float64(conversion):
    assert conversion(torch.tensor([0.5], dtype=torch.float32)).dtype == torch.float32
    assert conversion(0.5).dtype == torch.float64
    assert conversion(torch.tensor([1])).dtype == torch.float64

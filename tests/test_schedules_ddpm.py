"""DDPM alpha-bar schedules and the sigma grid they induce, against direct computations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.errors import SigmaGridError
from probflow.schedules import cosine_alphas_cumprod, ddpm_sigmas, linear_beta_alphas_cumprod

PROPERTY = settings(derandomize=True, max_examples=20, deadline=None)


@PROPERTY
@given(
    num_train_timesteps=st.integers(min_value=1, max_value=1000),
    beta_start=st.floats(min_value=1e-5, max_value=1e-3),
    beta_end=st.floats(min_value=1e-3, max_value=0.05),
)
def test_linear_beta_alphas_cumprod_is_the_running_product_of_one_minus_beta(num_train_timesteps, beta_start, beta_end):
    expected, running_product = [], 1.0
    for beta in np.linspace(beta_start, beta_end, num_train_timesteps):
        running_product *= 1.0 - beta
        expected.append(running_product)
    actual = linear_beta_alphas_cumprod(num_train_timesteps, beta_start, beta_end)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-12)


def _nichol_dhariwal_f(t: np.ndarray, num_train_timesteps: int, s: float) -> np.ndarray:
    return np.cos((t / num_train_timesteps + s) / (1 + s) * np.pi / 2) ** 2


@PROPERTY
@given(num_train_timesteps=st.integers(min_value=3, max_value=2000), s=st.floats(min_value=0.0, max_value=0.02))
def test_cosine_alphas_cumprod_matches_closed_form_where_beta_is_not_clipped(num_train_timesteps, s):
    alphas = cosine_alphas_cumprod(num_train_timesteps, s).numpy()
    k = np.arange(num_train_timesteps - 1)
    closed_form = _nichol_dhariwal_f(k + 1.0, num_train_timesteps, s) / _nichol_dhariwal_f(0.0, num_train_timesteps, s)
    np.testing.assert_allclose(alphas[:-1], closed_form, rtol=1e-9)


@pytest.mark.parametrize("max_beta", [0.999, 0.9])
def test_cosine_alphas_cumprod_clips_the_last_beta_at_max_beta(max_beta):
    # the unclipped final beta is 1 - f(T)/f(T-1) ~ 1, since f(T) = cos^2(pi/2) ~ 0
    alphas = cosine_alphas_cumprod(1000, max_beta=max_beta)
    assert math.isclose(1.0 - alphas[-1].item() / alphas[-2].item(), max_beta, rel_tol=1e-12)


def _rounded_timesteps(num_train_timesteps: int, n: int) -> list[int]:
    """``(T - 1)(1 - i / (n - 1))`` rounded half up, in exact rational arithmetic."""
    if n == 1:
        return [num_train_timesteps - 1]
    return [
        math.floor((num_train_timesteps - 1) * (1 - Fraction(i, n - 1)) + Fraction(1, 2)) for i in range(n)
    ]


def _assert_sigmas_at_rounded_timesteps(num_train_timesteps: int, n: int) -> None:
    alphas = linear_beta_alphas_cumprod(num_train_timesteps)
    chosen = alphas.numpy()[_rounded_timesteps(num_train_timesteps, n)]
    expected = np.append(np.sqrt(1.0 / chosen - 1.0), 0.0)
    np.testing.assert_allclose(ddpm_sigmas(alphas, n).numpy(), expected, rtol=1e-10)


@PROPERTY
@given(num_train_timesteps=st.integers(min_value=1, max_value=1000), data=st.data())
def test_ddpm_sigmas_are_alpha_bar_sigmas_at_evenly_spaced_rounded_timesteps(num_train_timesteps, data):
    _assert_sigmas_at_rounded_timesteps(num_train_timesteps, data.draw(st.integers(1, num_train_timesteps)))


@pytest.mark.parametrize("num_train_timesteps, n", [(1000, 3), (1000, 11), (4, 3), (50, 23), (1000, 1000)])
def test_ddpm_sigmas_round_halfway_timesteps_up(num_train_timesteps, n):
    # (T - 1) i / (n - 1) lands exactly on k + 1/2 here (e.g. 999 / 2 = 499.5); for T = 50, n = 23 a float64
    # linspace misses the tie by an ulp and would round the other way
    _assert_sigmas_at_rounded_timesteps(num_train_timesteps, n)


def test_ddpm_sigmas_start_at_last_training_timestep_and_end_at_the_first():
    alphas = cosine_alphas_cumprod(1000)
    grid = ddpm_sigmas(alphas, 7)
    first, last = (math.sqrt((1 - a) / a) for a in (alphas[-1].item(), alphas[0].item()))
    assert math.isclose(grid[0].item(), first, rel_tol=1e-12)
    assert math.isclose(grid[6].item(), last, rel_tol=1e-12)


def test_ddpm_sigmas_accept_a_plain_sequence():
    grid = ddpm_sigmas([0.9, 0.5, 0.1], 3)
    np.testing.assert_allclose(grid.numpy(), [3.0, 1.0, 1 / 3, 0.0], rtol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: linear_beta_alphas_cumprod(0), "num_train_timesteps must be a positive integer, got 0"),
        (lambda: linear_beta_alphas_cumprod(beta_start=0.0), r"beta_start must lie in \(0, 1\), got 0.0"),
        (lambda: linear_beta_alphas_cumprod(beta_end=1.0), r"beta_end must lie in \(0, 1\), got 1.0"),
        (lambda: cosine_alphas_cumprod(s=-0.1), "s must be >= 0, got -0.1"),
        (lambda: cosine_alphas_cumprod(max_beta=1.0), r"max_beta must lie in \(0, 1\), got 1.0"),
        (lambda: ddpm_sigmas([0.9, 0.5], 3), r"n must be <= len\(alphas_cumprod\) = 2, got n=3"),
        (lambda: ddpm_sigmas([0.9, 0.5], 0), "n must be a positive integer, got 0"),
        (lambda: ddpm_sigmas([0.9, 1.0], 2), r"alphas_cumprod must lie in \(0.0, 1.0\), got alphas_cumprod\[1\] = 1.0"),
        (lambda: ddpm_sigmas([0.9, math.nan], 2), r"alphas_cumprod must lie in .*, got alphas_cumprod\[1\] = nan"),
        (lambda: ddpm_sigmas([[0.9, 0.5]], 1), r"alphas_cumprod must be a non-empty 1-D sequence, got shape \(1, 2\)"),
        (lambda: ddpm_sigmas([0.5, 0.9], 2), "ddpm_sigmas gives an invalid grid: sigmas must be strictly decreasing"),
    ],
)
def test_bad_ddpm_parameter_raises_sigma_grid_error_naming_it(call, message):
    with pytest.raises(SigmaGridError, match=f"^{message}"):
        call()

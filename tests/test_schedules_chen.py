"""Chen (2023) gamma schedules, input scaling, and the sigma grids built from them, against numpy/scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import expit

from probflow.errors import SigmaGridError
from probflow.schedules import (
    alpha_bar_to_log_snr,
    chen,
    chen_between,
    gamma_cosine,
    gamma_linear,
    gamma_sigmoid,
    gamma_to_sigma,
    sigma_to_log_snr,
)

PROPERTY = settings(derandomize=True, max_examples=20, deadline=None)
times = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=20).map(np.array)
clip_mins = st.floats(min_value=1e-12, max_value=1e-3)
taus = st.floats(min_value=0.5, max_value=3.0)
sigmoid_starts, sigmoid_ends = st.floats(-5.0, -0.5), st.floats(0.5, 5.0)
cosine_starts, cosine_ends = st.floats(0.0, 0.4), st.floats(0.6, 1.0)


def _numpy_gamma_sigmoid(t, start=-3.0, end=3.0, tau=1.0, clip_min=1e-9):
    v_start, v_end = expit(start / tau), expit(end / tau)
    return np.clip((v_end - expit((t * (end - start) + start) / tau)) / (v_end - v_start), clip_min, 1.0)


def _numpy_gamma_cosine(t, start=0.0, end=1.0, tau=1.0, clip_min=1e-9):
    def warp(u):
        return np.cos(u * np.pi / 2) ** (2 * tau)

    v_start, v_end = warp(start), warp(end)
    return np.clip((v_end - warp(t * (end - start) + start)) / (v_end - v_start), clip_min, 1.0)


def _numpy_gamma_linear(t, start=None, end=None, tau=None, clip_min=1e-9):
    return np.clip(1.0 - t, clip_min, 1.0)


NUMPY_GAMMAS = {"sigmoid": _numpy_gamma_sigmoid, "cosine": _numpy_gamma_cosine, "linear": _numpy_gamma_linear}


GAMMA_CASES = {
    "sigmoid": (gamma_sigmoid, _numpy_gamma_sigmoid, sigmoid_starts, sigmoid_ends),
    "cosine": (gamma_cosine, _numpy_gamma_cosine, cosine_starts, cosine_ends),
}


@pytest.mark.parametrize("kind", sorted(GAMMA_CASES))
@PROPERTY
@given(t=times, tau=taus, clip_min=clip_mins, data=st.data())
def test_gamma_matches_algorithm_1(kind, t, tau, clip_min, data):
    gamma, numpy_gamma, starts, ends = GAMMA_CASES[kind]
    start, end = data.draw(starts), data.draw(ends)
    actual = gamma(torch.from_numpy(t), start, end, tau, clip_min)
    np.testing.assert_allclose(actual.numpy(), numpy_gamma(t, start, end, tau, clip_min), rtol=1e-10)


@PROPERTY
@given(t=times, clip_min=clip_mins)
def test_gamma_linear_is_one_minus_t_clipped(t, clip_min):
    np.testing.assert_array_equal(gamma_linear(torch.from_numpy(t), clip_min).numpy(), np.clip(1 - t, clip_min, 1.0))


def test_default_gamma_cosine_is_squared_cosine():
    t = np.linspace(0.0, 0.99, 50)
    np.testing.assert_allclose(gamma_cosine(torch.from_numpy(t)).numpy(), np.cos(t * np.pi / 2) ** 2, rtol=1e-12)


@PROPERTY
@given(start=sigmoid_starts, end=sigmoid_ends, tau=taus, clip_min=clip_mins)
def test_gamma_sigmoid_is_one_at_t_zero_and_clip_min_at_t_one(start, end, tau, clip_min):
    assert gamma_sigmoid(0.0, start, end, tau, clip_min).item() == 1.0
    assert gamma_sigmoid(1.0, start, end, tau, clip_min).item() == clip_min


@PROPERTY
@given(tau=taus, clip_min=clip_mins)
def test_gamma_cosine_from_zero_to_one_is_one_at_t_zero_and_clip_min_at_t_one(tau, clip_min):
    assert gamma_cosine(0.0, 0.0, 1.0, tau, clip_min).item() == 1.0
    assert gamma_cosine(1.0, 0.0, 1.0, tau, clip_min).item() == clip_min


@PROPERTY
@given(
    gamma=st.lists(st.floats(1e-6, 1 - 1e-6), min_size=1, max_size=10).map(
        lambda gammas: torch.tensor(gammas, dtype=torch.float64)
    ),
    input_scale=st.floats(min_value=0.05, max_value=20.0),
)
def test_input_scale_shifts_log_snr_by_two_log_b(gamma, input_scale):
    shifted = sigma_to_log_snr(gamma_to_sigma(gamma, input_scale)) - alpha_bar_to_log_snr(gamma)
    torch.testing.assert_close(shifted, torch.full_like(gamma, 2 * math.log(input_scale)), rtol=0, atol=1e-9)


@PROPERTY
@given(gamma=st.floats(1e-6, 1.0), input_scale=st.floats(min_value=0.05, max_value=20.0))
def test_gamma_to_sigma_is_the_noise_scale_of_x_t_over_sqrt_gamma_b(gamma, input_scale):
    # x_t = sqrt(gamma) b x0 + sqrt(1 - gamma) eps, so x_t / (sqrt(gamma) b) = x0 + sigma eps
    expected = math.sqrt(1 - gamma) / (math.sqrt(gamma) * input_scale)
    assert math.isclose(gamma_to_sigma(gamma, input_scale).item(), expected, rel_tol=1e-12, abs_tol=0.0)


CHEN_SHAPES = [
    {"kind": "cosine"},
    {"kind": "cosine", "start": 0.2, "end": 1.0, "tau": 2.0},
    {"kind": "sigmoid"},
    {"kind": "sigmoid", "start": -3.0, "end": 3.0, "tau": 0.9},
    {"kind": "linear"},
]


@pytest.mark.parametrize("shape", CHEN_SHAPES, ids=lambda shape: "-".join(str(value) for value in shape.values()))
@pytest.mark.parametrize("n, input_scale", [(1, 1.0), (8, 1.0), (50, 0.5), (200, 2.0)])
def test_chen_grid_is_gamma_to_sigma_at_times_from_one_down_to_just_above_zero(shape, n, input_scale):
    numpy_gamma = NUMPY_GAMMAS[shape["kind"]]
    parameters = {key: value for key, value in shape.items() if key != "kind"}
    t = np.linspace(1.0, 0.0, n + 1)[:-1]
    gamma = numpy_gamma(t, **parameters)
    expected = np.append(np.sqrt((1 - gamma) / gamma) / input_scale, 0.0)
    np.testing.assert_allclose(chen(n, input_scale=input_scale, **shape).numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("kind", ["cosine", "sigmoid", "linear"])
def test_chen_first_sigma_is_the_sigma_of_clip_min(kind):
    clip_min, input_scale = 1e-6, 2.0
    first = chen(10, kind, clip_min=clip_min, input_scale=input_scale)[0].item()
    assert math.isclose(first, math.sqrt((1 - clip_min) / clip_min) / input_scale, rel_tol=1e-12)


def test_chen_linear_ignores_start_end_and_tau_which_cancel():
    torch.testing.assert_close(chen(20, "linear", start=-2.0, end=5.0, tau=3.0), chen(20, "linear"), rtol=1e-12, atol=0)


def test_chen_raises_when_clipping_makes_neighbouring_sigmas_equal():
    # gamma(1 - 1/n) = cos^2((1 - 1/n) pi / 2) ~ (pi / 2n)^2 = 2.5e-6 < clip_min, so the first two gammas clip
    with pytest.raises(SigmaGridError, match=r"^chen\(n=1000, kind='cosine', clip_min=0.0001\).*strictly decreasing"):
        chen(1000, "cosine", clip_min=1e-4)


def _numpy_time_of_sigma(sigma, shape, input_scale):
    numpy_gamma = NUMPY_GAMMAS[shape["kind"]]
    parameters = {key: value for key, value in shape.items() if key != "kind"}
    target = 1 / (1 + (input_scale * sigma) ** 2)
    return brentq(lambda t: numpy_gamma(t, clip_min=0.0, **parameters) - target, 0.0, 1.0, xtol=1e-15, rtol=1e-15)


@pytest.mark.parametrize("shape", CHEN_SHAPES, ids=lambda shape: "-".join(str(value) for value in shape.values()))
@pytest.mark.parametrize("input_scale", [0.5, 1.0, 3.0])
def test_chen_between_is_gamma_at_evenly_spaced_times_between_the_times_of_the_sigma_bounds(shape, input_scale):
    n, sigma_min, sigma_max = 12, 0.002, 80.0
    numpy_gamma = NUMPY_GAMMAS[shape["kind"]]
    parameters = {key: value for key, value in shape.items() if key != "kind"}
    t = np.linspace(
        _numpy_time_of_sigma(sigma_max, shape, input_scale), _numpy_time_of_sigma(sigma_min, shape, input_scale), n
    )
    gamma = numpy_gamma(t, clip_min=0.0, **parameters)
    expected = np.append(np.sqrt((1 - gamma) / gamma) / input_scale, 0.0)
    grid = chen_between(n, sigma_min, sigma_max, input_scale=input_scale, **shape)
    np.testing.assert_allclose(grid.numpy(), expected, rtol=1e-8)
    assert (grid[0].item(), grid[n - 1].item()) == (sigma_max, sigma_min)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: chen(10, "quadratic"), r"kind must be one of \['cosine', 'linear', 'sigmoid'\], got 'quadratic'"),
        (lambda: chen(0), "n must be a positive integer, got 0"),
        (lambda: chen(10, "cosine", start=-0.5), "cosine schedule needs 0 <= start < end <= 1, got start=-0.5"),
        (lambda: chen(10, "cosine", end=1.5), "cosine schedule needs 0 <= start < end <= 1, got start=0.0, end=1.5"),
        (lambda: chen(10, "sigmoid", start=3.0, end=-3.0), "start must be < end, got start=3.0, end=-3.0"),
        (lambda: chen(10, "sigmoid", tau=0.0), "tau must be > 0, got 0.0"),
        (lambda: chen(10, clip_min=0.0), r"clip_min must lie in \(0, 1\), got 0.0"),
        (lambda: chen(10, input_scale=-1.0), "input_scale must be > 0, got -1.0"),
        (lambda: chen(10, start=math.nan), "start must be finite, got nan"),
        (lambda: gamma_linear(1.5), r"t must lie in \[0.0, 1.0\], got t = 1.5"),
        (lambda: gamma_sigmoid(torch.tensor([0.5, -0.1])), r"t must lie in \[0.0, 1.0\], got t\[1\] = -0.1"),
        (lambda: gamma_cosine(0.5, tau=-1.0), "tau must be > 0, got -1.0"),
        (lambda: gamma_to_sigma(0.5, input_scale=0.0), "input_scale must be > 0, got 0.0"),
        (lambda: chen_between(10, 80.0, 0.002), "sigma_min must be < sigma_max, got sigma_min=80.0, sigma_max=0.002"),
        (lambda: chen_between(10, 0.002, 80.0, kind="sigmoid", tau=-1.0), "tau must be > 0, got -1.0"),
    ],
)
def test_bad_chen_parameter_raises_sigma_grid_error_naming_it(call, message):
    with pytest.raises(SigmaGridError, match=f"^{message}"):
        call()

"""DiscreteDDPM and ContinuousDDPM: timestep maps, input scaling, and exactness on Gaussian data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from probflow.denoisers import ContinuousDDPM, DiscreteDDPM, Gaussian

ALPHAS_CUMPROD = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
SIGMAS = np.sqrt((1 - ALPHAS_CUMPROD) / ALPHAS_CUMPROD)
GAUSSIAN = Gaussian(mean=torch.tensor([[0.5, -1.0, 0.0]]), std=torch.tensor([[0.3, 1.2, 0.05]]))


def _t_by_hand(sigma: np.ndarray) -> np.ndarray:
    return np.interp(np.log(sigma), np.log(SIGMAS), np.arange(len(SIGMAS)))


def _sigma_by_hand(t: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(t, np.arange(len(SIGMAS)), np.log(SIGMAS)))


def _exact_gaussian_model(prediction: str, sigma_of_t):
    """The exact ``E[eps | x]``, ``E[v | x]`` or ``E[x0 | x]`` of GAUSSIAN data as a VP model ``model(x_vp, t)``.

    It recovers sigma from t through ``sigma_of_t`` (a hand-written schedule) and uses the Gaussian posterior mean
    ``mu + s^2 / (s^2 + sigma^2) (x - mu)`` written out here, not the adapter's conversion.
    """
    mean, std = GAUSSIAN.mean.numpy(), GAUSSIAN.std.numpy()

    def model(x_vp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sigma = sigma_of_t(t.numpy()).reshape(-1, 1, 1)
        alpha_bar = 1 / (1 + sigma**2)
        x = x_vp.numpy() / np.sqrt(alpha_bar)
        x0 = mean + std**2 / (std**2 + sigma**2) * (x - mean)
        eps = (x - x0) / sigma
        output = {"epsilon": eps, "sample": x0, "v_prediction": np.sqrt(alpha_bar) * eps - np.sqrt(1 - alpha_bar) * x0}
        return torch.from_numpy(output[prediction])

    return model


def _noisy_batch(sigma: np.ndarray) -> torch.Tensor:
    return GAUSSIAN.sample_noisy(len(sigma), torch.from_numpy(sigma), generator=torch.Generator().manual_seed(0))


def test_sigma_table_is_ascending_float64_and_matches_alphas_cumprod() -> None:
    ddpm = DiscreteDDPM(lambda x, t: x, torch.from_numpy(ALPHAS_CUMPROD))
    assert ddpm.sigmas.dtype == torch.float64
    np.testing.assert_allclose(ddpm.sigmas.numpy(), SIGMAS, rtol=1e-15)
    assert ddpm.sigma_min == pytest.approx(SIGMAS[0], rel=1e-15)
    assert ddpm.sigma_max == pytest.approx(SIGMAS[-1], rel=1e-15)


def test_table_sigmas_map_to_exactly_their_integer_timesteps() -> None:
    ddpm = DiscreteDDPM(lambda x, t: x, ALPHAS_CUMPROD.tolist())
    np.testing.assert_array_equal(ddpm.sigma_to_t(ddpm.sigmas).numpy(), np.arange(len(SIGMAS), dtype=np.float64))
    np.testing.assert_allclose(ddpm.t_to_sigma(torch.arange(len(SIGMAS))).numpy(), SIGMAS, rtol=1e-14)


def test_sigma_to_t_interpolates_in_log_sigma_and_t_to_sigma_inverts_it() -> None:
    ddpm = DiscreteDDPM(lambda x, t: x, ALPHAS_CUMPROD)
    sigma = np.exp(np.random.default_rng(1).uniform(np.log(SIGMAS[0]), np.log(SIGMAS[-1]), size=200))
    t = ddpm.sigma_to_t(torch.from_numpy(sigma))
    np.testing.assert_allclose(t.numpy(), _t_by_hand(sigma), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(ddpm.t_to_sigma(t).numpy(), sigma, rtol=1e-12)
    fractional_t = np.random.default_rng(2).uniform(0, len(SIGMAS) - 1, size=200)
    np.testing.assert_allclose(ddpm.t_to_sigma(fractional_t.tolist()[0]).item(), _sigma_by_hand(fractional_t[:1])[0])
    np.testing.assert_allclose(ddpm.sigma_to_t(ddpm.t_to_sigma(torch.from_numpy(fractional_t))).numpy(), fractional_t)


def test_noise_levels_outside_the_table_clamp_to_its_end_timesteps() -> None:
    ddpm = DiscreteDDPM(lambda x, t: x, ALPHAS_CUMPROD)
    t = ddpm.sigma_to_t(torch.tensor([SIGMAS[0] / 10, SIGMAS[-1] * 10], dtype=torch.float64))
    np.testing.assert_array_equal(t.numpy(), [0.0, len(SIGMAS) - 1])


def test_model_receives_the_vp_scaled_input_and_fractional_timestep() -> None:
    calls = []

    def model(x_vp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append((x_vp.clone(), t.clone()))
        return torch.zeros_like(x_vp)

    sigma = np.array([0.05, 1.0, 40.0])
    x = torch.randn(3, 1, 3, dtype=torch.float64)
    DiscreteDDPM(model, ALPHAS_CUMPROD)(x, torch.from_numpy(sigma))
    (x_vp, t), = calls
    np.testing.assert_allclose(x_vp.numpy(), x.numpy() / np.sqrt(1 + sigma[:, None, None] ** 2), rtol=1e-15)
    np.testing.assert_allclose(t.numpy(), _t_by_hand(sigma), rtol=1e-12)
    assert t.shape == (3,) and t.dtype == torch.float64


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_discrete_model_with_exact_gaussian_prediction_reproduces_gaussian_denoiser(prediction: str) -> None:
    ddpm = DiscreteDDPM(_exact_gaussian_model(prediction, _sigma_by_hand), ALPHAS_CUMPROD, prediction=prediction)
    sigma = np.concatenate([SIGMAS[[0, 17, 500, 999]], np.geomspace(SIGMAS[0] * 1.01, SIGMAS[-1] * 0.99, 6)])
    x, sigma = _noisy_batch(sigma), torch.from_numpy(sigma)
    torch.testing.assert_close(ddpm(x, sigma), GAUSSIAN(x, sigma), rtol=1e-10, atol=1e-10)


def _cosine_sigma_by_hand(t: np.ndarray) -> np.ndarray:
    alpha_bar = np.cos(np.pi * t / 2) ** 2
    return np.sqrt((1 - alpha_bar) / alpha_bar)


def test_cosine_schedule_puts_t_one_half_at_alpha_bar_cos_squared_pi_over_4() -> None:
    ddpm = ContinuousDDPM.cosine(lambda x, t: x)
    alpha_bar = math.cos(math.pi / 4) ** 2
    sigma = math.sqrt((1 - alpha_bar) / alpha_bar)
    assert ddpm.sigma_to_t(torch.tensor(sigma, dtype=torch.float64)).item() == pytest.approx(0.5, rel=1e-14)
    t = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(ddpm.t_to_sigma(torch.from_numpy(t)).numpy(), _cosine_sigma_by_hand(t), rtol=1e-12)
    np.testing.assert_allclose(ddpm.sigma_to_t(ddpm.t_to_sigma(torch.from_numpy(t))).numpy(), t, rtol=1e-12)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_continuous_model_with_exact_gaussian_prediction_reproduces_gaussian_denoiser(prediction: str) -> None:
    ddpm = ContinuousDDPM.cosine(_exact_gaussian_model(prediction, _cosine_sigma_by_hand), prediction=prediction)
    sigma = np.geomspace(0.01, 80.0, 7)
    x, sigma = _noisy_batch(sigma), torch.from_numpy(sigma)
    torch.testing.assert_close(ddpm(x, sigma), GAUSSIAN(x, sigma), rtol=1e-9, atol=1e-9)


def test_continuous_model_uses_the_given_schedule_functions() -> None:
    received = []

    def model(x_vp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        received.append(t.clone())
        return x_vp

    # Linear alpha_bar(t) = 1 - t: t = 1 - alpha_bar = sigma^2 / (1 + sigma^2).
    ddpm = ContinuousDDPM(model, alpha_bar=lambda t: 1 - t, alpha_bar_inverse=lambda a: 1 - a)
    sigma = torch.tensor([0.5, 2.0], dtype=torch.float64)
    ddpm(torch.ones(2, 3, dtype=torch.float64), sigma)
    torch.testing.assert_close(received[0], sigma**2 / (1 + sigma**2), rtol=1e-15, atol=0)
    torch.testing.assert_close(ddpm.t_to_sigma(received[0]), sigma, rtol=1e-14, atol=0)


def test_scalar_sigma_equals_batch_of_equal_sigmas() -> None:
    ddpm = DiscreteDDPM(lambda x, t: torch.sin(x) * t[:, None], ALPHAS_CUMPROD, prediction="v_prediction")
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(ddpm(x, 2.5), ddpm(x, torch.full((4,), 2.5, dtype=torch.float64)), rtol=0, atol=0)


@pytest.mark.parametrize("build", [DiscreteDDPM, ContinuousDDPM.cosine], ids=["discrete", "cosine"])
def test_unknown_prediction_type_is_rejected(build) -> None:
    arguments = (ALPHAS_CUMPROD,) if build is DiscreteDDPM else ()
    expected = r"unknown prediction type 'score'; expected one of 'epsilon', 'sample', 'v_prediction'"
    with pytest.raises(ValueError, match=expected):
        build(lambda x, t: x, *arguments, prediction="score")


@pytest.mark.parametrize(
    ("alphas_cumprod", "message"),
    [
        (ALPHAS_CUMPROD[::-1].copy(), "strictly decreasing"),
        (np.array([1.0, 0.5]), "strictly between 0 and 1"),
        (np.array([0.5]), "at least 2 entries"),
        (np.ones((2, 2)) * 0.5, "1-D"),
    ],
)
def test_invalid_alphas_cumprod_are_rejected(alphas_cumprod: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiscreteDDPM(lambda x, t: x, alphas_cumprod)


def test_sigma_of_wrong_shape_is_rejected() -> None:
    ddpm = DiscreteDDPM(lambda x, t: x, ALPHAS_CUMPROD)
    with pytest.raises(ValueError, match=r"sigma must be a scalar or of shape \[batch=2\]"):
        ddpm(torch.zeros(2, 3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))

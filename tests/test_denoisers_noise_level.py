"""Time-free epsilon models and noise-level prediction (fastai course22p2 lesson 22) against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probflow.denoisers import NoiseLevelDenoiser, NoiseLevelPredictor, TimeFreeEpsilon
from probflow.errors import DenoiserOutputError

ALPHA_BAR = np.array([0.05, 0.4, 0.5, 0.6, 0.99])


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _clamped_to_batch_median(alpha_bar: np.ndarray) -> np.ndarray:
    median = np.sort(alpha_bar)[(len(alpha_bar) - 1) // 2]  # torch.median's lower middle value
    return np.clip(alpha_bar, median / 2, median * 2)


def _fixed_logits(logits: np.ndarray):
    return lambda x_vp: torch.from_numpy(logits)


@pytest.mark.parametrize("alpha_bar", [ALPHA_BAR, np.array([0.02, 0.3, 0.45, 0.97])])
def test_predictor_is_sigmoid_of_logits_clamped_to_half_and_twice_the_batch_median(alpha_bar: np.ndarray) -> None:
    predictor = NoiseLevelPredictor(_fixed_logits(_logit(alpha_bar)))
    predicted = predictor(torch.zeros(len(alpha_bar), 2, dtype=torch.float64))
    np.testing.assert_allclose(predicted.numpy(), _clamped_to_batch_median(alpha_bar), rtol=1e-14)


def test_predictor_without_clamp_accepts_column_logits() -> None:
    predictor = NoiseLevelPredictor(_fixed_logits(_logit(ALPHA_BAR)[:, None]), clamp_to_batch_median=False)
    predicted = predictor(torch.zeros(len(ALPHA_BAR), 2, dtype=torch.float64))
    assert predicted.shape == (len(ALPHA_BAR),)
    np.testing.assert_allclose(predicted.numpy(), ALPHA_BAR, rtol=1e-14)


def test_median_clamp_couples_the_samples_of_a_batch() -> None:
    def regressor(x_vp: torch.Tensor) -> torch.Tensor:
        return x_vp[:, 0]  # the first pixel is the logit

    predictor = NoiseLevelPredictor(regressor)
    batch = torch.from_numpy(_logit(np.array([0.1, 0.5, 0.6])))[:, None]
    other_batch = batch.clone()
    other_batch[1:] = torch.from_numpy(_logit(np.array([0.15, 0.18])))[:, None]
    assert predictor(batch)[0].item() == pytest.approx(0.25)
    assert predictor(other_batch)[0].item() == pytest.approx(0.1)


def test_regressor_output_of_wrong_shape_is_rejected() -> None:
    predictor = NoiseLevelPredictor(lambda x_vp: torch.zeros(3, 2))
    with pytest.raises(DenoiserOutputError, match=r"logits must have shape \[3\] or \[3, 1\], got \(3, 2\)"):
        predictor(torch.zeros(3, 4))


def test_time_free_epsilon_never_passes_sigma_to_the_network() -> None:
    received = []

    def eps_net(x_vp: torch.Tensor) -> torch.Tensor:
        received.append(x_vp.clone())
        return torch.tanh(x_vp)

    sigma = np.array([0.1, 1.0, 20.0])
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    denoised = TimeFreeEpsilon(eps_net)(x, torch.from_numpy(sigma)).numpy()
    x_vp = x.numpy() / np.sqrt(1 + sigma[:, None] ** 2)
    np.testing.assert_allclose(received[0].numpy(), x_vp, rtol=1e-15)
    # x - sigma*eps cancels at large sigma: allow a few ulps of |x| in absolute terms.
    np.testing.assert_allclose(denoised, x.numpy() - sigma[:, None] * np.tanh(x_vp), rtol=1e-13, atol=1e-15)


def _eps_net(x_vp: torch.Tensor) -> torch.Tensor:
    return 0.5 * x_vp + 0.1


@pytest.mark.parametrize("clip", [2.0, None])
def test_noise_level_denoiser_removes_noise_at_the_predicted_level(clip: float | None) -> None:
    alpha_bar = np.array([0.2, 0.7, 0.95])
    denoiser = NoiseLevelDenoiser(_eps_net, lambda x_vp: torch.from_numpy(alpha_bar), clip=clip)
    sigma = np.array([3.0, 0.5, 0.1])
    x = 3 * torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x_vp = x.numpy() / np.sqrt(1 + sigma[:, None] ** 2)
    a = alpha_bar[:, None]
    expected = (x_vp - np.sqrt(1 - a) * (0.5 * x_vp + 0.1)) / np.sqrt(a)
    if clip is not None:
        expected = np.clip(expected, -clip, clip)
        assert np.any(np.abs(expected) == clip)
    np.testing.assert_allclose(denoiser(x, torch.from_numpy(sigma)).numpy(), expected, rtol=1e-13)


def test_predict_alpha_bar_sees_the_vp_scaled_input() -> None:
    predictor = NoiseLevelPredictor(lambda x_vp: x_vp[:, 0], clamp_to_batch_median=False)
    denoiser = NoiseLevelDenoiser(_eps_net, predictor)
    x = torch.tensor([[2.0, 0.0], [-1.0, 5.0]], dtype=torch.float64)
    sigma = np.array([1.0, 3.0])
    first_pixel_vp = x[:, 0].numpy() / np.sqrt(1 + sigma**2)
    np.testing.assert_allclose(
        denoiser.predict_alpha_bar(x, torch.from_numpy(sigma)).numpy(), 1 / (1 + np.exp(-first_pixel_vp)), rtol=1e-14
    )


def test_noise_level_denoiser_with_the_true_noise_level_equals_time_free_epsilon() -> None:
    sigma = torch.tensor([0.05, 0.8, 12.0], dtype=torch.float64)
    true_alpha_bar = 1 / (1 + sigma**2)
    oracle = NoiseLevelDenoiser(_eps_net, lambda x_vp: true_alpha_bar, clip=None)
    x = torch.randn(3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(oracle(x, sigma), TimeFreeEpsilon(_eps_net)(x, sigma), rtol=1e-12, atol=1e-12)


def test_predicted_alpha_bar_of_wrong_shape_is_rejected() -> None:
    denoiser = NoiseLevelDenoiser(_eps_net, lambda x_vp: torch.full((2, 2), 0.5))
    with pytest.raises(DenoiserOutputError, match=r"alpha_bar must have shape \[3\] or \[3, 1\]"):
        denoiser(torch.zeros(3, 4), 1.0)

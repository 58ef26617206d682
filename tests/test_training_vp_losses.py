"""The cosine-schedule epsilon loss, its time-free variant and the noise-level loss, on Gaussian data."""

import math

import pytest
import torch

from probflow.training import CosineEpsilonLoss, NoiseLevelLoss


def test_cosine_loss_of_ideal_epsilon_predictor_on_unit_gaussian_is_mean_alpha_bar():
    # x0 ~ N(0, 1): x_t ~ N(0, 1), E[eps | x_t] = sqrt(1 - a) x_t and the residual variance is a = alpha_bar(t),
    # so the expected loss is E_t[cos^2(pi t / 2)] = 1/2 (the clamp at 0.999 changes it by < 1e-6).
    def ideal(x_t, t):
        alpha_bar = torch.cos(t * math.pi / 2) ** 2
        return (1 - alpha_bar).sqrt()[:, None, None, None] * x_t

    clean = torch.randn(20000, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    value = CosineEpsilonLoss()(ideal, clean, torch.Generator().manual_seed(1))
    assert value.item() == pytest.approx(0.5, abs=0.01)


def test_time_free_loss_hides_the_time_and_cosine_loss_clamps_it():
    seen = []

    def recorder(x_t, t):
        seen.append(t)
        return torch.zeros_like(x_t)

    clean = torch.zeros(5000, 1, 1, 1, dtype=torch.float64)
    CosineEpsilonLoss(time_input=False)(recorder, clean)
    CosineEpsilonLoss(t_max=0.5)(recorder, clean)
    assert seen[0] is None
    assert seen[1].max().item() == 0.5 and 0 <= seen[1].min().item() < 0.01


def test_noise_level_loss_of_constant_zero_prediction_is_logistic_variance():
    clean = torch.randn(40000, 1, 1, 1, dtype=torch.float64)
    value = NoiseLevelLoss()(lambda x: torch.zeros(x.shape[0], dtype=x.dtype), clean, torch.Generator().manual_seed(2))
    assert value.item() == pytest.approx(math.pi**2 / 3, rel=0.05)


def test_noise_level_loss_target_is_logit_of_each_images_own_alpha_bar():
    # With x0 = 0 the image is sqrt(1 - a) eps, so 1 - mean(x_t^2) estimates a per image. Its logit is exact to a
    # few percent except for small a, where the estimate's absolute error dominates: the oracle scores well below
    # the constant predictor's pi^2/3, whereas against a target of logit(1 - a) it would score about 4 pi^2/3.
    clean = torch.zeros(64, 1, 64, 64, dtype=torch.float64)

    def oracle(x_t):
        alpha_bar = 1 - x_t.square().mean(dim=(1, 2, 3))
        return torch.logit(alpha_bar.clamp(1e-4, 1 - 1e-4))

    value = NoiseLevelLoss()(oracle, clean, torch.Generator().manual_seed(3))
    assert value.item() < 1.0

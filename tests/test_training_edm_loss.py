"""The EDM loss: its weight, the equivalence with the lesson's target form, and its optimum on Gaussian data."""


import pytest
import torch

from probflow.denoisers import EDMPrecond
from probflow.training import EDMLoss


def test_weight_is_inverse_square_of_edm_output_scaling():
    loss = EDMLoss(sigma_data=0.66)
    sigma = torch.tensor([0.002, 0.3, 1.0, 80.0], dtype=torch.float64)
    c_out = sigma * 0.66 / torch.sqrt(sigma**2 + 0.66**2)
    torch.testing.assert_close(loss.weight(sigma), 1 / c_out**2)


def test_weighted_error_equals_lesson_target_form_under_plain_mse():
    torch.manual_seed(0)
    sigma_data = 0.66
    weights = torch.randn(4, dtype=torch.float64)

    def net(x_in, c_noise):
        return torch.tanh(weights[0] * x_in + weights[1]) * c_noise[:, None, None, None] + weights[2] * x_in.square()

    clean = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    noise = torch.randn_like(clean)
    sigma = torch.exp(-1.2 + 1.2 * torch.randn(6, dtype=torch.float64))
    edm_form = EDMLoss(sigma_data=sigma_data).weighted_error(EDMPrecond(net, sigma_data), clean, sigma, noise)

    s = sigma[:, None, None, None]
    noisy = clean + s * noise
    c_skip = sigma_data**2 / (s**2 + sigma_data**2)
    c_out = s * sigma_data / (s**2 + sigma_data**2).sqrt()
    c_in = 1 / (s**2 + sigma_data**2).sqrt()
    lesson_form = torch.mean((net(c_in * noisy, sigma.log() / 4) - (clean - c_skip * noisy) / c_out) ** 2)
    torch.testing.assert_close(edm_form, lesson_form, rtol=1e-12, atol=0)


def test_loss_of_ideal_denoiser_on_gaussian_data_is_one():
    # y ~ N(0, sd^2): E[y | x] = sd^2 / (sigma^2 + sd^2) x and Var[y | x] = sigma^2 sd^2 / (sigma^2 + sd^2),
    # so lambda(sigma) Var[y | x] = 1 at every sigma.
    sigma_data = 0.75
    generator = torch.Generator().manual_seed(1)
    clean = sigma_data * torch.randn(4000, 1, 4, 4, generator=generator, dtype=torch.float64)

    def ideal(x, sigma):
        return sigma_data**2 / (sigma[:, None, None, None] ** 2 + sigma_data**2) * x

    value = EDMLoss(sigma_data=sigma_data)(ideal, clean, generator=generator)
    assert value.item() == pytest.approx(1.0, abs=0.03)


def test_sigma_is_log_normal_with_p_mean_and_p_std():
    recorded = []

    def recorder(x, sigma):
        recorded.append(sigma)
        return x

    clean = torch.zeros(20000, 1, 1, 1, dtype=torch.float64)
    EDMLoss(p_mean=-1.2, p_std=1.2)(recorder, clean, torch.Generator().manual_seed(2))
    log_sigma = recorded[0].log()
    assert log_sigma.mean().item() == pytest.approx(-1.2, abs=0.03)
    assert log_sigma.std().item() == pytest.approx(1.2, abs=0.03)

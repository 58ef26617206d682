"""EDM Table 1 preconditioning rows against their formulas, computed by hand in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from probflow.denoisers import EDMPrecond, Gaussian, IDDPMPrecond, VEPrecond, VPPrecond

SIGMA = np.array([0.002, 0.05, 1.0, 7.0, 80.0])


class RecordingNet:
    """Returns a fixed output F and records ``(x_in, c_noise)``."""

    def __init__(self, output: torch.Tensor) -> None:
        self.output = output
        self.x_in = torch.empty(0)
        self.c_noise = torch.empty(0)

    def __call__(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        self.x_in, self.c_noise = x_in.clone(), c_noise.clone()
        return self.output


def _run(precond_class, sigma: np.ndarray, **kwargs):
    """Evaluate a preconditioned denoiser on random x with a recording net; return numpy arrays."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(len(sigma), 3, generator=generator, dtype=torch.float64)
    net_output = torch.randn(len(sigma), 3, generator=generator, dtype=torch.float64)
    net = RecordingNet(net_output)
    denoised = precond_class(net, **kwargs)(x, torch.from_numpy(sigma))
    return x.numpy(), net_output.numpy(), net.x_in.numpy(), net.c_noise.numpy(), denoised.numpy()


def test_edm_row_matches_table_1() -> None:
    x, net_output, x_in, c_noise, denoised = _run(EDMPrecond, SIGMA, sigma_data=0.5)
    s = SIGMA[:, None]
    np.testing.assert_allclose(x_in, x / np.sqrt(s**2 + 0.25), rtol=1e-14)
    np.testing.assert_allclose(c_noise, np.log(SIGMA) / 4, rtol=1e-14)
    expected = 0.25 / (s**2 + 0.25) * x + s * 0.5 / np.sqrt(s**2 + 0.25) * net_output
    np.testing.assert_allclose(denoised, expected, rtol=1e-13)


def test_edm_with_the_exact_training_target_reproduces_the_gaussian_denoiser() -> None:
    sigma_data = 0.5
    gaussian = Gaussian(mean=torch.tensor([0.3, -0.2, 0.0]), std=torch.tensor([0.5, 0.2, 0.9]))

    def exact_target(x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        # Undo EDM's c_noise and c_in by hand, then F = (D - c_skip x) / c_out.
        sigma = torch.exp(4 * c_noise)[:, None]
        x = x_in * torch.sqrt(sigma**2 + sigma_data**2)
        c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        c_out = sigma * sigma_data / torch.sqrt(sigma**2 + sigma_data**2)
        return (gaussian(x, sigma[:, 0]) - c_skip * x) / c_out

    precond = EDMPrecond(exact_target, sigma_data=sigma_data)
    assert precond.sigma_data == sigma_data
    x = torch.randn(len(SIGMA), 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 4
    sigma = torch.from_numpy(SIGMA)
    torch.testing.assert_close(precond(x, sigma), gaussian(x, sigma), rtol=1e-12, atol=1e-12)


def test_vp_row_matches_table_1_and_c_noise_inverts_the_vp_schedule() -> None:
    beta_d, beta_min, M = 19.9, 0.1, 1000
    x, net_output, x_in, c_noise, denoised = _run(VPPrecond, SIGMA, beta_d=beta_d, beta_min=beta_min, M=M)
    s = SIGMA[:, None]
    np.testing.assert_allclose(x_in, x / np.sqrt(s**2 + 1), rtol=1e-14)
    np.testing.assert_allclose(denoised, x - s * net_output, rtol=1e-13)
    t = (np.sqrt(beta_min**2 + 2 * beta_d * np.log1p(SIGMA**2)) - beta_min) / beta_d
    np.testing.assert_allclose(c_noise, (M - 1) * t, rtol=1e-12)
    # The VP schedule sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1) maps c_noise / (M - 1) back to sigma.
    sigma_back = np.sqrt(np.expm1(0.5 * beta_d * (c_noise / (M - 1)) ** 2 + beta_min * c_noise / (M - 1)))
    np.testing.assert_allclose(sigma_back, SIGMA, rtol=1e-10)


def test_ve_row_matches_table_1() -> None:
    x, net_output, x_in, c_noise, denoised = _run(VEPrecond, SIGMA)
    np.testing.assert_array_equal(x_in, x)
    np.testing.assert_allclose(c_noise, np.log(SIGMA / 2), rtol=1e-14)
    np.testing.assert_allclose(denoised, x + SIGMA[:, None] * net_output, rtol=1e-13)


def _iddpm_levels_by_hand(C_1: float, C_2: float, M: int) -> np.ndarray:
    alpha_bar = np.sin(0.5 * np.pi * np.arange(M + 1) / (M * (C_2 + 1))) ** 2
    u = np.zeros(M + 1)
    for j in range(M, 0, -1):
        u[j - 1] = np.sqrt((u[j] ** 2 + 1) / max(alpha_bar[j - 1] / alpha_bar[j], C_1) - 1)
    return u


@pytest.mark.parametrize(("C_1", "C_2", "M"), [(0.001, 0.008, 1000), (0.01, 0.02, 50)])
def test_iddpm_levels_and_c_noise_match_table_1(C_1: float, C_2: float, M: int) -> None:
    u = _iddpm_levels_by_hand(C_1, C_2, M)
    precond = IDDPMPrecond(lambda x_in, c_noise: x_in, C_1=C_1, C_2=C_2, M=M)
    np.testing.assert_allclose(precond.u.numpy(), u, rtol=1e-12)
    assert np.all(np.diff(u) < 0) and u[-1] == 0
    sigma = np.concatenate([u[[0, 3, M // 2, M - 1]], np.exp(np.random.default_rng(0).uniform(-6, 5, size=20))])
    _, _, _, c_noise, _ = _run(IDDPMPrecond, sigma, C_1=C_1, C_2=C_2, M=M)
    expected = M - 1 - np.abs(u[None, :] - sigma[:, None]).argmin(axis=1)
    np.testing.assert_array_equal(c_noise, expected)
    np.testing.assert_array_equal(c_noise[:4], [M - 1, M - 4, M - 1 - M // 2, 0])


def test_iddpm_output_uses_the_vp_scalings() -> None:
    x, net_output, x_in, _, denoised = _run(IDDPMPrecond, SIGMA)
    s = SIGMA[:, None]
    np.testing.assert_allclose(x_in, x / np.sqrt(s**2 + 1), rtol=1e-14)
    np.testing.assert_allclose(denoised, x - s * net_output, rtol=1e-13)


@pytest.mark.parametrize("precond_class", [EDMPrecond, VPPrecond, VEPrecond, IDDPMPrecond])
def test_scalar_sigma_equals_batch_of_equal_sigmas(precond_class) -> None:
    precond = precond_class(lambda x_in, c_noise: torch.cos(x_in) * c_noise[:, None])
    x = torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(precond(x, 0.9), precond(x, torch.full((3,), 0.9, dtype=torch.float64)), rtol=0, atol=0)


def test_sigma_of_wrong_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"sigma must be a scalar or of shape \[batch=2\]"):
        EDMPrecond(lambda x_in, c_noise: x_in)(torch.zeros(2, 3), torch.ones(2, 1))


def test_iddpm_levels_are_a_buffer_that_follows_the_module() -> None:
    precond = IDDPMPrecond(torch.nn.Identity(), M=10)
    assert "u" in dict(precond.named_buffers()) and precond.u.dtype == torch.float64
    assert math.isclose(float(precond.u[-1]), 0.0)

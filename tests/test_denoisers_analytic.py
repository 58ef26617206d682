"""Analytic denoisers against independent computations: autograd scores, quadrature, explicit densities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import multivariate_normal

from probflow.denoisers import Empirical, Gaussian, GaussianMixture

MEAN = torch.tensor([[0.5, -1.0, 0.0], [2.0, 0.1, -0.3]], dtype=torch.float64)
STD = torch.tensor([[0.3, 1.2, 0.05], [1.0, 0.7, 2.0]], dtype=torch.float64)
GAUSSIAN = Gaussian(MEAN, STD)
SIGMA = torch.tensor([1e-3, 0.1, 1.0, 10.0, 100.0], dtype=torch.float64)


def _noisy(distribution, sigma: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return distribution.sample_noisy(len(sigma), sigma, generator=torch.Generator().manual_seed(seed))


def test_gaussian_denoiser_is_tweedie_with_the_autograd_score_of_the_noisy_density() -> None:
    x = _noisy(GAUSSIAN, SIGMA).requires_grad_(True)
    sigma = SIGMA.reshape(-1, 1, 1)
    noisy_density = torch.distributions.Normal(MEAN, torch.sqrt(STD**2 + sigma**2))
    (score,) = torch.autograd.grad(noisy_density.log_prob(x).sum(), x)
    torch.testing.assert_close(GAUSSIAN(x.detach(), SIGMA), x.detach() + sigma**2 * score, rtol=1e-12, atol=1e-12)


def test_gaussian_exact_flow_solves_the_probability_flow_ode() -> None:
    x = _noisy(GAUSSIAN, torch.full((4,), 2.0, dtype=torch.float64))
    for sigma in (0.05, 0.7, 3.0, 40.0):
        step = 1e-5 * sigma
        ahead, behind = GAUSSIAN.exact_flow(x, 2.0, sigma + step), GAUSSIAN.exact_flow(x, 2.0, sigma - step)
        derivative = (ahead - behind) / (2 * step)
        on_path = GAUSSIAN.exact_flow(x, 2.0, sigma)
        torch.testing.assert_close(derivative, (on_path - GAUSSIAN(on_path, sigma)) / sigma, rtol=1e-8, atol=1e-9)


def test_gaussian_exact_flow_composes_and_is_the_identity_at_equal_sigmas() -> None:
    x = _noisy(GAUSSIAN, torch.full((5,), 5.0, dtype=torch.float64))
    sigma_from, sigma_mid, sigma_to = 5.0, torch.linspace(0.3, 3.0, 5, dtype=torch.float64), 0.01
    two_steps = GAUSSIAN.exact_flow(GAUSSIAN.exact_flow(x, sigma_from, sigma_mid), sigma_mid, sigma_to)
    torch.testing.assert_close(two_steps, GAUSSIAN.exact_flow(x, sigma_from, sigma_to), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(GAUSSIAN.exact_flow(x, 1.5, 1.5), x, rtol=1e-15, atol=1e-15)


def test_gaussian_samples_have_the_stated_mean_and_std() -> None:
    n = 20000
    clean = GAUSSIAN.sample(n, generator=torch.Generator().manual_seed(0))
    noisy = GAUSSIAN.sample_noisy(n, 0.5, generator=torch.Generator().manual_seed(1))
    assert clean.shape == (n, *GAUSSIAN.shape) == (n, 2, 3)
    tolerance = 5 / np.sqrt(n)
    torch.testing.assert_close(clean.mean(0), MEAN, rtol=0, atol=tolerance * STD.max().item())
    torch.testing.assert_close(clean.std(0) / STD, torch.ones_like(STD), rtol=0, atol=tolerance)
    torch.testing.assert_close(noisy.std(0) ** 2 / (STD**2 + 0.25), torch.ones_like(STD), rtol=0, atol=2 * tolerance)


def test_gaussian_mean_and_std_broadcast_to_the_sample_shape() -> None:
    gaussian = Gaussian(mean=0.0, std=torch.tensor([1.0, 2.0]), shape=(3, 2))
    assert gaussian.shape == (3, 2) and gaussian.mean.shape == (3, 2)
    with pytest.raises(ValueError, match=r"must broadcast to shape \(2, 3\)"):
        Gaussian(mean=0.0, std=torch.tensor([1.0, 2.0]), shape=(2, 3))


def test_mixture_with_one_component_equals_the_gaussian() -> None:
    mixture = GaussianMixture(MEAN[None], STD[None])
    x = _noisy(GAUSSIAN, SIGMA)
    torch.testing.assert_close(mixture(x, SIGMA), GAUSSIAN(x, SIGMA), rtol=1e-13, atol=1e-13)


def _posterior_mean_by_quadrature(means, stds, weights, x: float, sigma: float) -> float:
    """E[y | x] = int y p(y) N(x; y, sigma^2) dy / int p(y) N(x; y, sigma^2) dy on a fine grid (1-D Bayes)."""
    grid = np.linspace(-8.0, 8.0, 400001)
    prior = sum(w * np.exp(-0.5 * ((grid - m) / s) ** 2) / s for m, s, w in zip(means, stds, weights))
    joint = prior * np.exp(-0.5 * ((x - grid) / sigma) ** 2)
    return float(np.trapezoid(grid * joint, grid) / np.trapezoid(joint, grid))


def test_one_dimensional_mixture_matches_bayes_rule_by_quadrature() -> None:
    means, stds, weights = [-1.5, 0.2, 2.0], [0.3, 0.15, 0.6], [0.5, 0.2, 0.3]
    mixture = GaussianMixture(np.array(means)[:, None], stds, weights)
    for x, sigma in [(-1.0, 0.2), (0.5, 0.5), (1.2, 1.0), (3.5, 2.5)]:
        expected = _posterior_mean_by_quadrature(means, stds, weights, x, sigma)
        denoised = mixture(torch.tensor([[x]], dtype=torch.float64), sigma).item()
        assert denoised == pytest.approx(expected, rel=1e-8, abs=1e-9)


def test_diagonal_mixture_matches_bayes_rule_with_explicit_densities() -> None:
    rng = np.random.default_rng(0)
    means, stds, weights = rng.normal(size=(4, 2)), rng.uniform(0.1, 0.8, size=(4, 2)), np.array([0.1, 0.2, 0.3, 0.4])
    mixture = GaussianMixture(torch.from_numpy(means), torch.from_numpy(stds), torch.from_numpy(weights) * 7)
    x, sigma = rng.normal(size=(6, 2)), np.array([0.05, 0.2, 0.5, 1.0, 2.0, 5.0])
    expected = np.empty_like(x)
    for b in range(len(x)):
        variance = stds**2 + sigma[b] ** 2
        densities = [multivariate_normal(m, np.diag(v)).pdf(x[b]) for m, v in zip(means, variance)]
        joint = weights * np.array(densities)
        component_means = means + stds**2 / variance * (x[b] - means)
        expected[b] = joint @ component_means / joint.sum()
    denoised = mixture(torch.from_numpy(x), torch.from_numpy(sigma)).numpy()
    np.testing.assert_allclose(denoised, expected, rtol=1e-11, atol=1e-12)


def test_mixture_std_as_scalar_per_component_or_diagonal_agree() -> None:
    means = torch.randn(3, 2, 2, dtype=torch.float64)
    per_component = torch.tensor([0.2, 0.5, 1.0], dtype=torch.float64)
    x, sigma = torch.randn(4, 2, 2, dtype=torch.float64), torch.tensor([0.1, 0.5, 1.0, 3.0], dtype=torch.float64)
    isotropic = GaussianMixture(means, per_component)(x, sigma)
    diagonal = GaussianMixture(means, per_component.reshape(3, 1, 1).expand(3, 2, 2))(x, sigma)
    torch.testing.assert_close(isotropic, diagonal, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(
        GaussianMixture(means, 0.4)(x, sigma), GaussianMixture(means, [0.4, 0.4, 0.4])(x, sigma), rtol=0, atol=0
    )


def _tight_mixture() -> GaussianMixture:
    means = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5], [0.0, -1.5]], dtype=torch.float64)
    return GaussianMixture(means, 0.05, torch.tensor([0.1, 0.2, 0.3, 0.4]))


@pytest.mark.parametrize("sigma", [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0])
def test_tight_mixture_is_stable_in_float64_and_float32(sigma: float) -> None:
    mixture = _tight_mixture()
    sigmas = torch.full((256,), sigma, dtype=torch.float64)
    x = _noisy(mixture, sigmas)
    denoised64 = mixture(x, sigma)
    denoised32 = mixture(x.float(), sigma)
    assert denoised32.dtype == torch.float32
    assert torch.isfinite(denoised64).all() and torch.isfinite(denoised32).all()
    torch.testing.assert_close(denoised32.double(), denoised64, rtol=0, atol=2e-5 * max(1.0, sigma))
    if sigma <= 1e-2:
        # The noisy point sits deep inside one mode: D is that component's posterior mean, x pulled to its mean.
        nearest = torch.cdist(x, mixture.means).argmin(1)
        mean = mixture.means[nearest]
        component_posterior_mean = mean + 0.05**2 / (0.05**2 + sigma**2) * (x - mean)
        torch.testing.assert_close(denoised64, component_posterior_mean, rtol=1e-12, atol=1e-12)


def test_chunked_log_sum_exp_equals_a_single_chunk() -> None:
    means = torch.randn(37, 3, dtype=torch.float64)
    stds = torch.rand(37, dtype=torch.float64) + 0.1
    x, sigma = torch.randn(5, 3, dtype=torch.float64), torch.logspace(-2, 1, 5, dtype=torch.float64)
    one_chunk = GaussianMixture(means, stds)(x, sigma)
    component_at_a_time = GaussianMixture(means, stds, max_chunk_elements=1)(x, sigma)
    seven_at_a_time = GaussianMixture(means, stds, max_chunk_elements=5 * 3 * 7)(x, sigma)
    torch.testing.assert_close(component_at_a_time, one_chunk, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(seven_at_a_time, one_chunk, rtol=1e-13, atol=1e-14)


def test_mixture_samples_choose_components_by_weight() -> None:
    mixture = _tight_mixture()
    samples = mixture.sample(20000, generator=torch.Generator().manual_seed(0))
    frequencies = torch.bincount(torch.cdist(samples, mixture.means).argmin(1), minlength=4) / 20000
    weights = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    torch.testing.assert_close(frequencies.double(), weights, rtol=0, atol=0.02)


def test_empirical_matches_the_softmax_formula_written_out() -> None:
    data = torch.randn(50, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(4, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sigma = np.array([0.3, 0.8, 1.5, 4.0])
    flat_data, flat_x = data.reshape(50, -1).numpy(), x.reshape(4, -1).numpy()
    squared_distance = ((flat_x[:, None, :] - flat_data[None]) ** 2).sum(-1)
    expected = softmax(-squared_distance / (2 * sigma[:, None] ** 2), axis=1) @ flat_data
    denoised = Empirical(data, max_chunk_elements=6 * 4 * 9)(x, torch.from_numpy(sigma))
    np.testing.assert_allclose(denoised.reshape(4, -1).numpy(), expected, rtol=1e-12, atol=1e-13)


def test_empirical_returns_the_nearest_data_point_at_small_sigma() -> None:
    data = torch.randn(30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = data[[3, 17, 29]] + 0.05 * torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(Empirical(data)(x, 1e-3), data[[3, 17, 29]], rtol=0, atol=1e-12)


def test_empirical_is_the_zero_width_limit_of_a_kernel_density_mixture() -> None:
    data = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x, sigma = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0.3, 0.5, 1.0, 2.0, 5.0], dtype=torch.float64)
    kde = GaussianMixture(data, std=1e-5)(x, sigma)
    torch.testing.assert_close(Empirical(data)(x, sigma), kde, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GaussianMixture(torch.zeros(3, 2), torch.ones(2)), r"std must be a scalar, of shape \[3\]"),
        (lambda: GaussianMixture(torch.zeros(3, 2), -1.0), "non-negative"),
        (lambda: GaussianMixture(torch.zeros(3, 2), 1.0, torch.tensor([1.0, 0.0, 1.0])), "finite positive"),
        (lambda: GaussianMixture(torch.zeros(3), 1.0), r"means must have shape \[K, \*sample_shape\]"),
        (lambda: Gaussian(0.0, -0.5), "non-negative"),
    ],
)
def test_invalid_parameters_are_rejected(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("denoiser", [GAUSSIAN, GaussianMixture(MEAN[None], STD[None]), Empirical(MEAN[None])])
def test_input_of_the_wrong_sample_shape_is_rejected(denoiser) -> None:
    assert denoiser.shape == (2, 3)
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 2, 3\], got \(4, 3, 2\)"):
        denoiser(torch.zeros(4, 3, 2, dtype=torch.float64), 1.0)

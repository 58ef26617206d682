"""Strong and weak order estimates: weak errors against the exact Euler-Maruyama variance, coupling, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from probflow.convergence import (
    CoupledStudy, estimate_strong_order, estimate_weak_order, gaussian_test_functions, karras_schedule, strong_order,
    weak_order,
)
from probflow.denoisers import Gaussian, GaussianMixture
from probflow.solvers import EulerAncestral, EulerMaruyama, Heun, TorchSDE

PROBLEM = Gaussian([0.5], [0.3])
GRID = {"sigma_max": 20.0, "sigma_min": 0.01, "rho": 7.0}


def _euler_maruyama_variance(num_steps: int) -> float:
    """Var x_N of Euler-Maruyama on the Gaussian problem, propagated exactly through its affine steps.

    With beta = 1/sigma, D - x = -r (x - mu), r = sigma^2/(s^2 + sigma^2): x' - mu = (1 - c r)(x - mu) + w z with
    c = 2 dtau / sigma and w = sqrt(2 sigma dtau), so v' = (1 - c r)^2 v + w^2, from v = s^2 + sigma_max^2.
    """
    s2 = float(PROBLEM.std) ** 2
    sigmas = karras_schedule(GRID["sigma_max"], GRID["sigma_min"], GRID["rho"])(num_steps).tolist()
    variance = s2 + GRID["sigma_max"] ** 2
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        dtau = sigma - sigma_next
        shrink = 1.0 - 2.0 * dtau / sigma * sigma**2 / (s2 + sigma**2)
        variance = shrink**2 * variance + 2.0 * sigma * dtau
    return variance


def _study(solver, samples: int = 8192, steps=(8, 16, 32), seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    study = CoupledStudy(steps, **GRID)
    return study.run(solver, PROBLEM, PROBLEM.sample_noisy(samples, GRID["sigma_max"], generator), generator)


def test_weak_errors_match_the_exactly_propagated_euler_maruyama_variance() -> None:
    solves = _study(EulerMaruyama())
    estimate = weak_order(solves, PROBLEM)
    exact_variance = float(PROBLEM.std) ** 2 + GRID["sigma_min"] ** 2
    reference_variance = _euler_maruyama_variance(solves.study.reference_steps)
    reference_values = gaussian_test_functions(solves.reference.x, PROBLEM, GRID["sigma_min"])
    for num_steps, error, level in zip(solves.study.steps, estimate.errors, solves.levels):
        expected = abs(_euler_maruyama_variance(num_steps) - reference_variance) / exact_variance
        difference = gaussian_test_functions(level.x, PROBLEM, GRID["sigma_min"]) - reference_values
        noise = 4.0 * float(difference.std(dim=1).sum()) / math.sqrt(difference.shape[1])
        assert error == pytest.approx(expected, abs=noise)
    # The reference's moments against the exact Gaussian ones: its own bias plus Monte Carlo noise.
    reference_bias = abs(reference_variance / exact_variance - 1.0)
    assert estimate.reference_error == pytest.approx(reference_bias, abs=4.0 * math.sqrt(3.0 / 8192))


def test_strong_order_does_not_depend_on_which_accurate_reference_is_used() -> None:
    x = PROBLEM.sample_noisy(256, GRID["sigma_max"], torch.Generator().manual_seed(1))
    same = estimate_strong_order(EulerMaruyama(), PROBLEM, x, steps=(16, 32, 64),
                                 generator=torch.Generator().manual_seed(2), **GRID)
    higher = estimate_strong_order(EulerMaruyama(), PROBLEM, x, steps=(16, 32, 64), reference_solver=TorchSDE("heun"),
                                   generator=torch.Generator().manual_seed(2), **GRID)
    assert same.order == pytest.approx(higher.order, abs=0.1)
    assert same.reference_error < same.errors[-1] / 8


def test_hand_written_and_torchsde_euler_maruyama_give_identical_strong_errors() -> None:
    hand, backend = _study(EulerMaruyama(), samples=64), _study(TorchSDE("euler"), samples=64)
    assert strong_order(hand, PROBLEM).errors == pytest.approx(strong_order(backend, PROBLEM).errors, rel=1e-9)


def test_reference_grid_is_a_common_refinement_of_every_level() -> None:
    study = CoupledStudy((12, 16, 40), reference_factor=16)
    assert all(study.reference_steps % n == 0 for n in study.steps)
    assert study.reference_steps >= 16 * 40


def test_a_sampler_that_misses_the_data_distribution_is_flagged() -> None:
    with pytest.warns(RuntimeWarning, match="does not converge to the data distribution"):
        weak_order(_study(EulerAncestral(s_noise=1.3), samples=4096), PROBLEM)


def test_the_strong_order_estimate_accepts_mixtures() -> None:
    mixture = GaussianMixture([[-1.0], [1.0]], std=0.2)
    x = mixture.sample_noisy(128, 20.0, generator=torch.Generator().manual_seed(3))
    estimate = estimate_strong_order(EulerMaruyama(), mixture, x, steps=(32, 64, 128),
                                     generator=torch.Generator().manual_seed(4), **GRID)
    assert estimate.order == pytest.approx(1.0, abs=0.25)


def test_bad_input_is_refused() -> None:
    x = PROBLEM.sample_noisy(4, 20.0)
    with pytest.raises(ValueError, match="deterministic"):
        estimate_strong_order(Heun(), PROBLEM, x, steps=(8, 16))
    with pytest.raises(TypeError, match="must be a Gaussian"):
        estimate_weak_order(EulerMaruyama(), GaussianMixture([[0.0]], std=1.0), steps=(8, 16))
    with pytest.raises(ValueError, match="num_samples"):
        estimate_weak_order(EulerMaruyama(), PROBLEM, num_samples=1, steps=(8, 16))
    with pytest.raises(ValueError, match="steps must"):
        CoupledStudy((16, 8))

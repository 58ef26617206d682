"""The dopri8 reference against the exact Gaussian flow, and its error estimate."""

from __future__ import annotations

import pytest
import torch

from probflow.convergence import ode_reference, rms_difference
from probflow.denoisers import Gaussian, GaussianMixture

GAUSSIAN = Gaussian([0.5, -1.0, 2.0], [0.05, 0.3, 1.0])


def _start(sigma_max: float, seed: int = 0) -> torch.Tensor:
    return GAUSSIAN.sample_noisy(4, sigma_max, generator=torch.Generator().manual_seed(seed))


def test_rms_difference_is_the_root_mean_square_over_every_element() -> None:
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    assert rms_difference(a, b) == pytest.approx(((4 + 16) / 4) ** 0.5)


def test_dopri8_reference_matches_the_exact_gaussian_flow_to_its_estimated_error() -> None:
    x = _start(80.0)
    reference, estimated_error = ode_reference(GAUSSIAN, x, 80.0, 0.002)
    actual_error = rms_difference(reference, GAUSSIAN.exact_flow(x, 80.0, 0.002))
    assert actual_error < 1e-11
    assert actual_error <= estimated_error < 1e-9


def test_reference_lands_on_sigma_min_instead_of_interpolating_past_it() -> None:
    # torchdiffeq's interpolant would limit the end point to ~1e-9; stepping onto it gives the method's accuracy.
    mixture = GaussianMixture([[-1.0, 0.5], [1.0, 2.0]], std=[0.05, 0.4])
    x = 10.0 * torch.randn(3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    tight, tight_error = ode_reference(mixture, x, 10.0, 0.1, tolerance=1e-11)
    tighter, _ = ode_reference(mixture, x, 10.0, 0.1, tolerance=1e-12)
    assert rms_difference(tight, tighter) < 1e-10
    assert tight_error < 1e-10


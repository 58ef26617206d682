"""Euler-Maruyama: its per-grid coefficients against the published update, and a clear error for a bad beta."""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow.errors import SolverConfigError
from probflow.solvers import EulerMaruyama
from tests.helpers import gaussian_problem, grid, start_state


def reference_euler_maruyama(denoiser, beta, x, sigmas, generator):
    """``x + (1/s + beta) (D - x) dtau + sqrt(2 beta) s sqrt(dtau) z`` (Kloeden & Platen 10.2), final denoise."""
    values = sigmas.tolist()
    for sigma, sigma_next in zip(values[:-1], values[1:]):
        denoised = denoiser(x, torch.full((x.shape[0],), sigma, dtype=x.dtype))
        if sigma_next == 0.0:
            return denoised
        dtau, b = sigma - sigma_next, beta(sigma)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x + (1.0 / sigma + b) * (denoised - x) * dtau + math.sqrt(2.0 * b) * sigma * math.sqrt(dtau) * z
    return x


def test_euler_maruyama_with_a_callable_beta_equals_the_published_update():
    denoiser, sigmas, x = gaussian_problem(), grid(12, sigma_max=5.0), start_state(3, 3, sigma_max=5.0)

    def beta(sigma):
        return 0.3 * sigma + 0.1

    term = probflow.ReverseSDE(denoiser, beta)
    ours = probflow.solve(term, EulerMaruyama(), x, sigmas, generator=torch.Generator().manual_seed(4)).x
    theirs = reference_euler_maruyama(denoiser, beta, x, sigmas, torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_a_negative_or_nan_beta_is_refused_naming_the_sigma(bad):
    term = probflow.ReverseSDE(gaussian_problem(), lambda sigma: torch.where(sigma < 1.0, bad, 0.5))
    with pytest.raises(SolverConfigError, match=r"beta\(sigma\) must be >= 0, got .* at sigma=0\.9"):
        probflow.solve(term, EulerMaruyama(), start_state(2, 3), [10.0, 2.0, 0.9, 0.5, 0.0])

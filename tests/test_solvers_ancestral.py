"""The ancestral split, elementwise over a grid, against its scalar formula and its defining identity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probflow.solvers import ancestral_split


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0, 3.0])
def test_the_split_of_every_step_matches_the_formula_and_keeps_the_variance(eta):
    sigma = np.array([80.0, 10.0, 1.0, 0.05])
    sigma_next = np.array([10.0, 1.0, 0.05, 0.0])
    sigma_down, sigma_up = ancestral_split(sigma, sigma_next, eta)
    for s, s_next, down, up in zip(sigma, sigma_next, sigma_down, sigma_up):
        expected_up = min(s_next, eta * math.sqrt(s_next**2 * (s**2 - s_next**2) / s**2))
        assert up == pytest.approx(expected_up, rel=1e-15, abs=0)
        assert down**2 + up**2 == pytest.approx(s_next**2, rel=1e-14, abs=0)
    np.testing.assert_array_equal(ancestral_split(sigma, sigma_next, 0.0)[0], sigma_next)

"""ExponentialAdams: exact weights, extrapolation to sigma = 0, measured orders, exact NFE and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from probflow import solve
from probflow.convergence import estimate_order
from probflow.denoisers import Gaussian
from probflow.errors import SolverConfigError
from probflow.schedules import exponential, karras
from probflow.solvers import Euler, get_solver
from probflow.solvers.exponential_adams import (
    ExponentialAdams, exponential_adams_weights, extrapolation_to_zero_weights,
)


def _gaussian() -> Gaussian:
    return Gaussian(torch.tensor([0.5, -1.0, 0.2], dtype=torch.float64),
                    torch.tensor([0.3, 0.8, 0.1], dtype=torch.float64))


@pytest.mark.parametrize("form", ["data", "noise"])
@pytest.mark.parametrize("num_nodes", [1, 2, 3, 4])
def test_weights_integrate_the_interpolating_polynomial_exactly(form, num_nodes):
    rng = np.random.default_rng(num_nodes)
    start, end = 0.3, 1.1
    nodes = [start - 0.7 * j for j in range(num_nodes)]
    coefficients = rng.normal(size=num_nodes)
    polynomial = np.polynomial.Polynomial(coefficients)
    kernel = (lambda t: math.exp(t - end)) if form == "data" else (lambda t: -math.exp(-t))
    expected = integrate.quad(lambda t: kernel(t) * polynomial(t), start, end, epsabs=1e-14, epsrel=1e-14)[0]
    weights = exponential_adams_weights(form, nodes, start, end)
    assert sum(w * polynomial(node) for w, node in zip(weights, nodes)) == pytest.approx(expected, rel=1e-12)


def test_first_order_weights_are_ddim_and_euler():
    sigma, sigma_next = 2.0, 0.5
    start, end = -math.log(sigma), -math.log(sigma_next)
    assert exponential_adams_weights("data", [start], start, end)[0] == pytest.approx(1 - sigma_next / sigma)
    assert exponential_adams_weights("noise", [start], start, end)[0] == pytest.approx(sigma_next - sigma)


@pytest.mark.parametrize("num_nodes", [1, 2, 3])
def test_extrapolation_to_zero_is_exact_for_polynomials_in_sigma_squared(num_nodes):
    sigmas = [0.01 * 1.7**j for j in range(num_nodes)]
    coefficients = np.random.default_rng(0).normal(size=num_nodes)
    values = [np.polynomial.polynomial.polyval(s * s, coefficients) for s in sigmas]
    weights = extrapolation_to_zero_weights(sigmas)
    assert sum(w * v for w, v in zip(weights, values)) == pytest.approx(coefficients[0], rel=1e-10)


def test_extrapolated_final_step_beats_the_plain_denoise_on_gaussian_data():
    gaussian = _gaussian()
    x = gaussian.sample_noisy(8, 2.0, generator=torch.Generator().manual_seed(0))
    grid = exponential(60, 0.02, 2.0)
    exact = gaussian.exact_flow(x, 2.0, 0.0)
    errors = {}
    for nodes in (1, 2, 3):
        result = solve(gaussian, ExponentialAdams(3, final_nodes=nodes), x, grid).x
        errors[nodes] = float((result - exact).abs().max())
    # A plain denoise at sigma_min = 0.02 misses by O(sigma_min^2 / s^2); each node gains a factor ~sigma^2/s^2.
    assert errors[2] < 0.1 * errors[1]
    assert errors[3] < 0.5 * errors[2]


@pytest.mark.parametrize(("config", "declared"), [
    (dict(order=1, form="noise", corrector_order=0), 1),
    (dict(order=2, form="data", corrector_order=0), 2),
    (dict(order=3, form="noise", corrector_order=0), 3),
    (dict(order=3, form="data", corrector_order=3), 3),
    (dict(order=3, form="data", corrector_order=4), 3),
    (dict(order=4, form="data", corrector_order=5), 3),
])
def test_measured_order_matches_the_declared_one(config, declared):
    # A log-uniform grid starting where the data's scale is resolved makes the self-starting first step's
    # O(h^3) local error visible, so the corrected variants show the cap at 3 rather than their interior order.
    solver = ExponentialAdams(**config)
    assert solver.order == declared
    gaussian = _gaussian()
    x = gaussian.sample_noisy(4, 1.0, generator=torch.Generator().manual_seed(0))
    estimate = estimate_order(solver, gaussian, x, steps=(16, 32, 64, 128), sigma_max=1.0, sigma_min=0.01,
                              schedule=lambda n: exponential(n + 1, 0.01, 1.0, append_zero=False))
    assert abs(estimate.order - declared) <= 0.2, estimate.summary()


@pytest.mark.parametrize("config", [dict(corrector_order=0), dict(corrector_order=4), dict(order=1, corrector_order=0)])
@pytest.mark.parametrize("num_steps", [1, 2, 5])
@pytest.mark.parametrize("ends_at_zero", [True, False])
def test_declared_nfe_is_the_number_of_calls(config, num_steps, ends_at_zero):
    solver = ExponentialAdams(**config)
    grid = karras(num_steps + int(not ends_at_zero), 0.002, 80.0, append_zero=ends_at_zero)
    solution = solve(lambda x, sigma: 0.5 * x, solver, torch.ones(2, 3), grid)
    assert solution.nfe == solver.nfe(num_steps, ends_at_zero)


def test_first_order_noise_form_takes_euler_steps_once_started():
    # Step 0 is corrected and step 1 reuses the call made at the predicted state (PEC); from step 2 on, each
    # step calls the model at the current state and is an Euler step.
    gaussian = _gaussian()
    solver = ExponentialAdams(1, form="noise", corrector_order=0)
    x = gaussian.sample_noisy(4, 5.0, generator=torch.Generator().manual_seed(1))
    grid = karras(12, 0.01, 5.0, append_zero=False)
    after_start = solve(gaussian, solver, x, grid[:3]).x
    euler_afterwards = solve(gaussian, Euler(), after_start, grid[2:]).x
    torch.testing.assert_close(solve(gaussian, solver, x, grid).x, euler_afterwards, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(order=0), "order must be an integer in \\[1, 4\\]"),
    (dict(order=5), "order must be an integer in \\[1, 4\\]"),
    (dict(form="eps"), "form must be one of"),
    (dict(corrector_order=6), "corrector_order .* must be an integer in \\[0, 5\\]"),
    (dict(final_nodes=0), "final_nodes must be an integer in \\[1, 3\\]"),
    (dict(final_nodes=True), "final_nodes must be an integer in \\[1, 3\\]"),
])
def test_bad_configuration_raises_a_clear_error(kwargs, message):
    with pytest.raises(SolverConfigError, match=message):
        ExponentialAdams(**kwargs)


def test_registry_builds_it_by_name():
    assert isinstance(get_solver("exp_adams"), ExponentialAdams)
    assert get_solver("exp_adams", order=2, form="noise").name == "exp_adams_noise2_pc4"

"""The probability-flow ODE term: its vector fields in sigma and log sigma, and torchdiffeq on both."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.solvers import TorchDiffEq
from tests.helpers import gaussian_problem, grid, mixture_problem, start_state


def test_derivative_is_x_minus_denoised_over_sigma():
    problem = mixture_problem()
    x = torch.randn(4, 2, dtype=torch.float64)
    sigma = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    expected = (x - problem(x, sigma)) / sigma[:, None]
    assert torch.allclose(probflow.ProbabilityFlowODE(problem).derivative(x, sigma), expected, rtol=0, atol=1e-15)


def test_log_sigma_field_is_sigma_times_sigma_field():
    term = probflow.ProbabilityFlowODE(mixture_problem())
    x = torch.randn(3, 2, dtype=torch.float64)
    sigma = torch.tensor(2.5, dtype=torch.float64)
    in_sigma = term.vector_field("sigma")(sigma, x)
    in_log_sigma = term.vector_field("log_sigma")(sigma.log(), x)
    assert torch.allclose(in_log_sigma, sigma * in_sigma, rtol=1e-14, atol=0)


@pytest.mark.parametrize("time_variable", ["sigma", "log_sigma"])
def test_adaptive_dopri5_follows_the_exact_gaussian_flow(time_variable):
    problem = gaussian_problem()
    x = start_state(6, 3)
    sigmas = grid(2, sigma_min=0.05, zero=False)
    solver = TorchDiffEq("dopri5", rtol=1e-10, atol=1e-10, time_variable=time_variable)
    result = probflow.solve(problem, solver, x, sigmas).x
    exact = problem.exact_flow(x, 80.0, 0.05)
    assert (result - exact).abs().max().item() < 1e-7


def test_unknown_time_variable_and_non_callable_denoiser_are_rejected():
    with pytest.raises(ValueError, match="time_variable"):
        probflow.ProbabilityFlowODE(gaussian_problem()).vector_field("time")
    with pytest.raises(TypeError, match="callable"):
        probflow.ProbabilityFlowODE(3.0)
    with pytest.raises(ValueError, match="beta"):
        probflow.ReverseSDE(gaussian_problem(), beta=-1.0)

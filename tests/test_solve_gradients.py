"""``probflow.solve`` is differentiable when asked: gradients with respect to the initial state and to the sigma grid
equal central finite differences in float64, and an ordinary solve returns ordinary tensors."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.solvers import DPMSolverPP, Euler, ExponentialAdams, Heun, TorchSDE
from tests.helpers import grid, mixture_problem, start_state

PROBLEM = mixture_problem(dim=2, components=3)
SOLVERS = [Euler(), Heun(), DPMSolverPP(2), ExponentialAdams(), ExponentialAdams(3, form="noise", corrector_order=0)]
WEIGHTS = torch.randn(4, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)


def loss(solver, x: torch.Tensor, sigmas: torch.Tensor, grad: bool | None = None) -> torch.Tensor:
    return (probflow.solve(PROBLEM, solver, x, sigmas, grad=grad).x * WEIGHTS).sum()


def central_difference(function, point: torch.Tensor, direction: torch.Tensor, step: float) -> float:
    return (float(function(point + step * direction)) - float(function(point - step * direction))) / (2 * step)


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
@pytest.mark.parametrize("zero", [True, False], ids=["into 0", "to sigma_min"])
def test_gradients_match_finite_differences(solver, zero):
    sigmas = grid(6, sigma_min=0.05, sigma_max=20.0, zero=zero)
    x = start_state(4, 2, sigma_max=20.0).requires_grad_(True)
    grid_variable = sigmas.clone().requires_grad_(True)
    x_gradient, sigma_gradient = torch.autograd.grad(loss(solver, x, grid_variable), (x, grid_variable))
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    numeric = central_difference(lambda point: loss(solver, point, sigmas), x.detach(), direction, 1e-5)
    assert float((x_gradient * direction).sum()) == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    positive = int((sigmas > 0).sum())
    for index in range(positive):
        unit = torch.zeros_like(sigmas)
        unit[index] = 1.0
        step = 1e-6 * float(sigmas[index])
        numeric = central_difference(lambda point: loss(solver, x.detach(), point), sigmas, unit, step)
        assert float(sigma_gradient[index]) == pytest.approx(numeric, rel=1e-5, abs=1e-8), index


def test_a_differentiable_solve_keeps_the_call_count_and_the_result():
    sigmas = grid(8)
    x = start_state(4, 2)
    plain = probflow.solve(PROBLEM, ExponentialAdams(), x, sigmas)
    differentiable = probflow.solve(PROBLEM, ExponentialAdams(), x.clone().requires_grad_(True),
                                    sigmas.clone().requires_grad_(True))
    assert differentiable.nfe == plain.nfe and differentiable.x.requires_grad
    torch.testing.assert_close(differentiable.x.detach(), plain.x, rtol=1e-12, atol=1e-12)


def test_an_ordinary_solve_returns_ordinary_tensors():
    x = probflow.sample(PROBLEM, torch.randn(3, 2), nfe=6)
    assert not x.requires_grad and not x.is_inference()
    x.clamp_(-1, 1)  # in place, outside any mode
    weights = torch.ones(2, requires_grad=True)
    (x * weights).sum().backward()
    assert weights.grad is not None


def test_grad_true_differentiates_through_the_denoisers_parameters():
    mean = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def shifted(x, sigma):
        return PROBLEM(x - mean, sigma) + mean

    result = probflow.solve(shifted, Heun(), start_state(4, 2), grid(5), grad=True).x
    (gradient,) = torch.autograd.grad(result.sum(), mean)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_torchsde_refuses_a_grid_that_requires_grad():
    with pytest.raises(probflow.SolverConfigError, match="torchsde does not differentiate"):
        probflow.solve(probflow.ReverseSDE(PROBLEM), TorchSDE("euler"), start_state(2, 2),
                       grid(4).requires_grad_(True), generator=probflow.seed_generators(range(2)))


@pytest.mark.parametrize("solver", ["euler_ancestral", "ddim(eta=1)", "ddim(eta=0)"])
def test_a_differentiable_stochastic_solve_draws_the_noise_of_a_plain_one(solver):
    # Whether a step draws noise is decided from the grid's values, not from the (differentiable) weight tensor: the
    # same seeds give the same sample with and without gradients.
    x, sigmas = start_state(3, 2), grid(6)
    plain = probflow.solve(PROBLEM, solver, x, sigmas, generator=probflow.seed_generators(range(3)))
    traced = probflow.solve(PROBLEM, solver, x, sigmas.clone().requires_grad_(), grad=True,
                            generator=probflow.seed_generators(range(3)))
    assert traced.x.requires_grad
    torch.testing.assert_close(traced.x.detach(), plain.x, rtol=1e-12, atol=1e-12)

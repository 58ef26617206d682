"""probflow.recommended / probflow.sample(solver=None): the budget is spent exactly, and the recommended sampler
is more accurate per call than the solvers it replaced, on data whose exact flow is known."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.denoisers import Gaussian
from probflow.solvers import DPMSolverPP, Heun, LMS
from tests.helpers import CountingDenoiser


def _gaussian() -> Gaussian:
    return Gaussian(torch.tensor([0.3, -0.7, 1.0, 0.0], dtype=torch.float64),
                    torch.tensor([0.02, 0.1, 0.4, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("nfe", [1, 2, 3, 7, 14, 15, 34, 35, 80])
def test_recommended_sampler_spends_exactly_the_budget(nfe):
    choice = probflow.recommended(nfe)
    assert choice.solver.nfe(choice.num_steps) == nfe
    counted = CountingDenoiser(_gaussian())
    result = probflow.sample(counted, torch.randn(3, 4, dtype=torch.float64), nfe=nfe)
    assert counted.calls == nfe
    assert torch.isfinite(result).all()


@pytest.mark.parametrize("nfe", [5, 20, 60])
def test_recommended_solver_is_deterministic_and_fixed_grid(nfe):
    solver = probflow.recommended(nfe).solver
    assert not solver.stochastic and not getattr(solver, "adaptive", False) and solver.term_kind == "ode"


@pytest.mark.parametrize("nfe", [10, 20, 50])
def test_recommended_sampler_is_more_accurate_than_classic_solvers_at_equal_calls(nfe):
    gaussian = _gaussian()
    noise = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = gaussian.exact_flow(80.0 * noise, 80.0, 0.0)

    def error(solver):
        return float((probflow.sample(gaussian, noise, nfe=nfe, solver=solver) - exact).pow(2).mean().sqrt())

    ours = error(None)
    for classic in (DPMSolverPP(3), LMS(4), Heun()):
        assert ours < error(classic), classic


@pytest.mark.parametrize("nfe", [5, 12, 20, 50])
def test_sample_without_a_solver_runs_the_recommended_grid_to_its_own_sigma_min(nfe):
    visited = []
    probflow.sample(_gaussian(), torch.randn(2, 4, dtype=torch.float64), nfe=nfe,
                    callback=lambda info: visited.append(info["sigma"]))
    choice = probflow.recommended(nfe)
    expected = choice.sigmas(80.0)
    assert visited == expected[:-1].tolist() and visited[-1] == pytest.approx(choice.sigma_min, rel=1e-12)
    given = []
    probflow.sample(_gaussian(), torch.randn(2, 4, dtype=torch.float64), nfe=nfe, sigma_min=0.003,
                    callback=lambda info: given.append(info["sigma"]))
    assert given == choice.sigmas(80.0, sigma_min=0.003)[:-1].tolist()


def test_a_given_rho_replaces_the_recommended_grid_by_a_karras_grid():
    visited = []
    probflow.sample(_gaussian(), torch.randn(2, 4, dtype=torch.float64), nfe=20, rho=7.0,
                    callback=lambda info: visited.append(info["sigma"]))
    choice = probflow.recommended(20)
    assert visited == probflow.schedules.karras(choice.num_steps, 0.002, 80.0, 7.0)[:-1].tolist()

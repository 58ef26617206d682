"""Stochastic solvers sample the right distribution, and per-sample seeds make them batch-independent."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.brownian import BrownianNoise
from probflow.denoisers import Gaussian
from probflow.solvers import DDIM, EDMStochastic, Euler, EulerAncestral, EulerMaruyama, TorchSDE
from tests.helpers import grid, mixture_problem

MEAN = torch.tensor([0.5, -1.0], dtype=torch.float64)
STD = torch.tensor([0.3, 0.8], dtype=torch.float64)
SAMPLES = 20000


# Ancestral steps under-disperse at coarse grids (variance -6% at 200 Karras steps, -2% at 800: weak
# order 1), so they get more steps; the 3% allowance is for that discretisation bias.
@pytest.mark.parametrize(
    "solver, sde, steps",
    [
        (EulerAncestral(eta=1.0), False, 800),
        (EulerAncestral(eta=0.5), False, 400),
        (EDMStochastic(s_churn=40.0, s_tmin=0.05, s_tmax=50.0), False, 200),
        (DDIM(eta=1.0), False, 800),
        (EulerMaruyama(), True, 200),
        (TorchSDE("euler"), True, 200),
    ],
    ids=repr,
)
def test_stochastic_sampler_reaches_the_exact_gaussian_mean_and_variance(solver, sde, steps):
    problem = Gaussian(MEAN, STD)
    term = probflow.ReverseSDE(problem) if sde else problem
    generator = torch.Generator().manual_seed(11)
    x = 80.0 * torch.randn(SAMPLES, 2, generator=generator, dtype=torch.float64)
    samples = probflow.solve(term, solver, x, grid(steps), generator=generator).x
    mean, variance = samples.mean(0), samples.var(0)
    target_variance = STD**2
    # Four standard errors of the Monte Carlo estimates, plus 3% for the discretisation bias.
    assert ((mean - MEAN).abs() < 4 * STD / SAMPLES**0.5 + 0.03 * STD).all(), mean
    assert ((variance / target_variance - 1).abs() < 4 * (2 / SAMPLES) ** 0.5 + 0.03).all(), variance


def test_reverse_sde_with_zero_beta_is_the_ode():
    problem = mixture_problem(dim=2, components=3, seed=5)
    x = 80.0 * torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sigmas = grid(30)
    sde = probflow.solve(probflow.ReverseSDE(problem, beta=0.0), EulerMaruyama(), x, sigmas,
                         generator=torch.Generator().manual_seed(1)).x
    ode = probflow.solve(problem, Euler(), x, sigmas).x
    assert (sde - ode).abs().max().item() < 1e-10


def test_reverse_sde_drift_and_diffusion_match_eq6():
    problem = mixture_problem(dim=2, components=3, seed=5)
    x = torch.randn(4, 2, dtype=torch.float64)
    sigma = torch.tensor(1.7, dtype=torch.float64)
    sde = probflow.ReverseSDE(problem, beta=0.4, shape=(2,))
    ode = probflow.ProbabilityFlowODE(problem)
    denoised = problem(x, sigma.expand(4))
    assert torch.allclose(sde.f(-sigma, x), (1 / 1.7 + 0.4) * (denoised - x))
    assert torch.allclose(sde.g(-sigma, x), torch.full_like(x, (2 * 0.4) ** 0.5 * 1.7))
    assert torch.allclose(probflow.ReverseSDE(problem, beta=0.0, shape=(2,)).f(-sigma, x), -ode.derivative(x, sigma))
    # The default beta = 1/sigma is Song et al.'s reverse VE SDE: drift 2(D - x)/sigma, diffusion sqrt(2 sigma).
    song = probflow.ReverseSDE(problem, shape=(2,))
    assert torch.allclose(song.f(-sigma, x), 2 * (denoised - x) / 1.7)
    assert torch.allclose(song.g(-sigma, x), torch.full_like(x, (2 * 1.7) ** 0.5))


STOCHASTIC = [
    (EulerAncestral(), False),
    (EDMStochastic(s_churn=10.0), False),
    (DDIM(eta=0.7), False),
    (EulerMaruyama(), True),
    (TorchSDE("euler"), True),
    (TorchSDE("srk"), True),
]


def seeded(seeds):
    return [torch.Generator().manual_seed(seed) for seed in seeds]


@pytest.mark.parametrize("solver, sde", STOCHASTIC, ids=repr)
def test_per_sample_generators_make_results_independent_of_batch_size_and_order(solver, sde):
    problem = mixture_problem(dim=3, components=2, seed=9)
    term = probflow.ReverseSDE(problem) if sde else problem
    seeds = [10, 11, 12, 13, 14, 15]
    x = probflow.per_sample_noise((3,), seeds, dtype=torch.float64) * 80.0
    sigmas = grid(8)
    full = probflow.solve(term, solver, x, sigmas, generator=seeded(seeds)).x
    part = probflow.solve(term, solver, x[3:5], sigmas, generator=seeded(seeds[3:5])).x
    order = [5, 0, 3]
    permuted = probflow.solve(term, solver, x[order], sigmas, generator=seeded([seeds[i] for i in order])).x
    assert torch.equal(full[3:5], part)
    assert torch.equal(full[order], permuted)


def test_per_sample_noise_depends_only_on_each_seed():
    both = probflow.per_sample_noise((2, 4), [7, 8])
    alone = probflow.per_sample_noise((2, 4), [8])
    assert torch.equal(both[1], alone[0])
    assert not torch.equal(both[0], both[1])


def test_euler_maruyama_equals_torchsde_euler_on_one_brownian_path():
    problem = mixture_problem(dim=3, components=2, seed=4)
    x = 80.0 * torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sigmas = grid(12)

    def path():
        return BrownianNoise(80.0, sigmas[-2].item(), x.shape, generator=seeded(range(5)))

    ours = probflow.solve(probflow.ReverseSDE(problem), EulerMaruyama(), x, sigmas, generator=path()).x
    theirs = probflow.solve(probflow.ReverseSDE(problem), TorchSDE("euler"), x, sigmas, generator=path()).x
    assert (ours - theirs).abs().max().item() < 1e-10

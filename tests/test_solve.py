"""The solve loop: exact NFE, callbacks, trajectories, dtypes and clear errors on bad input."""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow import DenoiserOutputError, GeneratorError, SigmaGridError, SolverConfigError
from probflow.solvers import (
    DDIM, LMS, DPMSolverPP, EDMStochastic, Euler, EulerAncestral, EulerMaruyama, Heun, RungeKutta, TorchDiffEq,
    TorchSDE, get_solver, solver_names,
)
from tests.helpers import CountingDenoiser, gaussian_problem, grid, start_state

FIXED_STEP_SOLVERS = [
    Euler(), Heun(), LMS(1), LMS(2), LMS(3), LMS(4), LMS(4, startup="adams"), DPMSolverPP(1), DPMSolverPP(2),
    DPMSolverPP(3), RungeKutta("rk3"), RungeKutta("rk4"), EulerAncestral(), EDMStochastic(s_churn=5.0), DDIM(0.5),
    TorchDiffEq("euler"), TorchDiffEq("rk4"), TorchDiffEq("midpoint"),
]


@pytest.mark.parametrize("solver", FIXED_STEP_SOLVERS, ids=repr)
@pytest.mark.parametrize("num_steps, zero", [(1, True), (2, True), (3, False), (7, True), (7, False), (12, True)])
def test_nfe_is_exact_and_matches_the_declared_count(solver, num_steps, zero):
    counted = CountingDenoiser(gaussian_problem())
    solution = probflow.solve(counted, solver, start_state(4, 3), grid(num_steps if zero else num_steps + 1,
                                                                       zero=zero))
    assert solution.nfe == counted.calls == solver.nfe(num_steps, ends_at_zero=zero)


@pytest.mark.parametrize("solver", [EulerMaruyama(), TorchSDE("euler"), TorchSDE("heun")], ids=repr)
def test_sde_solver_nfe_is_exact(solver):
    counted = CountingDenoiser(gaussian_problem())
    solution = probflow.solve(probflow.ReverseSDE(counted), solver, start_state(4, 3), grid(9))
    assert solution.nfe == counted.calls == solver.nfe(9)


def test_adaptive_torchdiffeq_counts_every_call():
    counted = CountingDenoiser(gaussian_problem())
    solution = probflow.solve(counted, TorchDiffEq("dopri5", rtol=1e-6, atol=1e-6), start_state(4, 3), grid(3))
    assert solution.nfe == counted.calls > 3


def test_every_registered_solver_name_builds():
    for name in solver_names():
        assert get_solver(name).order >= 1


def test_callback_receives_every_step_and_the_trajectory_matches():
    events = []
    sigmas = grid(6)
    solution = probflow.solve(gaussian_problem(), Heun(), start_state(2, 3), sigmas, callback=events.append,
                              trajectory=True)
    assert [event["i"] for event in events] == list(range(6))
    assert [event["sigma"] for event in events] == sigmas[:-1].tolist()
    assert [event["sigma_next"] for event in events] == sigmas[1:].tolist()
    assert set(events[0]) == {"i", "sigma", "sigma_next", "x", "denoised"}
    assert solution.trajectory.shape == (7, 2, 3)
    for event, state in zip(events, solution.trajectory[1:]):
        assert torch.equal(event["x"], state)
    assert torch.equal(solution.trajectory[-1], solution.x)


def test_progress_bar_does_not_change_the_result():
    x, sigmas = start_state(2, 3), grid(5)
    quiet = probflow.solve(gaussian_problem(), Heun(), x, sigmas).x
    shown = probflow.solve(gaussian_problem(), Heun(), x, sigmas, progress=True).x
    assert torch.equal(quiet, shown)


def test_float32_state_is_solved_in_float32_and_float16_model_gets_float16_input():
    seen = []
    problem = gaussian_problem()

    class HalfModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones((), dtype=torch.float16))

        def forward(self, x, sigma):
            seen.append((x.dtype, sigma.dtype))
            return (problem(x.double(), sigma.double()) * self.scale.double()).half()

    x = start_state(3, 3).float()
    solution = probflow.solve(HalfModel(), Heun(), x, grid(8))
    assert solution.x.dtype == torch.float32
    assert seen[0] == (torch.float16, torch.float32)


def test_bf16_denoiser_error_stays_within_bf16_precision():
    problem = gaussian_problem()

    def bf16_denoiser(x, sigma):
        return problem(x.double(), sigma.double()).to(torch.bfloat16)

    bf16_denoiser.dtype = torch.bfloat16  # it computes in bf16: the loop casts its input and output at the boundary

    x, sigmas = start_state(64, 3).float(), grid(20)
    exact = problem.exact_flow(start_state(64, 3), 80.0, 0.0)
    result = probflow.solve(bf16_denoiser, Heun(), x, sigmas).x
    reference = probflow.solve(problem, Heun(), start_state(64, 3), sigmas).x
    assert result.dtype == torch.float32
    assert torch.isfinite(result).all()
    # bf16 keeps 8 significant bits: relative rounding 2**-8 on values of size ~|mean| + |x0|.
    scale = exact.abs().max().item() + 1.0
    assert (result.double() - reference).abs().max().item() < 4 * 2**-8 * scale


def bad_grids():
    return [
        ([80.0, 10.0, 20.0, 0.0], "strictly decreasing"),
        ([80.0, float("nan"), 0.0], "not finite"),
        ([80.0, float("inf"), 0.0], "not finite"),
        ([80.0, 1.0, -1.0], "negative"),
        ([80.0, 0.0, 0.0], "only the last"),
        ([80.0], "at least 2"),
        ([80.0, 80.0, 0.0], "strictly decreasing"),
    ]


@pytest.mark.parametrize("sigmas, message", bad_grids())
def test_bad_sigma_grids_raise_a_clear_error(sigmas, message):
    with pytest.raises(SigmaGridError, match=message):
        probflow.solve(gaussian_problem(), Euler(), start_state(2, 3), sigmas)


def test_denoiser_returning_the_wrong_shape_is_named():
    with pytest.raises(DenoiserOutputError, match=r"shape \(2, 1\).*step 0, sigma=80"):
        probflow.solve(lambda x, s: x[:, :1], Euler(), start_state(2, 3), grid(4))


def test_denoiser_returning_non_tensor_or_integers_is_named():
    with pytest.raises(DenoiserOutputError, match="must return a torch.Tensor"):
        probflow.solve(lambda x, s: x.tolist(), Euler(), start_state(2, 3), grid(4))
    with pytest.raises(DenoiserOutputError, match="returned dtype torch.int64 for an input of dtype torch.float64"):
        probflow.solve(lambda x, s: x.long(), Euler(), start_state(2, 3), grid(4))


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
@pytest.mark.parametrize("solver", [Euler(), Heun(), LMS(3), DPMSolverPP(3)], ids=repr)
def test_denoiser_returning_nan_or_inf_names_the_step_and_sigma(bad_value, solver):
    sigmas = grid(8)
    bad_sigma = sigmas[3].item()
    problem = gaussian_problem()

    def faulty(x, sigma):
        out = problem(x, sigma)
        return out + bad_value if math.isclose(sigma[0].item(), bad_sigma) else out

    # Heun first evaluates sigmas[3] as the corrector stage of step 2.
    step = 2 if isinstance(solver, Heun) else 3
    with pytest.raises(DenoiserOutputError, match=rf"NaN/Inf at step {step}, sigma={bad_sigma:.6g}"):
        probflow.solve(faulty, solver, start_state(2, 3), sigmas)


@pytest.mark.parametrize("order", [0, -1, 1.5, True])
def test_lms_order_below_one_or_not_an_integer_is_rejected(order):
    with pytest.raises(SolverConfigError, match=r"LMS order must be an integer in \[1, 4\]"):
        LMS(order)


def test_non_tensor_state_and_wrong_generator_count_are_rejected():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        probflow.solve(gaussian_problem(), Euler(), [[1.0, 2.0, 3.0]], grid(3))
    generators = [torch.Generator().manual_seed(i) for i in range(3)]
    with pytest.raises(GeneratorError, match="3 per-sample generators for a batch of 2"):
        probflow.solve(gaussian_problem(), EulerAncestral(), start_state(2, 3), grid(3), generator=generators)


def test_sde_solver_on_an_ode_term_is_rejected_and_a_bare_denoiser_gets_the_sde():
    with pytest.raises(SolverConfigError, match="integrates a ReverseSDE"):
        probflow.solve(probflow.ProbabilityFlowODE(gaussian_problem()), EulerMaruyama(), start_state(2, 3), grid(3))
    generators = probflow.seed_generators(range(2))
    bare = probflow.solve(gaussian_problem(), EulerMaruyama(), start_state(2, 3), grid(3), generator=generators)
    term = probflow.solve(probflow.ReverseSDE(gaussian_problem()), EulerMaruyama(), start_state(2, 3), grid(3),
                          generator=probflow.seed_generators(range(2)))
    assert torch.equal(bare.x, term.x)


@pytest.mark.parametrize("nfe", [1, 2, 3, 5, 10, 20, 50])
def test_sample_makes_at_most_nfe_calls_and_ends_at_sigma_zero(nfe):
    counted = CountingDenoiser(gaussian_problem())
    noise = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    result = probflow.sample(counted, noise, nfe=nfe)
    assert counted.calls <= nfe
    assert result.shape == noise.shape and torch.isfinite(result).all()


@pytest.mark.parametrize("solver", [Euler(), Heun(), LMS(4), EulerAncestral()], ids=repr)
def test_sample_with_a_given_solver_uses_the_budget_fully(solver):
    counted = CountingDenoiser(gaussian_problem())
    probflow.sample(counted, torch.randn(2, 3, dtype=torch.float64), nfe=20, solver=solver)
    assert 20 - solver.calls_per_step < counted.calls <= 20


@pytest.mark.parametrize("nfe", [0, -3, 2.5, "10"])
def test_sample_rejects_a_bad_nfe(nfe):
    with pytest.raises(SolverConfigError, match="nfe must be a positive integer"):
        probflow.sample(gaussian_problem(), torch.randn(2, 3), nfe=nfe)


def test_sample_with_the_recommended_solver_converges_to_the_exact_gaussian_flow():
    problem = gaussian_problem()
    noise = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    exact = problem.exact_flow(noise * 80.0, 80.0, 0.0)
    errors = [(probflow.sample(problem, noise, nfe=nfe) - exact).abs().max().item() for nfe in (10, 20, 50, 100)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-3

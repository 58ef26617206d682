"""Half-precision denoisers under every solver family, and the step into sigma = 0 for every registered solver.

The solver state stays float32 (``compute_dtype_for``); only the model's input and output are rounded to
float16/bfloat16. A model that rounds its output to ``eps`` relative precision (bfloat16: 8 significant bits,
``eps = 2**-8``; float16: 11, ``2**-11``) then moves the result by a few ``eps`` times the size of the
values, the bound asserted here against a float32 solve with the same per-sample noise.
"""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.solvers import (
    DDIM, LMS, DPMSolverPP, EDMStochastic, Euler, EulerAncestral, EulerMaruyama, Heun, RungeKutta, TorchDiffEq,
    TorchSDE, get_solver, solver_names,
)
from tests.helpers import gaussian_problem, grid, start_state

PROBLEM = gaussian_problem()
BATCH = 64
HALF_EPS = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}
FAMILIES = [
    Euler(), Heun(), RungeKutta("rk4"), LMS(4), DPMSolverPP(3), EulerAncestral(), EDMStochastic(s_churn=5.0),
    DDIM(eta=0.5), TorchDiffEq("rk4"), TorchDiffEq("midpoint"), EulerMaruyama(), TorchSDE("euler"), TorchSDE("heun"),
]


class HalfPrecisionModel(torch.nn.Module):
    """The exact Gaussian denoiser behind a half-precision parameter: input and output in ``dtype``."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones((), dtype=dtype))
        self.input_dtypes: set[torch.dtype] = set()

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.input_dtypes.add(x.dtype)
        return PROBLEM(x.double(), sigma.double()).to(self.scale.dtype)


def float32_exact(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return PROBLEM(x.double(), sigma.double()).float()


def solve(denoiser, solver, sigmas):
    term = probflow.ReverseSDE(denoiser) if solver.term_kind == "sde" else denoiser
    x = start_state(BATCH, 3).float()
    return probflow.solve(term, solver, x, sigmas, generator=probflow.seed_generators(range(BATCH)))


def value_scale() -> float:
    return PROBLEM.exact_flow(start_state(BATCH, 3), 80.0, 0.0).abs().max().item() + 1.0


@pytest.mark.parametrize("dtype", list(HALF_EPS), ids=str)
@pytest.mark.parametrize("solver", FAMILIES, ids=repr)
def test_half_precision_denoiser_moves_the_result_by_its_rounding_only(solver, dtype):
    model = HalfPrecisionModel(dtype)
    half = solve(model, solver, grid(20))
    reference = solve(float32_exact, solver, grid(20))
    assert model.input_dtypes == {dtype}
    assert half.x.dtype == torch.float32 and torch.isfinite(half.x).all()
    assert half.nfe == reference.nfe
    assert (half.x - reference.x).abs().max().item() < 4 * HALF_EPS[dtype] * value_scale()


@pytest.mark.parametrize("dtype", list(HALF_EPS), ids=str)
def test_adaptive_torchdiffeq_with_a_half_precision_denoiser_stays_within_rounding_of_float32(dtype):
    # Adaptive steps differ between the two runs, so both are compared with the exact flow (EDM eq. 1, 3).
    solver = TorchDiffEq("dopri5", rtol=1e-5, atol=1e-5)
    exact = PROBLEM.exact_flow(start_state(BATCH, 3), 80.0, 0.0)
    half_error = (solve(HalfPrecisionModel(dtype), solver, grid(20)).x.double() - exact).abs().max().item()
    float32_error = (solve(float32_exact, solver, grid(20)).x.double() - exact).abs().max().item()
    assert half_error < float32_error + 4 * HALF_EPS[dtype] * value_scale()


# torchdiffeq's implicit Adams warns that its corrector iteration did not converge on this coarse grid.
@pytest.mark.filterwarnings("ignore:Functional iteration did not converge")
@pytest.mark.parametrize("name", solver_names())
def test_the_step_into_sigma_zero_never_calls_the_denoiser_at_zero(name):
    # The Gaussian denoiser is exact and finite at sigma = 0 (D(x, 0) = x), so a NaN could only come from the
    # solver dividing by sigma = 0; the recorded sigmas show whether it asked for D there at all.
    sigmas_seen: list[float] = []

    def recording(x, sigma):
        sigmas_seen.append(sigma.min().item())
        return PROBLEM(x, sigma)

    solver = get_solver(name)
    result = solve(recording, solver, grid(8))
    assert grid(8)[-1].item() == 0.0
    assert min(sigmas_seen) > 0.0
    assert torch.isfinite(result.x).all()
    assert result.nfe == len(sigmas_seen)


class HalfPrecisionTarget(torch.nn.Module):
    """A float16 network that returns EDM's exact training target ``F = (D(x) - c_skip x) / c_out`` of a Gaussian,
    computed in float64 from the float16 input ``x_in = c_in x`` it is given."""

    def __init__(self, precond_sigma_data: float):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones((), dtype=torch.float16))
        self.sigma_data = precond_sigma_data

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        sigma = (4.0 * c_noise.double()).exp()
        x = x_in.double() * (sigma**2 + self.sigma_data**2).sqrt()[:, None]
        c_skip = self.sigma_data**2 / (sigma**2 + self.sigma_data**2)
        c_out = sigma * self.sigma_data / (sigma**2 + self.sigma_data**2).sqrt()
        return ((PROBLEM(x, sigma) - c_skip[:, None] * x) / c_out[:, None]).to(self.weight.dtype)


@pytest.mark.parametrize("sigma", [1.0, 0.01])
def test_edm_preconditioning_around_a_half_network_stays_in_float32_through_solve(sigma):
    # The preconditioning (c_skip x, the coefficients) must run in the state's float32, casting only at the
    # network, as EDM, k-diffusion and diffusers do: through solve, within 10x of the direct float32 error.
    precond = probflow.denoisers.EDMPrecond(HalfPrecisionTarget(0.5), sigma_data=0.5)
    x = (PROBLEM.sample(BATCH, torch.Generator().manual_seed(3)) + sigma * start_state(BATCH, 3, sigma_max=1.0)).float()
    exact = PROBLEM(x.double(), torch.full((BATCH,), sigma, dtype=torch.float64))
    direct = precond(x, torch.full((BATCH,), sigma))
    through_solve = probflow.solve(precond, Euler(), x, [sigma, 0.0]).x  # one step into 0: the final denoise
    direct_error = (direct.double() - exact).pow(2).mean().sqrt().item()
    solve_error = (through_solve.double() - exact).pow(2).mean().sqrt().item()
    assert solve_error <= 10 * direct_error, (solve_error, direct_error)

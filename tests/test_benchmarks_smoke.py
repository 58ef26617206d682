"""The benchmark scripts in smoke mode, and the pieces their numbers rest on: exact denoisers, the reference
endpoint, NFE accounting and the peer drivers (checked against probflow's independent implementations)."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from benchmarks import accuracy, calibration, memory, overhead, peers, problems
from probflow import solve
from probflow.denoisers import GaussianMixture
from probflow.schedules import karras
from probflow.solvers import DPMSolverPP, Euler

needs_k_diffusion = pytest.mark.skipif(importlib.util.find_spec("k_diffusion") is None,
                                       reason="k-diffusion is not installed")
needs_diffusers = pytest.mark.skipif(importlib.util.find_spec("diffusers") is None,
                                     reason="diffusers is not installed")


def missing_peers() -> list[str]:
    """The peer packages this machine lacks: the smoke runs skip them on purpose instead of refusing to run."""
    return [package.name for package in peers.PEER_PACKAGES if not package.installed()]


def skip_missing_peers() -> list[str]:
    return [argument for name in missing_peers() for argument in ("--skip-peer", name)]


def test_kernel_density_matches_the_general_mixture():
    data = torch.randn(40, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for sigma in (1e-3, 0.3, 20.0):
        sigmas = torch.full((5,), sigma, dtype=torch.float64)
        torch.testing.assert_close(problems.KernelDensity(data, 0.1)(x, sigmas),
                                   GaussianMixture(data, std=0.1)(x, sigmas), rtol=1e-12, atol=1e-12)


def test_reference_endpoint_matches_the_gaussian_closed_form():
    gaussian = problems.benchmark_problems(smoke=True)[0]
    noise = gaussian.noise()
    reference = problems.reference_endpoint(gaussian.denoiser, noise, tolerance=1e-8)
    torch.testing.assert_close(reference, problems.gaussian_endpoint(gaussian.denoiser, noise), rtol=0, atol=1e-6)


def test_endpoint_error_is_the_median_per_sample_rms():
    x = torch.zeros(3, 2, 2)
    reference = torch.stack([torch.full((2, 2), v) for v in (1.0, 2.0, 5.0)])
    assert accuracy.endpoint_error(x, reference) == pytest.approx(2.0)


@needs_k_diffusion
def test_k_diffusion_euler_equals_probflow_euler_on_the_same_grid():
    denoiser = problems.benchmark_problems(smoke=True)[0].denoiser
    noise = torch.randn(4, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sampling = peers.load_k_diffusion_sampling()
    theirs = peers._run_k_diffusion(sampling, "euler", denoiser, noise, 8)
    grid = peers.k_diffusion_grid(sampling, 8)
    torch.testing.assert_close(theirs, solve(denoiser, Euler(), noise * 80.0, grid).x, rtol=1e-12, atol=1e-12)


@needs_diffusers
def test_diffusers_edm_driver_reproduces_dpm_solver_pp_2m():
    # EDMDPMSolverMultistepScheduler(order 2) on the Karras grid is DPM-Solver++(2M) with a first-order final step:
    # the k-diffusion-style update, which probflow's DPMSolverPP(2) implements independently.
    denoiser = problems.benchmark_problems(smoke=True)[0].denoiser
    noise = torch.randn(4, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    theirs = peers._run_diffusers_edm(2, denoiser, noise, 10)
    ours = solve(denoiser, DPMSolverPP(2), noise * 80.0, karras(10, 0.002, 80.0)).x
    torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-4)


@needs_diffusers
def test_diffusers_vp_driver_at_first_order_is_ddim_on_the_schedulers_grid():
    from diffusers import DPMSolverMultistepScheduler

    denoiser = problems.benchmark_problems(smoke=True)[0].denoiser
    noise = torch.randn(4, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    theirs = peers._run_diffusers_vp("DPMSolverMultistepScheduler", 1, denoiser, noise, 6)
    scheduler = DPMSolverMultistepScheduler(trained_betas=peers.vp_betas(), solver_order=1)
    scheduler.set_timesteps(6)
    alpha_bars = scheduler.alphas_cumprod.to(torch.float64)[scheduler.timesteps]
    grid = torch.cat([((1 - alpha_bars) / alpha_bars).sqrt(), torch.zeros(1, dtype=torch.float64)])
    ours = solve(denoiser, Euler(), noise * 80.0 * math.sqrt((1 + grid[0] ** 2) / (1 + 80.0**2)), grid).x
    torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-4)


def test_vp_schedule_spans_the_edm_range():
    alpha_bars = torch.tensor(peers.vp_betas(), dtype=torch.float64).neg().log1p().cumsum(0).exp()
    sigmas = ((1 - alpha_bars) / alpha_bars).sqrt()
    assert sigmas[0].item() == pytest.approx(0.002, rel=1e-9)
    assert sigmas[-1].item() == pytest.approx(80.0, rel=1e-9)


def test_accuracy_smoke_runs_every_selected_method_within_its_budget():
    smoke_problems = problems.benchmark_problems(smoke=True)
    methods = accuracy.smoke_selection(accuracy.probflow_methods() + peers.required_peers(missing_peers()))
    results, _ = accuracy.run_problem(smoke_problems[0], methods, [5], smoke=True)
    assert {r.method for r in results} == {m.name for m in methods}
    assert all(r.nfe <= r.budget and math.isfinite(r.error) for r in results)
    assert "probflow recommended" in accuracy.main(["--smoke", *skip_missing_peers()])


def test_overhead_smoke_reports_the_bare_loop_and_every_hand_written_solver():
    report = overhead.main(["--smoke", *skip_missing_peers()])
    assert "| bare Euler loop |" in report
    assert all(f"| probflow {name} |" in report for name in overhead.hand_written_solvers())


def test_memory_smoke_runs_without_autograd():
    assert memory.runs_without_autograd()
    assert "| euler |" in memory.main(["--smoke"])


def test_calibration_smoke_scores_every_cell_within_its_budget():
    report = calibration.main(["--smoke", *skip_missing_peers()])
    rows = [line for line in report.splitlines() if line.startswith(("| gaussian-16d |", "| digits-kde |"))]
    assert len(rows) == 4  # two problems x NFE 5 and 6
    assert "### Summary per budget" in report

"""Same-grid equivalences in float64: probflow's steppers against torchdiffeq and the published formulas.

The reference implementations below are written independently from the papers' update rules
(EDM Algorithm 1; DPM-Solver++ Algorithm 2), not from probflow's code.
"""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow.solvers import (
    DDIM, HEUN2, HEUN3, MIDPOINT, RK4, RK4_38, DPMSolverPP, Euler, Heun, RungeKutta, TorchDiffEq,
)
from tests.helpers import grid, mixture_problem, start_state

TOLERANCE = 1e-10


def reference_euler(denoiser, x, sigmas):
    for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        s = torch.full((x.shape[0],), sigma, dtype=x.dtype)
        derivative = (x - denoiser(x, s)) / sigma
        x = x + (sigma_next - sigma) * derivative
    return x


def reference_heun(denoiser, x, sigmas):
    """EDM Algorithm 1 (Karras et al. 2022) with Euler into sigma = 0."""
    for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        s = torch.full((x.shape[0],), sigma, dtype=x.dtype)
        d = (x - denoiser(x, s)) / sigma
        x_euler = x + (sigma_next - sigma) * d
        if sigma_next == 0:
            x = x_euler
            continue
        s_next = torch.full((x.shape[0],), sigma_next, dtype=x.dtype)
        d_next = (x_euler - denoiser(x_euler, s_next)) / sigma_next
        x = x + (sigma_next - sigma) * 0.5 * (d + d_next)
    return x


def reference_dpmpp_2m(denoiser, x, sigmas):
    """DPM-Solver++(2M), Lu et al. 2022 Algorithm 2, VE case (alpha = 1), lambda = -log sigma."""
    previous = None
    values = sigmas.tolist()
    for i in range(len(values) - 1):
        sigma, sigma_next = values[i], values[i + 1]
        denoised = denoiser(x, torch.full((x.shape[0],), sigma, dtype=x.dtype))
        if sigma_next == 0:
            x = denoised
            continue
        h = math.log(sigma / sigma_next)
        if previous is None:
            corrected = denoised
        else:
            r = math.log(values[i - 1] / sigma) / h
            corrected = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        x = (sigma_next / sigma) * x - math.expm1(-h) * corrected
        previous = denoised
    return x


def reference_classic_rk4(denoiser, x, sigmas):
    def f(state, sigma):
        return (state - denoiser(state, torch.full((state.shape[0],), sigma, dtype=state.dtype))) / sigma

    for sigma, sigma_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        h = sigma_next - sigma
        k1 = f(x, sigma)
        k2 = f(x + h / 2 * k1, sigma + h / 2)
        k3 = f(x + h / 2 * k2, sigma + h / 2)
        k4 = f(x + h * k3, sigma + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.fixture(scope="module")
def problem():
    return mixture_problem(dim=3, components=4, seed=3)


@pytest.mark.parametrize("zero", [True, False])
def test_euler_equals_torchdiffeq_euler(problem, zero):
    x, sigmas = start_state(5, 3), grid(12, zero=zero)
    ours = probflow.solve(problem, Euler(), x, sigmas).x
    theirs = probflow.solve(problem, TorchDiffEq("euler"), x, sigmas).x
    assert (ours - theirs).abs().max().item() < TOLERANCE


@pytest.mark.parametrize(
    "tableau, method", [(RK4_38, "rk4"), (MIDPOINT, "midpoint"), (HEUN2, "heun2"), (HEUN3, "heun3")]
)
def test_runge_kutta_tableau_equals_torchdiffeq_method(problem, tableau, method):
    x, sigmas = start_state(5, 3), grid(10, zero=False)
    ours = probflow.solve(problem, RungeKutta(tableau), x, sigmas).x
    theirs = probflow.solve(problem, TorchDiffEq(method), x, sigmas).x
    assert (ours - theirs).abs().max().item() < TOLERANCE


def test_classic_rk4_equals_the_published_formula(problem):
    x, sigmas = start_state(5, 3), grid(10, zero=False)
    ours = probflow.solve(problem, RungeKutta(RK4), x, sigmas).x
    assert (ours - reference_classic_rk4(problem, x, sigmas)).abs().max().item() < TOLERANCE


@pytest.mark.parametrize(
    "solver, reference", [(Euler(), reference_euler), (Heun(), reference_heun), (DPMSolverPP(2), reference_dpmpp_2m)]
)
def test_solver_equals_published_update_formula(problem, solver, reference):
    x, sigmas = start_state(5, 3), grid(15)
    ours = probflow.solve(problem, solver, x, sigmas).x
    assert (ours - reference(problem, x, sigmas)).abs().max().item() < TOLERANCE


def test_ddim_with_eta_zero_equals_euler_on_the_ve_state(problem):
    x, sigmas = start_state(5, 3), grid(15)
    ddim = probflow.solve(problem, DDIM(eta=0.0), x, sigmas).x
    euler = probflow.solve(problem, Euler(), x, sigmas).x
    assert (ddim - euler).abs().max().item() < TOLERANCE


def test_dpmpp_first_order_equals_euler(problem):
    x, sigmas = start_state(5, 3), grid(15)
    first = probflow.solve(problem, DPMSolverPP(1), x, sigmas).x
    euler = probflow.solve(problem, Euler(), x, sigmas).x
    assert (first - euler).abs().max().item() < TOLERANCE

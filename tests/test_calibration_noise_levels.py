"""Shifted noise levels (``probflow.calibration.noise_levels``): the wrapper tells the denoiser ``sigma_i e^delta_i``
at grid point ``i`` and nothing else, is differentiable in the shifts, runs inside k-diffusion's own sampler, and a
calibration that fits the shifts beats the same calibration of the grid alone on fresh noise against the exact
flow of a Gaussian."""

from __future__ import annotations

import json

import pytest
import torch

import probflow
from probflow.calibration import Schedule, ShiftedNoiseLevels, calibrate
from probflow.denoisers import Gaussian
from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.solvers import Euler, ExponentialAdams

STD = torch.logspace(-2, 1, 8, dtype=torch.float64)
GAUSSIAN = Gaussian(torch.zeros(8, dtype=torch.float64), STD)
GRID = probflow.schedules.karras(5, 0.02, 80.0)
SHIFTS = torch.tensor([0.3, -0.2, 0.1, 0.05, -0.4], dtype=torch.float64)


def test_the_denoiser_is_told_the_shifted_level_at_each_grid_point_and_only_there():
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    shifted = ShiftedNoiseLevels(GAUSSIAN, GRID, SHIFTS)
    for sigma, shift in zip(GRID[:-1], SHIFTS):
        told = torch.full((4,), float(sigma * shift.exp()), dtype=torch.float64)
        assert torch.equal(shifted(x, sigma.expand(4)), GAUSSIAN(x, told))
    # float32 rounds the grid point: still that grid point.
    assert torch.allclose(shifted(x.float(), GRID[1].float().expand(4)), GAUSSIAN(x, torch.full(
        (4,), float(GRID[1] * SHIFTS[1].exp()), dtype=torch.float64)).float(), rtol=1e-5)
    assert torch.equal(shifted(x, torch.zeros(4, dtype=torch.float64)), GAUSSIAN(x, torch.zeros(4, dtype=torch.float64)))
    with pytest.raises(SolverConfigError, match="not a point of this grid"):
        shifted(x, torch.full((4,), 1.234, dtype=torch.float64))
    with pytest.raises(SolverConfigError, match="a shift per positive grid point"):
        ShiftedNoiseLevels(GAUSSIAN, GRID, SHIFTS[:3])


def test_a_solve_is_differentiable_in_the_shifts():
    """The gradient of a solve's output in the shifts through ``solve(grad=True)`` equals central differences."""
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 80.0
    solver = ExponentialAdams(2, corrector_order=3)

    def loss(shifts):
        return probflow.solve(ShiftedNoiseLevels(GAUSSIAN, GRID, shifts), solver, x, GRID, grad=True).x.pow(2).sum()

    shifts = SHIFTS.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(loss(shifts), shifts)
    step = 1e-6
    for index in range(len(SHIFTS)):
        bump = torch.zeros_like(SHIFTS)
        bump[index] = step
        difference = (loss(SHIFTS + bump) - loss(SHIFTS - bump)) / (2 * step)
        assert float(gradient[index]) == pytest.approx(float(difference), rel=1e-6, abs=1e-9)


def test_a_shifted_schedule_samples_round_trips_and_refuses_a_bad_model_grid(tmp_path):
    told = tuple((GRID[:-1] * SHIFTS.exp()).tolist())
    schedule = Schedule(tuple(GRID.tolist()), Euler(), 5, {}, told)
    noise = torch.randn(6, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = probflow.solve(ShiftedNoiseLevels(GAUSSIAN, GRID, SHIFTS), Euler(), noise * 80.0, GRID).x
    plain = probflow.solve(GAUSSIAN, Euler(), noise * 80.0, GRID).x
    sampled = probflow.sample(GAUSSIAN, noise, schedule=schedule, check_schedule=False)
    torch.testing.assert_close(sampled, expected, rtol=1e-13, atol=0)
    assert float((sampled - plain).abs().max()) > 1e-3
    path = schedule.save(tmp_path / "shifted.json")
    assert json.loads(path.read_text())["model_sigmas"] == list(told)
    assert Schedule.load(path) == schedule and Schedule.load(path).model_grid == told
    plain_schedule = Schedule(tuple(GRID.tolist()), Euler(), 5)
    assert plain_schedule.denoiser(GAUSSIAN) is GAUSSIAN and torch.equal(plain_schedule.model_sigmas, GRID[:-1])
    with pytest.raises(InvalidArgumentError, match="one positive finite noise level per positive grid point"):
        Schedule(tuple(GRID.tolist()), Euler(), 5, {}, told[:-1])
    with pytest.raises(InvalidArgumentError, match="one positive finite noise level"):
        Schedule(tuple(GRID.tolist()), Euler(), 5, {}, (*told[:-1], -1.0))
    content = json.loads(path.read_text())
    content["model_sigmas"] = "five levels"
    with pytest.raises(InvalidArgumentError, match="model_grid needs one positive finite noise level"):
        Schedule.from_json(content)


def test_a_shifted_schedule_runs_inside_k_diffusions_own_sampler():
    from tests.test_integrations_k_diffusion import k_diffusion

    sampling, _ = k_diffusion()
    told = tuple((GRID[:-1] * SHIFTS.exp()).tolist())
    schedule = Schedule(tuple(GRID.tolist()), Euler(), 5, {}, told)
    noise = torch.randn(6, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    theirs = sampling.sample_euler(schedule.denoiser(GAUSSIAN), noise * 80.0, schedule.sigmas, disable=True)
    ours = probflow.sample(GAUSSIAN, noise, schedule=schedule, check_schedule=False)
    assert float((ours - theirs).abs().max()) <= 1e-12


def test_fitting_the_told_noise_levels_beats_the_grid_alone_on_fresh_noise():
    """On a Gaussian with stds from 0.01 to 10, exact flow: same noise, same budget of calls, with and without
    shifts; the shifted schedule's error on 256 fresh paths is below half the grid-only schedule's."""
    noise = torch.randn(32, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    options = {"teacher_steps": 64, "max_calls": 30_000}
    shifted = calibrate(GAUSSIAN, noise, nfe=5, **options)
    grid_only = calibrate(GAUSSIAN, noise, nfe=5, shift_noise_levels=False, **options)
    assert shifted.info["shifted_noise_levels"] and shifted.model_grid is not None
    assert grid_only.model_grid is None and not grid_only.info["shifted_noise_levels"]
    assert shifted.info["calls"]["search"] <= options["max_calls"]
    fresh = torch.randn(256, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    exact = GAUSSIAN.exact_flow(80.0 * fresh, 80.0, 0.0)

    def error(schedule):
        x = probflow.sample(GAUSSIAN, fresh, schedule=schedule)
        return float((x - exact).pow(2).mean(dim=1).sqrt().median())

    assert error(shifted) < 0.5 * error(grid_only)


def test_the_command_line_calibrates_told_levels_by_default_and_a_plain_grid_with_grid_only(tmp_path, capsys):
    from probflow.cli import main

    common = ["calibrate", "--model", "digits-edm", "--nfe", "3", "--num-paths", "4", "--max-calls", "300",
              "--teacher-steps", "8", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "told")]) == 0
    assert main([*common, "--grid-only", "--out", str(tmp_path / "plain")]) == 0
    told = Schedule.load(tmp_path / "told" / "digits-edm.nfe3.json")
    plain = Schedule.load(tmp_path / "plain" / "digits-edm.nfe3.json")
    assert plain.model_grid is None and "model_sigmas" not in json.loads(
        (tmp_path / "plain" / "digits-edm.nfe3.json").read_text())
    assert told.info["shifted_noise_levels"] == (told.model_grid is not None)
    assert told.info["fallback"] or told.model_grid is not None

"""``probflow.calibrate`` and ``Schedule``: a calibrated grid beats the default on held-out noise, the budget holds,
the default is returned when calibration does not help, schedules round-trip through JSON exactly, and a schedule
used with another model warns."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import probflow
from probflow.calibration import (
    Schedule, ScheduleMismatchWarning, calibrate, family_sigmas, point_parameters, point_sigmas, teach,
)
from probflow.calibration.search import trimmed_geometric_mean
from probflow.denoisers import GaussianMixture
from probflow.solvers import Euler, ExponentialAdams

MIXTURE = GaussianMixture(1.5 * torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64),
                          0.25, weights=torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64))
NOISE = torch.randn(24, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
FAST = {"teacher_steps": 64, "max_calls": 12_000}


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return calibrate(MIXTURE, NOISE, nfe=6, **FAST)


def test_a_calibrated_grid_beats_the_default_on_held_out_noise(schedule):
    assert not schedule.info["fallback"]
    assert schedule.info["calibrated_heldout_error"] < 0.7 * schedule.info["default_heldout_error"]
    # Fresh noise the calibration never saw, against the exact flow map from a fine teacher solve.
    fresh = torch.randn(32, 3, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    exact = teach(MIXTURE, fresh * 80.0, 80.0, steps=128).endpoints
    calibrated = probflow.sample(MIXTURE, fresh, nfe=6, schedule=schedule)
    default = probflow.sample(MIXTURE, fresh, nfe=6)
    error = lambda x: float((x - exact).pow(2).mean(dim=1).sqrt().median())  # noqa: E731
    assert error(calibrated) < error(default)


def test_the_schedule_is_a_valid_grid_within_the_budget(schedule):
    sigmas = schedule.sigmas
    assert sigmas.dtype == torch.float64 and float(sigmas[0]) == 80.0 and float(sigmas[-1]) == 0.0
    assert bool((sigmas[1:] < sigmas[:-1]).all())
    assert schedule.solver.nfe(len(sigmas) - 1) <= schedule.nfe == 6
    calls = schedule.info["calls"]
    assert calls["search"] <= FAST["max_calls"]
    assert calls["total"] == calls["search"] + calls["validation"] + calls["teacher"]
    solution = probflow.solve(MIXTURE, schedule.solver, NOISE * schedule.sigma_max, sigmas)
    assert solution.nfe == schedule.solver.nfe(len(sigmas) - 1)


def test_save_and_load_round_trip_exactly(schedule, tmp_path):
    path = schedule.save(tmp_path / "mixture.nfe6.json")
    loaded = Schedule.load(path)
    assert loaded == schedule and loaded.grid == schedule.grid and loaded.solver == schedule.solver
    content = json.loads(path.read_text())  # readable JSON: the grid, the solver's spec, the numbers
    assert content["sigmas"] == list(schedule.grid) and content["solver"] == schedule.solver.spec
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)


def test_the_default_is_returned_when_calibration_does_not_beat_it():
    # Euler on EDM's grid, with no calls left to search: worse than the default, which must come back instead.
    result = calibrate(MIXTURE, NOISE, nfe=6, solvers=[Euler()], teacher_steps=64, max_calls=1)
    assert result.info["fallback"] and "default" in result.info["note"]
    assert result.solver == probflow.recommended(6).solver
    assert result.info["heldout_error"] == result.info["default_heldout_error"]
    assert result.info["calibrated_heldout_error"] >= result.info["default_heldout_error"]


def test_several_budgets_share_one_teacher():
    schedules = calibrate(MIXTURE, NOISE, nfe=[3, 5], teacher_steps=64, max_calls=4_000)
    assert set(schedules) == {3, 5}
    assert schedules[3].info["calls"]["teacher"] > 0 and schedules[5].info["calls"]["teacher"] == 0
    assert schedules[3].info["teacher"] == schedules[5].info["teacher"]


def test_a_schedule_used_with_another_denoiser_warns(schedule):
    other = GaussianMixture(MIXTURE.means + 0.5, 0.25, weights=MIXTURE.log_weights.exp())
    with pytest.warns(ScheduleMismatchWarning, match="calibrated for another denoiser"):
        probflow.sample(other, NOISE, schedule=schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScheduleMismatchWarning)
        probflow.sample(MIXTURE, NOISE, schedule=schedule)


def test_a_schedule_refuses_another_budget_or_a_second_solver(schedule):
    with pytest.raises(probflow.SolverConfigError, match="calibrated for nfe=6, not nfe=10"):
        probflow.sample(MIXTURE, NOISE, nfe=10, schedule=schedule)
    with pytest.raises(probflow.SolverConfigError, match="brings its own solver"):
        probflow.sample(MIXTURE, NOISE, schedule=schedule, solver="heun")


def test_grid_parameterisations_are_each_others_inverse_and_decrease():
    sigmas = probflow.schedules.karras(7, 0.01, 80.0)
    torch.testing.assert_close(point_sigmas(point_parameters(sigmas), 80.0), sigmas, rtol=1e-12, atol=0)
    family = family_sigmas(torch.tensor([math.log(7.0), math.log(0.002), 0.0], dtype=torch.float64), 6, 80.0)
    torch.testing.assert_close(family, probflow.schedules.karras(6, 0.002, 80.0), rtol=1e-12, atol=0)
    theta = torch.randn(9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    grid = point_sigmas(theta, 80.0)
    assert bool((grid[1:] < grid[:-1]).all()) and float(grid[0]) == 80.0 and float(grid[-1]) == 0.0


@given(st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=64), st.floats(0.0, 1e-6), st.floats(1.0, 10.0))
def test_the_objective_ignores_the_best_paths_but_not_the_worst(errors, smaller, factor):
    """The quarter of the paths with the smallest errors does not count: driving the best path's error to 0 does not
    move the objective, the geometric mean of the others; making the worst path's error larger raises it."""
    errors = torch.tensor(sorted(errors), dtype=torch.float64)
    value = float(trimmed_geometric_mean(errors[torch.randperm(len(errors), generator=torch.Generator().manual_seed(0))]))
    drop = min(len(errors) // 4, len(errors) - 1)
    assert value == pytest.approx(math.exp(float(errors[drop:].log().mean())), rel=1e-12)
    pushed = errors.clone()
    pushed[-1] *= factor
    assert float(trimmed_geometric_mean(pushed)) == pytest.approx(value * factor ** (1 / (len(errors) - drop)),
                                                                  rel=1e-12)
    if drop:
        pushed[0] = smaller
        assert float(trimmed_geometric_mean(pushed)) == pytest.approx(value * factor ** (1 / (len(errors) - drop)),
                                                                      rel=1e-12)


def test_bad_calibration_input_is_a_clear_error():
    with pytest.raises(probflow.errors.InvalidArgumentError, match="at least 4 noise draws"):
        calibrate(MIXTURE, NOISE[:3], nfe=5)
    with pytest.raises(probflow.SolverConfigError, match="nfe must be a positive integer"):
        calibrate(MIXTURE, NOISE, nfe=[5, 0])
    with pytest.raises(probflow.errors.InvalidArgumentError, match="not a probflow schedule"):
        Schedule.from_json({"format": "other"})
    with pytest.raises(probflow.SolverConfigError, match="needs 7 calls on this grid"):
        Schedule((80.0, 10.0, 1.0, 0.1, 0.05, 0.01, 0.005, 0.0), ExponentialAdams(), nfe=6)

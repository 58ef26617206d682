"""GITS + iPNDM (benchmarks/gits.py): iPNDM's measured order against the exact Gaussian flow, the dynamic
programme against brute force, the cost matrix, the call accounting and the smoke run."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from benchmarks import gits
from benchmarks.accuracy import CountingDenoiser
from probflow.denoisers import Gaussian
from probflow.errors import SolverConfigError
from probflow.schedules import karras
from tests.test_benchmarks_smoke import skip_missing_peers

GAUSSIAN = Gaussian(torch.full((8,), 0.5, dtype=torch.float64), torch.ones(8, dtype=torch.float64))
START = torch.randn(16, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def measured_order(order: int, grids: list[torch.Tensor]) -> float:
    """Least-squares slope of log(RMS error at the grid's end) against log(steps), errors from the exact flow."""
    sigma_max, sigma_min = float(grids[0][0]), float(grids[0][-1])
    x = sigma_max * START
    exact = GAUSSIAN.exact_flow(x, sigma_max, sigma_min)
    steps = [len(grid) - 1 for grid in grids]
    errors = [float((gits.ipndm(GAUSSIAN, x, grid.tolist(), order) - exact).pow(2).mean().sqrt()) for grid in grids]
    return -float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ipndm_has_its_adams_bashforth_order_on_a_uniform_sigma_grid(order):
    # From sigma = 20 the path is nearly straight, so the lower-order start-up steps cost almost nothing and
    # the fixed Adams-Bashforth coefficients (exact for a uniform grid) show their order.
    grids = [torch.linspace(20.0, 1.0, n + 1, dtype=torch.float64) for n in (256, 512, 1024)]
    assert measured_order(order, grids) == pytest.approx(order, abs=0.2)


def test_ipndm_start_up_caps_the_order_at_two_where_the_path_is_curved():
    # From sigma = 5 the first-order start-up step's O(h^2) local error is no longer negligible.
    grids = [torch.linspace(5.0, 1.0, n + 1, dtype=torch.float64) for n in (256, 512, 1024)]
    assert measured_order(4, grids) == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_ipndm_fixed_coefficients_are_second_order_on_a_karras_grid(order):
    grids = [karras(n, 0.5, 80.0, append_zero=False) for n in (65, 129, 257)]
    assert measured_order(order, grids) == pytest.approx(2.0, abs=0.1)


def test_ipndm_rejects_an_order_it_does_not_have():
    with pytest.raises(SolverConfigError, match="order must be 1..4"):
        gits.ipndm(GAUSSIAN, START, [1.0, 0.5], order=5)


def test_cheapest_path_on_a_hand_checked_matrix():
    inf = np.inf
    cost = np.array([[inf, 1.0, 3.0, 100.0],
                     [inf, inf, 1.0, 10.0],
                     [inf, inf, inf, 3.0],
                     [inf, inf, inf, inf]])
    assert gits.cheapest_path(cost, 1) == [0, 3]  # the only one-step path
    assert gits.cheapest_path(cost, 2) == [0, 2, 3]  # 3 + 3 = 6 beats 0 -> 1 -> 3 = 11 (the greedy first step)
    assert gits.cheapest_path(cost, 3) == [0, 1, 2, 3]


def test_cheapest_path_matches_brute_force():
    generator = np.random.default_rng(0)
    for _ in range(20):
        count = 7
        cost = generator.uniform(0.0, 1.0, (count, count))
        for steps in range(1, count):
            def total(path):
                return sum(cost[a, b] for a, b in zip(path, path[1:]))
            paths = [[0, *inner, count - 1] for inner in itertools.combinations(range(1, count - 1), steps - 1)]
            best = min(paths, key=total)
            assert total(gits.cheapest_path(cost, steps)) == pytest.approx(total(best), rel=1e-12)


def test_cheapest_path_rejects_more_steps_than_points():
    with pytest.raises(SolverConfigError, match="1 <= steps <= 3"):
        gits.cheapest_path(np.zeros((4, 4)), 4)


def test_cost_is_zero_where_every_euler_step_is_exact():
    # A point mass: D = mu, the flow is the straight line x(sigma) = mu + (x - mu) sigma / sigma_0 and the
    # direction is constant along it, so the teacher and every Euler step between its points are exact.
    point_mass = Gaussian(torch.full((3,), 0.25, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    calibration = gits.calibrate(point_mass, START[:4, :3])
    upper = calibration.cost[np.triu_indices(gits.TEACHER_POINTS, k=1)]
    assert np.abs(upper).max() < 1e-9


def test_cost_matrix_is_the_coefficient_times_the_mean_euler_gap():
    calibration = gits.calibrate(GAUSSIAN, START[:4])
    sigmas = gits.teacher_sigmas()
    x = 80.0 * START[:4]
    states = [x]
    for x, _ in gits.ipndm_steps(GAUSSIAN, x, sigmas):
        states.append(x)
    direction = (states[3] - GAUSSIAN(states[3], sigmas[3])) / sigmas[3]
    gap = (states[3] + (sigmas[10] - sigmas[3]) * direction - states[10]).norm(dim=1).mean()
    assert calibration.cost[3, 10] == pytest.approx(gits.COST_COEFFICIENT * float(gap), rel=1e-12)


def test_gits_spends_its_budget_on_teacher_points_and_ends_with_the_denoise():
    calibration = gits.calibrate(GAUSSIAN, START[:4])
    assert len(calibration.sigmas) == 61 and calibration.calls == 60 * 4
    assert calibration.sigmas[0] == 80.0 and calibration.sigmas[-1] == pytest.approx(0.002)
    for nfe in (5, 10, 20):
        grid = calibration.student_sigmas(nfe)
        assert len(grid) == nfe and grid[0] == 80.0 and grid[-1] == calibration.sigmas[-1]
        counter = CountingDenoiser(GAUSSIAN)
        gits.ipndm_then_denoise(counter, START, grid)
        assert counter.calls == nfe
    counter = CountingDenoiser(GAUSSIAN)
    gits.karras_ipndm(counter, START, 7)
    assert counter.calls == 7


def test_gits_smoke_reports_every_budget_and_the_calibration_calls():
    report = gits.main(["--smoke", *skip_missing_peers()])
    assert "| gaussian-16d | 5 |" in report and "| digits-kde | 6 |" in report
    assert "| gaussian-16d | 480 |" in report  # 60 teacher steps x 8 smoke paths

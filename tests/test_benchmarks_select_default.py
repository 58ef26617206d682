"""Leave-one-problem-out selection (benchmarks/select_default.py): the minimax rule on hand-made ratios, the
candidates' budgets and grids, and the smoke run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import probflow
from benchmarks import select_default
from benchmarks.accuracy import CountingDenoiser
from benchmarks.problems import benchmark_problems
from probflow.schedules import exponential
from probflow.solvers import ExponentialAdams
from tests.test_benchmarks_smoke import skip_missing_peers


def test_minimax_prefers_never_bad_over_sometimes_brilliant():
    ratios = np.array([[0.1, 0.1, 3.0],  # brilliant twice, bad once
                       [0.9, 0.9, 0.9],  # never bad
                       [0.5, 0.9, 0.9]])  # as never bad, and better somewhere: wins the tie on the geometric mean
    assert select_default.minimax_choice(ratios) == 2
    assert select_default.minimax_choice(ratios, columns=[0, 1]) == 0


def test_leave_one_problem_out_picks_on_the_others_and_reports_the_held_out_ratio():
    ratios = np.array([[0.2, 0.3, 5.0],
                       [0.8, 0.7, 0.6],
                       [0.4, 4.0, 0.3]])
    selection = select_default.select(ratios, nfe=10)
    assert selection.chosen == 1  # worst 0.8, the smallest worst
    # Without problem 2, row 0 has worst 0.3; held out, it scores 5.0 there. Without problem 1, row 2 (worst
    # 0.4); held out, 4.0. Without problem 0, row 1 (0.7); held out, 0.8.
    assert selection.held_out_choices == (1, 2, 0)
    assert selection.held_out_ratios == (0.8, 4.0, 5.0)
    assert selection.worst_held_out == 5.0


def test_every_candidate_runs_within_its_budget_on_a_grid_ending_in_zero():
    problem = benchmark_problems(smoke=True)[0]
    noise = problem.noise()[:4]
    found = select_default.candidates()
    kinds = {}
    for candidate in found:
        kinds.setdefault((candidate.solver, candidate.grid.schedule), candidate)
    assert {solver for solver, _ in kinds} == {candidate.solver for candidate in found}
    for candidate in kinds.values():
        for nfe in (5, 8):
            counter = CountingDenoiser(problem.denoiser)
            x = candidate.run(counter, noise, nfe)
            assert counter.calls <= nfe and bool(torch.isfinite(x).all()), candidate.label


def test_candidate_grids_start_at_80_and_end_at_their_sigma_min_then_zero():
    candidate = next(c for c in select_default.candidates() if c.grid.schedule == "piecewise_geometric"
                     and c.grid.sigma_min == 0.01)
    sigmas = candidate.grid.sigmas(10)
    assert len(sigmas) == 11 and sigmas[0] == 80.0 and sigmas[-2] == pytest.approx(0.01) and sigmas[-1] == 0.0
    assert candidate.grid.code().startswith("probflow.schedules.piecewise_geometric(n, 0.01, 80.0, band_low=")


def test_budget_sigma_min_ends_where_the_one_point_longer_log_uniform_grid_has_its_last_positive_point():
    grid = select_default.GridSpec("exponential", 0.002, budget_sigma_min=True)
    for n in (5, 10, 20):
        longer = exponential(n + 1, 0.002, 80.0)
        torch.testing.assert_close(grid.sigmas(n)[:-1], longer[:-2], rtol=1e-12, atol=0)
        assert grid.sigmas(n)[-1] == 0.0
        code = grid.code()
        assert eval(code, {"probflow": probflow, "n": n}).tolist() == grid.sigmas(n).tolist()  # noqa: S307


def test_the_printed_python_builds_the_same_solver():
    spec = select_default.SolverSpec("ExponentialAdams", (3,), (("form", "noise"), ("corrector_order", 0),
                                                                ("final_nodes", 2)))
    assert spec.code() == "ExponentialAdams(3, form='noise', corrector_order=0, final_nodes=2)"
    built, written = spec.build(), eval(spec.code(), {"ExponentialAdams": ExponentialAdams})  # noqa: S307
    problem = benchmark_problems(smoke=True)[0]
    grid = select_default.GridSpec("karras", 0.005, (("rho", 7.0),)).sigmas(6)
    torch.testing.assert_close(probflow.solve(problem.denoiser, built, problem.noise() * 80.0, grid).x,
                               probflow.solve(problem.denoiser, written, problem.noise() * 80.0, grid).x,
                               rtol=0, atol=0)


def test_select_default_smoke_reports_a_choice_per_budget():
    report = select_default.main(["--smoke", *skip_missing_peers()])
    assert "| 5 | nfe <= 5 |" in report and "| 6 | 6 <= nfe <= 7 |" in report
    assert "solver = probflow.solvers." in report and "sigmas = probflow.schedules." in report

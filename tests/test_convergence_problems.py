"""The named convergence problems: exact denoisers of the advertised shape, reproducible starts."""

from __future__ import annotations

import pytest
import torch

from probflow.convergence import PROBLEMS, get_problem
from probflow.denoisers import AnalyticDenoiser

SHAPES = {"gaussian": (4,), "mixture2d": (2,), "mixture64": (64,), "digits-kde": (1, 8, 8)}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_problem_builds_an_analytic_denoiser_of_its_shape(name: str) -> None:
    problem = get_problem(name)
    denoiser = problem.build()
    assert isinstance(denoiser, AnalyticDenoiser)
    assert tuple(denoiser.shape) == SHAPES[name]
    x = problem.initial_state(denoiser, 80.0, seed=3)
    assert x.shape == (problem.batch, *SHAPES[name]) and x.dtype == torch.float64
    assert denoiser(x, torch.full((problem.batch,), 80.0, dtype=torch.float64)).shape == x.shape


def test_every_registered_problem_is_covered() -> None:
    assert set(PROBLEMS) == set(SHAPES)


def test_initial_state_depends_only_on_the_seed() -> None:
    problem = get_problem("mixture2d")
    denoiser = problem.build()
    torch.testing.assert_close(problem.initial_state(denoiser, 10.0, 5), problem.initial_state(denoiser, 10.0, 5))
    assert not torch.equal(problem.initial_state(denoiser, 10.0, 5), problem.initial_state(denoiser, 10.0, 6))


def test_initial_state_is_drawn_from_the_noisy_marginal() -> None:
    # x = y + sigma n: at sigma = 80 the sample scale is ~80 (the data's scale is ~1).
    problem = get_problem("gaussian")
    x = problem.initial_state(problem.build(), 80.0)
    assert 20.0 < float(x.std()) < 200.0


def test_unknown_problem_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown problem 'nope'; known: gaussian, mixture2d"):
        get_problem("nope")

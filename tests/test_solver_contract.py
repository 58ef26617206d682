"""Every registered solver keeps the contract of ``probflow.solvers.base``: its real call count is its declared
``nfe()``, its budget helper is the inverse of ``nfe()``, and its identity is its fields (frozen, equal, hashable,
a spec that parses back, a JSON configuration)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import probflow
from probflow.comparison.lesson_ddim import LessonDDIM
from probflow.solvers import (
    DDIM, LMS, DPMSolverPP, EDMStochastic, EulerAncestral, ExponentialAdams, RungeKutta, TorchDiffEq, TorchSDE,
    get_solver, solver_names,
)
from tests.helpers import CountingDenoiser, gaussian_problem, grid, start_state

NAMES = solver_names()
CONFIGURED = [
    DDIM(0.3), EulerAncestral(0.5, 0.9), EDMStochastic(s_churn=2.0, s_tmin=0.1, s_tmax=10.0), LMS(3, "adams"),
    DPMSolverPP(3), ExponentialAdams(4, form="noise", corrector_order=5, final_nodes=3), RungeKutta("ralston2"),
    TorchDiffEq("dopri5", rtol=1e-6, atol=1e-7, time_variable="log_sigma", first_step=0.5),
    TorchSDE("heun", substeps=2), LessonDDIM(0.5, clip=2.0, noise_cutoff=0.01, noise_scale=0.5),
]
STEP_COUNTS = (1, 2, 3, 5, 8)


@pytest.mark.parametrize("name", NAMES)
def test_the_real_call_count_is_the_declared_nfe_at_every_step_count(name):
    solver = get_solver(name)
    for num_steps in STEP_COUNTS:
        for ends_at_zero in (True, False):
            counted = CountingDenoiser(gaussian_problem())
            sigmas = grid(num_steps if ends_at_zero else num_steps + 1, zero=ends_at_zero)
            solution = probflow.solve(counted, solver, start_state(3, 3), sigmas,
                                      generator=probflow.seed_generators(range(3)))
            assert solution.nfe == counted.calls, (name, num_steps, ends_at_zero)
            if not solver.adaptive:
                assert counted.calls == solver.nfe(num_steps, ends_at_zero), (name, num_steps, ends_at_zero)


@pytest.mark.parametrize("name", [name for name in NAMES if not get_solver(name).adaptive])
def test_steps_within_is_the_largest_step_count_whose_calls_fit_the_budget(name):
    solver = get_solver(name)
    for nfe in range(solver.nfe(1), 40):
        steps = solver.steps_within(nfe)
        assert solver.nfe(steps) <= nfe < solver.nfe(steps + 1), (name, nfe, steps)


@pytest.mark.parametrize("solver", [get_solver(name) for name in NAMES] + CONFIGURED, ids=repr)
def test_a_solver_is_its_fields(solver):
    assert get_solver(solver.spec) == solver and hash(get_solver(solver.spec)) == hash(solver)
    assert eval(repr(solver), vars(probflow.solvers) | {"LessonDDIM": LessonDDIM, "inf": float("inf")}) == solver
    json.dumps(solver.config())
    field = dataclasses.fields(solver)[0].name if dataclasses.fields(solver) else "family"
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
        setattr(solver, field, None)


def test_configurations_that_differ_in_any_parameter_differ_in_identity_and_config():
    variants = [LessonDDIM(1.0, clip=0.1), LessonDDIM(1.0, clip=0.2), LessonDDIM(1.0, clip=0.1, noise_scale=0.0),
                DDIM(1.0), TorchDiffEq("dopri5", first_step=0.1), TorchDiffEq("dopri5", first_step=0.2)]
    assert len(set(variants)) == len(variants)
    assert len({json.dumps(v.config(), sort_keys=True) for v in variants}) == len(variants)


def test_a_solver_class_or_a_non_solver_is_refused_with_a_clear_error():
    with pytest.raises(probflow.SolverConfigError, match=r"an instance, e\.g\. Heun\(\)"):
        probflow.sample(gaussian_problem(), torch.randn(2, 3), nfe=5, solver=probflow.solvers.Heun)
    with pytest.raises(probflow.SolverConfigError, match="a probflow Solver or a spec"):
        probflow.solve(gaussian_problem(), 3, start_state(2, 3), grid(3))


class _ReturnsOnlyX:
    """A stepper that breaks the contract: its step returns x_next alone, not ``(x_next, denoised)``."""

    def __init__(self, grid):
        self.grid = grid

    def step(self, i, x):
        denoised = yield x, self.grid.sigma(i)
        return denoised


@dataclasses.dataclass(frozen=True, repr=False)
class _BrokenSolver(probflow.solvers.Solver):
    family = "returns_only_x"
    order = 1
    calls_per_step = 1

    def start(self, grid):
        return _ReturnsOnlyX(grid)


@pytest.mark.parametrize("batch", [2, 3])
def test_a_step_that_returns_only_x_is_refused_with_the_contract(batch):
    # A batch of 2 would otherwise unpack into two rows and fail later with a misleading shape error.
    with pytest.raises(probflow.SolverConfigError, match=r"must return \(x_next, denoised\)"):
        probflow.solve(gaussian_problem(), _BrokenSolver(), start_state(batch, 3), grid(4))

"""Every hand-written stepper keeps its per-grid coefficients in compact arrays: a few bytes per step."""

from __future__ import annotations

import tracemalloc

import pytest
import torch

from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers import Grid, get_solver, solver_names
from probflow.terms import ProbabilityFlowODE, ReverseSDE
from tests.helpers import gaussian_problem, grid

HAND_WRITTEN = [name for name in solver_names() if not name.startswith(("torchdiffeq", "torchsde"))]
#: Bytes per step a stepper may keep: twelve float64s. Exponential Adams keeps the most, nine (3 predictor and
#: 4 corrector weights, two node counts); a Python list of floats or tuples per step costs 80-200 bytes.
BYTES_PER_STEP = 12 * 8


def _held_by_start(name: str, steps: int) -> int:
    """Python memory (tracemalloc) that ``start`` keeps for a grid of ``steps`` steps."""
    solver = get_solver(name)
    state = torch.zeros(2, 3, dtype=torch.float64)
    sigmas = Grid(grid(steps), dtype=state.dtype, device=state.device, differentiable=False)
    denoiser = gaussian_problem()
    term = ReverseSDE(denoiser) if solver.term_kind == "sde" else ProbabilityFlowODE(denoiser)
    model = ModelCall(denoiser, state, sigmas.values, solver_name=name)
    inputs = {"term": term.with_denoiser(model, shape=(3,))} if solver.integrates_term else {}
    if solver.stochastic:
        inputs["noise"] = NoiseSource(None, state.shape, state.dtype, state.device)
    tracemalloc.start()
    try:
        stepper = solver.start(sigmas, **inputs)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del stepper
    return held


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_a_stepper_keeps_at_most_twelve_floats_per_step(name):
    few, many = _held_by_start(name, 100), _held_by_start(name, 2000)
    assert (many - few) / 1900 <= BYTES_PER_STEP, f"{name}: {(many - few) / 1900:.0f} bytes per step"

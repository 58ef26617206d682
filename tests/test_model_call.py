"""ModelCall: the first non-finite call of a long solve is named exactly, and its bookkeeping does not grow."""

from __future__ import annotations

import math
import tracemalloc

import pytest
import torch

import probflow
from probflow.errors import DenoiserOutputError
from probflow.model_call import FINITE_CHECK_BLOCK, ModelCall
from probflow.solvers import Euler, Heun
from tests.helpers import gaussian_problem, grid, start_state


def _faulty_at(bad_calls: set[int], value: float = math.nan):
    """The Gaussian denoiser with ``value`` added to its output at the given (1-based) calls; records each call."""
    problem = gaussian_problem()
    calls: list[float] = []

    def denoiser(x, sigma):
        calls.append(sigma[0].item())
        out = problem(x, sigma)
        return out + value if len(calls) in bad_calls else out

    return denoiser, calls


@pytest.mark.parametrize("bad_call", [1, FINITE_CHECK_BLOCK - 1, FINITE_CHECK_BLOCK, FINITE_CHECK_BLOCK + 1,
                                      3 * FINITE_CHECK_BLOCK + 7, 300])
@pytest.mark.parametrize("solver", [Euler(), Heun()], ids=repr)
def test_the_first_non_finite_call_of_a_long_solve_is_named_by_step_sigma_and_call(bad_call, solver):
    sigmas = grid(300)
    denoiser, calls = _faulty_at({bad_call, bad_call + 2})
    with pytest.raises(DenoiserOutputError) as error:
        probflow.solve(denoiser, solver, start_state(2, 3), sigmas)
    # Euler makes one call per step; Heun two, except the final denoise (its corrector at sigma_{i+1} is step i's).
    step = bad_call - 1 if isinstance(solver, Euler) else min((bad_call - 1) // 2, len(sigmas) - 2)
    total = solver.nfe(len(sigmas) - 1)
    assert len(calls) == total
    expected = f"NaN/Inf at step {step}, sigma={calls[bad_call - 1]:.6g} (call {bad_call} of {total})"
    assert expected in str(error.value)


def test_a_non_finite_output_in_the_last_partial_block_is_found():
    sigmas = grid(2 * FINITE_CHECK_BLOCK + 10)
    last = len(sigmas) - 1
    denoiser, calls = _faulty_at({last}, math.inf)
    with pytest.raises(DenoiserOutputError, match=rf"step {last - 1}, sigma=.* \(call {last} of {last}\)"):
        probflow.solve(denoiser, Euler(), start_state(2, 3), sigmas)


def test_a_finite_solve_raises_nothing_and_counts_every_call():
    denoiser, calls = _faulty_at(set())
    solution = probflow.solve(denoiser, Heun(), start_state(2, 3), grid(3 * FINITE_CHECK_BLOCK))
    assert solution.nfe == len(calls) == Heun().nfe(3 * FINITE_CHECK_BLOCK)


def test_the_sigma_tensor_is_reused_for_a_repeated_sigma_and_renewed_for_a_new_one():
    seen: list[torch.Tensor] = []
    model = ModelCall(lambda x, sigma: seen.append(sigma) or x, torch.zeros(3, 2), [2.0, 1.0], solver_name="test")
    for sigma in (2.0, 2.0, 1.0):
        model(torch.zeros(3, 2), sigma)
    assert seen[0] is seen[1] and seen[2] is not seen[1]
    assert seen[2].tolist() == [1.0, 1.0, 1.0] and seen[2].dtype == torch.float32


def _python_bytes_held_after(calls: int) -> int:
    """Python memory held by a ModelCall after ``calls`` calls at distinct sigmas (none of the outputs kept)."""
    x = torch.zeros(2, 3, dtype=torch.float64)
    sigmas = [10.0 / (1 + k) for k in range(calls)]
    tracemalloc.start()
    try:
        model = ModelCall(lambda state, sigma: state * 0.5, x, sigmas, solver_name="test")
        baseline = tracemalloc.get_traced_memory()[0]
        for k, sigma in enumerate(sigmas):
            model.step = k
            model(x, sigma)
        return tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()


def test_bookkeeping_does_not_grow_with_the_number_of_calls():
    # Same position within a check block, 10x the calls: the held memory must not scale with the calls
    # (before, every call kept a 0-d tensor, a tuple and a cached sigma tensor: ~0.3 KB per call).
    few, many = _python_bytes_held_after(2 * FINITE_CHECK_BLOCK), _python_bytes_held_after(20 * FINITE_CHECK_BLOCK)
    assert many - few < 2048, (few, many)

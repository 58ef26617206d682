"""The grids of a convergence study: ``N`` steps from ``sigma_max`` down to ``sigma_min``, never to 0.

Errors are measured at ``sigma_min``, not after the final step to ``sigma = 0``: that step is the denoise
``x = D(x, sigma_min)``, the limit of one Euler step (EDM Alg. 1, line 7; ``solvers.base``), whose error is
first order in the step and would cap the measured order of every solver at 1. So a schedule here maps a
number of steps ``N`` to ``N + 1`` sigmas with ``sigmas[0] = sigma_max`` and ``sigmas[N] = sigma_min``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from probflow.errors import SigmaGridError
from probflow.schedules import karras
from probflow.validation import validate_sigmas

Schedule = Callable[[int], "torch.Tensor | Sequence[float]"]


def karras_schedule(sigma_max: float, sigma_min: float, rho: float) -> Schedule:
    """``N -> karras(N + 1, sigma_min, sigma_max, rho, append_zero=False)`` (Karras et al. 2022, eq. 5).

    Its points sit at the fractions ``i / N``, so the grid of ``N`` steps is every ``M/N``-th point of the grid
    of ``M`` steps when ``N`` divides ``M``: the grids are nested.
    """
    return lambda num_steps: karras(num_steps + 1, sigma_min, sigma_max, rho, append_zero=False)


def schedule_grid(schedule: Schedule, num_steps: int, sigma_max: float, sigma_min: float) -> torch.Tensor:
    """``schedule(num_steps)`` as a validated float64 grid of ``num_steps`` steps from sigma_max to sigma_min."""
    grid = validate_sigmas(schedule(num_steps))
    if grid.numel() != num_steps + 1:
        raise SigmaGridError(f"the schedule gave {grid.numel()} sigmas for {num_steps} steps, expected {num_steps + 1}")
    ends = (float(grid[0]), float(grid[-1]))
    if not (math.isclose(ends[0], sigma_max, rel_tol=1e-12) and math.isclose(ends[1], sigma_min, rel_tol=1e-12)):
        raise SigmaGridError(
            f"the schedule must run from sigma_max={sigma_max:g} to sigma_min={sigma_min:g} (no final 0), "
            f"got {ends[0]:g} to {ends[1]:g}"
        )
    return grid

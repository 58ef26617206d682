"""The teacher: high-accuracy endpoints at sigma = 0 of the calibration noise, and how accurate they are.

The teacher integrates the probability-flow ODE from ``x = sigma_max n`` to sigma = 0 with a fourth-order
exponential Adams predictor-corrector (:class:`~probflow.solvers.ExponentialAdams` ``(4, corrector_order=5)``) on a
Karras grid (rho = 7) of ``steps`` steps down to ``sigma_min``, whose step into 0 extrapolates the denoised values in
``sigma^2`` (error ``O(sigma_min^4)``). Its accuracy is measured, not assumed: a subset of the paths is solved again
on a grid of twice the steps, and the median per-sample RMS gap between the two is recorded. A calibrated grid's
error is only meaningful well above that gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from probflow.conditioning import select_rows
from probflow.schedules import karras
from probflow.solve import solve
from probflow.solvers import ExponentialAdams

TEACHER = ExponentialAdams(4, form="data", corrector_order=5)
TEACHER_SIGMA_MIN = 1e-3


def per_sample_rms(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``sqrt(mean((x - reference)^2))`` over each sample's elements: shape ``[batch]``."""
    return (x - reference).flatten(1).pow(2).mean(dim=1).sqrt()


@dataclass(frozen=True)
class Teacher:
    """Teacher endpoints ``[K, ...]`` (float64) of the calibration states, with the teacher's solver, grid size, call
    count, and its measured accuracy ``gap`` (median per-sample RMS to a solve of twice the steps)."""

    endpoints: torch.Tensor
    steps: int
    calls: int
    gap: float
    checked_paths: int

    def record(self) -> dict[str, float | int | str]:
        return {"solver": TEACHER.spec, "steps": self.steps, "calls": self.calls, "gap": self.gap,
                "checked_paths": self.checked_paths}


def teach(denoiser, states: torch.Tensor, sigma_max: float, *, steps: int = 256, checked_paths: int = 8,
          batch_size: int = 64, model_kwargs: Mapping[str, torch.Tensor] | None = None) -> Teacher:
    """Teacher endpoints of ``states`` (the states at ``sigma_max``), solved in float64 (module docstring)."""
    grid = karras(steps, TEACHER_SIGMA_MIN, sigma_max)
    endpoints, calls = [], 0
    for start in range(0, states.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        solution = solve(denoiser, TEACHER, states[rows], grid, model_kwargs=select_rows(model_kwargs, len(states), rows))
        endpoints.append(solution.x)
        calls += solution.nfe * solution.x.shape[0]
    endpoints = torch.cat(endpoints)
    subset = slice(0, min(checked_paths, states.shape[0]))
    finer = solve(denoiser, TEACHER, states[subset], karras(2 * steps, TEACHER_SIGMA_MIN, sigma_max),
                  model_kwargs=select_rows(model_kwargs, len(states), subset))
    calls += finer.nfe * finer.x.shape[0]
    gap = float(per_sample_rms(endpoints[subset], finer.x).median())
    return Teacher(endpoints, steps, calls, gap, finer.x.shape[0])


"""The grids a comparison samples on, as sigma grids ending in 0, with the starting state of each.

Every sigma-range schedule of :data:`probflow.schedules.SCHEDULES` (one registry: Karras by default, each other at
its default shape), and the lesson's cosine DDIM grid. The lesson's two time discretisations:

* ``"karras"``: EDM eq. 5 (Karras et al. 2022), ``steps`` values from ``sigma_max`` to ``sigma_min`` and a trailing
  0, so ``steps`` intervals; sampling starts at ``x = sigma_max * n`` (the VE prior, EDM Alg. 1 line 1). The
  lesson (23_karras) used ``rho = 7``, ``sigma_min = 0.01``, ``sigma_max = 80``.
* ``"cosine"``: the lesson's DDIM grid (22_cosine) on ``alpha_bar(t) = cos^2(pi t / 2)``. Its ``N`` steps visit
  ``t_i = (N - 1 - i) / N``, ``i = 0 .. N-1`` (``linspace(1 - 1/N, 0, N)``), each stepping to ``alpha_bar(t_i - 1/N)``,
  or to ``alpha_bar = 1`` from the last. As sigmas, ``sigma_i = sqrt((1 - alpha_bar(t_i)) / alpha_bar(t_i))``
  (EDM Table 1, VP row) for ``t_i > 0``, then 0: ``N`` values and ``N - 1`` intervals. The lesson's last call,
  at ``t = 0`` where ``alpha_bar = 1`` and ``x0_hat = x``, leaves the state unchanged, so it is not made here:
  ``N`` lesson steps cost ``N - 1`` calls. Sampling starts from the VP prior ``x_vp = n``, i.e. the VE state
  ``x = sqrt(1 + sigma_0^2) n``.
"""

from __future__ import annotations

import math

import torch

from probflow.denoisers import cosine_alpha_bar
from probflow.errors import SolverConfigError
from probflow.schedules import SCHEDULES, alpha_bar_to_sigma, karras
from probflow.validation import check_int

#: The lesson's cosine DDIM grid; every other grid is a :data:`probflow.schedules.SCHEDULES` entry.
LESSON_COSINE = "cosine"
#: The grids a comparison can sample on.
GRIDS = (*(name for name in SCHEDULES if name != "piecewise_geometric"), LESSON_COSINE)


def cosine_ddim_sigmas(steps: int) -> torch.Tensor:
    """The lesson's ``steps``-step DDIM grid as float64 sigmas: ``sigma(t_i)`` for ``t_i = (N-1-i)/N > 0``, then 0."""
    steps = check_int("the cosine grid's steps (its last lesson step is the identity)", steps, minimum=2,
                      error=SolverConfigError)
    times = torch.arange(steps - 1, 0, -1, dtype=torch.float64) / steps
    return torch.cat([alpha_bar_to_sigma(cosine_alpha_bar(times)), times.new_zeros(1)])


def sampling_grid(grid: str, steps: int, *, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """The float64 sigmas of ``grid`` for ``steps`` steps: the lesson's cosine grid (``sigma_min``, ``sigma_max`` and
    ``rho`` do not apply), Karras with ``rho``, or another :data:`~probflow.schedules.SCHEDULES` entry at its
    default shape."""
    if grid == LESSON_COSINE:
        return cosine_ddim_sigmas(steps)
    if grid == "karras":
        return karras(steps, sigma_min, sigma_max, rho)
    if grid not in GRIDS:
        raise SolverConfigError(f"unknown grid {grid!r}; known: {', '.join(GRIDS)}")
    return SCHEDULES[grid](steps, sigma_min, sigma_max)


def steps_for_intervals(grid: str, intervals: int) -> int:
    """The lesson steps of a grid with ``intervals`` intervals into 0: the cosine grid's last lesson step is the
    identity and is not taken, so ``N`` steps make ``N - 1`` intervals; every other grid's steps are its intervals."""
    return intervals + 1 if grid == LESSON_COSINE else intervals


def initial_noise_scale(grid: str, sigma_start: float) -> float:
    """The factor turning ``n ~ N(0, I)`` into the starting state: ``sigma_0`` (VE) or ``sqrt(1 + sigma_0^2)`` (VP)."""
    return math.sqrt(1.0 + sigma_start**2) if grid == LESSON_COSINE else sigma_start

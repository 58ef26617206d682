"""Turning a schedule's sigma values into a validated grid (k-diffusion convention: descending, then 0)."""

from __future__ import annotations

import torch

from probflow.errors import SigmaGridError
from probflow.validation import validate_sigmas


def finish_grid(sigmas: torch.Tensor, *, append_zero: bool, context: str) -> torch.Tensor:
    """Append the trailing 0 when ``append_zero`` and validate; a bad grid raises, prefixed by ``context``."""
    grid = torch.cat([sigmas, sigmas.new_zeros(1)]) if append_zero else sigmas
    try:
        return validate_sigmas(grid, min_length=1)
    except SigmaGridError as exc:
        raise SigmaGridError(f"{context} gives an invalid grid: {exc}") from exc


def finish_range_grid(
    sigmas: torch.Tensor, sigma_min: float, sigma_max: float, *, append_zero: bool, context: str
) -> torch.Tensor:
    """Like :func:`finish_grid`, for a schedule that runs from ``sigma_max`` to ``sigma_min``.

    The first value is set to ``sigma_max`` and (when there are two or more) the last to ``sigma_min``:
    the formulas hit them in exact arithmetic, but pow/exp/log round trips leave errors of a few ulps,
    and callers compare the ends of the grid with the bounds they asked for.
    """
    pinned = sigmas.clone()
    pinned[0] = sigma_max
    if pinned.numel() > 1:
        pinned[-1] = sigma_min
    return finish_grid(pinned, append_zero=append_zero, context=context)

"""Validation of sigma grids, shared by every schedule and by the solve loop."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from probflow.errors import SigmaGridError


def validate_sigmas(sigmas: torch.Tensor | Sequence[float], *, min_length: int = 2) -> torch.Tensor:
    """Return ``sigmas`` as a 1-D float64 tensor, or raise :class:`SigmaGridError`.

    A valid grid follows the k-diffusion convention: it is strictly decreasing, finite, non-negative,
    and only its last entry may be 0. The check runs once per grid, on the host, before any loop.
    """
    if isinstance(sigmas, torch.Tensor):
        grid = sigmas.detach().to(device="cpu", dtype=torch.float64)
    else:
        try:
            grid = torch.as_tensor(list(sigmas), dtype=torch.float64)
        except (TypeError, ValueError) as exc:
            raise SigmaGridError(f"sigmas must be a 1-D sequence of numbers, got {type(sigmas).__name__}") from exc
    if grid.ndim != 1:
        raise SigmaGridError(f"sigmas must be 1-D, got shape {tuple(grid.shape)}")
    if grid.numel() < min_length:
        raise SigmaGridError(f"sigmas must hold at least {min_length} values, got {grid.numel()}")
    finite = torch.isfinite(grid)
    if not bool(finite.all()):
        index = int((~finite).nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = {grid[index].item()} is not finite")
    negative = grid < 0
    if bool(negative.any()):
        index = int(negative.nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = {grid[index].item()} is negative")
    zero_inside = grid[:-1] == 0
    if bool(zero_inside.any()):
        index = int(zero_inside.nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = 0 before the end of the grid; only the last sigma may be 0")
    not_decreasing = grid[1:] >= grid[:-1]
    if bool(not_decreasing.any()):
        index = int(not_decreasing.nonzero()[0])
        raise SigmaGridError(
            f"sigmas must be strictly decreasing: sigmas[{index}] = {grid[index].item()} is followed by "
            f"sigmas[{index + 1}] = {grid[index + 1].item()}"
        )
    return grid

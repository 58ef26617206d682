"""The linear combinations every stepper ends with, in as few tensor operations as the maths allows.

On small tensors a step's cost is the number of tensor operations, and an in-place ``add_`` costs less than an
operation that allocates its result, so a combination allocates once and accumulates into that tensor. Weights
are Python floats, or 0-d tensors when the solve is differentiable (:class:`~probflow.solvers.grid.Grid`); then
the combination is built out of place, so that autograd sees every term.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from probflow.noise import NoiseSource

Weight = float | torch.Tensor


def accumulate_(result: torch.Tensor, weights: Iterable[Weight], tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """``result + sum_j weights[j] * tensors[j]`` (pairs up to the shorter iterable), in place for float weights.

    Only for a ``result`` the caller has just created: nothing else may hold it. Returns the result.
    """
    for weight, tensor in zip(weights, tensors):
        if isinstance(weight, torch.Tensor):
            result = result + weight * tensor
        else:
            result.add_(tensor, alpha=weight)
    return result


def add_weighted(base: torch.Tensor, weights: Iterable[Weight], tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """``base + sum_j weights[j] * tensors[j]`` (pairs up to the shorter iterable) as a new tensor.

    ``base`` and ``tensors`` are left untouched; with no pairs, ``base`` itself is returned.
    """
    weights, tensors = iter(weights), iter(tensors)
    for weight, tensor in zip(weights, tensors):  # the first pair allocates the result, the rest accumulate
        first = base + weight * tensor if isinstance(weight, torch.Tensor) else torch.add(base, tensor, alpha=weight)
        return accumulate_(first, weights, tensors)
    return base


def add_noise(x: torch.Tensor, weight: Weight, noise: NoiseSource, sigma: float, sigma_next: float, *,
              draws: bool) -> torch.Tensor:
    """``x + weight * z``, ``z`` the noise source's standard increment for the step ``sigma -> sigma_next``, as a new
    tensor, when ``draws`` (the caller's ``weight > 0``, from :meth:`~probflow.solvers.grid.Grid.positive`); else,
    when the weight is 0 (the step into 0, ``eta = 0``), nothing is drawn and ``x`` itself is returned."""
    if not draws:
        return x
    return add_weighted(x, [weight], [noise.increment(sigma, sigma_next)])

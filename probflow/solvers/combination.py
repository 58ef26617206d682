"""The linear combinations every stepper ends with, in as few tensor operations as the maths allows.

On small tensors a step's cost is the number of tensor operations, and an in-place ``add_`` costs less than an
operation that allocates its result, so a combination allocates once and accumulates into that tensor.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def accumulate_(result: torch.Tensor, weights: Iterable[float], tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """``result += sum_j weights[j] * tensors[j]`` in place (pairs up to the shorter iterable); returns ``result``.

    Only for a ``result`` the caller has just created: nothing else may hold it.
    """
    for weight, tensor in zip(weights, tensors):
        result.add_(tensor, alpha=weight)
    return result


def add_weighted(base: torch.Tensor, weights: Iterable[float], tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """``base + sum_j weights[j] * tensors[j]`` (pairs up to the shorter iterable) as a new tensor.

    ``base`` and ``tensors`` are left untouched; with no pairs, ``base`` itself is returned.
    """
    weights, tensors = iter(weights), iter(tensors)
    for weight, tensor in zip(weights, tensors):  # the first pair allocates the result, the rest accumulate
        return accumulate_(torch.add(base, tensor, alpha=weight), weights, tensors)
    return base

"""Integrals of Lagrange basis polynomials, the coefficients of every Adams-type multistep method.

For nodes ``t_0..t_{k-1}`` and the Lagrange basis ``l_j(t) = prod_{m != j} (t - t_m)/(t_j - t_m)``::

    c_j = integral_{a}^{b} w(t) l_j(t) dt

With ``w = 1`` this is the variable-step Adams-Bashforth weight (Hairer, Norsett & Wanner I, III.5); with
``w(t) = exp(t - b)`` in ``t = lambda = -log sigma`` it is the exponential Adams-Bashforth weight of the
data-prediction exponential integrator (Lu et al. 2022, DPM-Solver++, eq. 9; Zhang & Chen 2023, DEIS).
Gauss-Legendre with ``n`` points is exact for polynomials of degree ``2n - 1``; with 12 points the
exponential weight is integrated to float64 round-off for steps up to ``|b - a| ~ 6``. The weights of every
step of a grid are computed at once, as float64 tensors, never by adaptive quadrature per step; every operation
is a torch operation, so the weights are differentiable in the nodes and the interval ends (gradients of a solve
with respect to its sigma grid, :class:`~probflow.solvers.grid.Grid`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

TensorLike = torch.Tensor | np.ndarray | float | list
#: ``w(points, a, b)``: the weight function at the quadrature ``points [..., P]`` of the intervals ``[a, b]``
#: (``a``, ``b`` of shape ``[..., 1]``).
WeightFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: ``(nodes [R, k], a [R], b [R], counts [R]) -> [R, k]``: the weights of ``R`` steps, step ``r`` using its first
#: ``counts[r]`` nodes (see :func:`lagrange_integral_weights`).
StepWeights = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: Steps per vectorised call: bounds the temporaries (``k x steps x points`` floats, ~50 KiB each) on long grids.
STEPS_PER_CALL = 128


@lru_cache(maxsize=16)
def _legendre_nodes(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(num_points)


def _gauss_legendre(num_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    # Tensors made per call, not cached: a tensor cached inside torch.inference_mode() could not enter autograd later.
    points, weights = _legendre_nodes(num_points)
    return torch.from_numpy(points), torch.from_numpy(weights)


def _float64(value: TensorLike) -> torch.Tensor:
    return value.to(torch.float64) if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=torch.float64)


def lagrange_integral_weights(
    nodes: TensorLike, a: TensorLike, b: TensorLike, counts: TensorLike | None = None, *,
    weight: WeightFunction | None = None, num_points: int = 12,
) -> torch.Tensor:
    """``c[..., j] = integral_{a[...]}^{b[...]} w(t) l_j(t) dt`` in float64 by fixed Gauss-Legendre.

    ``nodes`` has shape ``[..., k]`` (``k`` nodes per interval), ``a`` and ``b`` broadcast against ``[...]``;
    one interval is the case ``nodes [k]`` with scalar ``a``, ``b``. With ``counts`` (shape ``[...]``) an
    interval uses only its first ``counts[...]`` nodes, and the weights of the others are 0, so that intervals
    with different numbers of nodes are computed together. The result has ``nodes``' shape.
    """
    nodes = _float64(nodes)
    a = _float64(a)[..., None]
    b = _float64(b)[..., None]
    unit_points, unit_weights = _gauss_legendre(num_points)
    half_width = 0.5 * (b - a)
    points = 0.5 * (a + b) + half_width * unit_points
    quad_weights = half_width * unit_weights
    if weight is not None:
        quad_weights = quad_weights * weight(points, a, b)
    # Node axis first, so that products over nodes multiply whole arrays (fast) rather than reduce short rows.
    nodes = torch.movedim(nodes, -1, 0)  # [k, ...]
    size, trailing = nodes.shape[0], [1] * (nodes.ndim - 1)
    limit = size if counts is None else torch.as_tensor(counts)
    present = torch.arange(size).reshape(size, *trailing) < limit
    # t - t_m, set to 1 for an absent node: [k, ..., P]
    differences = torch.where(present[..., None], points - nodes[..., None], torch.ones((), dtype=torch.float64))
    # prod_{m != j} (t - t_m) is the full product over t - t_j (never 0: the points lie strictly inside (a, b)
    # and the nodes outside it or at its ends).
    numerators = differences.prod(dim=0) / differences
    # t_j - t_m, set to 1 for m = j or an absent node: [k, k, ...]
    absent = ~(present[:, None] & present[None, :]) | torch.eye(size, dtype=torch.bool).reshape(size, size, *trailing)
    gaps = torch.where(absent, torch.ones((), dtype=torch.float64), nodes[:, None] - nodes[None, :])
    weights = torch.einsum("...p,k...p->k...", quad_weights, numerators) / gaps.prod(dim=1)
    return torch.movedim(torch.where(present, weights, torch.zeros((), dtype=torch.float64)), 0, -1)


def multistep_weights(times: torch.Tensor, counts: torch.Tensor, step_weights: StepWeights, *, lead: int = 0,
                      node_scales: torch.Tensor | None = None) -> torch.Tensor:
    """Weights of every step of a grid: row ``i`` holds ``step_weights`` over ``[times[i], times[i + 1]]``.

    Step ``i`` interpolates at the ``counts[i]`` nodes ``times[i + lead - j]``, ``j = 0 .. counts[i] - 1``
    (newest first; ``lead = 0`` for an Adams-Bashforth predictor, ``lead = 1`` for an Adams-Moulton corrector).
    With ``node_scales``, the weight of node ``m`` is divided by ``node_scales[m]`` (so that a history of
    ``node_scales[m] * value_m`` can be combined directly). The result is ``[len(counts), max(counts)]``,
    zero-padded to the right; rows with ``counts[i] = 0`` stay zero. The steps are computed together, up to
    :data:`STEPS_PER_CALL` per vectorised call of ``step_weights(nodes, a, b, counts)``.
    """
    times = _float64(times)
    counts = torch.as_tensor(counts, dtype=torch.int64)
    width = max(int(counts.max()) if counts.numel() else 0, 1)
    weighted = torch.nonzero(counts > 0).flatten()
    weights = torch.zeros(len(counts), width, dtype=torch.float64)
    for start in range(0, weighted.numel(), STEPS_PER_CALL):
        steps = weighted[start:start + STEPS_PER_CALL]
        # Absent nodes (j >= counts[i]) may index before the grid: any grid point serves, its weight is 0.
        node_indices = (steps[:, None] + lead - torch.arange(width)).clamp(min=0)
        found = step_weights(times[node_indices], times[steps], times[steps + 1], counts[steps])
        if node_scales is not None:
            found = found / _float64(node_scales)[node_indices]
        weights = weights.index_put((steps,), found)  # out of place: differentiable in ``times``
    return weights

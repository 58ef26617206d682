"""Integrals of Lagrange basis polynomials, the coefficients of every Adams-type multistep method.

For nodes ``t_0..t_{k-1}`` and the Lagrange basis ``l_j(t) = prod_{m != j} (t - t_m)/(t_j - t_m)``::

    c_j = integral_{a}^{b} w(t) l_j(t) dt

With ``w = 1`` this is the variable-step Adams-Bashforth weight (Hairer, Norsett & Wanner I, III.5); with
``w(t) = exp(t - b)`` in ``t = lambda = -log sigma`` it is the exponential Adams-Bashforth weight of the
data-prediction exponential integrator (Lu et al. 2022, DPM-Solver++, eq. 9; Zhang & Chen 2023, DEIS).
Gauss-Legendre with ``n`` points is exact for polynomials of degree ``2n - 1``; with 12 points the
exponential weight is integrated to float64 round-off for steps up to ``|b - a| ~ 6``. The weights of every
step of a grid are computed at once, as numpy arrays, never by adaptive quadrature per step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

#: ``w(points, a, b)``: the weight function at the quadrature ``points [..., P]`` of the intervals ``[a, b]``
#: (``a``, ``b`` of shape ``[..., 1]``).
WeightFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: ``(nodes [R, k], a [R], b [R], counts [R]) -> [R, k]``: the weights of ``R`` steps, step ``r`` using its first
#: ``counts[r]`` nodes (see :func:`lagrange_integral_weights`).
StepWeights = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: Steps per vectorised call: bounds the temporaries (arrays of ``k x steps x points`` floats, ~50 KiB each) on
#: long grids; more steps per call would save a little time and cost memory.
STEPS_PER_CALL = 128


@lru_cache(maxsize=16)
def _gauss_legendre(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(num_points)


def lagrange_integral_weights(
    nodes: ArrayLike, a: ArrayLike, b: ArrayLike, counts: ArrayLike | None = None, *,
    weight: WeightFunction | None = None, num_points: int = 12,
) -> np.ndarray:
    """``c[..., j] = integral_{a[...]}^{b[...]} w(t) l_j(t) dt`` in float64 by fixed Gauss-Legendre.

    ``nodes`` has shape ``[..., k]`` (``k`` nodes per interval), ``a`` and ``b`` broadcast against ``[...]``;
    one interval is the case ``nodes [k]`` with scalar ``a``, ``b``. With ``counts`` (shape ``[...]``) an
    interval uses only its first ``counts[...]`` nodes, and the weights of the others are 0, so that intervals
    with different numbers of nodes are computed together. The result has ``nodes``' shape.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)[..., None]
    b = np.asarray(b, dtype=np.float64)[..., None]
    unit_points, unit_weights = _gauss_legendre(num_points)
    half_width = 0.5 * (b - a)
    points = 0.5 * (a + b) + half_width * unit_points
    quad_weights = half_width * unit_weights
    if weight is not None:
        quad_weights = quad_weights * weight(points, a, b)
    # Node axis first, so that products over nodes multiply whole arrays (fast) rather than reduce short rows.
    nodes = np.moveaxis(nodes, -1, 0)  # [k, ...]
    size, trailing = nodes.shape[0], [1] * (nodes.ndim - 1)
    present = np.arange(size).reshape(size, *trailing) < (size if counts is None else np.asarray(counts))
    differences = points - nodes[..., None]  # [k, ..., P]: t - t_m, set to 1 for an absent node
    np.copyto(differences, 1.0, where=~present[..., None])
    # prod_{m != j} (t - t_m) is the full product over t - t_j (never 0: the points lie strictly inside (a, b)
    # and the nodes outside it or at its ends).
    numerators = np.divide(differences.prod(axis=0), differences, out=differences)
    gaps = nodes[:, None] - nodes[None, :]  # [k, k, ...]: t_j - t_m, set to 1 for m = j or an absent node
    np.copyto(gaps, 1.0, where=~(present[:, None] & present[None, :]) | np.eye(size, dtype=bool).reshape(
        size, size, *trailing))
    weights = np.einsum("...p,k...p->k...", quad_weights, numerators) / gaps.prod(axis=1)
    return np.moveaxis(np.where(present, weights, 0.0), 0, -1)


def multistep_weights(times: np.ndarray, counts: np.ndarray, step_weights: StepWeights, *, lead: int = 0,
                      node_scales: np.ndarray | None = None) -> np.ndarray:
    """Weights of every step of a grid: row ``i`` holds ``step_weights`` over ``[times[i], times[i + 1]]``.

    Step ``i`` interpolates at the ``counts[i]`` nodes ``times[i + lead - j]``, ``j = 0 .. counts[i] - 1``
    (newest first; ``lead = 0`` for an Adams-Bashforth predictor, ``lead = 1`` for an Adams-Moulton corrector).
    With ``node_scales``, the weight of node ``m`` is divided by ``node_scales[m]`` (so that a history of
    ``node_scales[m] * value_m`` can be combined directly). The result is ``[len(counts), max(counts)]``,
    zero-padded to the right; rows with ``counts[i] = 0`` stay zero. The steps are computed together, up to
    :data:`STEPS_PER_CALL` per vectorised call of ``step_weights(nodes, a, b, counts)``.
    """
    weights = np.zeros((len(counts), max(int(counts.max(initial=0)), 1)))
    weighted = np.flatnonzero(counts > 0)
    for start in range(0, weighted.size, STEPS_PER_CALL):
        steps = weighted[start:start + STEPS_PER_CALL]
        # Absent nodes (j >= counts[i]) may index before the grid: any grid point serves, its weight is 0.
        node_indices = np.maximum(steps[:, None] + lead - np.arange(weights.shape[1]), 0)
        found = step_weights(times[node_indices], times[steps], times[steps + 1], counts[steps])
        weights[steps] = found if node_scales is None else found / node_scales[node_indices]
    return weights

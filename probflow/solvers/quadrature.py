"""Integrals of Lagrange basis polynomials, the coefficients of every Adams-type multistep method.

For nodes ``t_0..t_{k-1}`` and the Lagrange basis ``l_j(t) = prod_{m != j} (t - t_m)/(t_j - t_m)``::

    c_j = integral_{a}^{b} w(t) l_j(t) dt

With ``w = 1`` this is the variable-step Adams-Bashforth weight (Hairer, Norsett & Wanner I, III.5); with
``w(t) = exp(t - b)`` in ``t = lambda = -log sigma`` it is the exponential Adams-Bashforth weight of the
data-prediction exponential integrator (Lu et al. 2022, DPM-Solver++, eq. 9; Zhang & Chen 2023, DEIS).
Gauss-Legendre with ``n`` points is exact for polynomials of degree ``2n - 1``; with 12 points the
exponential weight is integrated to float64 round-off for steps up to ``|b - a| ~ 6``. The weights are
computed once per grid, never by adaptive quadrature per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def _gauss_legendre(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(num_points)


def lagrange_integral_weights(
    nodes: Sequence[float], a: float, b: float, *, weight: Callable[[np.ndarray], np.ndarray] | None = None,
    num_points: int = 12,
) -> list[float]:
    """``[integral_a^b w(t) l_j(t) dt for j in range(len(nodes))]`` in float64 by fixed Gauss-Legendre."""
    nodes_array = np.asarray(nodes, dtype=np.float64)
    unit_points, unit_weights = _gauss_legendre(num_points)
    half_width = 0.5 * (b - a)
    points = 0.5 * (a + b) + half_width * unit_points
    quad_weights = half_width * unit_weights
    if weight is not None:
        quad_weights = quad_weights * weight(points)
    coefficients = []
    for j, node in enumerate(nodes_array):
        others = np.delete(nodes_array, j)
        basis = np.prod((points[:, None] - others[None, :]) / (node - others[None, :]), axis=1)
        coefficients.append(float(np.sum(quad_weights * basis)))
    return coefficients

"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", sec. 4 and appendix D)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from probflow.metrics.fid import Features, as_float64_features


class KIDResult(NamedTuple):
    """Mean and standard deviation (ddof 1) of the per-subset MMD^2 estimates, and the number of subsets."""

    mean: float
    std: float
    num_subsets: int


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``k(a, b) = (a . b / d + 1)^3`` for every pair of rows, ``d`` the feature dimension."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """``MMD^2_u = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (n(n-1)) - 2 mean k(x_i, y_j)``
    (Gretton et al. 2012, eq. 3): the diagonal terms ``k(x_i, x_i)`` are left out, which makes it unbiased."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * polynomial_kernel(x, y).mean())


def kid(features_a: Features, features_b: Features, num_subsets: int | None = None) -> KIDResult:
    """KID: the unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.

    Both feature sets are cut, in order, into ``num_subsets`` contiguous chunks (default
    ``max(ceil(min(n_a, n_b) / 50), 4)``, as in the lesson); chunk ``i`` of ``a`` is compared with chunk ``i`` of
    ``b``. The mean can be negative: each chunk's estimate is unbiased, so when both sets come from the same
    distribution it scatters around the true value 0 on both sides. Shuffle the features first if their order
    is not random (e.g. sorted by class).
    """
    x, y = as_float64_features(features_a), as_float64_features(features_b)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    if num_subsets is None:
        num_subsets = max(math.ceil(min(x.shape[0], y.shape[0]) / 50), 4)
    if num_subsets < 1 or min(x.shape[0], y.shape[0]) < 2 * num_subsets:
        raise ValueError(
            f"cannot cut {x.shape[0]} and {y.shape[0]} feature vectors into {num_subsets} subsets of at least 2 each"
        )
    chunks = zip(np.array_split(x, num_subsets), np.array_split(y, num_subsets))
    estimates = np.array([unbiased_mmd2(chunk_x, chunk_y) for chunk_x, chunk_y in chunks])
    std = float(estimates.std(ddof=1)) if num_subsets > 1 else float("nan")
    return KIDResult(mean=float(estimates.mean()), std=std, num_subsets=num_subsets)

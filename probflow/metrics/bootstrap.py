"""Bootstrap confidence intervals of FID and KID over the generated samples (Efron & Tibshirani 1993, "An
Introduction to the Bootstrap", ch. 6 and 13).

The reference set is held fixed and the ``n`` generated feature vectors ``f_1 .. f_n`` are resampled: replicate
``b`` draws ``n`` indices with replacement, i.e. counts ``w_b ~ Multinomial(n; 1/n, ..., 1/n)``, and recomputes the
statistic ``t*_b`` on the weighted sample. For level ``1 - a`` the interval is the basic (reverse-percentile)
bootstrap interval (Davison & Hinkley 1997, "Bootstrap Methods and their Application", eq. 5.6)

    [2 t - q*_(1-a/2), 2 t - q*_(a/2)], for FID clipped below at 0 (FID is non-negative),

with ``t`` the statistic on the samples themselves and ``q*_p`` the ``p``-quantile of the replicates. It reflects
the replicates' spread around ``t``, which also removes, to first order, FID's upward bias of order ``d/n``: a
resample, with its repeated samples, is biased about as much again as the sample, so the plain percentile interval
``[q*_(a/2), q*_(1-a/2)]`` lies above ``t`` and misses the true FID. Measured on Gaussian toys with a known FID
(60 trials each, 300 replicates): the basic interval covered it in 88-100% of trials for dimension ``d`` of 2, 16
and 64 and ``n`` of 64, 256 and 1024, the percentile interval in 0-17% as soon as ``d >= 16``. Where ``n`` is near
``d`` the basic interval is conservative (``d = n = 64``: 11 wide where 3.2 would do) and can lie wholly below the
biased estimate ``t``; the intervals narrow like ``1/sqrt(n)``. They describe the generated samples' sampling noise
against this fixed reference.

Replicates come from ``numpy.random.default_rng(seed)``, so every score of the same ``n`` and ``seed`` uses the same
resampled indices: rows whose sample ``i`` shares seed ``i`` (:func:`probflow.comparison.compare`) are resampled
in pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probflow.metrics.fid import FeatureStats, Features, as_float64_features, fid_from_parts, sqrt_covariance
from probflow.metrics.kid import polynomial_kernel

#: Replicates per interval: with 1000, the interval's ends move by about 5% of its width from one seed to another
#: (FID of 64 and 256 real digits; 8% with 500).
DEFAULT_REPLICATES = 1000

#: Replicates computed at once: their ``[CHUNK, d, d]`` matrices stay small enough for the cache.
CHUNK = 50


@dataclass(frozen=True)
class BootstrapInterval:
    """A statistic on the samples themselves (``estimate``) and its bootstrap interval ``[low, high]`` at ``level``,
    from ``replicates`` resamples of the ``count`` generated samples."""

    estimate: float
    low: float
    high: float
    level: float
    count: int
    replicates: int


def resample_counts(count: int, replicates: int, seed: int = 0) -> np.ndarray:
    """``[replicates, count]`` multinomial counts: row ``b`` says how often each sample appears in resample ``b``."""
    if count < 2 or replicates < 2:
        raise ValueError(f"a bootstrap needs at least 2 samples and 2 replicates, got {count} and {replicates}")
    return np.random.default_rng(seed).multinomial(count, np.full(count, 1.0 / count), size=replicates)


def fid_interval(features: Features, reference: FeatureStats, *, level: float = 0.95,
                 replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> BootstrapInterval:
    """FID of ``features`` ``[n, d]`` against ``reference`` (:func:`~probflow.metrics.fid`) with the basic bootstrap
    interval of :func:`fid_replicates` over ``replicates`` resamples drawn from ``seed``."""
    array = as_float64_features(features)
    estimate = fid_replicates(array, reference, np.ones((1, array.shape[0]), dtype=np.int64))[0]
    values = fid_replicates(array, reference, resample_counts(array.shape[0], replicates, seed))
    return _basic_interval(float(estimate), values, level, array.shape[0], floor=0.0)


def fid_replicates(features: Features, reference: FeatureStats, counts: np.ndarray) -> np.ndarray:
    """FID against ``reference`` of each resample ``b`` of ``features`` ``f [n, d]`` given by its counts ``w_b``
    (row ``b`` of ``counts [B, n]``, summing to ``n``): the resample's mean ``mu_b = (1/n) sum_i w_bi f_i`` and
    unbiased covariance ``C_b = (1/(n-1)) sum_i w_bi (f_i - mu_b)(f_i - mu_b)^T`` in
    ``FID_b = |mu_b - mu_r|^2 + tr(C_b + C_r - 2 (C_b C_r)^(1/2))``. All-ones counts give :func:`fid` itself."""
    array = as_float64_features(features)
    count, dim = array.shape
    centre = array.mean(axis=0)
    centred = array - centre
    # C_r^(1/2) C_b C_r^(1/2) is the resample covariance of the whitened z_i = C_r^(1/2) (f_i - mean).
    sqrt_reference = sqrt_covariance(reference)
    whitened = centred @ sqrt_reference
    squared_norms = (centred**2).sum(axis=1)
    products_of = _gram_products(whitened) if count < dim else _scatter_products(whitened)
    values = []
    for chunk in np.array_split(counts.astype(np.float64), max(1, len(counts) // CHUNK)):
        shifts = chunk @ centred / count
        traces = (chunk @ squared_norms - count * (shifts**2).sum(axis=1)) / (count - 1)
        values.append(fid_from_parts(centre + shifts, traces, products_of(chunk, shifts @ sqrt_reference), reference))
    return np.concatenate(values)


def _scatter_products(whitened: np.ndarray):
    """``(counts, mean) -> C_b [B, d, d]``: ``(sum_i w_bi z_i z_i^T - n zbar_b zbar_b^T) / (n - 1)``, the scatter of
    every resample as one matrix product of the counts with the rows ``vec(z_i z_i^T)``."""
    count, dim = whitened.shape
    outer = (whitened[:, :, None] * whitened[:, None, :]).reshape(count, dim * dim)

    def products(counts: np.ndarray, means: np.ndarray) -> np.ndarray:
        return ((counts @ outer).reshape(-1, dim, dim) - count * means[:, :, None] * means[:, None, :]) / (count - 1)
    return products


def _gram_products(whitened: np.ndarray):
    """``(counts, mean) -> [B, n, n]`` matrices with the nonzero eigenvalues of ``C_b``, for ``n < d``.

    ``C_b = A^T A / (n - 1)`` with rows ``A_i = sqrt(w_i) (z_i - zbar)``, and ``A A^T`` has the same nonzero
    eigenvalues: ``(A A^T)_ij = sqrt(w_i w_j) (G_ij - a_i - a_j + |zbar|^2)`` with ``G = Z Z^T`` and ``a = Z zbar``.
    """
    count = whitened.shape[0]
    gram = whitened @ whitened.T

    def products(counts: np.ndarray, means: np.ndarray) -> np.ndarray:
        projections = means @ whitened.T
        inner = (gram - projections[:, :, None] - projections[:, None, :]
                 + (means**2).sum(axis=1)[:, None, None])
        roots = np.sqrt(counts)
        return roots[:, :, None] * inner * roots[:, None, :] / (count - 1)
    return products


def kid_interval(features: Features, reference_features: Features, *, level: float = 0.95,
                 replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> BootstrapInterval:
    """KID of ``features`` against ``reference_features`` as one unbiased MMD^2 over all samples
    (:func:`~probflow.metrics.unbiased_mmd2`) with the basic bootstrap interval of :func:`kid_replicates` over
    ``replicates`` resamples drawn from ``seed``. A resample of copies of a single sample has no pair of distinct
    samples and is left out. The interval is not clipped at 0: against a fixed reference of a few hundred images
    the estimate, and the interval with it, can lie below 0 (the reference's own sampling noise: real digits
    against the digits test split scored -0.019 on average at n = 256)."""
    x = as_float64_features(features)
    counts = resample_counts(x.shape[0], replicates, seed)
    estimate = kid_replicates(x, reference_features, np.ones((1, x.shape[0]), dtype=np.int64))[0]
    values = kid_replicates(x, reference_features, counts[(counts > 0).sum(axis=1) > 1])
    return _basic_interval(float(estimate), values, level, x.shape[0], floor=-math.inf)


def kid_replicates(features: Features, reference_features: Features, counts: np.ndarray) -> np.ndarray:
    """KID, the unbiased MMD^2 with the cubic kernel ``k`` (:func:`~probflow.metrics.polynomial_kernel`), of each
    resample of ``features`` ``x [n, d]`` given by its counts ``w`` against ``reference_features`` ``y [m, d]``.

    A resample's pairs of distinct samples are the ``n^2 - sum_i w_i^2`` pairs of copies of two different
    originals (pairs of copies of one original would add ``k(x_i, x_i)`` and bias the estimate upward), so

        KID_w = (w^T K_xx w - sum_i w_i^2 k(x_i, x_i)) / (n^2 - sum_i w_i^2)
                + sum_{j != l} k(y_j, y_l) / (m (m - 1)) - 2 w^T K_xy 1 / (n m),

    and all-ones counts give :func:`~probflow.metrics.unbiased_mmd2` ``(x, y)`` itself.
    """
    x, y = as_float64_features(features), as_float64_features(reference_features)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    count, reference_count = x.shape[0], y.shape[0]
    if reference_count < 2:
        raise ValueError(f"KID needs at least 2 reference features, got {reference_count}")
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_y = (k_yy.sum() - np.trace(k_yy)) / (reference_count * (reference_count - 1))
    cross = polynomial_kernel(x, y).sum(axis=1) / reference_count
    weights = counts.astype(np.float64)
    squares = (weights**2).sum(axis=1)
    within_x = (((weights @ k_xx) * weights).sum(axis=1) - weights**2 @ np.diag(k_xx)) / (count**2 - squares)
    return within_x + within_y - 2.0 * weights @ cross / count


def _basic_interval(estimate: float, values: np.ndarray, level: float, count: int, floor: float) -> BootstrapInterval:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    tail = (1.0 - level) / 2.0
    low_quantile, high_quantile = np.quantile(values, [tail, 1.0 - tail])
    return BootstrapInterval(estimate=estimate, low=max(floor, 2.0 * estimate - float(high_quantile)),
                             high=max(floor, 2.0 * estimate - float(low_quantile)), level=level, count=count,
                             replicates=len(values))

"""Fréchet distance between Gaussians fitted to feature sets (Heusel et al. 2017, "GANs trained by a two
time-scale update rule", eq. 6; Dowson & Landau 1982)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

Features = torch.Tensor | np.ndarray


def as_float64_features(features: Features) -> np.ndarray:
    """``features`` as a float64 ``[n, d]`` numpy array; raises ``ValueError`` for another rank or non-finite values."""
    if isinstance(features, torch.Tensor):
        array = features.detach().cpu().double().numpy()
    else:
        array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"features must have shape [n, d], got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("features hold NaN or Inf")
    return array


@dataclass(frozen=True)
class FeatureStats:
    """Mean ``mu = (1/n) sum f_i`` and unbiased covariance ``C = (1/(n-1)) sum (f_i - mu)(f_i - mu)^T``, in float64."""

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def from_features(cls, features: Features) -> FeatureStats:
        array = as_float64_features(features)
        if array.shape[0] < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, got {array.shape[0]}")
        cov = np.cov(array, rowvar=False, ddof=1).reshape(array.shape[1], array.shape[1])
        return cls(mean=array.mean(axis=0), cov=cov, count=array.shape[0])


def _symmetric_sqrt(matrix: np.ndarray, tolerance: float) -> np.ndarray:
    """Principal square root of a symmetric PSD matrix; eigenvalues in ``[-tolerance * max, 0)`` count as 0."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(_clip_round_off(eigenvalues, tolerance))) @ eigenvectors.T


def _clip_round_off(eigenvalues: np.ndarray, tolerance: float) -> np.ndarray:
    floor = -tolerance * max(float(np.abs(eigenvalues).max(initial=0.0)), 1.0)
    if eigenvalues.min(initial=0.0) < floor:
        raise ValueError(
            f"matrix is not positive semi-definite: eigenvalue {eigenvalues.min():.3e} is below the round-off "
            f"tolerance {floor:.3e}"
        )
    return np.clip(eigenvalues, 0.0, None)


def fid(a: FeatureStats | Features, b: FeatureStats | Features, *, tolerance: float = 1e-8) -> float:
    """``FID = |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``.

    ``C_a C_b`` has the same eigenvalues as the symmetric PSD matrix ``M = C_a^(1/2) C_b C_a^(1/2)`` (``AB`` and
    ``BA`` share eigenvalues), so ``tr (C_a C_b)^(1/2) = sum_i sqrt(lambda_i(M))``, computed here with two
    symmetric eigendecompositions. This is exact, returns no imaginary parts and needs no inverse, so singular
    covariances (fewer samples than dimensions) need no ``eps * I`` regularisation, unlike the ``scipy.linalg.sqrtm``
    route. Eigenvalues that round-off pushes below zero, down to ``-tolerance`` times the largest magnitude, are
    set to 0; anything more negative means a covariance that is not PSD and raises ``ValueError``.

    ``a`` and ``b`` are :class:`FeatureStats` or raw ``[n, d]`` features. The result is symmetric in ``a, b``.
    """
    stats_a = a if isinstance(a, FeatureStats) else FeatureStats.from_features(a)
    stats_b = b if isinstance(b, FeatureStats) else FeatureStats.from_features(b)
    if stats_a.mean.shape != stats_b.mean.shape:
        raise ValueError(f"feature dimensions differ: {stats_a.mean.shape[0]} and {stats_b.mean.shape[0]}")
    sqrt_cov_a = _symmetric_sqrt(stats_a.cov, tolerance)
    product = sqrt_cov_a @ stats_b.cov @ sqrt_cov_a
    eigenvalues = _clip_round_off(np.linalg.eigvalsh((product + product.T) / 2), tolerance)
    trace_sqrt = float(np.sqrt(eigenvalues).sum())
    mean_term = float(np.sum((stats_a.mean - stats_b.mean) ** 2))
    return mean_term + float(np.trace(stats_a.cov) + np.trace(stats_b.cov)) - 2.0 * trace_sqrt

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
    """``eigenvalues`` (the last axis holds one matrix's) with round-off negatives set to 0; raises for real ones."""
    floor = -tolerance * np.maximum(np.abs(eigenvalues).max(axis=-1, initial=0.0), 1.0)
    lowest = eigenvalues.min(axis=-1, initial=0.0)
    if np.any(lowest < floor):
        raise ValueError(
            f"matrix is not positive semi-definite: eigenvalue {lowest.min():.3e} is below the round-off "
            f"tolerance {np.min(floor):.3e}"
        )
    return np.clip(eigenvalues, 0.0, None)


def fid(a: FeatureStats | Features, b: FeatureStats | Features, *, tolerance: float = 1e-8) -> float:
    """``FID = |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``.

    ``C_a C_b`` has the same eigenvalues as the symmetric PSD matrix ``M = C_b^(1/2) C_a C_b^(1/2)`` (``AB`` and
    ``BA`` share eigenvalues), so ``tr (C_a C_b)^(1/2) = sum_i sqrt(lambda_i(M))``, computed here with two
    symmetric eigendecompositions. This is exact, returns no imaginary parts and needs no inverse, so singular
    covariances (fewer samples than dimensions) need no ``eps * I`` regularisation, unlike the ``scipy.linalg.sqrtm``
    route. Eigenvalues that round-off pushes below zero, down to ``-tolerance`` times the largest magnitude, are
    set to 0; anything more negative means a covariance that is not PSD and raises ``ValueError``.

    ``a`` and ``b`` are :class:`FeatureStats` or raw ``[n, d]`` features. The result is symmetric in ``a, b``.
    """
    stats_a = a if isinstance(a, FeatureStats) else FeatureStats.from_features(a)
    stats_b = b if isinstance(b, FeatureStats) else FeatureStats.from_features(b)
    return float(fid_to_reference(stats_a.mean[None], stats_a.cov[None], stats_b, tolerance=tolerance)[0])


def fid_to_reference(means: np.ndarray, covs: np.ndarray, reference: FeatureStats, *,
                     tolerance: float = 1e-8) -> np.ndarray:
    """:func:`fid` of each of ``k`` Gaussians (``means [k, d]``, ``covs [k, d, d]``) against one ``reference``,
    as an array ``[k]``; the reference's square root ``C_r^(1/2)`` is computed once for all of them."""
    if means.shape[-1] != reference.mean.shape[0]:
        raise ValueError(f"feature dimensions differ: {means.shape[-1]} and {reference.mean.shape[0]}")
    sqrt_reference = sqrt_covariance(reference, tolerance)
    whitened = sqrt_reference @ covs @ sqrt_reference
    return fid_from_parts(means, np.trace(covs, axis1=-2, axis2=-1), whitened, reference, tolerance=tolerance)


def sqrt_covariance(stats: FeatureStats, tolerance: float = 1e-8) -> np.ndarray:
    """``C^(1/2)``, the principal square root of ``stats.cov``."""
    return _symmetric_sqrt(stats.cov, tolerance)


def fid_from_parts(means: np.ndarray, traces: np.ndarray, whitened: np.ndarray, reference: FeatureStats, *,
                   tolerance: float = 1e-8) -> np.ndarray:
    """:func:`fid` from each Gaussian's mean ``mu [k, d]``, covariance trace ``tr C [k]`` and
    ``C_r^(1/2) C C_r^(1/2) [k, d, d]``, whose eigenvalues' square roots sum to ``tr (C C_r)^(1/2)`` (or any
    ``[k, m, m]`` symmetric matrices with the same nonzero eigenvalues)."""
    eigenvalues = _clip_round_off(np.linalg.eigvalsh((whitened + np.swapaxes(whitened, -1, -2)) / 2), tolerance)
    trace_sqrt = np.sqrt(eigenvalues).sum(axis=-1)
    mean_term = np.sum((means - reference.mean) ** 2, axis=-1)
    return mean_term + traces + np.trace(reference.cov) - 2.0 * trace_sqrt

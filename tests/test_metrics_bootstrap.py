"""Bootstrap intervals of FID and KID: replicates equal the statistics of explicit resamples, the FID interval covers
a known FID about 95% of the time and narrows like 1/sqrt(n)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from probflow.metrics import FeatureStats, fid, polynomial_kernel, unbiased_mmd2
from probflow.metrics.bootstrap import fid_interval, fid_replicates, kid_interval, kid_replicates, resample_counts

#: The toy: generated features N(MEAN, diag(SCALE^2)) against the exact reference N(0, I), so that
#: FID = |MEAN|^2 + sum(SCALE^2 + 1 - 2 SCALE).
MEAN, SCALE = np.array([0.6, -0.3]), np.array([1.5, 0.7])
TRUE_FID = float(np.sum(MEAN**2) + np.sum(SCALE**2 + 1 - 2 * SCALE))
EXACT_REFERENCE = FeatureStats(mean=np.zeros(2), cov=np.eye(2), count=10**9)


def toy_features(rng: np.random.Generator, count: int) -> np.ndarray:
    return MEAN + SCALE * rng.standard_normal((count, 2))


@pytest.mark.parametrize(("count", "dim"), [(20, 3), (5, 8)])  # d x d scatter, and n x n Gram matrices for n < d
def test_fid_replicates_are_the_fid_of_each_explicit_resample(count, dim):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((count, dim))
    reference = FeatureStats.from_features(rng.standard_normal((50, dim)))
    counts = resample_counts(count, 6, seed=1)
    explicit = [fid(np.repeat(features, row, axis=0), reference) for row in counts]
    # rtol: a singular covariance's zero eigenvalues come out as +-1e-16 relative, and their square roots count.
    np.testing.assert_allclose(fid_replicates(features, reference, counts), explicit, rtol=1e-7)
    assert fid_interval(features, reference, replicates=50).estimate == pytest.approx(fid(features, reference),
                                                                                       rel=1e-7)


def test_kid_replicates_average_the_kernel_over_pairs_of_copies_of_distinct_samples():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((5, 3)) + 0.4
    counts = resample_counts(6, 4, seed=2)
    for row, value in zip(counts, kid_replicates(x, y, counts)):
        drawn = np.repeat(np.arange(6), row)
        within_x = np.mean([polynomial_kernel(x[[i]], x[[j]])[0, 0]
                            for i, j in itertools.permutations(drawn, 2) if i != j])
        within_y = np.mean([polynomial_kernel(y[[j]], y[[k]])[0, 0] for j, k in itertools.permutations(range(5), 2)])
        across = polynomial_kernel(x[drawn], y).mean()
        assert value == pytest.approx(within_x + within_y - 2 * across, rel=1e-10)
    assert kid_interval(x, y, replicates=50).estimate == pytest.approx(unbiased_mmd2(x, y), rel=1e-12)


def test_the_95_percent_fid_interval_covers_a_known_fid_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = [interval.low <= TRUE_FID <= interval.high
               for interval in (fid_interval(toy_features(rng, 100), EXACT_REFERENCE, replicates=300, seed=trial)
                                for trial in range(100))]
    assert 0.88 <= np.mean(covered) <= 0.99


def test_the_fid_interval_narrows_like_one_over_sqrt_n():
    rng = np.random.default_rng(3)

    def mean_width(count: int) -> float:
        intervals = [fid_interval(toy_features(rng, count), EXACT_REFERENCE, replicates=300, seed=trial)
                     for trial in range(20)]
        return float(np.mean([interval.high - interval.low for interval in intervals]))

    narrow, wide = mean_width(400), mean_width(100)
    assert wide / narrow == pytest.approx(2.0, rel=0.15)


def test_bad_levels_and_too_few_samples_raise():
    features = np.random.default_rng(4).standard_normal((10, 2))
    with pytest.raises(ValueError, match="level"):
        fid_interval(features, EXACT_REFERENCE, level=1.0, replicates=10)
    with pytest.raises(ValueError, match="at least 2 samples"):
        resample_counts(1, 10)

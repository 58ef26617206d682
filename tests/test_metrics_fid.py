"""FID: zero for equal statistics, the closed form for commuting covariances, scipy's sqrtm otherwise."""

import numpy as np
import pytest
import scipy.linalg

from probflow.metrics import FeatureStats, fid


def stats(mean, cov):
    return FeatureStats(mean=np.asarray(mean, dtype=np.float64), cov=np.asarray(cov, dtype=np.float64), count=100)


def random_spd(rng, dim):
    a = rng.standard_normal((dim, dim))
    return a @ a.T + 0.1 * np.eye(dim)


def test_fid_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((200, 16)) @ rng.standard_normal((16, 16))
    assert abs(fid(features, features)) < 1e-6


def test_fid_matches_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(1)
    dim = 6
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    var_a, var_b = rng.uniform(0.1, 3.0, dim), rng.uniform(0.1, 3.0, dim)
    mean_a, mean_b = rng.standard_normal(dim), rng.standard_normal(dim)
    a = stats(mean_a, rotation @ np.diag(var_a) @ rotation.T)
    b = stats(mean_b, rotation @ np.diag(var_b) @ rotation.T)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    assert fid(a, b) == pytest.approx(expected, rel=1e-10)


def test_fid_matches_scipy_sqrtm_for_general_covariances_and_is_symmetric():
    rng = np.random.default_rng(2)
    a = stats(rng.standard_normal(5), random_spd(rng, 5))
    b = stats(rng.standard_normal(5), random_spd(rng, 5))
    product_sqrt = scipy.linalg.sqrtm(a.cov @ b.cov).real
    expected = np.sum((a.mean - b.mean) ** 2) + np.trace(a.cov + b.cov - 2 * product_sqrt)
    assert fid(a, b) == pytest.approx(expected, rel=1e-9)
    assert fid(b, a) == pytest.approx(fid(a, b), rel=1e-12)


def test_fid_handles_singular_covariances_from_few_samples():
    rng = np.random.default_rng(3)
    few_a, few_b = rng.standard_normal((5, 20)), rng.standard_normal((5, 20)) + 1.0
    value = fid(few_a, few_b)
    assert np.isfinite(value) and value > 0
    assert abs(fid(few_a, few_a)) < 1e-6


def test_feature_stats_use_unbiased_covariance():
    rng = np.random.default_rng(4)
    features = rng.standard_normal((7, 3))
    centred = features - features.mean(axis=0)
    computed = FeatureStats.from_features(features)
    np.testing.assert_allclose(computed.cov, centred.T @ centred / 6)
    assert computed.count == 7


def test_fid_rejects_a_covariance_that_is_not_positive_semidefinite():
    with pytest.raises(ValueError, match="not positive semi-definite"):
        fid(stats([0, 0], [[1, 0], [0, -1]]), stats([0, 0], np.eye(2)))


def test_fid_rejects_mismatched_dimensions_and_bad_features():
    with pytest.raises(ValueError, match="feature dimensions differ"):
        fid(stats([0, 0], np.eye(2)), stats([0, 0, 0], np.eye(3)))
    with pytest.raises(ValueError, match=r"shape \[n, d\]"):
        FeatureStats.from_features(np.zeros(5))
    with pytest.raises(ValueError, match="NaN or Inf"):
        FeatureStats.from_features(np.array([[0.0], [np.nan]]))

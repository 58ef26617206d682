"""Reference statistics of the digits test split: computed once, from the shipped classifier."""

import numpy as np

from probflow.data import load_digits
from probflow.metrics import ClassifierFeatures, FeatureStats, digits_reference_features, digits_reference_stats
from probflow.pretrained import load


def test_reference_stats_are_cached_and_match_a_fresh_computation():
    assert digits_reference_stats("test") is digits_reference_stats("test")
    features = digits_reference_features("test")
    assert features.shape == (359, 64) and not features.flags.writeable
    fresh = ClassifierFeatures(load("digits-classifier"))(load_digits("test")[0]).double().numpy()
    np.testing.assert_allclose(features, fresh)
    expected = FeatureStats.from_features(fresh)
    np.testing.assert_allclose(digits_reference_stats("test").mean, expected.mean)
    np.testing.assert_allclose(digits_reference_stats("test").cov, expected.cov)

"""Reference features of the digits data under the shipped classifier, computed once per process."""

from __future__ import annotations

from functools import cache

import numpy as np

from probflow.metrics.features import ClassifierFeatures
from probflow.metrics.fid import FeatureStats


@cache
def digits_reference_features(split: str = "test") -> np.ndarray:
    """Features of :func:`probflow.data.load_digits` ``(split)`` under the shipped ``"digits-classifier"``,
    float64 ``[n, d]`` (read-only: the array is shared by every caller)."""
    from probflow.data import load_digits
    from probflow.pretrained import load

    images, _ = load_digits(split)
    features = ClassifierFeatures(load("digits-classifier"))(images).double().numpy()
    features.setflags(write=False)
    return features


@cache
def digits_reference_stats(split: str = "test") -> FeatureStats:
    """:class:`FeatureStats` of :func:`digits_reference_features` ``(split)``.

    The lesson's reference set is the test split, the default here.
    """
    return FeatureStats.from_features(digits_reference_features(split))

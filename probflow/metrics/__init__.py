"""Sample-quality metrics: FID and KID on classifier features, with cached digits reference statistics."""

from probflow.metrics.features import ClassifierFeatures
from probflow.metrics.fid import FeatureStats, fid
from probflow.metrics.kid import KIDResult, kid, polynomial_kernel, unbiased_mmd2
from probflow.metrics.reference import digits_reference_features, digits_reference_stats

__all__ = [
    "ClassifierFeatures",
    "FeatureStats",
    "KIDResult",
    "digits_reference_features",
    "digits_reference_stats",
    "fid",
    "kid",
    "polynomial_kernel",
    "unbiased_mmd2",
]

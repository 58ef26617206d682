"""FID and KID of image sets against one fixed reference, in one feature space, with bootstrap intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from probflow.metrics import FeatureStats, fid
from probflow.metrics.bootstrap import DEFAULT_REPLICATES, BootstrapInterval, fid_interval, kid_interval
from probflow.metrics.fid import as_float64_features

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


#: Above this many images the bootstrap (``B n d^2`` operations for FID, an ``n x n`` kernel matrix for KID) is
#: skipped: the score has FID alone, without interval, and KID is NaN.
MAX_INTERVAL_SAMPLES = 4096


@dataclass(frozen=True)
class Score:
    """FID and KID of one image set, each with its 95% bootstrap interval over the images (NaN bounds, and a NaN
    KID, above :data:`MAX_INTERVAL_SAMPLES` images)."""

    fid: BootstrapInterval
    kid: BootstrapInterval


class Scorer:
    """``images -> Score`` against ``reference`` features ``[m, d]`` in the space of ``feature_extractor``.

    FID: Heusel et al. 2017, eq. 6; KID: Bińkowski et al. 2018, as one unbiased MMD^2 over all images against the
    whole reference (:func:`probflow.metrics.bootstrap.kid_interval`: subsets, which the lesson used to save time
    on 50,000 Inception features, only add variance at a few hundred images). Each comes with its 95% basic
    bootstrap interval over the images, ``replicates`` resamples drawn from ``seed``
    (:mod:`probflow.metrics.bootstrap`), up to :data:`MAX_INTERVAL_SAMPLES` images. With ``feature_extractor`` and
    ``reference`` left ``None`` the scorer is the lesson's (18_fid) on the digits: the shipped
    ``"digits-classifier"`` features, and the digits test split as reference; ``shape`` must then be the digits'
    ``(1, 8, 8)``.
    """

    def __init__(self, feature_extractor: FeatureExtractor | None = None,
                 reference: np.ndarray | torch.Tensor | None = None, *, shape: Sequence[int] | None = None,
                 replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> None:
        if (feature_extractor is None) != (reference is None):
            raise ValueError("give both feature_extractor and reference, or neither (the digits defaults)")
        if feature_extractor is None:
            feature_extractor, reference = _digits_defaults(shape)
        self.feature_extractor = feature_extractor
        self.reference = as_float64_features(reference)
        self.reference_stats = FeatureStats.from_features(self.reference)
        self.replicates = replicates
        self.seed = seed

    def __call__(self, images: torch.Tensor) -> Score:
        features = as_float64_features(self.feature_extractor(images))
        if features.shape[0] > MAX_INTERVAL_SAMPLES:
            nan = math.nan
            return Score(fid=BootstrapInterval(fid(features, self.reference_stats), nan, nan, 0.95, len(features), 0),
                         kid=BootstrapInterval(nan, nan, nan, 0.95, len(features), 0))
        return Score(fid=fid_interval(features, self.reference_stats, replicates=self.replicates, seed=self.seed),
                     kid=kid_interval(features, self.reference, replicates=self.replicates, seed=self.seed))


def _digits_defaults(shape: Sequence[int] | None) -> tuple[FeatureExtractor, np.ndarray]:
    from probflow.metrics import ClassifierFeatures, digits_reference_features
    from probflow.pretrained import DIGITS_SHAPE, load

    if shape is not None and tuple(shape) != DIGITS_SHAPE:
        raise ValueError(f"the default digits features need samples of shape {DIGITS_SHAPE}, got {tuple(shape)}; "
                         f"pass feature_extractor and reference")
    return ClassifierFeatures(load("digits-classifier")), digits_reference_features("test")

"""FID and KID of image sets against one fixed reference, in one feature space."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from probflow.metrics import FeatureStats, KIDResult, fid, kid
from probflow.metrics.fid import as_float64_features

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


class Scorer:
    """``images -> (FID, KID)`` against ``reference`` features ``[m, d]`` in the space of ``feature_extractor``.

    FID: Heusel et al. 2017, eq. 6; KID: Bińkowski et al. 2018 (:func:`probflow.metrics.kid`, mean and standard
    deviation over contiguous subsets). With both left ``None`` the scorer is the lesson's (18_fid) on the digits:
    the shipped ``"digits-classifier"`` features, and the digits test split as reference; ``shape`` must then be
    the digits' ``(1, 8, 8)``.
    """

    def __init__(self, feature_extractor: FeatureExtractor | None = None,
                 reference: np.ndarray | torch.Tensor | None = None, *, shape: Sequence[int] | None = None) -> None:
        if (feature_extractor is None) != (reference is None):
            raise ValueError("give both feature_extractor and reference, or neither (the digits defaults)")
        if feature_extractor is None:
            feature_extractor, reference = _digits_defaults(shape)
        self.feature_extractor = feature_extractor
        self.reference = as_float64_features(reference)
        self.reference_stats = FeatureStats.from_features(self.reference)

    def __call__(self, images: torch.Tensor) -> tuple[float, KIDResult]:
        features = as_float64_features(self.feature_extractor(images))
        return fid(features, self.reference_stats), kid(features, self.reference)


def _digits_defaults(shape: Sequence[int] | None) -> tuple[FeatureExtractor, np.ndarray]:
    from probflow.metrics import ClassifierFeatures, digits_reference_features
    from probflow.pretrained import DIGITS_SHAPE, load

    if shape is not None and tuple(shape) != DIGITS_SHAPE:
        raise ValueError(f"the default digits features need samples of shape {DIGITS_SHAPE}, got {tuple(shape)}; "
                         f"pass feature_extractor and reference")
    return ClassifierFeatures(load("digits-classifier")), digits_reference_features("test")

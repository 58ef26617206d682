"""Feature extractors for FID and KID.

Only classifier features are provided. An Inception-v3 extractor (the standard for FID on natural images) is not
built: probflow never downloads weights, and its images are 8x8 to 32x32 grey-scale, for which a classifier
trained on the same data is the meaningful feature space (as in the lesson, 18_fid).
"""

from __future__ import annotations

import torch
from torch import nn


class ClassifierFeatures:
    """``images -> features``: ``module.features(x)`` if the module has that method (the penultimate layer of
    :class:`probflow.models.Classifier`), else ``module(x)`` flattened; run in eval mode, without gradients,
    ``batch_size`` images at a time. Returns a CPU tensor ``[n, d]``. The module's train/eval mode is restored.
    """

    def __init__(self, module: nn.Module, batch_size: int = 512) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.module = module
        self.batch_size = batch_size

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        extract = self.module.features if hasattr(self.module, "features") else self.module
        return extract(images).flatten(start_dim=1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        parameter = next(self.module.parameters(), None)
        device, dtype = (parameter.device, parameter.dtype) if parameter is not None else (images.device, images.dtype)
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                chunks = [
                    self._extract(chunk.to(device=device, dtype=dtype)).cpu() for chunk in images.split(self.batch_size)
                ]
        finally:
            self.module.train(was_training)
        return torch.cat(chunks)

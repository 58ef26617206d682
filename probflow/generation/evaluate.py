"""FID and KID of a sharded output directory, with feature extraction split across ranks like generation.

Each rank extracts features for every ``world_size``-th committed shard; the ``(seed, feature)`` rows are
gathered with ``all_gather_object`` and sorted by seed, so the result does not depend on the number of
processes. FID is Heusel et al. 2017 (eq. 6) and KID Bińkowski et al. 2018, both against reference features
(by default the digits test split under the shipped classifier, :mod:`probflow.metrics.reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from probflow.errors import MissingFileError
from probflow.generation.distributed import all_gather, current_ranks, on_main
from probflow.generation.shards import OutputDirError, read_all_manifests, read_shard
from probflow.metrics import fid, kid

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SampleQuality:
    """FID, KID (mean and standard deviation over ``kid_subsets`` subsets) and the sample counts."""

    fid: float
    kid: float
    kid_std: float
    kid_subsets: int
    samples: int
    reference_samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def shard_features(out_dir: str | Path, extract: FeatureExtractor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(seeds, features)`` of every committed shard in ``out_dir``, sorted by seed, on every rank.

    ``extract`` maps a ``[n, *shape]`` float tensor to ``[n, d]`` features (and batches internally, as
    :class:`~probflow.metrics.ClassifierFeatures` does).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise MissingFileError(f"{out_dir}: no such output directory")
    ranks = current_ranks()
    records = sorted((r for rs in read_all_manifests(out_dir).values() for r in rs), key=lambda r: r.file)
    if not records:
        raise OutputDirError(f"{out_dir}: no committed shards (no manifest-rank*.json lists any)")
    local = []
    for record in ranks.share(records):
        seeds, samples = read_shard(out_dir, record)
        local.append((torch.from_numpy(seeds), extract(torch.from_numpy(samples)).cpu()))
    parts = [part for rank_parts in all_gather(local, ranks) for part in rank_parts]
    seeds = torch.cat([seeds for seeds, _ in parts])
    features = torch.cat([features for _, features in parts])
    order = torch.argsort(seeds, stable=True)
    seeds, features = seeds[order], features[order]
    if bool((seeds[1:] == seeds[:-1]).any()):
        raise OutputDirError(f"{out_dir}: a seed is stored more than once")
    return seeds, features


def evaluate(out_dir: str | Path, *, extract: FeatureExtractor | None = None,
             reference_features: np.ndarray | torch.Tensor | None = None,
             kid_subsets: int | None = None) -> SampleQuality:
    """FID and KID of the samples in ``out_dir`` against ``reference_features`` (the same on every rank).

    Defaults: the shipped ``"digits-classifier"`` features and the digits test split's reference features.
    """
    if extract is None or reference_features is None:
        from probflow.metrics import ClassifierFeatures, digits_reference_features
        from probflow.pretrained import load

        extract = extract or ClassifierFeatures(load("digits-classifier"))
        reference_features = digits_reference_features("test") if reference_features is None else reference_features
    _, features = shard_features(out_dir, extract)
    ranks = current_ranks()

    def score() -> SampleQuality:
        kernel = kid(features, reference_features, num_subsets=kid_subsets)
        return SampleQuality(
            fid=fid(features, reference_features),
            kid=kernel.mean, kid_std=kernel.std, kid_subsets=kernel.num_subsets, samples=int(features.shape[0]),
            reference_samples=int(reference_features.shape[0]),
        )

    return on_main(score, ranks)

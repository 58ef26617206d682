"""``evaluate``: FID and KID of sharded samples equal the metrics of their features, computed directly."""

from __future__ import annotations

import pytest
import torch

from probflow.generation import evaluate, generate, load_samples, shard_features
from probflow.metrics import fid, kid
from tests.test_generation_toys import GAUSSIAN


def pixel_moments(images: torch.Tensor) -> torch.Tensor:
    """Features: the mean, spread and two slopes of each image (a stand-in for the classifier)."""
    flat = images.flatten(1).double()
    rows = images.double().mean(dim=(1, 3)).flatten(1)
    return torch.stack([flat.mean(1), flat.std(1), rows[:, -1] - rows[:, 0], flat[:, 0] - flat[:, -1]], dim=1)


def test_evaluate_scores_the_features_of_every_shard_against_the_reference(tmp_path):
    generate(GAUSSIAN, range(40), tmp_path, nfe=6, batch_size=7)
    reference = pixel_moments(GAUSSIAN.sample(48, generator=torch.Generator().manual_seed(3)).float())
    quality = evaluate(tmp_path, extract=pixel_moments, reference_features=reference, kid_subsets=4)
    seeds, samples = load_samples(tmp_path)
    features = pixel_moments(samples)
    direct_kid = kid(features, reference, num_subsets=4)
    assert quality.samples == 40 and quality.reference_samples == 48 and quality.kid_subsets == 4
    assert quality.fid == pytest.approx(fid(features, reference), rel=1e-9)
    assert (quality.kid, quality.kid_std) == pytest.approx((direct_kid.mean, direct_kid.std), rel=1e-9)
    feature_seeds, _ = shard_features(tmp_path, pixel_moments)
    assert torch.equal(feature_seeds, seeds)


def test_samples_scored_against_their_own_features_have_zero_fid(tmp_path):
    generate(GAUSSIAN, range(30), tmp_path, nfe=6, batch_size=8)
    own = pixel_moments(load_samples(tmp_path)[1]).numpy()
    assert abs(evaluate(tmp_path, extract=pixel_moments, reference_features=own).fid) < 1e-9

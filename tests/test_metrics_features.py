"""Classifier features: batching does not change them, the module's mode is restored, any module works."""

import torch
from torch import nn

from probflow.metrics import ClassifierFeatures
from probflow.models import Classifier


def test_batched_features_equal_one_pass_and_restore_training_mode():
    torch.manual_seed(0)
    classifier = Classifier(channels=(8, 16), num_groups=4).double().train()
    images = torch.randn(23, 1, 8, 8, dtype=torch.float64)
    features = ClassifierFeatures(classifier, batch_size=5)(images)
    assert classifier.training
    with torch.no_grad():
        expected = classifier.eval().features(images)
    assert features.shape == (23, 16)
    torch.testing.assert_close(features, expected)


def test_module_without_features_method_is_used_whole_and_flattened():
    module = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    images = torch.randn(4, 1, 8, 8)
    features = ClassifierFeatures(module, batch_size=3)(images)
    with torch.no_grad():
        torch.testing.assert_close(features, module(images).flatten(1))

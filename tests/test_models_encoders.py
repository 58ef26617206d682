"""The classifier and noise-level regressor: output shapes, features, dropout."""

import torch

from probflow.models import Classifier, NoiseLevelRegressor


def test_classifier_logits_are_head_of_features():
    classifier = Classifier(channels=(8, 16), num_groups=4).eval()
    x = torch.randn(5, 1, 8, 8)
    features = classifier.features(x)
    assert features.shape == (5, 16)
    torch.testing.assert_close(classifier(x), features @ classifier.head.weight.T + classifier.head.bias)
    assert classifier(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_regressor_returns_one_value_per_image_and_uses_dropout_only_in_training():
    regressor = NoiseLevelRegressor(channels=(8, 16), num_groups=4)
    x = torch.randn(4, 1, 8, 8)
    assert regressor.dropout.p == 0.2
    regressor.eval()
    assert regressor(x).shape == (4,)
    assert torch.equal(regressor(x), regressor(x))
    regressor.train()
    torch.manual_seed(0)
    first = regressor(x)
    assert not torch.equal(first, regressor(x))

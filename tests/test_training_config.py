"""TrainConfig validation and the network each objective trains."""

import json

import pytest

from probflow.models import Classifier, NoiseLevelRegressor, UNet
from probflow.training import OBJECTIVES, TrainConfig, build_model


@pytest.mark.parametrize(
    "objective, expected",
    [
        ("edm", UNet),
        ("cosine-epsilon", UNet),
        ("time-free-epsilon", UNet),
        ("noise-level", NoiseLevelRegressor),
        ("classification", Classifier),
    ],
)
def test_each_objective_builds_its_network(objective, expected):
    assert objective in OBJECTIVES
    assert isinstance(build_model(TrainConfig(objective=objective, channels=(8, 16), num_groups=4)), expected)


def test_config_survives_a_json_round_trip():
    config = TrainConfig(objective="edm", channels=(8, 16), data_scale=(-0.5, 0.5), sigma_data=0.66)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="unknown objective 'ddpm'"):
        TrainConfig(objective="ddpm")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        TrainConfig(objective="edm", dataset="cifar")
    with pytest.raises(ValueError, match="needs data_root"):
        TrainConfig(objective="edm", dataset="fashion-mnist")
    with pytest.raises(ValueError, match="must be positive"):
        TrainConfig(objective="edm", steps=0)

"""Weights files: round trip with architecture, dtype storage, safe .pt reading."""

import pytest
import torch
from safetensors.torch import save_file

from probflow.loading import UnsafeCheckpointError
from probflow.models import Classifier, NoiseLevelRegressor, UNet, load_weights, read_state_dict, save_weights


def randomised(module):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn_like(parameter))
    return module


def test_weights_round_trip_rebuilds_equal_modules(tmp_path):
    unet = randomised(UNet(channels=(8, 16), num_groups=4))
    regressor = randomised(NoiseLevelRegressor(channels=(8, 16), num_groups=4))
    path = save_weights(tmp_path / "w.safetensors", {"eps": unet, "regressor": regressor}, metadata={"note": "x"})
    components, metadata = load_weights(path)
    assert metadata["note"] == "x" and set(components) == {"eps", "regressor"}
    assert isinstance(components["eps"], UNet) and not components["eps"].training
    x = torch.randn(2, 1, 8, 8)
    cond = torch.rand(2)
    assert torch.equal(components["eps"](x, cond), unet(x, cond))
    assert all(not parameter.requires_grad for parameter in components["regressor"].parameters())


def test_float16_storage_rounds_weights_to_half(tmp_path):
    classifier = randomised(Classifier(channels=(8, 16), num_groups=4))
    components, _ = load_weights(save_weights(tmp_path / "c.safetensors", {"model": classifier}, dtype=torch.float16))
    for name, value in components["model"].state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, classifier.state_dict()[name].half().float())


def test_read_state_dict_reads_pt_with_weights_only(tmp_path):
    state = {"weight": torch.randn(3)}
    torch.save(state, tmp_path / "s.pt")
    assert torch.equal(read_state_dict(tmp_path / "s.pt")["weight"], state["weight"])
    torch.save({"weight": torch.randn(3), "callable": print}, tmp_path / "unsafe.pt")
    with pytest.raises(UnsafeCheckpointError, match="[Ww]eights only"):
        read_state_dict(tmp_path / "unsafe.pt")


def test_load_weights_rejects_files_without_architecture(tmp_path):
    save_file({"a": torch.zeros(1)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not a probflow weights file"):
        load_weights(tmp_path / "plain.safetensors")


def test_read_state_dict_reads_safetensors_and_refuses_nested_checkpoints(tmp_path):
    state = {"weight": torch.arange(6.0).reshape(2, 3), "bias": torch.ones(2)}
    save_file(state, tmp_path / "w.safetensors")
    read = read_state_dict(tmp_path / "w.safetensors")
    assert read.keys() == state.keys() and all(torch.equal(read[key], state[key]) for key in state)
    torch.save({"model": state}, tmp_path / "nested.pt")
    with pytest.raises(ValueError, match="expected a flat dict of tensors"):
        read_state_dict(tmp_path / "nested.pt")

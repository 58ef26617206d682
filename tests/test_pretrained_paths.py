"""A model that ``probflow train`` wrote is used by path, like a shipped one: its recipe is in the file's metadata."""

from __future__ import annotations

import shutil
import stat

import pytest
import torch

from probflow import pretrained
from probflow.cli import main
from probflow.errors import CheckpointError, MissingFileError
from probflow.models import load_weights, save_weights


def test_a_weights_file_loads_by_path_into_the_same_denoiser(tmp_path):
    copy = tmp_path / "my-digits.safetensors"
    shutil.copyfile(pretrained.weights_path("digits-edm"), copy)
    by_path, by_name = pretrained.load(copy), pretrained.load("digits-edm")
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.5, 2.0, 10.0])
    assert torch.equal(by_path(x, sigma), by_name(x, sigma))
    assert by_path.name == "my-digits" and by_path.shape == by_name.shape


def test_a_file_saved_like_probflow_train_does_records_its_recipe_and_usual_permissions(tmp_path):
    components, metadata = load_weights(pretrained.weights_path("digits-cosine"))
    path = save_weights(tmp_path / "retrained.safetensors", components, metadata=metadata)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # readable by group and others (umask 022)
    model = pretrained.load(path)
    assert model.name == "retrained" and model(torch.zeros(1, 1, 8, 8), torch.ones(1)).shape == (1, 1, 8, 8)


def test_the_sample_command_takes_a_model_path(tmp_path, capsys):
    copy = tmp_path / "my-digits.safetensors"
    shutil.copyfile(pretrained.weights_path("digits-edm"), copy)
    assert main(["sample", "--model", str(copy), "--num-samples", "2", "--nfe", "4", "--npz",
                 str(tmp_path / "s.npz")]) == 0
    assert (tmp_path / "s.npz").is_file()


def test_a_path_without_a_recipe_or_without_a_file_is_a_clear_error(tmp_path):
    components, metadata = load_weights(pretrained.weights_path("digits-edm"))
    no_recipe = save_weights(tmp_path / "anonymous.safetensors", components,
                             metadata={key: value for key, value in metadata.items() if key != "recipe"})
    with pytest.raises(CheckpointError, match="names no known recipe"):
        pretrained.load(no_recipe)
    with pytest.raises(MissingFileError, match="no such weights file"):
        pretrained.load(tmp_path / "missing.safetensors")

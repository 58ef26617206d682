"""The recipes behind the shipped weights, and the ``python -m probflow.training`` entry point."""

import pytest
import torch
from safetensors.torch import load_file

from probflow.data import load_digits
from probflow.models import UNet, load_weights
from probflow.training import TrainConfig
from probflow.training import recipes
from probflow.training.__main__ import main


def test_digits_sigma_data_is_the_measured_std_of_the_training_split():
    images, _ = load_digits("train", dtype=torch.float64)
    assert recipes.DIGITS_SIGMA_DATA == pytest.approx(images.std().item(), abs=0.005)
    assert recipes.RECIPES["digits-edm"]["model"].sigma_data == recipes.DIGITS_SIGMA_DATA


def test_every_shipped_weights_file_has_a_recipe():
    from probflow.pretrained import available

    assert set(recipes.RECIPES) == set(available())


def test_command_line_trains_exports_and_resumes_a_recipe(tmp_path, monkeypatch, capsys):
    tiny_nets = dict(channels=(8, 16), num_groups=4, batch_size=32)
    tiny = {
        "eps": TrainConfig(objective="time-free-epsilon", steps=3, **tiny_nets),
        "regressor": TrainConfig(objective="noise-level", steps=2, **tiny_nets),
    }
    monkeypatch.setitem(recipes.RECIPES, "digits-notime", tiny)
    out = tmp_path / "notime.safetensors"
    work = str(tmp_path / "work")
    arguments = ["digits-notime", "--out", str(out), "--work-dir", work, "--dtype", "float32", "--no-progress"]
    main(arguments)
    assert "wrote" in capsys.readouterr().out
    components, metadata = load_weights(out)
    assert isinstance(components["eps"], UNet) and metadata["recipe"] == "digits-notime"
    assert float(metadata["sigma_data"]) == recipes.DIGITS_SIGMA_DATA
    first = load_file(out)
    # A second run finds the finished checkpoints and exports the same weights without retraining.
    main(arguments)
    second = load_file(out)
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_unknown_recipe_raises_with_the_available_names(tmp_path):
    with pytest.raises(KeyError, match="available: digits-classifier, digits-cosine"):
        recipes.build_recipe("cifar-edm", tmp_path / "x.safetensors", work_dir=tmp_path)

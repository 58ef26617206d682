"""``probflow train``: the recipes it offers are the training package's."""

from __future__ import annotations

import pytest

from probflow.cli import main
from probflow.training.recipes import RECIPES


def test_help_lists_every_recipe(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RECIPES)


def test_steps_option_replaces_the_recipes_step_count_and_is_recorded(tmp_path, monkeypatch, capsys):
    import json

    from probflow.models import read_weights_metadata
    from probflow.training import TrainConfig
    from probflow.training import recipes

    tiny = {"model": TrainConfig(objective="edm", steps=500, channels=(8, 16), num_groups=4, batch_size=16)}
    monkeypatch.setitem(recipes.RECIPES, "digits-edm", tiny)
    out = tmp_path / "quick.safetensors"
    main(["train", "digits-edm", "--steps", "2", "--out", str(out), "--work-dir", str(tmp_path / "work"),
          "--no-progress", "--threads", "1"])
    assert "wrote" in capsys.readouterr().out
    assert json.loads(read_weights_metadata(out)["training"])["model"]["steps"] == 2


def test_steps_option_rejects_a_non_positive_count(tmp_path, capsys):
    assert main(["train", "digits-edm", "--steps", "0", "--out", str(tmp_path / "w.safetensors"),
                 "--work-dir", str(tmp_path / "work")]) != 0
    assert "steps" in capsys.readouterr().err

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

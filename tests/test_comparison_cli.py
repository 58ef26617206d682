"""``probflow compare``: one-line errors, and a --quick run of the lesson tables when the weights are built."""

from __future__ import annotations

import json

import pytest

from probflow import pretrained
from probflow.cli import main
from probflow.comparison import LESSON_TABLES, REALS_LABEL


@pytest.mark.parametrize(("argv", "message"), [
    (["--config", "solver=heun;steps=2", "--table", "lesson-karras"], "--config or --table, not both"),
    (["--model", "digits-edm"], "--model and --denoiser choose the model of --config runs"),
    (["--quick", "--num-samples", "4"], "need at least 8 samples"),
    (["--quick", "--seeds", "3-1"], "reversed"),
    (["--config", "solver=heun", "--quick"], "exactly one of steps and nfe"),
    (["--config", "solver=warp;steps=3", "--quick"], "unknown solver 'warp'"),
    (["--config", "solver=heun;steps=3", "--model", "digits-nope", "--quick"], "unknown model 'digits-nope'"),
    (["--config", "solver=heun;steps=3", "--denoiser", "nodots", "--quick"], "must look like module:attr"),
])
def test_user_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probflow: error: ") and message in err and err.count("\n") == 1


def test_table_choices_are_the_lesson_tables_and_all(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--table", "lesson-nope"])
    assert "lesson-ddim" in capsys.readouterr().err


@pytest.mark.skipif(not pretrained.weights_path("digits-edm").is_file(), reason="digits-edm weights not built yet")
def test_quick_karras_table_prints_every_row_and_writes_csv_json_markdown_and_grids(tmp_path, capsys):
    assert main(["compare", "--quick", "--table", "lesson-karras", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    table = LESSON_TABLES["lesson-karras"]
    labels = [config.label for config in table.runs[0].configs]
    assert all(f"| {label} | digits-edm |" in printed for label in labels) and f"| {REALS_LABEL} | data |" in printed
    rows = json.loads((tmp_path / "lesson-karras" / "table.json").read_text(encoding="utf-8"))
    assert [row["label"] for row in rows] == [*labels, REALS_LABEL]
    assert all(row["samples"] == 16 for row in rows)
    assert (tmp_path / "lesson-karras" / "table.csv").is_file()
    assert (tmp_path / "lesson-karras" / "table.md").read_text(encoding="utf-8").count("\n| ") == len(rows) + 1
    assert len(list((tmp_path / "lesson-karras" / "digits-edm").glob("*.png"))) == len(labels)

"""Every subcommand answers a user error (unknown solver, bad module:attr, missing file, bad NFE, bad name) with
one line ``probflow: error: ...`` and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from probflow.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["sample", "--solver", "warp", "--grid", "{tmp}/g.png", "--num-samples", "2"], "unknown solver 'warp'"),
    (["sample", "--denoiser", "nodots", "--grid", "{tmp}/g.png"], "module:attr"),
    (["sample", "--denoiser", "os:no_such_attribute", "--grid", "{tmp}/g.png"], "no attribute"),
    (["sample", "--denoiser", "no_such_module_xyz:f", "--grid", "{tmp}/g.png"], "cannot import module"),
    (["sample", "--nfe", "0", "--solver", "heun", "--grid", "{tmp}/g.png", "--num-samples", "2"], "nfe"),
    (["order", "--solvers", "warp"], "unknown solver 'warp'"),
    (["order", "--denoiser", "nodots"], "module:attr"),
    (["order", "--solvers", "heun", "--steps", "8,x"], "comma-separated integers"),
    (["order", "--solvers", "heun", "--steps", "0,4"], "steps"),
    (["compare", "--config", "solver=warp;steps=3", "--quick"], "unknown solver 'warp'"),
    (["compare", "--config", "solver=heun;nfe=0", "--quick"], "nfe must be a positive integer"),
    (["fid", "{tmp}/missing"], "no such directory"),
    (["schedules", "--schedules", "karras;warp"], "unknown schedule 'warp'"),
    (["schedules", "--schedules", "karras:no_such_parameter=1"], "no_such_parameter"),
    (["schedules", "--steps", "1"], "--steps must be at least 2"),
    (["train", "no-such-recipe", "--out", "{tmp}/w.safetensors"], "unknown recipe 'no-such-recipe'"),
    (["demo", "--quick", "--out", "{tmp}/file.txt/report"], "file.txt is a file, not a folder"),
])
def test_user_errors_are_one_line_with_exit_code_2(argv, message, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("not a folder")
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probflow: error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["demo", "schedules", "train", "sample", "order", "compare", "fid", "solvers"])
def test_every_subcommand_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out

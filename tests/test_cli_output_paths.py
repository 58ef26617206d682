"""Every subcommand checks its output paths before any work: one line naming the path, exit code 2, nothing left.

The sampling commands use ``NEVER_CALLED``, a denoiser that fails the test when called, so a check that came
only after sampling (as on main, where ``--npz DIR`` failed after all the sampling and left a temporary file)
cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from probflow.cli import main

NEVER = ["--denoiser", "tests.test_generation_toys:NEVER_CALLED"]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A folder holding a file ``afile``, an empty folder ``adir`` and an empty sample folder ``samples``."""
    (tmp_path / "afile").write_text("a file")
    (tmp_path / "adir").mkdir()
    (tmp_path / "samples").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def contents(folder: Path) -> dict[str, bytes | None]:
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(("argv", "message"), [
    (["sample", *NEVER, "--out", "afile"], "--out afile: is a file, not a folder"),
    (["sample", *NEVER, "--out", "afile/sub"], "--out afile/sub: afile is a file, not a folder"),
    (["sample", *NEVER, "--npz", "adir"], "--npz adir: is a folder; give a file name"),
    (["sample", *NEVER, "--grid", "adir"], "--grid adir: is a folder; give a file name"),
    (["sample", *NEVER, "--grid", "afile/g.png"], "--grid afile/g.png: afile is a file, not a folder"),
    (["sample", *NEVER, "--out", "new", "--npz", "afile/x/s.npz"], "--npz afile/x/s.npz: afile is a file"),
    (["sample", *NEVER, "--grid", "g.png"], "--grid g.png: samples of shape (2,) cannot be drawn"),
    (["sample", *NEVER, "--shape", "2,4,4", "--grid", "g.png"], "samples of shape (2, 4, 4) cannot be drawn"),
    (["order", "--plot", "adir"], "--plot adir: is a folder; give a file name"),
    (["order", "--plot", "afile/o.png"], "--plot afile/o.png: afile is a file, not a folder"),
    (["order", "--plot", "o.xyz"], "--plot o.xyz: unknown image format '.xyz'; use one of"),
    (["schedules", "--out", "afile/s.png"], "--out afile/s.png: afile is a file, not a folder"),
    (["schedules", "--out", "adir"], "--out adir: is a folder; give a file name"),
    (["fid", "samples", "--json", "adir"], "--json adir: is a folder; give a file name"),
    (["fid", "samples", "--json", "afile/s.json"], "--json afile/s.json: afile is a file, not a folder"),
    (["compare", "--quick", "--out", "afile"], "--out afile: is a file, not a folder"),
    (["train", "digits-edm", "--out", "adir"], "--out adir: is a folder; give a file name"),
    (["train", "digits-edm", "--out", "w.safetensors", "--work-dir", "afile"], "--work-dir afile: is a file"),
    (["demo", "--quick", "--out", "afile/report"], "--out afile/report: afile is a file, not a folder"),
])
def test_an_unwritable_output_is_one_line_with_exit_code_2_before_any_work(argv, message, workspace, capsys):
    before = contents(workspace)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("probflow: error: ") and message in err and err.count("\n") == 1
    assert contents(workspace) == before  # no stray temporary file, no half-made folder


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no one can create files")
def test_a_folder_where_files_cannot_be_created_is_named_even_for_root(capsys):
    # Creating a file is the test: root passes os.access but still cannot create anything in /proc.
    assert main(["sample", *NEVER, "--out", "/proc/probflow-samples"]) == 2
    assert "--out /proc/probflow-samples: cannot write in /proc (" in capsys.readouterr().err


def test_order_writes_the_plot_exactly_where_it_says(workspace, capsys):
    assert main(["order", "--problem", "gaussian", "--solvers", "euler", "--steps", "4,8,16", "--plot", "out"]) == 0
    assert "wrote out" in capsys.readouterr().out
    assert (workspace / "out").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (workspace / "out.png").exists()


@pytest.mark.parametrize(("name", "magic"), [("plot", b"\x89PNG"), ("plot.svg", b"<?xml")])
def test_schedules_writes_the_format_its_suffix_names(workspace, capsys, name, magic):
    assert main(["schedules", "--schedules", "karras", "--steps", "4", "--out", name]) == 0
    assert f"wrote {name}" in capsys.readouterr().out
    assert (workspace / name).read_bytes().startswith(magic)
    assert sorted(path.name for path in workspace.iterdir()) == sorted(["adir", "afile", "samples", name])

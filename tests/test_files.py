"""probflow.files: all-or-nothing writes with the usual permissions, output checks that create nothing, and a lock
that a killed holder releases."""

from __future__ import annotations

import fcntl
import os
import signal
import stat

import matplotlib.figure
import pytest
import torch
from safetensors.torch import save_file

from probflow.files import (
    check_output_dir, check_output_file, exclusive_lock, replacing, save_figure, temporaries, write_bytes, write_text,
)
from probflow.generation import generate, write_grid_png
from probflow.models import UNet, save_weights
from tests.test_generation_toys import GAUSSIAN


@pytest.fixture(params=[0o022, 0o002], ids=["umask 022", "umask 002"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_probflow_writes_has_the_umasks_usual_mode(tmp_path, umask):
    # safetensors and tempfile create 0o600 files: weights written with save_file were unreadable to the group.
    save_weights(tmp_path / "weights.safetensors", {"model": UNet(channels=(8, 16), num_groups=4)})
    generate(GAUSSIAN, range(3), tmp_path / "samples", nfe=3)
    write_grid_png(tmp_path / "grid.png", torch.zeros(2, 1, 4, 4))
    with replacing(tmp_path / "raw.safetensors") as temporary:
        save_file({"x": torch.zeros(2)}, temporary)
    write_text(tmp_path / "report.md", "# report")
    figure = matplotlib.figure.Figure()
    save_figure(figure, tmp_path / "plot.png")
    written = {path.name: mode(path) for path in tmp_path.rglob("*") if path.is_file()}
    assert sorted(written) == sorted(["weights.safetensors", "grid.png", "raw.safetensors", "report.md", "plot.png",
                                      "run.json", ".probflow-lock", "manifest-rank00000.json",
                                      "shard-0000000000000000000-n3.npz"])
    assert written == dict.fromkeys(written, 0o666 & ~umask)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_bytes(tmp_path / "table.json", b"old")
    with pytest.raises(RuntimeError, match="disk full"), replacing(target) as temporary:
        temporary.write_bytes(b"half of the ne")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]


def test_a_killed_write_leaves_a_temporary_file_that_temporaries_finds(tmp_path):
    target = write_bytes(tmp_path / "shard-1.npz", b"committed")
    pid = os.fork()
    if pid == 0:
        with replacing(target) as temporary:
            temporary.write_bytes(b"partial")
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    assert target.read_bytes() == b"committed"
    leftover = temporaries(tmp_path, "shard-*.npz")
    assert len(leftover) == 1 and leftover[0].read_bytes() == b"partial"
    assert temporaries(tmp_path, "manifest-*.json") == []


def test_missing_parents_pass_the_checks_and_are_not_created(tmp_path):
    assert check_output_file(tmp_path / "a" / "b" / "s.npz", "--npz") == tmp_path / "a" / "b" / "s.npz"
    assert check_output_dir(tmp_path / "c" / "d", "--out") == tmp_path / "c" / "d"
    check_output_file(write_bytes(tmp_path / "old.npz", b""), "--npz")  # an existing file is replaced
    assert sorted(path.name for path in tmp_path.iterdir()) == ["old.npz"]


def test_the_lock_excludes_other_processes_until_its_holder_leaves_or_dies(tmp_path):
    lock = tmp_path / ".lock"

    def try_lock_in_child(die_holding: bool = False) -> int:
        pid = os.fork()
        if pid == 0:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os._exit(3)
            if die_holding:
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(0)
        return os.waitpid(pid, 0)[1]

    with exclusive_lock(lock):
        assert os.WEXITSTATUS(try_lock_in_child()) == 3
    assert os.WTERMSIG(try_lock_in_child(die_holding=True)) == signal.SIGKILL
    assert os.WEXITSTATUS(try_lock_in_child()) == 0

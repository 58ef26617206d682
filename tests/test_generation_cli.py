"""``probflow sample`` and ``probflow fid``: SIGKILL and resume, PNG and npz outputs, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from probflow import pretrained
from probflow.cli import main
from probflow.generation import generate, image_grid, load_samples
from probflow.generation.png import GRID_MIN_SIZE, grid_scale, upscale_nearest
from probflow.generation import shards as shard_store
from tests.test_generation_toys import GAUSSIAN, MIXTURE, SLOW_MIXTURE

REPO = Path(__file__).resolve().parents[1]
KILL_SEEDS = list(range(40))
KILL_ARGS = ["sample", "--denoiser", "tests.test_generation_toys:SLOW_MIXTURE", "--seeds", "0-39",
             "--batch-size", "2", "--nfe", "4"]


def committed_shards(out_dir: Path) -> int:
    return len(shard_store.read_manifest(shard_store.manifest_path(out_dir, 0)))


@pytest.fixture(scope="module")
def clean_kill_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("clean")
    generate(MIXTURE, KILL_SEEDS, out_dir, nfe=4, batch_size=2)
    return load_samples(out_dir)[1]


def test_sigkill_then_rerun_of_the_same_command_loses_and_duplicates_nothing(tmp_path, clean_kill_run, capsys,
                                                                             monkeypatch):
    out_dir = tmp_path / "out"
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "probflow", *KILL_ARGS, "--out", str(out_dir)], cwd=REPO,
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while (not out_dir.exists() or committed_shards(out_dir) < 3) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    done_at_kill = committed_shards(out_dir)
    assert 3 <= done_at_kill < len(KILL_SEEDS) // 2, "the run was not killed part-way through"
    # More debris of a crash: a half-written temporary shard and a partial shard under a final name.
    (out_dir / f".{shard_store.shard_name([38, 39])}.999.tmp").write_bytes(b"half a shard")
    (out_dir / shard_store.shard_name([36, 37])).write_bytes(b"PK\x03\x04 truncated")

    monkeypatch.setattr(SLOW_MIXTURE, "seconds", 0.0)  # the same command and values, without the pause
    assert main([*KILL_ARGS, "--out", str(out_dir)]) == 0
    assert f"{2 * done_at_kill} already done" in capsys.readouterr().out
    seeds, samples = load_samples(out_dir)
    lost = set(KILL_SEEDS) - set(seeds.tolist())
    assert not lost and seeds.tolist() == KILL_SEEDS  # load_samples refuses duplicated seeds
    assert torch.equal(samples, clean_kill_run)
    assert not list(out_dir.glob(".*.tmp"))


def test_grid_and_npz_hold_the_same_samples_as_the_shards(tmp_path, capsys):
    common = ["sample", "--denoiser", "tests.test_generation_toys:GAUSSIAN", "--seeds", "2-6,9", "--nfe", "5",
              "--batch-size", "4"]
    assert main([*common, "--grid", str(tmp_path / "grid.png"), "--npz", str(tmp_path / "memory.npz")]) == 0
    assert main([*common, "--out", str(tmp_path / "shards"), "--npz", str(tmp_path / "from_shards.npz")]) == 0
    capsys.readouterr()
    memory, from_shards = np.load(tmp_path / "memory.npz"), np.load(tmp_path / "from_shards.npz")
    assert memory["seeds"].tolist() == from_shards["seeds"].tolist() == [2, 3, 4, 5, 6, 9]
    assert np.array_equal(memory["samples"], from_shards["samples"])
    reference = generate(GAUSSIAN, [2, 3, 4, 5, 6, 9], tmp_path / "api", nfe=5).out_dir
    assert np.array_equal(memory["samples"], load_samples(reference)[1].numpy())
    image = pytest.importorskip("PIL.Image")
    with image.open(tmp_path / "grid.png") as decoded:
        samples = torch.from_numpy(memory["samples"])
        assert np.array_equal(np.asarray(decoded), image_grid(upscale_nearest(samples, grid_scale(samples))))
        assert min(decoded.size) >= GRID_MIN_SIZE


def run_cli(arguments, capsys):
    code = main(arguments)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("arguments, message", [
    (["--denoiser", "tests.test_generation_toys:MIXTURE"], "say where the samples go"),
    (["--denoiser", "no_such_module_xyz:D", "--npz", "x.npz"], "cannot import module 'no_such_module_xyz'"),
    (["--denoiser", "tests.test_generation_toys:NOPE", "--npz", "x.npz"], "has no attribute 'NOPE'"),
    (["--denoiser", "tests.test_generation_toys", "--npz", "x.npz"], "must look like module:attr"),
    (["--denoiser", "tests.test_generation_toys:SHAPE", "--npz", "x.npz"], "not a denoiser"),
    (["--denoiser", "tests.test_generation_toys:MIXTURE", "--shape", "1,x", "--npz", "x.npz"], "--shape must be"),
    (["--model", "digits-nope", "--npz", "x.npz"], "unknown model 'digits-nope'"),
    (["--denoiser", "tests.test_generation_toys:MIXTURE", "--solver", "rk45", "--npz", "x.npz"],
     "unknown solver 'rk45'"),
    (["--denoiser", "tests.test_generation_toys:MIXTURE", "--seeds", "5-2", "--npz", "x.npz"], "reversed"),
    (["--denoiser", "tests.test_generation_toys:MIXTURE", "--nfe", "0", "--npz", "x.npz"],
     "nfe must be a positive integer"),
    (["--denoiser", "tests.test_generation_toys:MIXTURE", "--num-samples", "0", "--npz", "x.npz"],
     "--num-samples must be at least 1"),
])
def test_sample_errors_are_one_line_with_exit_code_2(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, error = run_cli(["sample", *arguments], capsys)
    assert code == 2 and error.startswith("probflow: error:") and message in error
    assert "\n" not in error and not list(tmp_path.iterdir())


def test_fid_of_a_missing_directory_is_a_one_line_error(tmp_path, capsys):
    code, error = run_cli(["fid", str(tmp_path / "absent")], capsys)
    assert code == 2 and "absent: no such directory" in error


@pytest.mark.skipif(not pretrained.weights_path("digits-classifier").is_file(), reason="classifier not shipped yet")
def test_fid_command_reports_the_scores_of_evaluate(tmp_path, capsys):
    from probflow.generation import evaluate

    generate(lambda x, sigma: torch.zeros_like(x), range(40), tmp_path / "out", nfe=3, shape=(1, 8, 8))
    assert main(["fid", str(tmp_path / "out"), "--json", str(tmp_path / "scores.json")]) == 0
    printed = capsys.readouterr().out
    scores = evaluate(tmp_path / "out")
    assert f"FID      {scores.fid:.4f}" in printed and "samples  40" in printed
    import json

    assert json.loads((tmp_path / "scores.json").read_text())["fid"] == scores.fid

"""Crash safety of the shard store: every injected fault is repaired by a rerun, with no seed lost or duplicated.

A crash is simulated in-process by raising a ``BaseException`` (which no probflow code catches, like a
SIGKILL that runs nothing afterwards) at a chosen write; tests/test_generation_cli.py kills real processes.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from probflow import files
from probflow.generation import OutputDirError, generate, load_samples
from probflow.generation import shards as shard_store
from tests.test_generation_toys import GAUSSIAN, MIXTURE, SHAPE

SEEDS = list(range(12))
NFE = 6


class Killed(BaseException):
    """Stands for the process dying at this point."""


def run(out_dir, batch_size=3, seeds=SEEDS, denoiser=MIXTURE):
    """The same command every time (batches of 3), unless a test changes it on purpose."""
    return generate(denoiser, seeds, out_dir, nfe=NFE, batch_size=batch_size)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("clean")
    run(out_dir)
    return load_samples(out_dir)[1]


def assert_complete(out_dir, clean):
    """No seed lost, none duplicated (load_samples refuses duplicates), bitwise equal to a clean run."""
    seeds, samples = load_samples(out_dir)
    lost = sorted(set(SEEDS) - set(seeds.tolist()))
    assert lost == [] and seeds.tolist() == SEEDS
    assert torch.equal(samples, clean)
    assert not list(out_dir.glob(".*.tmp"))
    listed = {r.file for rs in shard_store.read_all_manifests(out_dir).values() for r in rs}
    assert {path.name for path in out_dir.glob("shard-*.npz")} == listed


def kill_on_call(monkeypatch, module, name, call_number):
    """Make ``module.name`` kill the run on its ``call_number``-th call (1-based)."""
    original = getattr(module, name)
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == call_number:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)


def test_kill_between_a_shard_rename_and_its_manifest_update_loses_nothing(tmp_path, monkeypatch, clean):
    kill_on_call(monkeypatch, shard_store, "write_manifest", 3)
    with pytest.raises(Killed):
        run(tmp_path)
    monkeypatch.undo()
    assert len(list(tmp_path.glob("shard-*.npz"))) == 3  # the third is on disk but in no manifest
    report = run(tmp_path)
    assert (report.skipped, report.generated) == (6, 6)
    assert_complete(tmp_path, clean)


def test_an_unlisted_shard_whose_name_the_resume_does_not_reuse_is_removed(tmp_path, monkeypatch):
    kill_on_call(monkeypatch, shard_store, "write_manifest", 2)
    with pytest.raises(Killed):
        run(tmp_path, denoiser=GAUSSIAN)
    monkeypatch.undo()
    # Batches {3, 4}, {5..9}, {10, 11}: no new shard is named like the orphan {3, 4, 5}, which must go.
    run(tmp_path, batch_size=5, denoiser=GAUSSIAN)
    run(tmp_path / "clean", batch_size=len(SEEDS), denoiser=GAUSSIAN)
    assert_complete(tmp_path, load_samples(tmp_path / "clean")[1])


@pytest.mark.parametrize("call_number", [2, 3], ids=["while writing a shard", "while writing a manifest"])
def test_an_interrupted_write_removes_its_temporary_file_and_the_rerun_completes(tmp_path, monkeypatch, clean,
                                                                                  call_number):
    # An exception (KeyboardInterrupt, a full disk) reaches the writer's cleanup; tests/test_crash_safety.py
    # kills real processes, where nothing runs and the temporary file stays until the next prepare().
    kill_on_call(monkeypatch, files.os, "replace", call_number)
    with pytest.raises(Killed):
        run(tmp_path)
    monkeypatch.undo()
    assert not list(tmp_path.glob(".*.tmp"))
    run(tmp_path)
    assert_complete(tmp_path, clean)


def test_truncated_or_deleted_committed_shards_are_regenerated(tmp_path, clean):
    run(tmp_path)
    shards = sorted(tmp_path.glob("shard-*.npz"))
    shards[0].write_bytes(shards[0].read_bytes()[:50])
    shards[2].unlink()
    with pytest.raises(OutputDirError, match="checksum differs"):
        load_samples(tmp_path)
    report = run(tmp_path)
    assert (report.skipped, report.generated) == (6, 6)
    assert_complete(tmp_path, clean)


def test_a_partial_stray_shard_and_temporary_files_are_ignored_and_removed(tmp_path, clean):
    run(tmp_path, seeds=SEEDS[:6])
    (tmp_path / "shard-0000000000000000006-n3.npz").write_bytes(b"PK\x03\x04 partial")
    (tmp_path / ".shard-0000000000000000009-n3.npz.4242.tmp").write_bytes(b"half")
    assert load_samples(tmp_path)[0].tolist() == SEEDS[:6]
    run(tmp_path)
    assert_complete(tmp_path, clean)


def test_a_corrupt_manifest_is_reported_not_silently_discarded(tmp_path):
    run(tmp_path, seeds=SEEDS[:3])
    manifest = shard_store.manifest_path(tmp_path, 0)
    manifest.write_text(json.dumps({"format": "something-else", "shards": []}))
    with pytest.raises(OutputDirError, match=r"manifest-rank00000\.json: not a probflow sample manifest"):
        run(tmp_path)


def test_a_seed_listed_by_two_manifests_is_reported(tmp_path):
    run(tmp_path, seeds=SEEDS[:3])
    os.link(shard_store.manifest_path(tmp_path, 0), shard_store.manifest_path(tmp_path, 1))
    with pytest.raises(OutputDirError, match="seed 0 is in both"):
        run(tmp_path)
    with pytest.raises(OutputDirError, match="seed 0 is stored more than once"):
        load_samples(tmp_path)


def test_a_directory_of_shards_that_probflow_did_not_write_is_left_untouched(tmp_path):
    foreign = tmp_path / "shard-0000000000000000000-n3.npz"
    foreign.write_bytes(b"someone else's data")
    with pytest.raises(OutputDirError, match="holds shards but no run.json: not a probflow sample directory"):
        run(tmp_path)
    assert foreign.read_bytes() == b"someone else's data" and sorted(tmp_path.iterdir()) == [foreign]


class RunsAnotherWriter:
    """MIXTURE, but its ``call``-th evaluation first runs ``other()``: a second run writing into the same folder
    while this one samples, interleaved deterministically."""

    shape = SHAPE

    def __init__(self, call: int, other):
        self.call, self.other, self.calls = call, other, 0

    def __call__(self, x, sigma):
        self.calls += 1
        if self.calls == self.call:
            self.other()
        return MIXTURE(x, sigma)


def test_two_runs_writing_one_folder_at_once_keep_each_others_samples(tmp_path, clean):
    # Both are rank 0 of their own run and write manifest-rank00000.json; main kept only the last writer's list.
    other = lambda: generate(MIXTURE, SEEDS[3:9], tmp_path, nfe=NFE, batch_size=3, label="mixture")  # noqa: E731
    interleaved = RunsAnotherWriter(NFE + 1, other)  # during the second batch, after the first one's commit
    report = generate(interleaved, SEEDS[:3] + SEEDS[6:], tmp_path, nfe=NFE, batch_size=3, label="mixture")
    assert report.generated == 9 and interleaved.calls > NFE + 1
    assert_complete(tmp_path, clean)


def test_a_run_of_another_configuration_that_commits_first_is_not_mixed_with(tmp_path):
    # Both started while the folder was empty; the second to commit finds shards of the other configuration.
    other = lambda: generate(MIXTURE, [7, 8], tmp_path, nfe=NFE + 2, label="mixture")  # noqa: E731
    with pytest.raises(OutputDirError, match=r"another configuration \(nfe: 8 there, 6 now"):
        generate(RunsAnotherWriter(1, other), [0, 1], tmp_path, nfe=NFE, label="mixture")
    assert load_samples(tmp_path)[0].tolist() == [7, 8]

"""Real processes, real SIGKILLs, concurrent writers: after a resume nothing is lost or duplicated, bit for bit.

Every run under test happens in a forked process (torch is already imported, so one costs ~0.1 s). A *kill
point* is one of probflow's file operations inside the run's folder, counted in order: a torn ``os.write`` (half
the bytes reach the file, then SIGKILL), and just before and just after each ``os.replace`` and ``os.unlink``;
for checkpoints, whose bytes safetensors writes, a torn ``save_file`` takes the torn write's place. A clean run
in a child counts the points; then one child per point is SIGKILLed there, the run is resumed, and the result
must equal the clean run bitwise, with no temporary file or unlisted shard left.

Concurrent writers are forked ``generate`` runs, or ``probflow sample`` commands (the reliability issue's
reproduction), into one folder: each is rank 0 and writes ``manifest-rank00000.json``. ``pytest -s`` prints the tally: kill points injected, writers
run concurrently, samples lost or duplicated.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from probflow.cli import main
from probflow.generation import generate, load_samples
from probflow.generation import shards as shard_store
from probflow.training import TrainConfig, train
from probflow.training import checkpoint as checkpoint_module
from probflow.training.recipes import latest_checkpoint
from tests.test_generation_toys import GAUSSIAN, MIXTURE, SLOW_MIXTURE, Slowed

SEEDS = list(range(6))
BATCH_SIZE = 2
NFE = 4
TRAINING = TrainConfig(objective="edm", steps=2, channels=(8, 16), num_groups=4, batch_size=8)

TALLY = {"kill points injected": 0, "writers run concurrently": 0, "samples lost": 0, "samples duplicated": 0}


@pytest.fixture(scope="module", autouse=True)
def print_tally():
    yield
    print("\ncrash safety: " + ", ".join(f"{name} {count}" for name, count in TALLY.items()))


def install_kill_points(root: Path, kill_at: int | None) -> list[int]:
    """In this (forked) process, count probflow's file operations inside ``root``; SIGKILL at number ``kill_at``."""
    real_write, real_replace, real_unlink = os.write, os.replace, os.unlink
    real_save_file = checkpoint_module.save_file
    count = [0]

    def reached() -> bool:
        count[0] += 1
        return count[0] == kill_at

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def inside(path) -> bool:
        return Path(path).is_relative_to(root)

    def write(descriptor, data):
        if sys._getframe(1).f_globals.get("__name__") == "probflow.files" and reached():
            real_write(descriptor, bytes(data)[: len(data) // 2])
            die()
        return real_write(descriptor, data)

    def around(operation):
        def wrapped(path, *arguments, **options):
            target = arguments[0] if operation is real_replace else path
            if inside(target) and reached():
                die()
            result = operation(path, *arguments, **options)
            if inside(target) and reached():
                die()
            return result
        return wrapped

    def save_file(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        if inside(filename) and reached():
            os.truncate(filename, os.path.getsize(filename) // 2)
            die()

    os.write, os.replace, os.unlink = write, around(real_replace), around(real_unlink)
    checkpoint_module.save_file = save_file
    return count


def forked(run: Callable[[], object], root: Path, kill_at: int | None = None) -> tuple[int, int]:
    """Start ``run()`` in a child with kill points in ``root``; returns ``(pid, read end of its count pipe)``."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 0
        try:
            os.close(reader)
            torch.set_num_threads(1)
            count = install_kill_points(root, kill_at)
            run()
            os.write(writer, str(count[0]).encode())
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(writer)
    return pid, reader


def wait(pid: int, reader: int) -> tuple[int, int]:
    """``(wait status, file operations counted)`` of a child of :func:`forked`."""
    with os.fdopen(reader) as pipe:
        counted = pipe.read()
    return os.waitpid(pid, 0)[1], int(counted or 0)


def in_child(run: Callable[[], object], root: Path, kill_at: int | None = None) -> tuple[int, int]:
    return wait(*forked(run, root, kill_at))


def killed(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def finished(status: int) -> bool:
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def sampling(out_dir: Path, seeds: Sequence[int] = SEEDS, denoiser=MIXTURE) -> Callable[[], object]:
    return lambda: generate(denoiser, list(seeds), out_dir, nfe=NFE, batch_size=BATCH_SIZE)


def clean_samples(out_dir: Path, seeds: Sequence[int], denoiser=MIXTURE) -> torch.Tensor:
    sampling(out_dir, seeds, denoiser)()
    return load_samples(out_dir)[1]


def assert_complete(out_dir: Path, clean: torch.Tensor, seeds: Sequence[int] = SEEDS) -> None:
    """Every seed once (load_samples also refuses duplicates), bitwise equal to a clean run, and no debris."""
    stored = shard_store.read_all_manifests(out_dir)
    listed = [seed for records in stored.values() for record in records for seed in record.seeds]
    TALLY["samples lost"] += len(set(seeds) - set(listed))
    TALLY["samples duplicated"] += len(listed) - len(set(listed))
    assert sorted(listed) == sorted(seeds)
    stored_seeds, samples = load_samples(out_dir)
    assert stored_seeds.tolist() == sorted(seeds) and torch.equal(samples, clean)
    assert not list(out_dir.glob(".*.tmp"))
    files = {record.file for records in stored.values() for record in records}
    assert {path.name for path in out_dir.glob("shard-*.npz")} == files


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> torch.Tensor:
    return clean_samples(tmp_path_factory.mktemp("clean"), SEEDS)


def test_a_sigkill_at_every_file_operation_of_sampling_is_repaired_by_a_rerun(tmp_path, clean):
    status, points = in_child(sampling(tmp_path / "count"), tmp_path / "count")
    assert finished(status)
    for kill_at in range(1, points + 1):
        out_dir = tmp_path / f"killed-at-{kill_at}"
        status, _ = in_child(sampling(out_dir), out_dir, kill_at)
        assert killed(status), f"kill point {kill_at} of {points} was not reached"
        TALLY["kill points injected"] += 1
        sampling(out_dir)()
        assert_complete(out_dir, clean)
    writes = 1 + 2 * len(SEEDS) // BATCH_SIZE  # run.json, then a shard and the manifest per batch
    assert points >= 3 * writes


def test_sigkills_inside_the_repairs_of_earlier_sigkills_are_repaired_too(tmp_path, clean):
    # Run k dies at its own k-th file operation: later runs die ever deeper inside prepare's repair, then after it.
    out_dir = tmp_path / "storm"
    kill_at = 1
    while killed((status := in_child(sampling(out_dir), out_dir, kill_at)[0])):
        TALLY["kill points injected"] += 1
        kill_at += 1
    assert finished(status) and kill_at > 10
    assert_complete(out_dir, clean)


def switches(out_dir: Path, seeds_a: Sequence[int], seeds_b: Sequence[int]) -> int:
    """How often the shared manifest's records of seeds only A or only B asked for change hands, in commit order."""
    only_a, only_b = set(seeds_a) - set(seeds_b), set(seeds_b) - set(seeds_a)
    records = shard_store.read_manifest(shard_store.manifest_path(out_dir, 0))
    order = "".join("A" if set(r.seeds) <= only_a else "B" if set(r.seeds) <= only_b else "" for r in records)
    return len(re.findall("(?=AB|BA)", order))


@pytest.mark.parametrize(("seeds_a", "seeds_b", "denoiser"), [
    (range(0, 30), range(30, 60), MIXTURE),
    # Whoever commits a seed first stores it; GAUSSIAN is elementwise, so a sample is the same in either's batches.
    # B runs its seeds backwards, so that both start with seeds of their own and meet in the middle.
    (range(0, 40), range(59, 19, -1), GAUSSIAN),
], ids=["disjoint seeds", "overlapping seeds"])
def test_two_concurrent_writers_into_one_folder_lose_and_duplicate_nothing(tmp_path, seeds_a, seeds_b, denoiser):
    out_dir = tmp_path / "shared"
    slowed = Slowed(0.004, denoiser)  # sleeps in each call, so that the two runs take turns even on one core
    children = [forked(sampling(out_dir, seeds, slowed), out_dir) for seeds in (seeds_a, seeds_b)]
    TALLY["writers run concurrently"] += len(children)
    assert all(finished(wait(*child)[0]) for child in children)
    seeds = sorted({*seeds_a, *seeds_b})
    assert_complete(out_dir, clean_samples(tmp_path / "clean", seeds, denoiser), seeds)
    # A then B then A again: each committed after the other had read the manifest (the lost update of main).
    assert switches(out_dir, seeds_a, seeds_b) >= 2


@pytest.mark.parametrize("kill_at", [1, 5, 18, 34])
def test_a_writer_killed_while_another_writes_loses_nothing_after_its_rerun(tmp_path, kill_at):
    # Most kill points are inside a commit, so the dead writer held the folder's lock: the kernel must release it.
    seeds_a, seeds_b = range(0, 12), range(12, 24)
    out_dir = tmp_path / "shared"
    slowed = Slowed(0.004)
    writer_a = forked(sampling(out_dir, seeds_a, slowed), out_dir, kill_at)
    writer_b = forked(sampling(out_dir, seeds_b, slowed), out_dir)
    TALLY["writers run concurrently"] += 2
    assert killed(wait(*writer_a)[0]) and finished(wait(*writer_b)[0])
    TALLY["kill points injected"] += 1
    sampling(out_dir, seeds_a, slowed)()
    seeds = list(range(24))
    assert_complete(out_dir, clean_samples(tmp_path / "clean", seeds), seeds)


def test_two_probflow_sample_commands_into_one_folder_keep_every_sample(tmp_path):
    # The reliability issue's reproduction, scaled down: two commands with different seeds, started together (as
    # forked processes running the command line's main, which saves two fresh interpreters' seconds of imports).
    out_dir = tmp_path / "shared"
    common = ["sample", "--denoiser", "tests.test_generation_toys:SLOW_MIXTURE", "--batch-size", "2", "--nfe", str(NFE),
              "--out", str(out_dir)]

    def command(seeds: str) -> Callable[[], None]:
        def run() -> None:
            SLOW_MIXTURE.seconds = 0.004
            assert main([*common, "--seeds", seeds]) == 0
        return run

    children = [forked(command(seeds), out_dir) for seeds in ("0-29", "30-59")]
    TALLY["writers run concurrently"] += len(children)
    assert all(finished(wait(*child)[0]) for child in children)
    seeds = list(range(60))
    assert_complete(out_dir, clean_samples(tmp_path / "clean", seeds), seeds)
    assert switches(out_dir, range(30), range(30, 60)) >= 2


def test_a_sigkill_at_every_file_operation_of_checkpointing_is_repaired_by_resuming(tmp_path):
    # Bitwise equality of two trainings needs the same summation order: one thread in the parent and the forked
    # children alike (a forked child may not get the parent's thread pool), as probflow.threads picks for small work.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _kill_checkpointing_everywhere(tmp_path)
    finally:
        torch.set_num_threads(previous_threads)


def _kill_checkpointing_everywhere(tmp_path: Path) -> None:
    def training(folder: Path) -> Callable[[], Path]:
        return lambda: train(TRAINING, folder, checkpoint_every=1, resume_from=latest_checkpoint(folder),
                             progress=False)

    clean = load_file(training(tmp_path / "clean")())  # here first: the children inherit the loaded data
    umask = os.umask(0o022)
    os.umask(umask)
    status, points = in_child(training(tmp_path / "count"), tmp_path / "count")
    assert finished(status)
    for kill_at in range(1, points + 1):
        folder = tmp_path / f"killed-at-{kill_at}"
        assert killed(in_child(training(folder), folder, kill_at)[0]), f"kill point {kill_at} was not reached"
        TALLY["kill points injected"] += 1
        final = training(folder)()
        resumed = load_file(final)
        assert resumed.keys() == clean.keys() and all(torch.equal(resumed[key], clean[key]) for key in clean)
        assert not list(folder.glob(".*.tmp"))
        assert all(load_file(path) for path in folder.glob("step-*.safetensors"))  # none truncated
        assert stat.S_IMODE(final.stat().st_mode) == 0o666 & ~umask  # safetensors alone makes 0o600 files
    assert points >= 3 * TRAINING.steps  # a torn write, and before and after the rename, per checkpoint

"""Sharded, resumable sample storage that any number of processes can write at once without losing a sample.

Layout of an output directory::

    run.json                    the sampling configuration the shards were made with
    manifest-rank00000.json     shards committed by rank 0 (of any run): file name, seeds, sha256, and each
                                seed's conditioning digest when sampled with model_kwargs
    shard-<first seed>-n<count>.npz   ``seeds`` (int64) and ``samples``, one generated batch
    .probflow-lock              the lock file; its content is unused

A seed is *done* iff a manifest lists it and the listed shard exists with the recorded checksum. Every file is
written atomically (:mod:`probflow.files`: a fsynced temporary file renamed onto its name).

Protocol. Every change to the directory happens while holding an exclusive ``flock`` on ``.probflow-lock``, and
no state is carried from one hold to the next:

* :func:`prepare` (once per run, by rank 0, before sampling): repair after any crash, refuse shards of another
  configuration, record ``run.json``, and return the done seeds (those are not sampled again);
* :meth:`ShardWriter.write` (once per batch, after sampling it without the lock): re-read every manifest and
  ``run.json``, drop the batch's rows whose seeds are done by now (another process committed them meanwhile),
  write the rest as a shard, then re-read-merge-write this rank's manifest with the new record added.

So two ``probflow sample`` runs into one folder, each rank 0 and writing ``manifest-rank00000.json``, merge
their records instead of overwriting each other's, and a seed that both sample is stored once. A shard's name
holds its first seed, which no listed shard holds (done seeds are never committed again), so a commit never
replaces a listed shard. A run whose configuration differs from that of the listed shards is refused at its
first commit, even if it started while the folder was empty. Sampling never holds the lock; readers
(:func:`load_samples`) need none, since a commit lists a shard only after its file is complete.

Every crash point leaves a state that :func:`prepare` repairs (the kernel drops a dead process's lock):

* killed while writing a shard or a manifest: a leftover temporary ``.<name>.<pid>-<random>.tmp``, deleted;
* killed between the shard's rename and the manifest's: a shard no manifest lists, deleted (its seeds are
  not done and are generated again);
* a listed shard missing, truncated or altered: its record is dropped and its seeds generated again.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from probflow.errors import MissingFileError, OutputDirError
from probflow.files import WRITE_CHECK, check_output_dir, exclusive_lock, temporaries, write_bytes
from probflow.generation.distributed import Ranks

FORMAT = "probflow-samples-1"
RUN_FILE = "run.json"
LOCK_FILE = ".probflow-lock"
#: The store's own files (globs) and the write check's: temporary files left by writes onto them are a crash's debris.
STORE_FILES = ("shard-*.npz", "manifest-rank*.json", RUN_FILE, WRITE_CHECK)


@dataclass(frozen=True)
class ShardRecord:
    """A committed shard as its manifest lists it; ``conditioning`` holds each seed's conditioning digest
    (:mod:`probflow.generation.conditioning`), None for samples drawn without ``model_kwargs``."""

    file: str
    seeds: tuple[int, ...]
    sha256: str
    conditioning: tuple[str, ...] | None = None

    def conditioning_by_seed(self) -> dict[int, str | None]:
        """Seed -> its conditioning digest (None without conditioning)."""
        digests = self.conditioning or (None,) * len(self.seeds)
        return dict(zip(self.seeds, digests))


def manifest_path(out_dir: Path, rank: int) -> Path:
    """``<out_dir>/manifest-rank<rank, 5 digits>.json``: written by that rank only."""
    return out_dir / f"manifest-rank{rank:05d}.json"


def shard_name(seeds: Sequence[int]) -> str:
    """``shard-<first seed, 19 digits>-n<count>.npz``: 19 digits hold any int64 seed, so names sort by seed."""
    return f"shard-{seeds[0]:019d}-n{len(seeds)}.npz"


def encode_arrays(**arrays: np.ndarray) -> bytes:
    """The bytes of an uncompressed ``.npz`` holding ``arrays``."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_manifest(path: Path) -> list[ShardRecord]:
    """The records of one manifest file (none if it does not exist)."""
    if not path.exists():
        return []
    try:
        content = json.loads(path.read_text())
        if content.get("format") != FORMAT:
            raise OutputDirError(f"format {content.get('format')!r}, expected {FORMAT!r}")
        return [_record(entry) for entry in content["shards"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OutputDirError(f"{path}: not a probflow sample manifest ({exc})") from exc


def _record(entry: dict) -> ShardRecord:
    """One manifest entry as a record; its conditioning, if any, must be one digest string per seed."""
    seeds, conditioning = tuple(entry["seeds"]), entry.get("conditioning")
    if conditioning is not None:
        if (not isinstance(conditioning, list) or len(conditioning) != len(seeds)
                or not all(isinstance(digest, str) for digest in conditioning)):
            raise ValueError(f"shard {entry['file']!r}: conditioning must list one digest per seed "
                             f"({len(seeds)}), got {conditioning!r:.80}")
        conditioning = tuple(conditioning)
    return ShardRecord(entry["file"], seeds, entry["sha256"], conditioning)


def write_manifest(path: Path, records: Sequence[ShardRecord]) -> None:
    """Replace the manifest at ``path`` with ``records``, atomically."""
    shards = [{"file": r.file, "seeds": list(r.seeds), "sha256": r.sha256,
               **({} if r.conditioning is None else {"conditioning": list(r.conditioning)})} for r in records]
    write_bytes(path, json.dumps({"format": FORMAT, "shards": shards}).encode())


def read_all_manifests(out_dir: Path) -> dict[Path, list[ShardRecord]]:
    """Every rank's manifest in ``out_dir`` (of this run and of earlier runs with other world sizes)."""
    return {path: read_manifest(path) for path in sorted(out_dir.glob("manifest-rank*.json"))}


def recorded_conditioning(manifests: dict[Path, list[ShardRecord]]) -> dict[int, str | None]:
    """Every listed seed -> its conditioning digest (None where sampled without ``model_kwargs``)."""
    return {seed: digest for records in manifests.values() for record in records
            for seed, digest in record.conditioning_by_seed().items()}


def read_shard(out_dir: Path, record: ShardRecord) -> tuple[np.ndarray, np.ndarray]:
    """``(seeds, samples)`` of a committed shard, checked against its record; :class:`OutputDirError` if not."""
    path = out_dir / record.file
    if not path.is_file():
        raise OutputDirError(f"{path}: listed in a manifest but missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise OutputDirError(f"{path}: checksum differs from its manifest record (truncated or altered)")
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        seeds, samples = arrays["seeds"], arrays["samples"]
    if tuple(seeds.tolist()) != record.seeds or samples.shape[0] != len(record.seeds):
        raise OutputDirError(f"{path}: its seeds differ from its manifest record")
    return seeds, samples


class ShardWriter:
    """Commits this rank's batches under the directory's lock (the protocol in the module docstring)."""

    def __init__(self, out_dir: Path, ranks: Ranks, config: dict):
        self.out_dir = out_dir
        self.manifest = manifest_path(out_dir, ranks.rank)
        self.config = config

    def write(self, seeds: Sequence[int], samples: torch.Tensor,
              conditioning: Sequence[str] | None = None) -> ShardRecord | None:
        """Commit the rows of ``samples`` (row ``i`` drawn from ``seeds[i]``, with the conditioning digest
        ``conditioning[i]`` if any) whose seeds are not done yet as one shard; returns its manifest record, or
        ``None`` if other processes committed all of them meanwhile. A seed committed meanwhile with other
        conditioning is an :class:`OutputDirError`."""
        digests = [None] * len(seeds) if conditioning is None else list(conditioning)
        with exclusive_lock(self.out_dir / LOCK_FILE):
            manifests = read_all_manifests(self.out_dir)
            recorded = _check_config(self.out_dir, self.config, has_records=any(manifests.values()))
            if recorded != self.config:
                _record_config(self.out_dir, self.config)
            done = recorded_conditioning(manifests)
            for seed, digest in zip(seeds, digests):
                if seed in done and done[seed] != digest:
                    raise OutputDirError(f"seed {seed} was committed meanwhile by another run with other conditioning "
                                         f"(model_kwargs)")
            rows = [row for row, seed in enumerate(seeds) if seed not in done]
            if not rows:
                return None
            kept = [int(seeds[row]) for row in rows]
            data = encode_arrays(seeds=np.asarray(kept, dtype=np.int64), samples=samples[rows].detach().cpu().numpy())
            record = ShardRecord(shard_name(kept), tuple(kept), hashlib.sha256(data).hexdigest(),
                                 None if conditioning is None else tuple(digests[row] for row in rows))
            write_bytes(self.out_dir / record.file, data)
            write_manifest(self.manifest, [*manifests.get(self.manifest, []), record])
        return record


def prepare(out_dir: Path, config: dict) -> set[int]:
    """Repair ``out_dir`` after any crash, record ``config``, and return the seeds already done.

    Runs on one process (rank 0) before any rank of this run writes, while other runs may be writing. Raises
    :class:`OutputDirError`, before changing anything, if listed shards were made with a different configuration
    or the directory holds shards that probflow did not write; and if a seed is listed twice.
    :class:`~probflow.errors.OutputPathError` if ``out_dir`` is a file or cannot be written.
    """
    check_output_dir(out_dir, "sample folder")
    if out_dir.is_dir():  # refuse another configuration or foreign shards before even creating the lock file
        _check_config(out_dir, config, has_records=any(read_all_manifests(out_dir).values()))
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out_dir / LOCK_FILE):
        return _repair(out_dir, config)


def _repair(out_dir: Path, config: dict) -> set[int]:
    manifests = read_all_manifests(out_dir)
    recorded = _check_config(out_dir, config, has_records=any(manifests.values()))
    for pattern in STORE_FILES:
        for temporary in temporaries(out_dir, pattern):
            temporary.unlink(missing_ok=True)
    done: dict[int, str] = {}
    for path, records in manifests.items():
        valid = [record for record in records if _is_intact(out_dir, record)]
        if len(valid) != len(records):
            write_manifest(path, valid)
        for record in valid:
            for seed in record.seeds:
                if seed in done:
                    raise OutputDirError(f"{out_dir}: seed {seed} is in both {done[seed]} and {record.file}")
                done[seed] = record.file
    kept_files = set(done.values())
    for shard in out_dir.glob("shard-*.npz"):
        if shard.name not in kept_files:
            shard.unlink()
    if recorded != config:
        _record_config(out_dir, config)
    return set(done)


def _is_intact(out_dir: Path, record: ShardRecord) -> bool:
    try:
        read_shard(out_dir, record)
    except (OutputDirError, OSError):
        return False
    return True


def _check_config(out_dir: Path, config: dict, *, has_records: bool) -> dict | None:
    """The configuration in ``run.json`` (``None`` if absent), after checking that listed shards come from
    ``config``; a directory of shards without ``run.json`` is not ours."""
    path = out_dir / RUN_FILE
    if not path.exists():
        if has_records or any(out_dir.glob("shard-*.npz")):
            raise OutputDirError(f"{out_dir} holds shards but no {RUN_FILE}: not a probflow sample directory")
        return None
    try:
        recorded = json.loads(path.read_text())["config"]
    except (ValueError, KeyError, TypeError) as exc:
        raise OutputDirError(f"{path}: unreadable ({exc})") from exc
    differing = sorted(key for key in {*recorded, *config} if recorded.get(key) != config.get(key))
    if has_records and differing:
        details = "; ".join(f"{key}: {recorded.get(key)!r} there, {config.get(key)!r} now" for key in differing)
        raise OutputDirError(
            f"{out_dir} holds samples made with another configuration ({details}); "
            "use a new output directory or the same settings"
        )
    return recorded


def _record_config(out_dir: Path, config: dict) -> None:
    """Write ``config`` to ``run.json``: only while no shard is listed, so every listed shard is of that config."""
    write_bytes(out_dir / RUN_FILE, json.dumps({"format": FORMAT, "config": config}, indent=1).encode())


def load_samples(out_dir: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``(seeds, samples)`` of every committed shard in ``out_dir``, sorted by seed.

    ``seeds`` is int64 ``[n]`` and ``samples`` ``[n, *shape]``. Raises :class:`OutputDirError` if a listed
    shard is missing or altered, or a seed appears twice (rerunning the generation repairs the first).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise MissingFileError(f"{out_dir}: no such output directory")
    records = [record for records in read_all_manifests(out_dir).values() for record in records]
    if not records:
        raise OutputDirError(f"{out_dir}: no committed shards (no manifest-rank*.json lists any)")
    parts = [read_shard(out_dir, record) for record in records]
    seeds = np.concatenate([seeds for seeds, _ in parts])
    samples = np.concatenate([samples for _, samples in parts])
    order = np.argsort(seeds, kind="stable")
    seeds, samples = seeds[order], samples[order]
    repeated = seeds[1:][seeds[1:] == seeds[:-1]]
    if repeated.size:
        raise OutputDirError(f"{out_dir}: seed {int(repeated[0])} is stored more than once")
    return torch.from_numpy(seeds), torch.from_numpy(samples)

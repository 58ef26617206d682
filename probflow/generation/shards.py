"""Sharded, resumable sample storage: atomic shard files and one manifest per rank.

Layout of an output directory::

    run.json                    the sampling configuration the shards were made with
    manifest-rank00000.json     shards committed by rank 0: file name, seeds, sha256
    shard-<first seed>-n<count>.npz   ``seeds`` (int64) and ``samples``, one generated batch

Protocol, per batch: write the shard to a temporary file, fsync, ``os.replace`` it to its final name (atomic
on POSIX), then rewrite the rank's manifest the same way. A seed is *done* iff a manifest lists it and the
listed shard exists with the recorded checksum. Every crash point leaves a state that :func:`prepare` repairs:

* killed while writing a shard or a manifest: a leftover ``.*.tmp`` file, deleted;
* killed between the shard's rename and the manifest's: a shard no manifest lists, deleted (its seeds are
  not done and are generated again);
* a listed shard missing, truncated or altered: its record is dropped and its seeds generated again.

Ranks never write the same file: each rank writes only its own manifest, and a shard's name holds its
first seed, which no other shard shares (seeds are distinct, and done seeds are never generated again).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from probflow.errors import OutputDirError
from probflow.generation.distributed import Ranks

FORMAT = "probflow-samples-1"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class ShardRecord:
    """A committed shard as its manifest lists it."""

    file: str
    seeds: tuple[int, ...]
    sha256: str


def manifest_path(out_dir: Path, rank: int) -> Path:
    """``<out_dir>/manifest-rank<rank, 5 digits>.json``: written by that rank only."""
    return out_dir / f"manifest-rank{rank:05d}.json"


def shard_name(seeds: Sequence[int]) -> str:
    """``shard-<first seed, 19 digits>-n<count>.npz``: 19 digits hold any int64 seed, so names sort by seed."""
    return f"shard-{seeds[0]:019d}-n{len(seeds)}.npz"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: a fsynced temporary file renamed over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


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
            raise ValueError(f"format {content.get('format')!r}, expected {FORMAT!r}")
        return [ShardRecord(entry["file"], tuple(entry["seeds"]), entry["sha256"]) for entry in content["shards"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OutputDirError(f"{path}: not a probflow sample manifest ({exc})") from exc


def write_manifest(path: Path, records: Sequence[ShardRecord]) -> None:
    """Replace the manifest at ``path`` with ``records``, atomically."""
    shards = [{"file": r.file, "seeds": list(r.seeds), "sha256": r.sha256} for r in records]
    atomic_write(path, json.dumps({"format": FORMAT, "shards": shards}).encode())


def read_all_manifests(out_dir: Path) -> dict[Path, list[ShardRecord]]:
    """Every rank's manifest in ``out_dir`` (of this run and of earlier runs with other world sizes)."""
    return {path: read_manifest(path) for path in sorted(out_dir.glob("manifest-rank*.json"))}


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
    """Commits this rank's batches: shard first, then this rank's manifest (see the module docstring)."""

    def __init__(self, out_dir: Path, ranks: Ranks):
        self.out_dir = out_dir
        self.manifest = manifest_path(out_dir, ranks.rank)
        self.records = read_manifest(self.manifest)

    def write(self, seeds: Sequence[int], samples: torch.Tensor) -> ShardRecord:
        """Commit ``samples`` (row ``i`` drawn from ``seeds[i]``) as one shard; returns its manifest record."""
        data = encode_arrays(seeds=np.asarray(seeds, dtype=np.int64), samples=samples.detach().cpu().numpy())
        record = ShardRecord(shard_name(seeds), tuple(int(s) for s in seeds), hashlib.sha256(data).hexdigest())
        atomic_write(self.out_dir / record.file, data)
        self.records.append(record)
        write_manifest(self.manifest, self.records)
        return record


def prepare(out_dir: Path, config: dict) -> set[int]:
    """Repair ``out_dir`` after any crash, record ``config``, and return the seeds already done.

    Runs on one process (rank 0) before any rank writes. Raises :class:`OutputDirError`, before changing
    anything, if listed shards were made with a different configuration or the directory holds shards that
    probflow did not write; and if a seed is listed twice.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests = read_all_manifests(out_dir)
    _check_config(out_dir / RUN_FILE, config, has_records=any(manifests.values()))
    for temporary in out_dir.glob(".*.tmp"):
        temporary.unlink()
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
    atomic_write(out_dir / RUN_FILE, json.dumps({"format": FORMAT, "config": config}, indent=1).encode())
    return set(done)


def _is_intact(out_dir: Path, record: ShardRecord) -> bool:
    try:
        read_shard(out_dir, record)
    except (OutputDirError, OSError):
        return False
    return True


def _check_config(path: Path, config: dict, *, has_records: bool) -> None:
    """Listed shards must come from ``config``; a directory of shards without ``run.json`` is not ours."""
    if not path.exists():
        if has_records or any(path.parent.glob("shard-*.npz")):
            raise OutputDirError(f"{path.parent} holds shards but no {RUN_FILE}: not a probflow sample directory")
        return
    try:
        recorded = json.loads(path.read_text())["config"]
    except (ValueError, KeyError, TypeError) as exc:
        raise OutputDirError(f"{path}: unreadable ({exc})") from exc
    differing = sorted(key for key in {*recorded, *config} if recorded.get(key) != config.get(key))
    if has_records and differing:
        details = "; ".join(f"{key}: {recorded.get(key)!r} there, {config.get(key)!r} now" for key in differing)
        raise OutputDirError(
            f"{path.parent} holds samples made with another configuration ({details}); "
            "use a new output directory or the same settings"
        )


def load_samples(out_dir: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``(seeds, samples)`` of every committed shard in ``out_dir``, sorted by seed.

    ``seeds`` is int64 ``[n]`` and ``samples`` ``[n, *shape]``. Raises :class:`OutputDirError` if a listed
    shard is missing or altered, or a seed appears twice (rerunning the generation repairs the first).
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no such output directory")
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

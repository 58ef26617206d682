"""Conditioning in generation: ``model_kwargs`` aligned with the requested seeds.

Row ``i`` of every per-sample entry (:mod:`probflow.conditioning`: a tensor of leading dimension ``len(seeds)``)
belongs to ``seeds[i]`` and travels with that seed into whichever batch, rank and shard it is sampled in; other
entries are shared by every sample. Each seed's conditioning is summarised by a digest (SHA-256 over the entries'
own digests: of its rows, and of the shared entries, each hashed once), recorded next to its sample, so that a
resume, or a concurrent run, that asks for a done seed with other conditioning is refused instead of mixing samples
of two conditionings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import torch

from probflow.conditioning import is_per_sample, select_rows
from probflow.errors import InvalidArgumentError, OutputDirError

#: Shared entries that can be recorded: they have a stable text form.
PLAIN_VALUES = (bool, int, float, str, type(None))


class SeedConditioning:
    """``model_kwargs`` (or None) aligned with ``seeds`` (module docstring)."""

    def __init__(self, seeds: Sequence[int], model_kwargs: Mapping[str, object] | None):
        if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
            raise InvalidArgumentError(f"model_kwargs must be a mapping of keyword arguments, got "
                                       f"{type(model_kwargs).__name__}")
        self.model_kwargs = None if model_kwargs is None else dict(model_kwargs)
        self.count = len(seeds)
        self.rows = {seed: row for row, seed in enumerate(seeds)}
        self._shared_digests: dict[str, bytes] = {}
        for key, value in (self.model_kwargs or {}).items():
            if not isinstance(value, (torch.Tensor, *PLAIN_VALUES)):
                raise InvalidArgumentError(f"model_kwargs[{key!r}] is a {type(value).__name__}; generation records "
                                           f"each seed's conditioning, so give tensors (per sample: one row per "
                                           f"seed, {self.count} rows), numbers or strings")

    @property
    def keys(self) -> list[str] | None:
        """The names of the entries (recorded in ``run.json``), or None without conditioning."""
        return None if self.model_kwargs is None else sorted(self.model_kwargs)

    def for_seeds(self, seeds: Sequence[int]) -> dict[str, object] | None:
        """The model_kwargs of a batch of ``seeds``: their rows of the per-sample entries, the shared ones as they
        are."""
        if self.model_kwargs is None:
            return None
        return select_rows(self.model_kwargs, self.count, torch.tensor([self.rows[seed] for seed in seeds]))

    def digests(self, seeds: Sequence[int]) -> list[str] | None:
        """Each seed's conditioning digest, or None without conditioning."""
        if self.model_kwargs is None:
            return None
        return [self._digest(self.rows[seed]) for seed in seeds]

    def _digest(self, row: int) -> str:
        # Over the sorted keys, each entry's own digest: a shared entry's is computed once (a large text embedding is
        # not rehashed per seed), a per-sample entry's from the one-row slice the network sees, so that a one-row
        # entry digests alike whether the request's seed count makes it per-sample (one seed) or shared (several).
        digest = hashlib.sha256()
        for key in sorted(self.model_kwargs):
            value = self.model_kwargs[key]
            entry = _entry_digest(value[row:row + 1]) if is_per_sample(value, self.count) else self._shared_digest(key)
            digest.update(key.encode() + b"\0" + entry)
        return digest.hexdigest()

    def _shared_digest(self, key: str) -> bytes:
        if key not in self._shared_digests:
            self._shared_digests[key] = _entry_digest(self.model_kwargs[key])
        return self._shared_digests[key]

    def check_recorded(self, seeds: Sequence[int], recorded: Mapping[int, str | None]) -> None:
        """:class:`OutputDirError` if a seed in ``recorded`` (done: seed -> its recorded digest) was sampled with
        other conditioning than it has now."""
        done = [seed for seed in seeds if seed in recorded]
        for seed, digest in zip(done, self.digests(done) or [None] * len(done)):
            if recorded[seed] != digest:
                raise OutputDirError(f"seed {seed} is already in the output directory, sampled with other "
                                     f"conditioning (model_kwargs) than it is given now; use a new output directory "
                                     f"or the same model_kwargs")


def _entry_digest(value: object) -> bytes:
    """SHA-256 of :func:`_value_bytes`."""
    return hashlib.sha256(_value_bytes(value)).digest()


def _value_bytes(value: object) -> bytes:
    """A stable byte form of one entry (of one sample's row): type, shape and contents."""
    if isinstance(value, torch.Tensor):
        contents = value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        return f"tensor {value.dtype} {tuple(value.shape)}\0".encode() + contents
    return f"{type(value).__name__} {value!r}\0".encode()

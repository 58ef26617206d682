"""Data-parallel generation under ``torchrun``: which process this is, and the few collectives it needs.

``torchrun --nproc_per_node=K`` starts K copies of the same command with ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` in their environment. Each rank takes a disjoint share of the seeds; since every sample depends
only on its own seed, the union of the shares equals a single-process run bit for bit (same device and dtype).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from probflow.errors import DistributedSetupError

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place among ``world_size`` data-parallel processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Ranks:
        """Read torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (absent: a single process)."""
        try:
            rank = int(environ.get("RANK", "0"))
            world_size = int(environ.get("WORLD_SIZE", "1"))
            local_rank = int(environ.get("LOCAL_RANK", str(rank)))
        except ValueError as exc:
            raise DistributedSetupError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc})") from exc
        if not 0 <= rank < world_size:
            raise DistributedSetupError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world_size}")
        return cls(rank, world_size, local_rank)

    @property
    def is_main(self) -> bool:
        """Rank 0 prepares shared files and reports."""
        return self.rank == 0

    def share(self, items: Sequence[T]) -> list[T]:
        """Items ``rank, rank + world_size, ...``: disjoint across ranks, together all items, sizes within one."""
        return list(items[self.rank :: self.world_size])

    def default_device(self) -> torch.device:
        """``cuda:LOCAL_RANK`` when CUDA is available (one GPU per process), else the CPU."""
        return torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")


def parse_device(spec: str) -> torch.device:
    """``"auto"`` -> :meth:`Ranks.default_device` of this process; otherwise ``torch.device(spec)``, which must
    exist on this machine (``ValueError`` if not)."""
    if spec == "auto":
        return Ranks.from_environment().default_device()
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise DistributedSetupError(f"unknown device {spec!r}: {str(exc).splitlines()[0]}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DistributedSetupError(f"device {spec!r} asked for, but CUDA is not available here")
    return device


def current_ranks() -> Ranks:
    """The initialised process group's ranks, or a single process; refuses a multi-process launch without one."""
    environment = Ranks.from_environment()
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), environment.local_rank)
    if environment.world_size > 1:
        raise DistributedSetupError(
            f"launched as {environment.world_size} processes (WORLD_SIZE) but torch.distributed is not "
            "initialised: run inside probflow.generation.process_group()"
        )
    return Ranks()


@contextmanager
def process_group(device: torch.device | None = None) -> Iterator[Ranks]:
    """Initialise torch.distributed from torchrun's environment for the duration of the block.

    NCCL when ``device`` is a CUDA device, gloo otherwise. A single process (no ``WORLD_SIZE``) or an
    already initialised group is left as it is.
    """
    ranks = Ranks.from_environment()
    owns_group = ranks.world_size > 1 and not dist.is_initialized()
    if owns_group:
        if device is not None and device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device is not None and device.type == "cuda" else "gloo")
    try:
        yield current_ranks()
    finally:
        if owns_group:
            dist.destroy_process_group()


def all_gather(value: T, ranks: Ranks) -> list[T]:
    """Every rank's ``value``, in rank order, on every rank (picklable objects; CPU tensors travel best)."""
    if ranks.world_size == 1:
        return [value]
    gathered: list[Any] = [None] * ranks.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def on_main(compute: Callable[[], T], ranks: Ranks) -> T:
    """Run ``compute()`` on rank 0 only; every rank returns its result, or raises its exception.

    Forwarding the exception matters: a rank-0 error must not leave the other ranks waiting forever.
    """
    outcome: tuple[bool, Any] | None = None
    if ranks.is_main:
        try:
            outcome = (True, compute())
        except Exception as exc:  # re-raised on every rank below
            outcome = (False, exc)
    if ranks.world_size > 1:
        box = [outcome]
        dist.broadcast_object_list(box, src=0)
        outcome = box[0]
    succeeded, value = outcome
    if not succeeded:
        raise value
    return value


def barrier(ranks: Ranks) -> None:
    """Wait until every rank gets here."""
    if ranks.world_size > 1:
        dist.barrier()

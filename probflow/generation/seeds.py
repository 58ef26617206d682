"""Seed lists for generation: one seed per sample, written as ranges and comma lists (EDM ``generate.py`` style)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

from probflow.errors import SeedSpecError

#: Seeds are stored as int64 next to their samples and seed a ``torch.Generator`` each.
MAX_SEED = 2**63 - 1


def parse_seeds(spec: str) -> list[int]:
    """``"0-49999"`` or ``"1,3,10-12"`` -> the seeds in the order written (ranges are inclusive).

    Every seed must be an integer in ``[0, 2**63 - 1]`` and appear once: a repeated seed would be a duplicate
    sample.
    """
    if not isinstance(spec, str):
        raise SeedSpecError(f"seeds must be given as a string like '0-99' or '1,5,7', got {type(spec).__name__}")
    seeds: list[int] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        start = _seed_number(first, part)
        stop = _seed_number(last, part) if dash else start
        if stop < start:
            raise SeedSpecError(f"seed range {part.strip()!r} is reversed; write {stop}-{start}")
        seeds.extend(range(start, stop + 1))
    return check_seeds(seeds)


def _seed_number(text: str, part: str) -> int:
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        raise SeedSpecError(f"bad seed {part.strip()!r}: expected a non-negative integer or a range like 0-99")
    value = int(text)
    if value > MAX_SEED:
        raise SeedSpecError(f"seed {value} is above the largest seed {MAX_SEED}")
    return value


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """``seeds`` as a list of distinct integers in ``[0, 2**63 - 1]``, or :class:`SeedSpecError` naming the bad one."""
    checked: list[int] = []
    seen: set[int] = set()
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
            raise SeedSpecError(f"every seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
        seed = int(seed)
        if seed in seen:
            raise SeedSpecError(f"seed {seed} appears twice; each seed names one sample")
        seen.add(seed)
        checked.append(seed)
    if not checked:
        raise SeedSpecError("no seeds given")
    return checked

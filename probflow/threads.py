"""How many intra-op threads torch uses for a piece of work: one place decides, every command asks it.

The rule, in order of precedence:

1. an explicit request (``--threads N`` on the command line, ``requested=N`` here);
2. the environment variable ``PROBFLOW_THREADS``;
3. by work size: one thread when one batch of the computation's input holds fewer than :data:`SMALL_WORK` scalar
   elements (``batch * C * H * W``), else the caller's setting, which is torch's default unless the caller
   changed it.

Why one thread for small work: a batch of 8x8 images is split into pieces so small that a second thread gains
little, and threads that wait on each other stall when another process holds a core. On a two-core machine shared
with other jobs (load average 4-6; ``benchmarks/RESULTS.md``, section 6) one thread was faster at every batch size
measured, up to 262144 values (6 to 54 times for the digits UNet at 512-4096 values), ``probflow compare --table
lesson-karras --num-samples 256`` took 311 s with two threads against 108 s with one, and training ``digits-edm``
ran at 0.85 it/s against 2.6 it/s. Above :data:`SMALL_WORK` torch's default is kept: more threads can pay there on
an idle machine with more cores, which was not measured.

:func:`threads_for` applies the choice for the duration of a ``with`` block and restores the caller's setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from probflow.errors import ThreadCountError

#: The environment variable that overrides the work-size rule (below an explicit request).
ENV_VAR = "PROBFLOW_THREADS"

#: Scalar values per batch below which one thread is used: above every size measured (benchmarks/RESULTS.md,
#: section 6), where one thread still won or tied.
SMALL_WORK = 2**20


def chosen_threads(work_size: int, requested: int | None = None) -> int:
    """The intra-op thread count for work whose batches hold ``work_size`` scalar elements.

    ``requested`` if given, else ``$PROBFLOW_THREADS`` if set, else 1 below :data:`SMALL_WORK` and
    ``torch.get_num_threads()`` (the caller's setting) at or above it. Raises :class:`ThreadCountError` for a
    count that is not a positive integer or a negative ``work_size``.
    """
    if isinstance(work_size, bool) or not isinstance(work_size, int) or work_size < 0:
        raise ThreadCountError(f"work_size must be a non-negative integer, got {work_size!r}")
    if requested is not None:
        return _positive(requested, "the requested thread count")
    from_environment = os.environ.get(ENV_VAR, "").strip()
    if from_environment:
        try:
            count = int(from_environment)
        except ValueError:
            raise ThreadCountError(f"{ENV_VAR} must be a positive integer, got {from_environment!r}") from None
        return _positive(count, ENV_VAR)
    return 1 if work_size < SMALL_WORK else torch.get_num_threads()


@contextmanager
def threads_for(work_size: int, requested: int | None = None) -> Iterator[int]:
    """Run the block with :func:`chosen_threads` intra-op threads (yielded), then restore the caller's count."""
    count = chosen_threads(work_size, requested)
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)


def _positive(count: int, what: str) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ThreadCountError(f"{what} must be a positive integer, got {count!r}")
    return count

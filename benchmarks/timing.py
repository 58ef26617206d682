"""Repeated wall-clock timing, and a description of the machine the numbers came from."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per repeat of a timed callable: the minimum (least disturbed by load) and the median."""

    best: float
    median: float


def time_interleaved(runs: Sequence[Callable[[], object]], repeats: int) -> list[Timing]:
    """Time each of ``runs`` (already warm) ``repeats`` times with ``time.perf_counter``, one of each per round.

    Every round runs each callable once in turn, so that a burst of load from other processes slows all of them
    alike instead of one, and ratios taken between them stay meaningful.
    """
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, times in zip(runs, samples):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [Timing(best=min(times), median=statistics.median(times)) for times in samples]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_description() -> str:
    """One line: date, CPU, visible cores, load average, Python and torch versions."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{datetime.date.today().isoformat()}; {cpu_model()}; {os.cpu_count()} cores; load average {load}; "
            f"Python {platform.python_version()}; torch {torch.__version__}")

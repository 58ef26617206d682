"""Repeated wall-clock timing, and a description of the machine the numbers came from."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per repeat of a timed callable: the minimum (least disturbed by load) and the median."""

    best: float
    median: float


def time_repeats(run: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Run ``run`` ``warmup`` times untimed, then ``repeats`` times, each timed with ``time.perf_counter``."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return Timing(best=min(samples), median=statistics.median(samples))


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

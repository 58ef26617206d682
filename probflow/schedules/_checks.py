"""Checks of schedule parameters: a bad value fails at the call, naming the parameter and its value.

Every check raises :class:`SigmaGridError`, because every bad parameter here would otherwise turn into
a sigma grid that is not strictly decreasing, finite and non-negative.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

from probflow.errors import SigmaGridError


def check_count(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise SigmaGridError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_finite(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SigmaGridError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise SigmaGridError(f"{name} must be finite, got {value}")
    return float(value)


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0."""
    value = check_finite(name, value)
    if value <= 0:
        raise SigmaGridError(f"{name} must be > 0, got {value}")
    return value


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is finite and >= 0."""
    value = check_finite(name, value)
    if value < 0:
        raise SigmaGridError(f"{name} must be >= 0, got {value}")
    return value


def check_open_unit(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it lies in the open interval (0, 1)."""
    value = check_finite(name, value)
    if not 0 < value < 1:
        raise SigmaGridError(f"{name} must lie in (0, 1), got {value}")
    return value


def check_less(low_name: str, low: object, high_name: str, high: object) -> tuple[float, float]:
    """Return ``(low, high)`` as floats if both are finite and ``low < high``."""
    low, high = check_finite(low_name, low), check_finite(high_name, high)
    if not low < high:
        raise SigmaGridError(f"{low_name} must be < {high_name}, got {low_name}={low}, {high_name}={high}")
    return low, high


def check_sigma_range(sigma_min: object, sigma_max: object) -> tuple[float, float]:
    """Return ``(sigma_min, sigma_max)`` if ``0 < sigma_min < sigma_max`` and both are finite."""
    check_positive("sigma_min", sigma_min)
    check_positive("sigma_max", sigma_max)
    return check_less("sigma_min", sigma_min, "sigma_max", sigma_max)


def check_values_within(
    name: str, values: torch.Tensor | Sequence[float] | float, low: float, high: float, *, closed: bool
) -> torch.Tensor:
    """Return ``values`` as a float64 tensor if every entry is finite and inside [low, high] (or (low, high))."""
    tensor = torch.as_tensor(values, dtype=torch.float64)
    inside = (tensor >= low) & (tensor <= high) if closed else (tensor > low) & (tensor < high)
    bad = ~(torch.isfinite(tensor) & inside)
    if bool(bad.any()):
        first_bad = tuple(int(i) for i in bad.nonzero()[0])
        where = f"{name}{list(first_bad)}" if first_bad else name
        interval = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise SigmaGridError(f"{name} must lie in {interval}, got {where} = {tensor[first_bad].item()}")
    return tensor

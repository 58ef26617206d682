"""Every check of user input, in one place: a bad value fails at the call, naming the parameter and its value.

Each check takes the exception type to raise (``error``), always a :class:`~probflow.errors.ProbflowError`
subclass, so that the same condition raises what its entry point documents: a schedule's bad ``sigma_min`` is a
:class:`~probflow.errors.SigmaGridError`, a solver's bad order a :class:`~probflow.errors.SolverConfigError`.
Integers may be any ``numbers.Integral`` (Python or numpy), never ``bool``; reals any ``numbers.Real``.

Sigma grids follow the k-diffusion convention: strictly decreasing, finite, non-negative, and only the last entry
may be 0 (:func:`validate_sigmas`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

from probflow.errors import ProbflowError, SigmaGridError

ErrorType = type[ProbflowError]


def check_int(name: str, value: object, *, minimum: int | None = None, maximum: int | None = None,
              error: ErrorType = ProbflowError) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``."""
    kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum) if maximum is None else None
    kind = kind or f"an integer{_interval_text(minimum, maximum, closed=True)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be {kind}, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise error(f"{name} must be {kind}, got {value}")
    return value


def check_real(name: str, value: object, *, minimum: float | None = None, maximum: float | None = None,
               strict: bool = False, error: ErrorType = ProbflowError) -> float:
    """``value`` as a finite ``float`` in ``[minimum, maximum]`` (the open interval when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{name} must be finite, got {value}")
    below = minimum is not None and (value <= minimum if strict else value < minimum)
    above = maximum is not None and (value >= maximum if strict else value > maximum)
    if below or above:
        raise error(f"{name} must {_bound_text(minimum, maximum, closed=not strict)}, got {value}")
    return value


def check_positive(name: str, value: object, *, error: ErrorType = ProbflowError) -> float:
    """``value`` as a finite ``float`` > 0."""
    return check_real(name, value, minimum=0.0, strict=True, error=error)


def check_nonnegative(name: str, value: object, *, error: ErrorType = ProbflowError) -> float:
    """``value`` as a finite ``float`` >= 0."""
    return check_real(name, value, minimum=0.0, error=error)


def check_open_unit(name: str, value: object, *, error: ErrorType = ProbflowError) -> float:
    """``value`` as a ``float`` in the open interval (0, 1)."""
    return check_real(name, value, minimum=0.0, maximum=1.0, strict=True, error=error)


def check_less(low_name: str, low: object, high_name: str, high: object, *,
               error: ErrorType = ProbflowError) -> tuple[float, float]:
    """``(low, high)`` as finite floats if ``low < high``."""
    low, high = check_real(low_name, low, error=error), check_real(high_name, high, error=error)
    if not low < high:
        raise error(f"{low_name} must be < {high_name}, got {low_name}={low}, {high_name}={high}")
    return low, high


def check_sigma_range(sigma_min: object, sigma_max: object) -> tuple[float, float]:
    """``(sigma_min, sigma_max)`` if ``0 < sigma_min < sigma_max`` and both are finite; :class:`SigmaGridError` else.

    The same condition raises the same error from every entry point (schedules, ``probflow.sample``, Brownian paths).
    """
    check_positive("sigma_min", sigma_min, error=SigmaGridError)
    check_positive("sigma_max", sigma_max, error=SigmaGridError)
    return check_less("sigma_min", sigma_min, "sigma_max", sigma_max, error=SigmaGridError)


def check_values_within(name: str, values: torch.Tensor | Sequence[float] | float, low: float, high: float, *,
                        closed: bool, error: ErrorType = ProbflowError) -> torch.Tensor:
    """``values`` as a float64 tensor if every entry is finite and inside [low, high] (or (low, high))."""
    tensor = torch.as_tensor(values, dtype=torch.float64)
    inside = (tensor >= low) & (tensor <= high) if closed else (tensor > low) & (tensor < high)
    bad = ~(torch.isfinite(tensor) & inside)
    if bool(bad.any()):
        first_bad = tuple(int(i) for i in bad.nonzero()[0])
        where = f"{name}{list(first_bad)}" if first_bad else name
        interval = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise error(f"{name} must lie in {interval}, got {where} = {tensor[first_bad].item()}")
    return tensor


def check_choice(name: str, value: object, choices: Sequence[object], *, error: ErrorType = ProbflowError) -> object:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise error(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _bound_text(minimum: float | None, maximum: float | None, *, closed: bool) -> str:
    """``"be >= 0"``, ``"lie in (0, 1)"``: the condition a real number failed."""
    interval = _interval_text(minimum, maximum, closed=closed)
    return f"lie{interval}" if minimum is not None and maximum is not None else f"be{interval}"


def _interval_text(minimum: float | None, maximum: float | None, *, closed: bool) -> str:
    if minimum is None and maximum is None:
        return ""
    if maximum is None:
        return f" {'>=' if closed else '>'} {minimum:g}"
    if minimum is None:
        return f" {'<=' if closed else '<'} {maximum:g}"
    left, right = ("[", "]") if closed else ("(", ")")
    return f" in {left}{minimum:g}, {maximum:g}{right}"


def validate_sigmas(sigmas: torch.Tensor | Sequence[float], *, min_length: int = 2) -> torch.Tensor:
    """``sigmas`` as a 1-D float64 CPU tensor, or :class:`SigmaGridError`.

    A valid grid is strictly decreasing, finite, non-negative, and only its last entry may be 0 (k-diffusion). A
    tensor that requires grad keeps its graph (gradients with respect to the grid, see :func:`probflow.solve`); the
    check reads detached values, once per grid, before any loop.
    """
    if isinstance(sigmas, torch.Tensor):
        grid = sigmas.to(device="cpu", dtype=torch.float64)
    else:
        try:
            grid = torch.as_tensor(list(sigmas), dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise SigmaGridError(f"sigmas must be a 1-D sequence of numbers, got {type(sigmas).__name__}") from exc
    if grid.ndim != 1:
        raise SigmaGridError(f"sigmas must be 1-D, got shape {tuple(grid.shape)}")
    if grid.numel() < min_length:
        raise SigmaGridError(f"sigmas must hold at least {min_length} values, got {grid.numel()}")
    values = grid.detach()
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        index = int((~finite).nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = {values[index].item()} is not finite")
    negative = values < 0
    if bool(negative.any()):
        index = int(negative.nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = {values[index].item()} is negative")
    zero_inside = values[:-1] == 0
    if bool(zero_inside.any()):
        index = int(zero_inside.nonzero()[0])
        raise SigmaGridError(f"sigmas[{index}] = 0 before the end of the grid; only the last sigma may be 0")
    not_decreasing = values[1:] >= values[:-1]
    if bool(not_decreasing.any()):
        index = int(not_decreasing.nonzero()[0])
        raise SigmaGridError(
            f"sigmas must be strictly decreasing: sigmas[{index}] = {values[index].item()} is followed by "
            f"sigmas[{index + 1}] = {values[index + 1].item()}"
        )
    return grid


def validate_state(x: object, *, name: str = "x", error: ErrorType = ProbflowError) -> torch.Tensor:
    """The initial state (or noise) of a solve: a finite floating tensor ``[batch, ...]`` with a non-empty batch."""
    if not isinstance(x, torch.Tensor):
        raise error(f"{name} must be a torch.Tensor of shape [batch, ...], got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise error(f"{name} must have a non-empty batch dimension, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise error(f"{name} must be a floating tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x.detach()).all()):
        raise error(f"{name} holds NaN or Inf")
    return x

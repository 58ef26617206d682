"""Continuous-time noise schedules of Chen (2023), "On the importance of noise scheduling for diffusion models".

Chen writes the forward process as ``x_t = sqrt(gamma(t)) x0 + sqrt(1 - gamma(t)) eps`` for ``t`` in
[0, 1], so ``gamma`` is alpha-bar: ``gamma(0) = 1`` (clean data) and ``gamma(1) ~ 0`` (pure noise).
Algorithm 1 builds every schedule from a monotone warp ``h`` over ``u(t) = start + t (end - start)``:

    gamma(t) = clip((h(end) - h(u(t))) / (h(end) - h(start)), clip_min, 1)

with ``h(u) = u`` (linear), ``h(u) = sigmoid(u / tau)`` (sigmoid) or ``h(u) = cos(u pi / 2)^(2 tau)``
(cosine). The normalisation makes ``gamma(0) = 1`` and the unclipped ``gamma(1) = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from probflow.errors import SigmaGridError
from probflow.validation import (
    check_int, check_less, check_open_unit, check_positive, check_sigma_range, check_values_within,
)
from probflow.schedules.finishing import finish_grid, finish_range_grid
from probflow.schedules.conversions import alpha_bar_to_sigma, sigma_to_alpha_bar


@dataclass(frozen=True)
class _Warp:
    """A warp ``h_tau(u)`` of Algorithm 1, its inverse in ``u``, and Chen's default ``start``/``end``."""

    forward: Callable[[torch.Tensor, float], torch.Tensor]
    inverse: Callable[[torch.Tensor, float], torch.Tensor]
    start: float
    end: float


def _identity(u: torch.Tensor, tau: float) -> torch.Tensor:
    return u


def _sigmoid_warp(u: torch.Tensor, tau: float) -> torch.Tensor:
    return torch.sigmoid(u / tau)


def _sigmoid_warp_inverse(value: torch.Tensor, tau: float) -> torch.Tensor:
    return tau * torch.logit(value)


def _cosine_warp(u: torch.Tensor, tau: float) -> torch.Tensor:
    # cos(u pi/2) >= 0 on [0, 1], but u = start + t (end - start) can overshoot end = 1 by an ulp, and a
    # negative base to a fractional power 2 tau would be NaN.
    return torch.cos(u * (math.pi / 2)).clamp(min=0.0) ** (2 * tau)


def _cosine_warp_inverse(value: torch.Tensor, tau: float) -> torch.Tensor:
    return torch.arccos(value ** (1 / (2 * tau))) * (2 / math.pi)


_WARPS = {
    "linear": _Warp(_identity, _identity, start=0.0, end=1.0),
    "sigmoid": _Warp(_sigmoid_warp, _sigmoid_warp_inverse, start=-3.0, end=3.0),
    "cosine": _Warp(_cosine_warp, _cosine_warp_inverse, start=0.0, end=1.0),
}


@dataclass(frozen=True)
class _GammaSchedule:
    """One of Chen's gamma(t) with checked parameters; ``unclipped`` is gamma(t) before the clip."""

    warp: _Warp
    start: float
    end: float
    tau: float

    def _warp_ends(self) -> tuple[torch.Tensor, torch.Tensor]:
        ends = self.warp.forward(torch.tensor([self.start, self.end], dtype=torch.float64), self.tau)
        return ends[0], ends[1]

    def unclipped(self, t: torch.Tensor) -> torch.Tensor:
        h_start, h_end = self._warp_ends()
        return (h_end - self.warp.forward(self.start + t * (self.end - self.start), self.tau)) / (h_end - h_start)

    def time_of(self, gamma: torch.Tensor) -> torch.Tensor:
        """The ``t`` where the unclipped gamma(t) equals ``gamma`` (gamma is strictly decreasing in t)."""
        h_start, h_end = self._warp_ends()
        u = self.warp.inverse(h_end - gamma * (h_end - h_start), self.tau)
        return (u - self.start) / (self.end - self.start)


def _gamma_schedule(kind: str, start: float | None, end: float | None, tau: float) -> _GammaSchedule:
    if kind not in _WARPS:
        raise SigmaGridError(f"kind must be one of {sorted(_WARPS)}, got {kind!r}")
    warp = _WARPS[kind]
    start, end = check_less("start", warp.start if start is None else start, "end", warp.end if end is None else end,
                            error=SigmaGridError)
    if kind == "cosine" and not 0 <= start < end <= 1:
        # cos(u pi/2)^(2 tau) is real and decreasing only for u in [0, 1]
        raise SigmaGridError(f"cosine schedule needs 0 <= start < end <= 1, got start={start}, end={end}")
    return _GammaSchedule(warp, start, end, check_positive("tau", tau, error=SigmaGridError))


def _clipped_gamma(t: torch.Tensor | float, schedule: _GammaSchedule, clip_min: float) -> torch.Tensor:
    clip_min = check_open_unit("clip_min", clip_min, error=SigmaGridError)
    times = check_values_within("t", t, 0.0, 1.0, closed=True, error=SigmaGridError)
    return schedule.unclipped(times).clamp(clip_min, 1.0)


def gamma_linear(t: torch.Tensor | float, clip_min: float = 1e-9) -> torch.Tensor:
    """Chen (2023) Algorithm 1, linear: ``gamma(t) = clip(1 - t, clip_min, 1)``, float64."""
    return _clipped_gamma(t, _gamma_schedule("linear", None, None, 1.0), clip_min)


def gamma_sigmoid(
    t: torch.Tensor | float, start: float = -3.0, end: float = 3.0, tau: float = 1.0, clip_min: float = 1e-9
) -> torch.Tensor:
    """Chen (2023) Algorithm 1, sigmoid, float64.

    ``v_s = sigmoid(start / tau)``, ``v_e = sigmoid(end / tau)``,
    ``gamma(t) = clip((v_e - sigmoid((t (end - start) + start) / tau)) / (v_e - v_s), clip_min, 1)``.
    """
    return _clipped_gamma(t, _gamma_schedule("sigmoid", start, end, tau), clip_min)


def gamma_cosine(
    t: torch.Tensor | float, start: float = 0.0, end: float = 1.0, tau: float = 1.0, clip_min: float = 1e-9
) -> torch.Tensor:
    """Chen (2023) Algorithm 1, cosine, float64; needs ``0 <= start < end <= 1``.

    ``v_s = cos(start pi/2)^(2 tau)``, ``v_e = cos(end pi/2)^(2 tau)``,
    ``gamma(t) = clip((v_e - cos((t (end - start) + start) pi/2)^(2 tau)) / (v_e - v_s), clip_min, 1)``.
    With the defaults this is ``cos^2(t pi / 2)``, the cosine schedule of Nichol & Dhariwal (2021) with s = 0.
    """
    return _clipped_gamma(t, _gamma_schedule("cosine", start, end, tau), clip_min)


def gamma_to_sigma(gamma: torch.Tensor | float, input_scale: float = 1.0) -> torch.Tensor:
    """``sigma = sqrt((1 - gamma) / gamma) / b`` for the input scaling ``b = input_scale``.

    Chen (2023), "Strategy 2: adjusting input scaling factor": ``x_t = sqrt(gamma) b x0 + sqrt(1 - gamma) eps``.
    Dividing by ``sqrt(gamma) b`` gives the VE form ``x = x0 + sigma eps`` with the sigma above, so
    ``SNR = gamma b^2 / (1 - gamma)`` and the log-SNR is shifted by ``+2 log b`` (the paper's abstract
    says "log b"; with SNR as a ratio of variances the shift is ``2 log b``).
    """
    return alpha_bar_to_sigma(gamma) / check_positive("input_scale", input_scale, error=SigmaGridError)


def chen(
    n: int,
    kind: str = "cosine",
    *,
    start: float | None = None,
    end: float | None = None,
    tau: float = 1.0,
    clip_min: float = 1e-9,
    input_scale: float = 1.0,
    append_zero: bool = True,
) -> torch.Tensor:
    """``sigma_i = gamma_to_sigma(gamma(t_i), input_scale)`` at ``t_i = linspace(1, 0, n + 1)[:-1]``, then 0.

    ``kind`` is ``"cosine"``, ``"sigmoid"`` or ``"linear"`` (Chen 2023, Algorithm 1); ``start``/``end``
    default to Chen's (0, 1) for cosine and (-3, 3) for sigmoid, and for linear ``start``, ``end`` and
    ``tau`` cancel out. The grid starts at ``t = 1`` (``gamma = clip_min``, so ``sigma_0 =
    sqrt((1 - clip_min) / clip_min) / b``) and stops before ``t = 0``, whose ``gamma = 1`` is the trailing
    ``sigma = 0``. Because gamma is clipped to [clip_min, 1], a large ``n`` can give neighbouring steps the
    same sigma (or round gamma to 1); that raises :class:`SigmaGridError` instead of returning a bad grid.
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    schedule = _gamma_schedule(kind, start, end, tau)
    times = torch.linspace(1.0, 0.0, n + 1, dtype=torch.float64)[:-1]
    sigmas = gamma_to_sigma(_clipped_gamma(times, schedule, clip_min), input_scale)
    context = f"chen(n={n}, kind={kind!r}, clip_min={clip_min}) (gamma is clipped to [clip_min, 1])"
    return finish_grid(sigmas, append_zero=append_zero, context=context)


def chen_between(
    n: int,
    sigma_min: float,
    sigma_max: float,
    *,
    kind: str = "cosine",
    start: float | None = None,
    end: float | None = None,
    tau: float = 1.0,
    input_scale: float = 1.0,
    append_zero: bool = True,
) -> torch.Tensor:
    """Chen's gamma(t) at ``n`` times evenly spaced between the times of ``sigma_max`` and ``sigma_min``, then 0.

    The time of a sigma inverts the unclipped gamma: ``gamma = 1 / (1 + b^2 sigma^2)`` (the inverse of
    :func:`gamma_to_sigma`), then ``u = h^-1(h(end) - gamma (h(end) - h(start)))`` and
    ``t = (u - start) / (end - start)``. Every sigma in (0, inf) has such a ``t`` in (0, 1), so no
    clipping is needed. This adapts Chen's schedules to the ``(n, sigma_min, sigma_max)`` signature of
    :data:`probflow.schedules.SCHEDULES`; the shape in t is Chen's, the range is the caller's.
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    input_scale = check_positive("input_scale", input_scale, error=SigmaGridError)
    schedule = _gamma_schedule(kind, start, end, tau)
    bounds = torch.tensor([sigma_max, sigma_min], dtype=torch.float64)
    time_max, time_min = schedule.time_of(sigma_to_alpha_bar(input_scale * bounds)).tolist()
    times = torch.linspace(time_max, time_min, n, dtype=torch.float64)
    sigmas = gamma_to_sigma(schedule.unclipped(times), input_scale)
    context = f"chen_between(kind={kind!r})"
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context=context)

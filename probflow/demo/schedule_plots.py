"""Noise schedules as curves: sigma and log-SNR against normalised step ``t = i / (n - 1)``, for plots and tables.

A schedule is named by a spec ``name[:key=value,...]``: ``name`` is a key of
:data:`probflow.schedules.SCHEDULES` (``n`` sigmas from ``sigma_max`` down to ``sigma_min``), or ``chen`` for
Chen (2023)'s own parameterisation :func:`probflow.schedules.chen` (``gamma(t)`` on ``t`` in [1, 0], range set by
``clip_min`` and the input scaling ``b = input_scale``). The log-SNR is ``lambda = -2 log sigma``; scaling the
input by ``b`` shifts it by ``2 log b`` (Chen 2023, Sec. 2.2 "Strategy 2").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from probflow.errors import SigmaGridError
from probflow.figures import legend_outside, line_style, new_figure
from probflow.schedules import SCHEDULES, chen, sigma_to_log_snr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHEN = "chen"


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule name and its keyword parameters, e.g. ``chen`` with ``{"kind": "cosine", "input_scale": 0.5}``."""

    name: str
    params: dict[str, float | str] = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str:
        settings = ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
                             for key, value in self.params.items())
        return f"{self.name} ({settings})" if settings else self.name


def parse_schedule_spec(text: str) -> ScheduleSpec:
    """``"chen:kind=sigmoid,tau=0.7"`` -> ``ScheduleSpec("chen", {"kind": "sigmoid", "tau": 0.7})``.

    Values that read as numbers become floats; others stay text. Raises :class:`SigmaGridError` for an unknown
    name or a part that is not ``key=value``.
    """
    name, _, settings = text.strip().partition(":")
    known = (*SCHEDULES, CHEN)
    if name not in known:
        raise SigmaGridError(f"unknown schedule {name!r}; known: {', '.join(known)}")
    params: dict[str, float | str] = {}
    for part in filter(None, (piece.strip() for piece in settings.split(","))):
        key, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not key or not value:
            raise SigmaGridError(f"bad schedule parameter {part!r} in {text!r}: expected key=value")
        try:
            params[key] = float(value)
        except ValueError:
            params[key] = value
    return ScheduleSpec(name, params)


def schedule_sigmas(spec: ScheduleSpec, steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0) -> torch.Tensor:
    """The ``steps`` positive sigmas of ``spec`` (float64, descending, without the final 0).

    ``sigma_min``/``sigma_max`` apply to the registry schedules; ``chen`` sets its own range. A parameter the
    schedule does not take raises :class:`SigmaGridError` naming it.
    """
    try:
        if spec.name == CHEN:
            return chen(steps, **spec.params, append_zero=False)
        return SCHEDULES[spec.name](steps, sigma_min, sigma_max, **spec.params, append_zero=False)
    except TypeError as exc:
        raise SigmaGridError(f"schedule {spec.label}: {exc}") from exc


def schedule_curves(specs: list[ScheduleSpec], steps: int = 50, sigma_min: float = 0.002,
                    sigma_max: float = 80.0) -> dict[str, torch.Tensor]:
    """Each spec's :func:`schedule_sigmas` by its label."""
    return {spec.label: schedule_sigmas(spec, steps, sigma_min, sigma_max) for spec in specs}


def plot_schedules(curves: dict[str, torch.Tensor]) -> Figure:
    """sigma (log scale) and log-SNR against ``t = i / (n - 1)`` of each of ``curves`` (:func:`schedule_curves`),
    side by side, the legend to the right. Returns the figure; save it with ``figure.savefig``."""
    figure = new_figure(12.5, 4.2)
    sigma_axes, snr_axes = figure.subplots(1, 2)
    for index, (label, sigmas) in enumerate(curves.items()):
        t = torch.linspace(0.0, 1.0, len(sigmas), dtype=torch.float64)
        style = {**line_style(index), "marker": None}
        sigma_axes.semilogy(t, sigmas, label=label, **style)
        snr_axes.plot(t, sigma_to_log_snr(sigmas), label=label, **style)
    steps = {len(sigmas) for sigmas in curves.values()}
    sigma_axes.set(xlabel="normalised step i/(n-1)", ylabel="sigma",
                   title=f"sigma per step ({', '.join(map(str, sorted(steps)))} steps)")
    snr_axes.set(xlabel="normalised step i/(n-1)", ylabel="log-SNR = -2 log sigma", title="log-SNR per step")
    for axes in (sigma_axes, snr_axes):
        axes.grid(True, linewidth=0.4, alpha=0.5)
    legend_outside(snr_axes)
    return figure


def schedule_table(curves: dict[str, torch.Tensor]) -> list[tuple[str, str, str, str, str]]:
    """Rows ``(schedule, first sigma, last sigma, first log-SNR, last log-SNR)``, header first."""
    rows = [("schedule", "sigma[0]", "sigma[-1]", "logSNR[0]", "logSNR[-1]")]
    for label, sigmas in curves.items():
        log_snr = sigma_to_log_snr(sigmas)
        rows.append((label, f"{sigmas[0]:.4g}", f"{sigmas[-1]:.4g}", f"{log_snr[0]:.3f}", f"{log_snr[-1]:.3f}"))
    return rows

"""Log-log plots of measured convergence orders.

A solver of order ``p`` has error ``C * NFE^-p`` in its asymptotic range, a line of slope ``-p`` on log-log axes
(:func:`probflow.convergence.estimate_order` fits that slope). The plot has one panel per declared order, each with
the reference slope ``-p`` of its order, so that a solver off its panel's slope stands out; solvers whose errors
are identical (e.g. ``euler``, ``rk:euler`` and ``torchdiffeq:euler``) share one line and one legend entry.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from probflow.convergence.fit import OrderEstimate, measured_text
from probflow.figures import legend_outside, line_style, new_figure, plain_ticks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Relative difference below which two solvers' error sequences count as the same line.
SAME_LINE_RTOL = 1e-9

#: Characters per legend line: the names of a group of identical solvers wrap at this width.
LEGEND_WIDTH = 34


def same_line_groups(estimates: list[OrderEstimate]) -> list[list[OrderEstimate]]:
    """``estimates`` grouped by identical curves (the same NFE and errors within :data:`SAME_LINE_RTOL`), in the
    order of each group's first member."""
    groups: list[list[OrderEstimate]] = []
    for estimate in estimates:
        for group in groups:
            first = group[0]
            if first.nfe == estimate.nfe and np.allclose(first.errors, estimate.errors, rtol=SAME_LINE_RTOL, atol=0):
                group.append(estimate)
                break
        else:
            groups.append([estimate])
    return groups


def plot_estimates(estimates: list[OrderEstimate], title: str) -> Figure:
    """Log-log error against NFE, one panel per declared order (two panels a row), one line per group of solvers
    with identical errors (filled markers: levels in the fit; hollow: levels left out), and a dashed reference
    line of slope ``-p`` in the panel of order ``p``. Returns the figure; save it with ``figure.savefig``."""
    if not estimates:
        raise ValueError("no order estimates to plot")
    panels: dict[float | None, list[OrderEstimate]] = {}
    for estimate in sorted(estimates, key=lambda e: math.inf if e.declared_order is None else e.declared_order):
        panels.setdefault(estimate.declared_order, []).append(estimate)
    columns = min(2, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = new_figure(6.4 * columns, 3.4 * rows + 0.4)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, (order, members) in zip(grid.flat, panels.items()):
        _draw_panel(axes, order, same_line_groups(members))
    for axes in grid.flat[len(panels):]:
        axes.set_visible(False)
    figure.suptitle(title)
    return figure


def _draw_panel(axes: Axes, order: float | None, groups: list[list[OrderEstimate]]) -> None:
    from matplotlib.ticker import NullFormatter

    for index, group in enumerate(groups):
        first = group[0]
        style = line_style(index)
        names = textwrap.fill(" = ".join(estimate.solver for estimate in group), LEGEND_WIDTH,
                              subsequent_indent="  ", break_on_hyphens=False)
        axes.loglog(first.nfe, first.errors, label=f"{names} ({measured_text(first, '±')})", markersize=5,
                    linewidth=1.2, **style)
        dropped = [i for i in range(len(first.steps)) if i not in first.fitted]
        axes.loglog([first.nfe[i] for i in dropped], [first.errors[i] for i in dropped], linestyle="none",
                    marker=style["marker"], color=style["color"], markerfacecolor="white", markersize=5)
    if order is not None:
        _draw_reference_slope(axes, order, groups)
    plain_ticks(axes.xaxis)
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_title("no declared order" if order is None else f"declared order {order:g}", fontsize=10)
    axes.set_xlabel("NFE (denoiser calls)")
    axes.set_ylabel("RMS error at sigma_min")
    axes.grid(True, which="major", linewidth=0.4, alpha=0.5)
    legend_outside(axes)


def _draw_reference_slope(axes: Axes, order: float, groups: list[list[OrderEstimate]]) -> None:
    """A line of slope ``-order`` through the centre (in log space) of the panel's positive errors."""
    points = [(n, e) for group in groups for n, e in zip(group[0].nfe, group[0].errors) if e > 0]
    if not points:
        return
    log_nfe, log_error = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    ends = np.array([log_nfe.min(), log_nfe.max()])
    line = log_error.mean() - order * (ends - log_nfe.mean())
    axes.loglog(np.exp(ends), np.exp(line), color="black", linestyle=(0, (6, 3)), linewidth=0.9, alpha=0.6,
                label=f"reference slope -{order:g}")

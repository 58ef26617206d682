"""Matplotlib figures that library functions return: built without pyplot, told apart without colour alone.

:func:`new_figure` makes a :class:`matplotlib.figure.Figure` directly (the object-oriented API), which needs no
backend: matplotlib's backend, and so a notebook's inline display, stays as the caller set it, and the figure is
saved with ``figure.savefig(path)`` or shown by the notebook. :func:`line_style` gives the ``i``-th line its own
colour, marker and dash pattern, so that lines stay distinguishable when colours repeat or lines overlap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from probflow.extras import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # matplotlib's tab10
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
DASHES = ("-", "--", "-.", ":")


def new_figure(width: float, height: float) -> Figure:
    """A ``width x height`` inch figure with constrained layout (legends outside the axes are kept in the frame)."""
    figure_module = require("matplotlib.figure", feature="plotting")
    return figure_module.Figure(figsize=(width, height), layout="constrained")


def line_style(index: int) -> dict[str, Any]:
    """Colour, marker and dash pattern of line ``index``: no two of the first 110 lines share colour and marker."""
    return {"color": COLOURS[index % len(COLOURS)], "marker": MARKERS[index % len(MARKERS)],
            "linestyle": DASHES[index % len(DASHES)]}


def legend_outside(axes: Axes, **options: Any) -> None:
    """The legend of ``axes`` to the right of it, so that it covers no data."""
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False,
                **{"fontsize": 7, **options})


def plain_ticks(axis: Axis, values: list[float] | None = None) -> None:
    """Plain numbers on a log axis, ``4, 6, 10`` instead of ``4x10^0``: ticks at ``values``, or at 1, 2 and 5
    times the powers of ten; no labels on minor ticks."""
    from matplotlib.ticker import FixedLocator, LogLocator, NullFormatter, StrMethodFormatter

    axis.set_major_locator(FixedLocator(sorted(set(values))) if values is not None
                           else LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())

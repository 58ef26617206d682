"""Checks shared by the plotting tests: a library plot returns a Figure without touching matplotlib's backend or
pyplot, and every text and legend it draws lies inside the saved image."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def built_without_backend_change(build: Callable[[], object], monkeypatch) -> Figure:
    """Call ``build`` with ``matplotlib.use`` made to fail; assert the backend and pyplot's figures are unchanged
    and that a :class:`Figure` came back, and return it."""
    import matplotlib.pyplot as plt

    def refuse(*args, **kwargs):
        raise AssertionError(f"library code called matplotlib.use{args}")

    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    monkeypatch.setattr(matplotlib, "use", refuse)
    figure = build()
    assert isinstance(figure, Figure)
    assert matplotlib.get_backend() == backend and plt.get_fignums() == open_figures
    return figure


def assert_nothing_clipped(figure: Figure) -> None:
    """Every axes with what it draws (title, labels, tick labels, its legend) and every figure-level text (the
    suptitle) lies inside the figure."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [axes.get_tightbbox(renderer) for axes in figure.axes if axes.get_visible()]
    boxes += [text.get_window_extent(renderer) for text in figure.texts if text.get_visible() and text.get_text()]
    bounds = figure.bbox
    for box in boxes:
        assert (box.x0 >= bounds.x0 - 1 and box.y0 >= bounds.y0 - 1 and box.x1 <= bounds.x1 + 1
                and box.y1 <= bounds.y1 + 1), f"{box} leaves the figure {bounds}"

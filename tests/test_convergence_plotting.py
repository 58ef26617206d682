"""The order labels of :mod:`probflow.convergence.fit` and the log-log plot of :mod:`probflow.convergence.plotting`."""

from __future__ import annotations

import math
from dataclasses import replace

from probflow.convergence import OrderEstimate, fit_order
from probflow.convergence.fit import declared_text, measured_text
from probflow.convergence.plotting import plot_estimates
from tests.figure_checks import assert_nothing_clipped, built_without_backend_change


def second_order_estimate() -> OrderEstimate:
    """A fit to errors exactly ``3 / steps^2`` (with a little curvature, so the standard error is non-zero)."""
    steps = (4, 8, 16, 32, 64)
    errors = tuple(3.0 / n**2 * (1 + 0.1 / n) for n in steps)
    return fit_order("heun", "ode", 2.0, steps, tuple(2 * n for n in steps), errors)


def test_measured_text_gives_the_order_and_its_standard_error_to_two_decimals():
    estimate = second_order_estimate()
    assert measured_text(estimate) == f"{estimate.order:.2f} +- {estimate.standard_error:.2f}"
    assert measured_text(estimate, "±") == f"{estimate.order:.2f} ± {estimate.standard_error:.2f}"


def test_measured_text_omits_a_standard_error_that_two_levels_cannot_give():
    estimate = replace(second_order_estimate(), standard_error=math.nan)
    assert measured_text(estimate) == f"{estimate.order:.2f}"


def test_declared_text_is_a_dash_when_the_solver_declares_no_order():
    estimate = second_order_estimate()
    assert declared_text(estimate) == "2"
    assert declared_text(replace(estimate, declared_order=None)) == "-"


def test_plot_estimates_returns_a_figure_and_leaves_the_backend_alone(monkeypatch, tmp_path):
    figure = built_without_backend_change(lambda: plot_estimates([second_order_estimate()], "heun"), monkeypatch)
    figure.savefig(tmp_path / "order.png")
    assert (tmp_path / "order.png").read_bytes()[:4] == b"\x89PNG"


def test_one_panel_per_declared_order_and_identical_solvers_share_one_line(monkeypatch):
    second = second_order_estimate()
    twin = replace(second, solver="rk:heun2")
    other = replace(second, solver="lms2", errors=tuple(2 * e for e in second.errors))
    first = fit_order("euler", "ode", 1.0, second.steps, second.nfe, tuple(3.0 / n for n in second.steps))
    estimates = [second, first, twin, other]
    figure = built_without_backend_change(lambda: plot_estimates(estimates, "orders"), monkeypatch)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in panels] == ["declared order 1", "declared order 2"]
    labels = [[text.get_text() for text in axes.get_legend().get_texts()] for axes in panels]
    assert labels[0] == [f"euler ({measured_text(first, '±')})", "reference slope -1"]
    assert labels[1] == [f"heun = rk:heun2 ({measured_text(second, '±')})", f"lms2 ({measured_text(other, '±')})",
                         "reference slope -2"]
    heun, lms, _ = (line for line in panels[1].get_lines() if not line.get_label().startswith("_"))
    assert (heun.get_marker(), heun.get_linestyle()) != (lms.get_marker(), lms.get_linestyle())
    assert_nothing_clipped(figure)

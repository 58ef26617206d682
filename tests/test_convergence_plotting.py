"""The order labels of :mod:`probflow.convergence.fit` and the log-log plot of :mod:`probflow.convergence.plotting`."""

from __future__ import annotations

import math
from dataclasses import replace

from probflow.convergence import OrderEstimate, fit_order
from probflow.convergence.fit import declared_text, measured_text
from probflow.convergence.plotting import plot_estimates


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


def test_plot_estimates_writes_a_png(tmp_path):
    path = tmp_path / "order.png"
    plot_estimates([second_order_estimate()], str(path), "heun")
    assert path.read_bytes()[:4] == b"\x89PNG"

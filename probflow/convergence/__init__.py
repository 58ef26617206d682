"""Measured convergence orders of the solvers: deterministic (ODE), strong and weak (SDE).

Errors are measured at ``sigma_min`` on nested grids without the final step to 0 (:mod:`.grids`), against an
exact or high-accuracy reference, and the order is the least-squares slope over the asymptotic range (:mod:`.fit`).
"""

from probflow.convergence.fit import OrderEstimate, fit_order, least_squares_order, local_slopes
from probflow.convergence.grid_brownian import GridBrownian, GridBrownianNoise
from probflow.convergence.grids import karras_schedule, schedule_grid
from probflow.convergence.order import DEFAULT_STEPS, estimate_order, resolve_reference, suggested_steps
from probflow.convergence.problems import PROBLEMS, Problem, get_problem
from probflow.convergence.reference import ode_reference, rms_difference
from probflow.convergence.roundoff import roundoff_floors
from probflow.convergence.stochastic import (
    CoupledSolves, CoupledStudy, estimate_strong_order, estimate_weak_order, gaussian_test_functions, strong_order,
    weak_order,
)

__all__ = [
    "CoupledSolves", "CoupledStudy", "DEFAULT_STEPS", "PROBLEMS", "GridBrownian", "GridBrownianNoise",
    "OrderEstimate", "Problem", "estimate_order", "estimate_strong_order", "estimate_weak_order", "fit_order",
    "gaussian_test_functions", "get_problem", "karras_schedule", "least_squares_order", "local_slopes",
    "ode_reference", "resolve_reference", "rms_difference", "roundoff_floors", "schedule_grid", "strong_order",
    "suggested_steps", "weak_order",
]

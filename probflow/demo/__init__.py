"""``probflow demo``: one command that exercises the whole library and writes a self-contained report folder.

:func:`run_demo` measures convergence orders on an analytic problem, samples the shipped digits model with each
solver family at a few NFE budgets, scores FID and KID (including the lesson's configurations) and plots the
noise schedules; :data:`FULL` and :data:`QUICK` are its two sizes.
"""

from probflow.demo.run import DemoReport, run_demo
from probflow.demo.schedule_plots import (
    ScheduleSpec, parse_schedule_spec, plot_schedules, schedule_curves, schedule_sigmas,
)
from probflow.demo.settings import FULL, QUICK, DemoSettings

__all__ = [
    "FULL", "QUICK", "DemoReport", "DemoSettings", "ScheduleSpec", "parse_schedule_spec", "plot_schedules",
    "run_demo", "schedule_curves", "schedule_sigmas",
]

"""The two sizes of the demo: what it measures, with which solvers, at which NFE budgets and sample counts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSettings:
    """What :func:`~probflow.demo.run_demo` runs.

    * ``order_problem`` / ``order_solvers``: the analytic problem (:data:`probflow.convergence.PROBLEMS`) and the
      solvers whose convergence order is measured on it (``()``: every deterministic fixed-grid solver);
    * ``sampling_solvers`` / ``nfe_budgets`` / ``num_samples``: the digits-model sweep behind the FID-vs-NFE plot
      and the sample grids, every solver at every budget on the same seeds;
    * ``lesson_tables`` / ``lesson_samples`` / ``lesson_quick``: which of
      :data:`probflow.comparison.LESSON_TABLES` to rerun, their sample count, and whether to cut their steps to a
      tenth (:func:`probflow.comparison.quick`);
    * ``schedules`` / ``schedule_steps``: the noise schedules plotted (``name[:key=value,...]``, see
      :func:`~probflow.demo.parse_schedule_spec`) and their number of steps.
    """

    order_problem: str
    order_solvers: tuple[str, ...]
    sampling_solvers: tuple[str, ...]
    nfe_budgets: tuple[int, ...]
    num_samples: int
    lesson_tables: tuple[str, ...]
    lesson_samples: int
    lesson_quick: bool
    schedules: tuple[str, ...] = (
        "karras", "karras:rho=3", "vp", "chen:kind=cosine", "chen:kind=sigmoid", "chen:kind=linear",
        "chen:kind=cosine,input_scale=0.5",
    )
    schedule_steps: int = 50


#: Every deterministic order, five solver families at three budgets, and the lesson's Karras table at its full
#: step counts; the DDIM table (about 650 calls of two more models) is left to ``probflow compare``.
FULL = DemoSettings(
    order_problem="gaussian",
    order_solvers=(),
    sampling_solvers=("euler", "heun", "dpmpp_2m", "euler_ancestral", "edm_stochastic;s_churn=0.5"),
    nfe_budgets=(6, 12, 24),
    num_samples=64,
    lesson_tables=("lesson-karras",),
    lesson_samples=32,
    lesson_quick=False,
)

#: Under a minute: a smoke test of every part of the report (what CI runs).
QUICK = DemoSettings(
    order_problem="gaussian",
    order_solvers=("euler", "heun", "dpmpp_2m"),
    sampling_solvers=("euler", "heun", "euler_ancestral"),
    nfe_budgets=(4, 8),
    num_samples=16,
    lesson_tables=("lesson-karras",),
    lesson_samples=16,
    lesson_quick=True,
    schedule_steps=20,
)

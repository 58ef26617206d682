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
      :func:`~probflow.demo.parse_schedule_spec`) and their number of steps;
    * ``torch_threads``: torch's intra-op threads while the demo runs. One, because its batches (at most 64
      images of 8x8) gain nothing from a second thread (2.8 s against 2.7 s per 100-step row), while two threads
      that wait on each other stall up to tenfold when another process holds a core.
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
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.torch_threads, bool) or not isinstance(self.torch_threads, int) or self.torch_threads < 1:
            raise ValueError(f"torch_threads must be a positive integer, got {self.torch_threads!r}")


#: Every deterministic order, nine solver families at three budgets, and both lesson tables at their full step
#: counts (about 1140 denoiser calls per sample): about a minute on one core.
FULL = DemoSettings(
    order_problem="gaussian",
    order_solvers=(),
    sampling_solvers=("euler", "heun", "lms3", "dpmpp_2m", "recommended", "rk:rk3", "ddim;eta=1.0", "euler_ancestral",
                      "edm_stochastic;s_churn=0.5"),
    nfe_budgets=(6, 12, 24),
    num_samples=64,
    lesson_tables=("lesson-karras", "lesson-ddim"),
    lesson_samples=64,
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

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

    torch's thread count is not a setting: :func:`probflow.threads.threads_for` chooses it from the batch size.
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

    @property
    def largest_batch(self) -> int:
        """The most images one solve of the demo samples at once (every row samples all its seeds together)."""
        return max(self.num_samples, self.lesson_samples)


def settings_table(settings: DemoSettings, threads: int) -> str:
    """``settings`` as a markdown table of what each one means and its value, with the ``threads`` it ran on."""
    every = "every deterministic fixed-grid solver"
    rows = [
        ("order problem", "analytic problem whose exact flow the orders are measured against",
         settings.order_problem),
        ("order solvers", "solvers whose convergence order is measured", _listed(settings.order_solvers) or every),
        ("sweep solvers", "solvers sampled at every NFE budget", _listed(settings.sampling_solvers)),
        ("NFE budgets", "denoiser calls per sample each sweep solver may make", _listed(settings.nfe_budgets)),
        ("sweep samples n", "samples per sweep row, the same seeds 0..n-1 for every row", str(settings.num_samples)),
        ("lesson tables", "the lesson's sampler tables rerun on the digits", _listed(settings.lesson_tables)),
        ("lesson samples n", "samples per lesson row", str(settings.lesson_samples)),
        ("lesson steps", "steps of the lesson's rows",
         "a tenth of the lesson's (quick run)" if settings.lesson_quick else "the lesson's"),
        ("schedules", "noise schedules plotted", _listed(settings.schedules)),
        ("schedule steps", "sigmas per plotted schedule", str(settings.schedule_steps)),
        ("torch threads", "intra-op threads, chosen by probflow.threads for batches of "
                          f"{settings.largest_batch} images (or PROBFLOW_THREADS / --threads)", str(threads)),
    ]
    return "\n".join(["| setting | meaning | value |", "|---|---|---|",
                      *(f"| {name} | {meaning} | {value} |" for name, meaning, value in rows)])


def _listed(values: tuple) -> str:
    return ", ".join(f"`{value}`" if isinstance(value, str) else str(value) for value in values)


#: Every deterministic order, nine solver families at three budgets on 256 samples (where FID's sampling noise,
#: 0.13 standard deviation for real digits, is below the gaps between samplers; at 64 samples it is 1.9), and both
#: lesson tables at their full step counts (about 1140 denoiser calls per sample) on 64 samples.
FULL = DemoSettings(
    order_problem="gaussian",
    order_solvers=(),
    sampling_solvers=("euler", "heun", "lms3", "dpmpp_2m", "recommended", "rk:rk3", "ddim;eta=1.0", "euler_ancestral",
                      "edm_stochastic;s_churn=0.5"),
    nfe_budgets=(6, 12, 24),
    num_samples=256,
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

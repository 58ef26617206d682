""":func:`run_demo`: orders, samples, FID/KID and schedule plots, written as ``report.md`` with its PNGs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from probflow.comparison import markdown_table
from probflow.convergence.plotting import plot_estimates
from probflow.demo.orders import measure_orders, order_table
from probflow.demo.sampling import MODEL, fid_vs_nfe, lesson_markdown, lesson_tables, plot_fid_vs_nfe
from probflow.demo.schedule_plots import parse_schedule_spec, plot_schedules, schedule_curves, schedule_table
from probflow.demo.settings import FULL, DemoSettings

ORDER_PLOT = "order_loglog.png"
FID_PLOT = "fid_vs_nfe.png"
SCHEDULE_PLOT = "schedules.png"
SAMPLES_DIR = "samples"
LESSON_DIR = "lesson"


@dataclass(frozen=True)
class DemoReport:
    """Where the report went (``report`` is its ``report.md``), every file it links, and the run's wall time."""

    report: Path
    files: tuple[Path, ...]
    wall_s: float


def run_demo(out_dir: str | Path = "report", settings: DemoSettings = FULL, *, progress: bool = True) -> DemoReport:
    """Run every part of the demo with ``settings`` and write ``out_dir/report.md`` beside its plots and grids.

    Sections: measured convergence orders (table and log-log plot of error against NFE), FID/KID against NFE on
    the shipped ``digits-edm`` model (table, plot, one sample grid per configuration), the lesson's tables, and
    sigma / log-SNR plots of the noise schedules. It runs with ``settings.torch_threads`` intra-op threads and then
    restores torch's own setting.
    """
    with _torch_threads(settings.torch_threads):
        return _run(Path(out_dir), settings, progress)


def _run(out_dir: Path, settings: DemoSettings, progress: bool) -> DemoReport:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [f"# probflow demo\n\nSettings: `{settings}`"]

    estimates = measure_orders(settings.order_problem, settings.order_solvers, progress=progress)
    plot_estimates(estimates, f"order on {settings.order_problem} (errors at sigma_min)").savefig(out_dir / ORDER_PLOT,
                                                                                                 dpi=110)
    sections.append(
        f"## Convergence orders on `{settings.order_problem}`\n\n"
        "Errors at sigma_min against the exact flow on nested Karras grids (rho 7, sigma 80 -> 0.002), float64; "
        f"the order is minus the least-squares slope of log error against log steps.\n\n{order_table(estimates)}\n\n"
        f"![log-log error against NFE]({ORDER_PLOT})")

    rows = fid_vs_nfe(settings.sampling_solvers, settings.nfe_budgets, settings.num_samples,
                      out_dir / SAMPLES_DIR, progress=progress)
    plot_fid_vs_nfe(rows, out_dir / FID_PLOT)
    grids = sorted((out_dir / SAMPLES_DIR).glob("*.png"))
    sections.append(
        f"## FID and KID against NFE on `{MODEL}`\n\n"
        f"{settings.num_samples} samples per row, the same seeds for every row; FID is biased upward by about "
        f"1/n, so compare rows with each other.\n\n{markdown_table(rows)}\n\n![FID against NFE]({FID_PLOT})\n\n"
        "### Sample grids\n\n" + "\n".join(f"![{grid.stem}]({SAMPLES_DIR}/{grid.name}) `{grid.stem}`" for grid in grids))

    tables = lesson_tables(settings.lesson_tables, settings.lesson_samples, settings.lesson_quick,
                           out_dir / LESSON_DIR, progress=progress)
    steps_note = " with a tenth of the lesson's steps (quick run)" if settings.lesson_quick else ""
    sections.append(f"## The lesson's tables\n\n{settings.lesson_samples} samples{steps_note}; "
                    "'published' columns are the lesson's numbers.\n\n"
                    + "\n\n".join(lesson_markdown(*table) for table in tables))

    curves = schedule_curves([parse_schedule_spec(spec) for spec in settings.schedules], settings.schedule_steps)
    plot_schedules(curves).savefig(out_dir / SCHEDULE_PLOT, dpi=110)
    table = schedule_table(curves)
    schedule_rows = "\n".join("| " + " | ".join(row) + " |" for row in table[1:])
    sections.append(
        f"## Noise schedules\n\nsigma and log-SNR = -2 log sigma per step ({settings.schedule_steps} steps). "
        "`chen` is Chen (2023)'s gamma(t) with its own range; input scaling b shifts the log-SNR by 2 log b.\n\n"
        f"| {' | '.join(table[0])} |\n|---|---|---|---|---|\n{schedule_rows}\n\n![noise schedules]({SCHEDULE_PLOT})")

    wall_s = time.perf_counter() - started
    sections.append(f"---\nWall time: {wall_s:.0f} s.")
    report = out_dir / "report.md"
    report.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    files = (out_dir / ORDER_PLOT, out_dir / FID_PLOT, out_dir / SCHEDULE_PLOT, *grids)
    return DemoReport(report=report, files=files, wall_s=wall_s)


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

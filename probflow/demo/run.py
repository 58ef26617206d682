""":func:`run_demo`: orders, samples, FID/KID and schedule plots, written as ``report.md`` with its PNGs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from probflow.comparison import markdown_table
from probflow.comparison.run import GRID_SAMPLES
from probflow.convergence.fit import OrderEstimate, declared_text, measured_text
from probflow.convergence.plotting import plot_estimates
from probflow.demo.orders import measure_orders, order_table
from probflow.demo.sampling import MODEL, SweepPoint, fid_vs_nfe, findings, lesson_tables, plot_fid_vs_nfe
from probflow.demo.schedule_plots import parse_schedule_spec, plot_schedules, schedule_curves, schedule_table
from probflow.demo.settings import FULL, DemoSettings, settings_table
from probflow.files import check_output_dir, save_figure, write_text
from probflow.pretrained import DIGITS_SHAPE
from probflow.threads import threads_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from probflow.comparison import ComparisonRow, LessonTable

ORDER_PLOT = "order_loglog.png"
FID_PLOT = "fid_vs_nfe.png"
SCHEDULE_PLOT = "schedules.png"
SAMPLES_DIR = "samples"
LESSON_DIR = "lesson"
DPI = 110

#: Distance between measured and declared order beyond which the report names the solver.
ORDER_TOLERANCE = 0.15

#: Below this many samples per row KID is left out of the report's tables (see :data:`KID_NOTE`).
KID_MIN_SAMPLES = 256

KID_NOTE = (
    "KID is one unbiased MMD² of all n samples against the whole reference, with a 95% bootstrap interval, shown "
    f"only from n = {KID_MIN_SAMPLES}. With the lesson's subsets (4 of 16 samples at n = 64) the standard deviation "
    "exceeded the mean in 20 of the 27 rows of the full sweep at n = 64, and 13 means were negative. Measured on "
    "disjoint sets of real training digits against the test split, one-subset KID scatters with a standard "
    "deviation of 0.054 at n = 64, as large as the KID of a mediocre sampler (euler at NFE 6: 0.09, dpmpp_2m at "
    "NFE 6: 0.03), and of 0.0045 at n = 256, where it separates them (euler at NFE 6: 0.084 [0.008, 0.137]).")

LESSON_NOTE = (
    "Columns: *FID* and *KID* (shown from n = 256, see above) are ours, on the digits (8x8), {n} samples per row, "
    "in the features of probflow's own digits classifier against the digits test split. *lesson FID* and *lesson "
    "KID* are the numbers printed in the fastai lesson (course22p2, notebooks 22_cosine, 22_noise-pred, "
    "23_karras): Fashion-MNIST at 32x32, 2048 samples, in the features of the lesson's own Fashion-MNIST "
    "classifier. The two are on unrelated scales: compare the order of the rows, not the values. The last row is "
    "the floor, real training images scored as the samples are.")


@dataclass(frozen=True)
class DemoReport:
    """Where the report went (``report`` is its ``report.md``), every file it links, and the run's wall time."""

    report: Path
    files: tuple[Path, ...]
    wall_s: float


def run_demo(out_dir: str | Path = "report", settings: DemoSettings = FULL, *, progress: bool = True,
             threads: int | None = None) -> DemoReport:
    """Run every part of the demo with ``settings`` and write ``out_dir/report.md`` beside its plots and grids.

    Sections: the settings, measured convergence orders (table and log-log plot of error against NFE), FID/KID
    against NFE on the shipped ``digits-edm`` model (table with 95% bootstrap intervals, a paragraph of findings,
    plot, one sample grid per configuration), the lesson's tables, and sigma / log-SNR plots of the noise
    schedules. torch runs with :func:`probflow.threads.threads_for`'s thread count for the demo's batches
    (``threads`` overrides it), and the caller's setting is restored afterwards.
    """
    work_size = settings.largest_batch * math.prod(DIGITS_SHAPE)
    with threads_for(work_size, threads) as count:
        return _run(Path(out_dir), settings, progress, count)


def _run(out_dir: Path, settings: DemoSettings, progress: bool, threads: int) -> DemoReport:
    started = time.perf_counter()
    check_output_dir(out_dir, "report folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [f"# probflow demo\n\n{settings_table(settings, threads)}"]

    estimates = measure_orders(settings.order_problem, settings.order_solvers, progress=progress)
    _save(plot_estimates(estimates, f"order on {settings.order_problem} (errors at sigma_min)"), out_dir / ORDER_PLOT)
    sections.append(
        f"## Convergence orders on `{settings.order_problem}`\n\n"
        "Errors at sigma_min against the exact flow on nested Karras grids (rho 7, sigma 80 -> 0.002), float64; "
        "the order is minus the least-squares slope of log error against log steps. "
        f"{_order_findings(estimates)}\n\n{order_table(estimates)}\n\n"
        "One panel per declared order with its reference slope; solvers with identical errors share a line.\n\n"
        f"![log-log error against NFE]({ORDER_PLOT})")

    points = fid_vs_nfe(settings.sampling_solvers, settings.nfe_budgets, settings.num_samples,
                        out_dir / SAMPLES_DIR, progress=progress)
    _save(plot_fid_vs_nfe(points), out_dir / FID_PLOT)
    sections.append(_sweep_section(points, settings))

    tables = lesson_tables(settings.lesson_tables, settings.lesson_samples, settings.lesson_quick,
                           out_dir / LESSON_DIR, progress=progress)
    steps_note = " with a tenth of the lesson's steps (quick run)" if settings.lesson_quick else ""
    sections.append(f"## The lesson's tables\n\n{settings.lesson_samples} samples per row{steps_note}. "
                    + LESSON_NOTE.format(n=settings.lesson_samples) + "\n\n"
                    + "\n\n".join(_lesson_markdown(*table) for table in tables))

    curves = schedule_curves([parse_schedule_spec(spec) for spec in settings.schedules], settings.schedule_steps)
    _save(plot_schedules(curves), out_dir / SCHEDULE_PLOT)
    table = schedule_table(curves)
    schedule_rows = "\n".join("| " + " | ".join(row) + " |" for row in table[1:])
    sections.append(
        f"## Noise schedules\n\nsigma and log-SNR = -2 log sigma per step ({settings.schedule_steps} steps). "
        "`chen` is Chen (2023)'s gamma(t) with its own range; input scaling b shifts the log-SNR by 2 log b.\n\n"
        f"| {' | '.join(table[0])} |\n|---|---|---|---|---|\n{schedule_rows}\n\n![noise schedules]({SCHEDULE_PLOT})")

    wall_s = time.perf_counter() - started
    sections.append(f"---\nWall time: {wall_s:.0f} s.")
    report = out_dir / "report.md"
    write_text(report, "\n\n".join(sections) + "\n")
    grids = tuple(out_dir / SAMPLES_DIR / point.grid for point in points)
    files = (out_dir / ORDER_PLOT, out_dir / FID_PLOT, out_dir / SCHEDULE_PLOT, *grids)
    return DemoReport(report=report, files=files, wall_s=wall_s)


def _sweep_section(points: list[SweepPoint], settings: DemoSettings) -> str:
    rows = [point.row for point in points]
    show_kid = settings.num_samples >= KID_MIN_SAMPLES
    budgets = sorted({point.budget for point in points})
    solvers = list(dict.fromkeys(point.solver for point in points))
    by_cell = {(point.solver, point.budget): point for point in points}
    grid_rows = [f"| `{solver}` | " + " | ".join(
        f"![{solver} @ NFE {budget}]({SAMPLES_DIR}/{by_cell[solver, budget].grid})" for budget in budgets) + " |"
        for solver in solvers]
    return (
        f"## FID against NFE on `{MODEL}`\n\n"
        f"n = {settings.num_samples} samples per row, the same seeds for every row. FID is biased upward by a "
        "term of order 1/n, so compare rows of equal n, not published FIDs. The intervals are 95% basic bootstrap "
        "intervals (1000 resamples of the generated samples against the fixed reference) for the FID that "
        "infinitely many samples would score: they correct that bias, which is why at small n an interval can lie "
        "below its estimate. Where two rows' intervals overlap, this n does not tell them apart. "
        f"{KID_NOTE}\n\n**Findings.** {findings(points)}\n\n{markdown_table(rows, kid=show_kid)}\n\n"
        f"![FID against NFE]({FID_PLOT})\n\n"
        f"### Sample grids (the first {min(GRID_SAMPLES, settings.num_samples)} samples of each row)\n\n| solver | "
        + " | ".join(f"NFE {budget}" for budget in budgets) + " |\n|---|" + "---|" * len(budgets) + "\n"
        + "\n".join(grid_rows))


def _lesson_markdown(table: LessonTable, rows: list[ComparisonRow], missing: list[str]) -> str:
    note = f"\n\nNot run (weights not shipped): {', '.join(missing)}." if missing else ""
    show_kid = rows[0].samples >= KID_MIN_SAMPLES
    return f"#### {table.name}: {table.title}\n\n{markdown_table(rows, table.published, kid=show_kid)}{note}"


def _order_findings(estimates: list[OrderEstimate]) -> str:
    off = [estimate for estimate in estimates
           if estimate.declared_order is not None and abs(estimate.order - estimate.declared_order) > ORDER_TOLERANCE]
    if not off:
        return f"Every measured order is within {ORDER_TOLERANCE} of the declared one."
    listed = ", ".join(f"`{e.solver}` (declared {declared_text(e)}, measured {measured_text(e, '±')})" for e in off)
    text = f"Measured orders more than {ORDER_TOLERANCE} from the declared one: {listed}"
    if all(e.order > e.declared_order for e in off):
        text += " (all above it: on this linear problem some methods converge faster than their declared order)"
    return text + "."


def _save(figure: Figure, path: Path) -> None:
    save_figure(figure, path, dpi=DPI)

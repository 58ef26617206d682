"""The demo's digits-model runs: FID and KID against NFE for each solver, and the lesson's tables.

Every configuration samples the same seeds (:func:`probflow.comparison.compare`); FID is biased upward by about
``1/n`` at ``n`` samples, so the numbers compare solvers with each other, not with published FIDs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from probflow import pretrained
from probflow.comparison import (
    LESSON_TABLES, REALS_LABEL, ComparisonRow, LessonTable, compare, digits_reals, parse_config, real_vs_real,
    run_lesson_table,
)
from probflow.comparison.run import grid_name
from probflow.figures import legend_outside, line_style, new_figure, plain_ticks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODEL = "digits-edm"


@dataclass(frozen=True)
class SweepPoint:
    """One cell of the FID-against-NFE sweep: a solver (its legend label), the NFE budget it was given, its row and
    the file name of its sample grid."""

    solver: str
    budget: int
    row: ComparisonRow
    grid: str


def model_available(name: str) -> bool:
    """Whether the shipped weights of ``name`` are on disk."""
    return pretrained.weights_path(name).is_file()


def solver_label(spec: str) -> str:
    """A sweep entry ``"edm_stochastic;s_churn=0.5"`` as a legend label ``"edm_stochastic s_churn=0.5"``."""
    return " ".join(part.strip() for part in spec.split(";") if part.strip())


def fid_vs_nfe(solver_specs: tuple[str, ...], budgets: tuple[int, ...], num_samples: int, out_dir: Path, *,
               progress: bool = True) -> list[SweepPoint]:
    """FID/KID of every solver at every NFE budget on :data:`MODEL`, the same ``num_samples`` seeds for all.

    A solver entry is a solver name, optionally followed by ``;key=value`` solver parameters
    (:func:`probflow.comparison.parse_config`). The first 64 samples of each configuration go to ``out_dir`` as
    a PNG grid (:attr:`SweepPoint.grid`).
    """
    cells = [(solver_label(spec), budget, spec) for spec in solver_specs for budget in budgets]
    configs = [parse_config(f"solver={spec};nfe={budget};label={label} @ NFE {budget}")
               for label, budget, spec in cells]
    with tqdm(total=len(configs), desc="FID vs NFE", disable=not progress) as bar:
        rows = compare(MODEL, configs, num_samples=num_samples, out_dir=out_dir, on_row=lambda _: bar.update())
    return [SweepPoint(label, budget, row, grid_name(index, row.label))
            for index, ((label, budget, _), row) in enumerate(zip(cells, rows))]


def solver_groups(points: list[SweepPoint]) -> list[list[str]]:
    """The sweep's solvers in order, those whose samples are another's (up to float32 round-off,
    ``ComparisonRow.same_samples_as``) at every budget grouped with it: they ran the same update."""
    solver_of = {point.row.label: point.solver for point in points}
    groups: dict[str, list[str]] = {}
    for solver in dict.fromkeys(point.solver for point in points):
        first_twins = {solver_of.get(p.row.same_samples_as) for p in points if p.solver == solver}
        leader = first_twins.pop() if len(first_twins) == 1 and None not in first_twins else solver
        groups.setdefault(leader, []).append(solver)
    return list(groups.values())


def plot_fid_vs_nfe(points: list[SweepPoint]) -> Figure:
    """FID (log scale) against measured NFE, one line per group of identical solvers (:func:`solver_groups`), each
    point's 95% bootstrap interval as a vertical bar (one that reaches 0 runs to the bottom edge), lines nudged
    sideways by a few percent so that bars at one NFE stay apart, the legend beside the axes and the budgets as
    plain ticks."""
    figure = new_figure(8.6, 4.6)
    axes = figure.subplots()
    groups = solver_groups(points)
    for index, group in enumerate(groups):
        rows = sorted((point.row for point in points if point.solver == group[0]), key=lambda row: row.nfe)
        # Lines at the same NFE are nudged apart by up to 4%, so that their intervals do not hide each other.
        nudge = 1.0 + 0.08 * (index / max(1, len(groups) - 1) - 0.5)
        nfe = [row.nfe * nudge for row in rows]
        style = line_style(index)
        axes.plot(nfe, [row.fid for row in rows], label=" = ".join(group), markersize=5, linewidth=1.2, **style)
        axes.vlines(nfe, [row.fid_low for row in rows], [row.fid_high for row in rows], color=style["color"],
                    linewidth=2.5, alpha=0.35)
    axes.set_xscale("log")
    axes.set_yscale("log")
    positive = [value for point in points for value in (point.row.fid, point.row.fid_low) if value > 0]
    axes.set_ylim(bottom=min(positive) / 1.5)
    plain_ticks(axes.xaxis, [point.budget for point in points])
    plain_ticks(axes.yaxis)
    samples = points[0].row.samples
    axes.set(xlabel="NFE (denoiser calls per sample)", ylabel=f"FID (n = {samples}; bars: 95% interval)",
             title=f"{MODEL}: FID against NFE")
    axes.grid(True, which="both", linewidth=0.4, alpha=0.5)
    legend_outside(axes, fontsize=8)
    return figure


def findings(points: list[SweepPoint], default_solver: str = "recommended") -> str:
    """A paragraph on the sweep, from its numbers: the lowest FID at each budget and the solvers whose 95% intervals
    overlap it (not told apart at this ``n``), where ``default_solver`` loses (its interval lies above the best
    one's), and which solvers drew the same samples."""
    sentences = []
    samples = points[0].row.samples
    for budget in sorted({point.budget for point in points}):
        at_budget = [point for point in points if point.budget == budget]
        best = min(at_budget, key=lambda point: point.row.fid)
        tied = [point.solver for point in at_budget if point is not best and _overlap(point.row, best.row)]
        sentence = f"At NFE {budget}, `{best.solver}` scores the lowest FID, {_fid_text(best.row)}"
        if tied:
            sentence += (f"; {_names(tied)} {'is' if len(tied) == 1 else 'are'} indistinguishable from it at "
                         f"n = {samples} (the 95% intervals overlap)")
        else:
            sentence += ", and its 95% interval overlaps no other solver's"
        sentences.append(sentence + ".")
    sentences.append(_default_sentence(points, default_solver))
    identical = [group for group in solver_groups(points) if len(group) > 1]
    if identical:
        sentences.append(" ".join(f"{_names(group)} drew the same samples, up to float32 round-off, at every budget: "
                                  f"on this grid they are one sampler." for group in identical))
    return " ".join(sentence for sentence in sentences if sentence)


def _default_sentence(points: list[SweepPoint], default_solver: str) -> str:
    losses, holds = [], []
    for point in (p for p in points if p.solver == default_solver):
        best = min((p for p in points if p.budget == point.budget), key=lambda p: p.row.fid)
        if point.row.fid_low > best.row.fid_high:
            losses.append(f"at NFE {point.budget} ({_fid_text(point.row)} against {_fid_text(best.row)} for "
                          f"`{best.solver}`)")
        else:
            holds.append(str(point.budget))
    if not losses and not holds:
        return ""
    text = f"The default sampler `{default_solver}` (what `probflow.sample` runs)"
    if losses:
        text += " loses " + "; ".join(losses)
        return text + (f", and is not told apart from the best at NFE {_names(holds, quote=False)}." if holds
                       else ".")
    return text + f" is not told apart from the best at any budget ({_names(holds, quote=False)})."


def _overlap(a: ComparisonRow, b: ComparisonRow) -> bool:
    return a.fid_low <= b.fid_high and b.fid_low <= a.fid_high


def _fid_text(row: ComparisonRow) -> str:
    return f"{row.fid:.2f} [{row.fid_low:.2f}, {row.fid_high:.2f}]"


def _names(names: list[str], quote: bool = True) -> str:
    quoted = [f"`{name}`" if quote else name for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def available_part(table: LessonTable) -> tuple[LessonTable, list[str]]:
    """``table`` restricted to the runs whose model weights ship, and the names of the missing models."""
    missing = [run.model for run in table.runs if not model_available(run.model)]
    runs = tuple(run for run in table.runs if run.model not in missing)
    return replace(table, runs=runs), missing


def lesson_tables(names: tuple[str, ...], num_samples: int, quick_run: bool, out_dir: Path, *,
                  progress: bool = True) -> list[tuple[LessonTable, list[ComparisonRow], list[str]]]:
    """The lesson tables ``names`` (their shipped models only) on seeds ``0..num_samples-1`` with a real-vs-real
    floor row: ``(table, rows, missing models)``."""
    floor = real_vs_real(digits_reals(num_samples), label=REALS_LABEL)
    results = []
    for name in names:
        table, missing = available_part(LESSON_TABLES[name])
        total = sum(len(run.configs) for run in table.runs)
        with tqdm(total=total, desc=f"lesson table {name}", disable=not progress) as bar:
            rows = run_lesson_table(table, seeds=range(num_samples), out_dir=out_dir / name, quick_run=quick_run,
                                    floor=floor, on_row=lambda _: bar.update()) if total else [floor]
        results.append((table, rows, missing))
    return results

"""The demo's digits-model runs: FID and KID against NFE for each solver, and the lesson's tables.

Every configuration samples the same seeds (:func:`probflow.comparison.compare`); FID is biased upward by about
``1/n`` at ``n`` samples, so the numbers compare solvers with each other, not with published FIDs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from probflow import pretrained
from probflow.comparison import (
    LESSON_TABLES, REALS_LABEL, ComparisonRow, LessonTable, compare, digits_reals, markdown_table, parse_config,
    real_vs_real, run_lesson_table,
)
from probflow.files import save_figure

MODEL = "digits-edm"


def model_available(name: str) -> bool:
    """Whether the shipped weights of ``name`` are on disk."""
    return pretrained.weights_path(name).is_file()


def solver_label(spec: str) -> str:
    """A sweep entry ``"edm_stochastic;s_churn=0.5"`` as a legend label ``"edm_stochastic s_churn=0.5"``."""
    return " ".join(part.strip() for part in spec.split(";") if part.strip())


def fid_vs_nfe(solver_specs: tuple[str, ...], budgets: tuple[int, ...], num_samples: int, out_dir: Path, *,
               progress: bool = True) -> list[ComparisonRow]:
    """FID/KID of every solver at every NFE budget on :data:`MODEL`, the same ``num_samples`` seeds for all.

    A solver entry is a solver name, optionally followed by ``;key=value`` solver parameters
    (:func:`probflow.comparison.parse_config`). The first 64 samples of each configuration go to ``out_dir`` as
    ``NN-<label>.png``.
    """
    configs = [parse_config(f"solver={spec};nfe={budget};label={solver_label(spec)} @ NFE {budget}")
               for spec in solver_specs for budget in budgets]
    with tqdm(total=len(configs), desc="FID vs NFE", disable=not progress) as bar:
        return compare(MODEL, configs, num_samples=num_samples, out_dir=out_dir, on_row=lambda _: bar.update())


def plot_fid_vs_nfe(rows: list[ComparisonRow], path: Path) -> None:
    """FID against measured NFE (log x), one line per solver (the label before ``" @ NFE"``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_solver: dict[str, list[ComparisonRow]] = {}
    for row in rows:
        by_solver.setdefault(row.label.split(" @ NFE")[0], []).append(row)
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    for label, solver_rows in by_solver.items():
        solver_rows.sort(key=lambda row: row.nfe)
        axes.semilogx([row.nfe for row in solver_rows], [row.fid for row in solver_rows], "o-", label=label)
    axes.set(xlabel="NFE (denoiser calls per sample)", ylabel=f"FID ({rows[0].samples} samples)",
             title=f"{MODEL}: FID against NFE")
    axes.legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)


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


def lesson_markdown(table: LessonTable, rows: list[ComparisonRow], missing: list[str]) -> str:
    """The table in markdown beside the lesson's published numbers, with a note on models that do not ship."""
    note = f"\n\nNot run (weights not shipped): {', '.join(missing)}." if missing else ""
    return f"#### {table.name}: {table.title}\n\n{markdown_table(rows, table.published)}{note}"

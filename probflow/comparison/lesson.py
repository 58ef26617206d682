"""The lesson's two sampler tables (fastai course22p2: 22_cosine, 22_noise-pred, 23_karras), rerun on the digits.

``"lesson-ddim"``: DDIM on the lesson's cosine grid (:func:`~probflow.comparison.grids.cosine_ddim_sigmas`), with
its noise cutoff 0.01, on the time-free model ``"digits-notime"`` with the per-image predicted ``alpha_bar_hat``
(eta = 1, 0.5, 0, "median sigma" and "sigma x 0.5"), then without it (the schedule's ``alpha_bar``: "classic
DDIM"), and on the cosine model ``"digits-cosine"`` (eta = 1, 100 and 50 steps).

* The lesson clamps ``x0_hat`` to [-1.5, 1.5] (cosine) and [-2, 2] (noise prediction) on data in [-0.5, 0.5]:
  3 and 4 times the data's half-range. The digits lie in [-1, 1], so the clips here are 3 and 4. The classic
  DDIM row keeps the time-free rows' clip, so that it differs from them in ``alpha_bar`` alone.
* The two sigma rows follow the predicted-``alpha_bar`` ``ddim_step`` of the lesson's notebook (``22_noise-pred``,
  cell "## Sampling"). There ``s = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')`` comes from the schedule; the
  commented-out "median sig" lines replace it by the same formula at the batch median ``m`` of the predicted
  ``alpha_bar_hat`` and at ``m'`` one grid step (``10/1000`` of cosine time for 100 steps) less noisy, while the
  cutoff, ``abar'`` and the re-noising keep the schedule: ``LessonDDIM(median_sigma=True)``
  (:meth:`~probflow.comparison.lesson_ddim.LessonDDIM.median_coefficients`).
* "sigma x 0.5" is the notebook's commented-out ``sig *= 0.5``: it halves ``s`` itself, in the direction term
  ``sqrt(bbar' - s^2)``, the injected noise and the cutoff alike, which is ``eta = 0.5`` for the same ``s``. In the
  notebook's final code the line sits before the median-sigma assignment, which would overwrite it, and the
  printed FID (4.012) is within 0.001 of the median row's (4.013), so the lesson's row was probably the median
  sampler with the halving lost. Here it halves the median ``s`` (``eta = 0.5``, ``median_sigma=True``), the
  sigma in force when the row was run; halving the schedule's ``s`` would repeat the ``eta = 0.5`` row.

``"lesson-karras"``: the EDM model ``"digits-edm"`` on the lesson's Karras grid (rho = 7, sigma 80 -> 0.01, then
0): Euler, Euler-ancestral (eta = 0.5), Heun, Heun with churn (EDM Alg. 2, ``gamma = min(churn / steps,
sqrt 2 - 1)``; the lesson's ``churn / (N - 1)`` with ``N`` grid points is the same number) and LMS of order 3
with the lesson's start-up (Adams of growing order, one call per step). EDM's churn step evaluates the derivative
at ``sigma_hat``, where the lesson used ``sigma``.

``LessonTable.published`` holds the lesson's printed FID and KID (Fashion-MNIST, 2048 samples, its own classifier
features): the pattern, not the values, is what a digits run can be compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from probflow.comparison.config import SamplerConfig
from probflow.comparison.report import Reference, write_rows
from probflow.comparison.run import ComparisonRow, compare
from probflow.comparison.scoring import FeatureExtractor

COSINE_CLIP = 3.0
NOISE_PREDICTION_CLIP = 4.0
NOISE_CUTOFF = 0.01


def _ddim(label: str, steps: int, clip: float, *, predicted: bool = False, **params: float | bool) -> SamplerConfig:
    return SamplerConfig(label, "lesson_ddim", steps=steps, grid="cosine", predicted_alpha_bar=predicted,
                         params={"clip": clip, "noise_cutoff": NOISE_CUTOFF, **params})


def _karras(label: str, solver: str, steps: int, **params: float | str) -> SamplerConfig:
    return SamplerConfig(label, solver, steps=steps, grid="karras", sigma_min=0.01, sigma_max=80.0, rho=7.0,
                         params=params)


@dataclass(frozen=True)
class LessonRun:
    """Configurations sampled from one shipped model."""

    model: str
    configs: tuple[SamplerConfig, ...]


@dataclass(frozen=True)
class LessonTable:
    """A table of the lesson: its runs, and the numbers the lesson printed for its rows."""

    name: str
    title: str
    runs: tuple[LessonRun, ...]
    published: Reference


REALS_LABEL = "reals (train vs test)"

LESSON_TABLES: dict[str, LessonTable] = {
    "lesson-ddim": LessonTable(
        name="lesson-ddim",
        title="DDIM with a per-image predicted alpha_bar (time-free model) and on the cosine model",
        runs=(
            LessonRun("digits-notime", (
                _ddim("predicted ᾱ, η = 1.0", 100, NOISE_PREDICTION_CLIP, predicted=True, eta=1.0),
                _ddim("predicted ᾱ, η = 0.5", 100, NOISE_PREDICTION_CLIP, predicted=True, eta=0.5),
                _ddim("predicted ᾱ, η = 0", 100, NOISE_PREDICTION_CLIP, predicted=True, eta=0.0),
                _ddim("predicted ᾱ, median σ", 100, NOISE_PREDICTION_CLIP, predicted=True, median_sigma=True, eta=1.0),
                _ddim("predicted ᾱ, σ × 0.5", 100, NOISE_PREDICTION_CLIP, predicted=True, median_sigma=True, eta=0.5),
                _ddim("classic DDIM without the predicted ᾱ", 100, NOISE_PREDICTION_CLIP, eta=1.0),
            )),
            LessonRun("digits-cosine", (
                _ddim("cosine model, η = 1, 100 steps", 100, COSINE_CLIP, eta=1.0),
                _ddim("cosine model, η = 1, 50 steps", 50, COSINE_CLIP, eta=1.0),
            )),
        ),
        published={
            "predicted ᾱ, η = 1.0": (3.88, 0.0044),
            "predicted ᾱ, η = 0.5": (4.58, -0.0011),
            "predicted ᾱ, η = 0": (5.75, 0.0177),
            "predicted ᾱ, median σ": (4.01, 0.0041),
            "predicted ᾱ, σ × 0.5": (4.01, 0.0035),
            "classic DDIM without the predicted ᾱ": (22.3, 0.118),
            "cosine model, η = 1, 100 steps": (3.29, 0.0050),
            "cosine model, η = 1, 50 steps": (4.40, None),
            REALS_LABEL: (2.57, None),
        },
    ),
    "lesson-karras": LessonTable(
        name="lesson-karras",
        title="Karras samplers on the EDM model",
        runs=(
            LessonRun("digits-edm", (
                _karras("euler, 100 steps", "euler", 100),
                _karras("ancestral, η = 0.5, 100 steps", "euler_ancestral", 100, eta=0.5),
                _karras("heun, 50 steps", "heun", 50),
                _karras("heun, 20 steps", "heun", 20),
                _karras("heun, 20 steps, churn 0.5", "edm_stochastic", 20, s_churn=0.5),
                _karras("lms, 20 steps, order 3", "lms", 20, order=3, startup="adams"),
            )),
        ),
        published={
            "euler, 100 steps": (5.23, 0.0032),
            "ancestral, η = 0.5, 100 steps": (5.45, 0.0072),
            "heun, 50 steps": (6.22, 0.024),
            "heun, 20 steps": (5.61, -0.0056),
            "heun, 20 steps, churn 0.5": (5.25, 0.027),
            "lms, 20 steps, order 3": (5.06, 0.019),
            REALS_LABEL: (2.57, None),
        },
    ),
}

#: The default sample count of ``probflow compare`` (the lesson used 2048): both tables make about 1140 denoiser
#: calls per sample (256 samples: 4.7 minutes of CPU time, 3 minutes of wall time on two shared cores). At 256
#: samples the real-vs-real FID of disjoint chunks of the training split ranged 0.23-0.38, as wide as the spread
#: between the better samplers; 512 halves the 1/n bias of FID and narrows that noise, within the 10-minute budget.
#: Compare FID only between rows of the same n.
DEFAULT_NUM_SAMPLES = 512

#: ``--quick``: a tenth of the steps (at least 2) and 16 samples: a smoke test of the whole pipeline.
QUICK_STEP_DIVISOR = 10
QUICK_NUM_SAMPLES = 16


def quick(config: SamplerConfig) -> SamplerConfig:
    """``config`` with a tenth of its steps (at least 2), for a smoke run."""
    return replace(config, steps=max(2, config.num_steps() // QUICK_STEP_DIVISOR), nfe=None)


def digits_reals(count: int) -> torch.Tensor:
    """The first ``count`` images of the digits training split (all 1438 if ``count`` is larger): the reals of
    the floor row, disjoint from the test-split reference."""
    from probflow.data import load_digits

    images, _ = load_digits("train")
    return images[:count]


def run_lesson_table(
    table: LessonTable,
    *,
    seeds: Sequence[int],
    out_dir: str | Path | None = None,
    quick_run: bool = False,
    batch_size: int = 500,
    feature_extractor: FeatureExtractor | None = None,
    reference: np.ndarray | torch.Tensor | None = None,
    floor: ComparisonRow | None = None,
    on_row: Callable[[ComparisonRow], None] | None = None,
) -> list[ComparisonRow]:
    """The rows of ``table``, every model on the same ``seeds``, then ``floor`` (e.g. :func:`real_vs_real` of
    :func:`digits_reals`) if given. With ``out_dir``, each model's grids and rows go to ``out_dir/<model>/`` (see
    :func:`compare`) and all rows to ``out_dir/table.csv`` and ``.json``."""
    rows: list[ComparisonRow] = []
    for run in table.runs:
        configs = [quick(config) for config in run.configs] if quick_run else list(run.configs)
        rows += compare(run.model, configs, seeds=seeds, feature_extractor=feature_extractor, reference=reference,
                        out_dir=None if out_dir is None else Path(out_dir) / run.model, batch_size=batch_size,
                        on_row=on_row)
    if floor is not None:
        rows.append(floor)
    if out_dir is not None:
        write_rows(rows, Path(out_dir) / "table")
    return rows

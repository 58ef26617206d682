"""Sampler comparisons: FID, KID, NFE and time of many configurations on the same per-sample noise.

``compare(model, [SamplerConfig(...), ...], num_samples=...)`` returns one :class:`ComparisonRow` per
configuration; :func:`real_vs_real` gives the floor row; :data:`LESSON_TABLES` and :func:`run_lesson_table`
rerun the lesson's two sampler tables on the digits. ``probflow compare`` is the command-line face.
"""

from probflow.comparison.config import SamplerConfig, parse_config
from probflow.comparison.grids import GRIDS, cosine_ddim_sigmas, initial_noise_scale, sampling_grid
from probflow.comparison.lesson_ddim import LessonDDIM
from probflow.comparison.lesson import (
    DEFAULT_NUM_SAMPLES, LESSON_TABLES, QUICK_NUM_SAMPLES, REALS_LABEL, LessonRun, LessonTable, digits_reals, quick,
    run_lesson_table,
)
from probflow.comparison.report import markdown_table, write_rows
from probflow.comparison.run import ComparisonRow, compare, real_vs_real, resolve_denoiser
from probflow.comparison.scoring import Scorer

__all__ = [
    "DEFAULT_NUM_SAMPLES", "GRIDS", "LESSON_TABLES", "QUICK_NUM_SAMPLES", "REALS_LABEL", "ComparisonRow",
    "LessonDDIM", "LessonRun", "LessonTable", "SamplerConfig", "Scorer", "compare", "cosine_ddim_sigmas", "digits_reals",
    "initial_noise_scale", "markdown_table", "parse_config", "quick", "real_vs_real", "resolve_denoiser",
    "run_lesson_table", "sampling_grid", "write_rows",
]

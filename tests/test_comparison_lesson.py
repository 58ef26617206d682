"""The lesson's two tables: their configurations, and the real-vs-real floor < model < noise order on the digits."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from probflow import pretrained
from probflow.comparison import LESSON_TABLES, REALS_LABEL, SamplerConfig, compare, digits_reals, quick, real_vs_real
from probflow.comparison.scoring import Scorer

# The lesson's calls per sample: Heun 2N - 1 (its last step into 0 is Euler), DDIM on the cosine grid N - 1 (the
# lesson's last call, at alpha_bar = 1, is the identity), one per step otherwise (LMS with the Adams start-up).
LESSON_NFE = {
    "predicted ᾱ, η = 1.0": 99, "predicted ᾱ, η = 0.5": 99, "predicted ᾱ, η = 0": 99, "predicted ᾱ, median σ": 99,
    "predicted ᾱ, σ × 0.5": 99,
    "classic DDIM without the predicted ᾱ": 99, "cosine model, η = 1, 100 steps": 99,
    "cosine model, η = 1, 50 steps": 49, "euler, 100 steps": 100, "ancestral, η = 0.5, 100 steps": 100,
    "heun, 50 steps": 99, "heun, 20 steps": 39, "heun, 20 steps, churn 0.5": 39, "lms, 20 steps, order 3": 20,
}


def lesson_configs():
    return [config for table in LESSON_TABLES.values() for run in table.runs for config in run.configs]


@pytest.mark.parametrize("config", lesson_configs(), ids=lambda config: config.label)
def test_lesson_configs_cost_the_lessons_calls_per_sample(config):
    solver = config.build_solver((lambda x_vp: torch.ones(x_vp.shape[0])) if config.predicted_alpha_bar else None)
    assert solver.nfe(len(config.sigmas()) - 1) == LESSON_NFE[config.label]


@pytest.mark.parametrize("table", LESSON_TABLES.values(), ids=lambda table: table.name)
def test_every_row_of_a_table_has_the_lessons_published_numbers(table):
    labels = [config.label for run in table.runs for config in run.configs]
    assert set(table.published) == {*labels, REALS_LABEL}


def test_quick_keeps_a_tenth_of_the_steps_but_at_least_two():
    assert quick(SamplerConfig("x", "heun", steps=50)).num_steps() == 5
    assert quick(SamplerConfig("x", "ddim", steps=19, grid="cosine")).num_steps() == 2
    assert quick(SamplerConfig("x", "heun", nfe=39)).steps == 2


def test_karras_table_uses_the_lessons_grid_sigma_80_to_0_01_with_rho_7():
    for config in LESSON_TABLES["lesson-karras"].runs[0].configs:
        assert (config.grid, config.sigma_max, config.sigma_min, config.rho) == ("karras", 80.0, 0.01, 7.0)


def needs_weights(*names: str) -> pytest.MarkDecorator:
    missing = [name for name in names if not pretrained.weights_path(name).is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"weights not built yet: {', '.join(missing)}")


@needs_weights("digits-edm")
def test_on_the_digits_the_real_floor_beats_the_edm_model_which_beats_noise():
    count = 64
    scorer = Scorer(shape=pretrained.DIGITS_SHAPE)
    row, = compare("digits-edm", [SamplerConfig("heun", "heun", steps=6, sigma_min=0.01)], num_samples=count,
                   feature_extractor=scorer.feature_extractor, reference=scorer.reference)
    floor = real_vs_real(digits_reals(count), feature_extractor=scorer.feature_extractor, reference=scorer.reference)
    noise = torch.rand(count, *pretrained.DIGITS_SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noise_fid = scorer(noise).fid.estimate
    assert floor.fid < row.fid < noise_fid


@needs_weights("digits-notime", "digits-cosine")
def test_ddim_table_runs_the_time_free_model_with_its_predictor_and_the_cosine_model():
    notime, cosine = LESSON_TABLES["lesson-ddim"].runs
    by_label = {config.label: replace(config, steps=3) for config in notime.configs}
    labels = ("predicted ᾱ, η = 1.0", "classic DDIM without the predicted ᾱ", "predicted ᾱ, median σ")
    rows = compare(notime.model, [by_label[label] for label in labels], num_samples=8)
    rows += compare(cosine.model, [replace(cosine.configs[0], steps=3)], num_samples=8)
    assert [(row.model, row.nfe) for row in rows] == [("digits-notime", 2)] * 3 + [("digits-cosine", 2)]
    assert all(math.isfinite(row.fid) and math.isfinite(row.kid) for row in rows)
    # Same noise, same schedule: only the predicted alpha_bar_hat separates the first two rows, and only the
    # sigma taken from its batch median the first and the third.
    assert rows[0].fid != rows[1].fid and rows[0].fid != rows[2].fid

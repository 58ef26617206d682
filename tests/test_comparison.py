"""probflow.comparison.compare on Gaussian data with its exact denoiser, scored in pixel space."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from probflow import per_sample_noise, seed_generators, solve
from probflow.comparison import SamplerConfig, compare, markdown_table, real_vs_real
from probflow.denoisers import Gaussian
from probflow.metrics import fid, unbiased_mmd2
from probflow.schedules import karras
from probflow.solvers import EulerAncestral, Heun
from probflow.errors import UnknownModelError

SHAPE = (1, 2, 2)
DATA = Gaussian(torch.tensor([0.5, -0.3, 0.0, 0.2]).reshape(SHAPE), torch.tensor([0.8, 0.4, 0.6, 0.3]).reshape(SHAPE))


def flatten(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(start_dim=1)


REFERENCE = flatten(DATA.sample(2000, generator=torch.Generator().manual_seed(1234)))


def run(configs, **kwargs):
    kwargs.setdefault("num_samples", 64)
    return compare(DATA, configs, feature_extractor=flatten, reference=REFERENCE, **kwargs)


def karras_config(label: str, solver: str, steps: int, **params) -> SamplerConfig:
    return SamplerConfig(label, solver, steps=steps, params=params)


def test_row_equals_an_independent_solve_from_the_seeds_noise_and_its_fid_and_kid():
    row, = run([karras_config("heun", "heun", 5)], seeds=[3, 1, 4, 15, 9, 2, 6, 5, 35, 8], num_samples=None)
    noise = per_sample_noise(SHAPE, [3, 1, 4, 15, 9, 2, 6, 5, 35, 8])
    samples = flatten(solve(DATA, Heun(), noise * 80.0, karras(5, 0.002, 80.0)).x)
    assert row.fid == pytest.approx(fid(samples, REFERENCE), rel=1e-12)
    assert row.kid == pytest.approx(unbiased_mmd2(samples.double().numpy(), REFERENCE.double().numpy()), rel=1e-12)
    assert row.fid_low < row.fid < row.fid_high and row.kid_low < row.kid < row.kid_high
    assert (row.steps, row.nfe, row.samples) == (5, Heun().nfe(5), 10)
    assert row.wall_s > 0


def test_stochastic_solver_noise_continues_each_seeds_generator_after_the_initial_noise():
    row, = run([karras_config("ancestral", "euler_ancestral", 4, eta=1.0)], num_samples=8)
    generators = seed_generators(range(8))
    noise = torch.stack([torch.randn(SHAPE, generator=g) for g in generators])
    samples = solve(DATA, EulerAncestral(1.0), noise * 80.0, karras(4, 0.002, 80.0), generator=generators).x
    assert row.fid == pytest.approx(fid(flatten(samples), REFERENCE), rel=1e-12)


def test_configs_share_their_noise_so_identical_settings_draw_identical_samples():
    first, second, other = run([karras_config("a", "euler_ancestral", 6, eta=0.5),
                                karras_config("b", "euler_ancestral", 6, eta=0.5),
                                karras_config("c", "euler_ancestral", 6, eta=0.4)])
    assert (first.fid, first.kid, first.fid_low, first.fid_high) == (second.fid, second.kid, second.fid_low,
                                                                     second.fid_high)
    assert (first.same_samples_as, second.same_samples_as, other.same_samples_as) == (None, "a", None)
    table = markdown_table([first, second, other]).splitlines()
    assert table[3].startswith("| b (same samples as *a*) |")
    assert "same samples" not in table[2] + table[4]


def test_one_update_written_two_ways_counts_as_the_same_samples_despite_round_off():
    ddim, ancestral, euler = run([karras_config("ddim", "ddim", 6, eta=1.0),
                                  karras_config("ancestral", "euler_ancestral", 6, eta=1.0),
                                  karras_config("euler", "euler", 6)])
    assert (ddim.same_samples_as, ancestral.same_samples_as, euler.same_samples_as) == (None, "ddim", None)


def test_deterministic_ddim_scores_as_euler_because_it_is_euler_on_the_ve_state():
    euler, ddim = run([karras_config("euler", "euler", 8), karras_config("ddim", "ddim", 8, eta=0.0)])
    assert ddim.fid == pytest.approx(euler.fid, rel=1e-5)


def test_rows_do_not_depend_on_the_batch_size():
    config = [karras_config("ancestral", "euler_ancestral", 6, eta=1.0)]
    whole, = run(config, batch_size=64)
    split, = run(config, batch_size=7)
    assert (split.fid, split.kid) == (whole.fid, whole.kid)


def test_a_converged_sampler_scores_near_the_real_floor_and_far_better_than_one_euler_step():
    accurate, one_step = run([karras_config("heun 40", "heun", 40), karras_config("euler 1", "euler", 1)],
                             num_samples=512)
    floor = real_vs_real(DATA.sample(512, generator=torch.Generator().manual_seed(7)).float(),
                         feature_extractor=flatten, reference=REFERENCE)
    # One Euler step from sigma_max returns D(x, 80) ~ the data mean: almost no spread at all.
    assert one_step.fid > 0.5
    assert accurate.fid < 3 * floor.fid + 0.01
    assert accurate.fid < one_step.fid / 20


def test_real_floor_row_is_the_fid_and_kid_of_the_reals():
    reals = DATA.sample(100, generator=torch.Generator().manual_seed(3)).float()
    row = real_vs_real(reals, feature_extractor=flatten, reference=REFERENCE, label="reals")
    assert row.fid == pytest.approx(fid(flatten(reals), REFERENCE), rel=1e-12)
    assert row.kid == pytest.approx(unbiased_mmd2(flatten(reals).double().numpy(), REFERENCE.double().numpy()),
                                    rel=1e-12)
    assert (row.label, row.steps, row.nfe, row.wall_s, row.samples) == ("reals", None, None, None, 100)


def test_out_dir_holds_csv_and_json_of_the_rows_and_one_png_per_config(tmp_path):
    rows = run([karras_config("heun, 3 steps", "heun", 3), karras_config("euler/4", "euler", 4)], out_dir=tmp_path)
    with (tmp_path / "rows.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [record["label"] for record in table] == ["heun, 3 steps", "euler/4"]
    assert [float(record["fid"]) for record in table] == [row.fid for row in rows]
    assert json.loads((tmp_path / "rows.json").read_text(encoding="utf-8")) == [row.to_dict() for row in rows]
    pngs = sorted(path.name for path in tmp_path.glob("*.png"))
    assert pngs == ["00-heun-3-steps.png", "01-euler-4.png"]
    assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for name in pngs)


class WithNoiseLevel(torch.nn.Module):
    """The Gaussian denoiser plus a noise-level predictor that records its calls and returns abar_hat = 1/2."""

    def __init__(self) -> None:
        super().__init__()
        self.shape = DATA.shape
        self.calls = 0

    def forward(self, x, sigma):
        return DATA(x, sigma)

    def noise_level(self, x_vp):
        self.calls += 1
        return torch.full((x_vp.shape[0],), 0.5, dtype=x_vp.dtype)


def test_predicted_alpha_bar_feeds_the_models_noise_level_predictor_to_ddim():
    model = WithNoiseLevel()
    config = SamplerConfig("ddim", "ddim", steps=6, grid="cosine", predicted_alpha_bar=True, params={"eta": 1.0})
    row, = compare(model, [config], num_samples=16, batch_size=8, feature_extractor=flatten, reference=REFERENCE)
    assert model.calls == 2 * row.nfe == 2 * 5


def test_predicted_alpha_bar_without_a_noise_level_predictor_is_a_clear_error():
    config = SamplerConfig("ddim", "ddim", steps=6, grid="cosine", predicted_alpha_bar=True)
    with pytest.raises(ValueError, match="noise_level"):
        run([config])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"configs": []}, "no sampler configs"),
    ({"configs": [karras_config("x", "euler", 2), karras_config("x", "heun", 2)]}, "unique; repeated: x"),
    ({"num_samples": None}, "exactly one of num_samples and seeds"),
    ({"seeds": [1, 2]}, "exactly one of num_samples and seeds"),
    ({"num_samples": 0}, "num_samples must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
])
def test_bad_arguments_are_clear_errors(kwargs, message):
    arguments = {"configs": [karras_config("euler", "euler", 2)], "num_samples": 8, **kwargs}
    configs = arguments.pop("configs")
    with pytest.raises(ValueError, match=message):
        compare(DATA, configs, feature_extractor=flatten, reference=REFERENCE, **arguments)


def test_unknown_model_names_and_uncallable_denoisers_are_clear_errors():
    with pytest.raises(UnknownModelError, match="unknown model 'digits-nope'"):
        compare("digits-nope", [karras_config("euler", "euler", 2)], num_samples=8)
    with pytest.raises(TypeError, match="denoiser D"):
        compare(42, [karras_config("euler", "euler", 2)], num_samples=8)


def test_a_denoiser_without_shape_needs_one():
    with pytest.raises(ValueError, match="shape of one sample is unknown"):
        compare(lambda x, sigma: x, [karras_config("euler", "euler", 2)], num_samples=8,
                feature_extractor=flatten, reference=REFERENCE)


def test_feature_extractor_and_reference_come_together():
    with pytest.raises(ValueError, match="both feature_extractor and reference"):
        compare(DATA, [karras_config("euler", "euler", 2)], num_samples=8, feature_extractor=flatten)

"""The generation pipeline: per-seed reproducibility through batching, shards that resume, and a locked config."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.comparison.lesson_ddim import LessonDDIM
from probflow.errors import DenoiserOutputError
from probflow.generation import OutputDirError, SamplingPlan, generate, load_samples, sample_in_memory
from probflow.solvers import DDIM, EDMStochastic, EulerAncestral, EulerMaruyama, TorchSDE
from probflow.solvers.torchsde_backend import METHODS as TORCHSDE_METHODS
from tests.test_generation_toys import GAUSSIAN, MIXTURE, SHAPE

SEEDS = [3, 11, 4, 0, 25, 7, 9]


def _predicted_alpha_bar(x_vp: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x_vp.flatten(1).mean(dim=1))

# Every stochastic family (with its noise switched on) and every torchsde method.
STOCHASTIC = [EulerAncestral(), EDMStochastic(s_churn=10.0), DDIM(eta=0.7), EulerMaruyama(),
              *(TorchSDE(method) for method in TORCHSDE_METHODS)]


@pytest.mark.parametrize("solver", [None, *STOCHASTIC], ids=repr)
def test_samples_are_bitwise_independent_of_batch_size_and_seed_order(tmp_path, solver):
    # GAUSSIAN is elementwise: a row's denoised value cannot depend on its batch, so only the pipeline could.
    nfe = 8 if solver is None else 3 * solver.calls_per_step + 1  # four steps, the last into sigma = 0
    plan = SamplingPlan.build(GAUSSIAN, nfe=nfe, solver=solver)
    generate(GAUSSIAN, SEEDS, tmp_path / "by3", nfe=nfe, solver=solver, batch_size=3)
    generate(GAUSSIAN, SEEDS[::-1], tmp_path / "by5", nfe=nfe, solver=solver, batch_size=5)
    seeds, by3 = load_samples(tmp_path / "by3")
    _, by5 = load_samples(tmp_path / "by5")
    memory_seeds, one_at_a_time = sample_in_memory(plan, SEEDS, batch_size=1)
    assert seeds.tolist() == memory_seeds.tolist() == sorted(SEEDS)
    assert torch.equal(by3, by5) and torch.equal(by3, one_at_a_time)
    assert by3.shape == (len(SEEDS), *SHAPE) and by3.dtype == torch.float32
    assert torch.isfinite(by3).all()
    assert len({tuple(row.flatten().tolist()) for row in by3}) == len(SEEDS)


@pytest.mark.parametrize("solver", [EulerAncestral(), TorchSDE("euler")], ids=repr)
def test_a_sample_is_its_seeds_stream_initial_noise_then_solver_noise(solver):
    generator = torch.Generator().manual_seed(25)
    noise = torch.randn(1, *SHAPE, generator=generator)
    expected = probflow.sample(MIXTURE, noise, nfe=8, solver=solver, generator=[generator])
    assert torch.equal(SamplingPlan.build(MIXTURE, nfe=8, solver=solver).sample([25]), expected)


def test_rerun_skips_done_seeds_and_new_seeds_extend_the_directory(tmp_path):
    first = generate(MIXTURE, range(6), tmp_path / "out", nfe=6, batch_size=4)
    again = generate(MIXTURE, range(6), tmp_path / "out", nfe=6, batch_size=4)
    extended = generate(MIXTURE, range(10), tmp_path / "out", nfe=6, batch_size=3)
    assert (first.generated, first.skipped) == (6, 0)
    assert (again.generated, again.skipped) == (0, 6)
    assert (extended.generated, extended.skipped) == (4, 6)
    # The clean run repeats the batches {0..3}, {4, 5}, {6, 7, 8}, {9}: same batches, same bits (any denoiser).
    generate(MIXTURE, [0, 1, 2, 3], tmp_path / "clean", nfe=6, batch_size=4)
    generate(MIXTURE, [4, 5], tmp_path / "clean", nfe=6, batch_size=4)
    generate(MIXTURE, range(6, 10), tmp_path / "clean", nfe=6, batch_size=3)
    seeds, samples = load_samples(tmp_path / "out")
    clean_seeds, clean = load_samples(tmp_path / "clean")
    assert seeds.tolist() == clean_seeds.tolist() == list(range(10))
    assert torch.equal(samples, clean)


def test_resuming_with_another_configuration_is_refused(tmp_path):
    generate(MIXTURE, range(4), tmp_path, nfe=6, batch_size=2)
    changed = r"another configuration \(nfe: 6 there, 8 now; solver: {'recommended': {'solver': {'solver': "
    with pytest.raises(OutputDirError, match=changed):
        generate(MIXTURE, range(8), tmp_path, nfe=8, batch_size=2)


def test_a_run_that_fails_before_any_shard_does_not_lock_the_configuration(tmp_path):
    with pytest.raises(DenoiserOutputError, match="shape"):
        generate(lambda x, sigma: x[:, :, :2], range(4), tmp_path, nfe=6, shape=SHAPE)
    report = generate(MIXTURE, range(4), tmp_path, nfe=8)
    assert report.generated == 4 and load_samples(tmp_path)[0].tolist() == [0, 1, 2, 3]


def test_a_plan_without_a_solver_samples_as_probflow_sample_does():
    # solver=None is the recommended solver on the recommended grid, not the recommended solver on a Karras grid.
    noise = torch.randn(1, *SHAPE, generator=torch.Generator().manual_seed(9))
    expected = probflow.sample(MIXTURE, noise, nfe=12)
    assert torch.equal(SamplingPlan.build(MIXTURE, nfe=12).sample([9]), expected)


def _first_half_then_all(tmp_path, first, second) -> None:
    generate(GAUSSIAN, range(10), tmp_path, nfe=6, solver=first, batch_size=5)
    generate(GAUSSIAN, range(20), tmp_path, nfe=6, solver=second, batch_size=5)


@pytest.mark.parametrize(("first", "second"), [
    # The adversarial test's case: the lesson's options used to be missing from repr(DDIM), so this resume mixed.
    (LessonDDIM(1.0, clip=0.1, noise_scale=0.0), DDIM(1.0)),
    (LessonDDIM(1.0, clip=0.1), LessonDDIM(1.0, clip=0.2)),
    (LessonDDIM(1.0, alpha_bar_predictor=_predicted_alpha_bar), LessonDDIM(1.0, alpha_bar_predictor=torch.sigmoid)),
    (EDMStochastic(s_churn=1.0), EDMStochastic(s_churn=1.0, s_noise=1.001)),
], ids=["lesson-vs-plain", "clip", "predictor", "s_noise"])
def test_a_resume_with_any_other_solver_parameter_is_refused(tmp_path, first, second):
    with pytest.raises(OutputDirError, match="another configuration"):
        _first_half_then_all(tmp_path, first, second)
    seeds, _ = load_samples(tmp_path)
    assert seeds.tolist() == list(range(10))


def test_a_resume_with_the_same_configuration_completes_bitwise_like_a_clean_run(tmp_path):
    solver = LessonDDIM(1.0, clip=0.1, noise_scale=0.5)
    _first_half_then_all(tmp_path / "resumed", solver, LessonDDIM(1.0, clip=0.1, noise_scale=0.5))
    generate(GAUSSIAN, range(20), tmp_path / "clean", nfe=6, solver=solver, batch_size=5)
    assert torch.equal(load_samples(tmp_path / "resumed")[1], load_samples(tmp_path / "clean")[1])


def test_a_resume_with_other_told_noise_levels_on_the_same_grid_is_refused(tmp_path):
    grid = tuple(probflow.schedules.karras(5, 0.02, 80.0).tolist())
    told = tuple(sigma * factor for sigma, factor in zip(grid[:-1], (1.0, 1.2, 0.9, 1.1, 0.8)))
    plain = probflow.Schedule(grid, probflow.solvers.Euler(), 5)
    shifted = probflow.Schedule(grid, probflow.solvers.Euler(), 5, {}, told)
    generate(GAUSSIAN, range(4), tmp_path, nfe=5, schedule=plain, batch_size=2)
    with pytest.raises(OutputDirError, match="another configuration"):
        generate(GAUSSIAN, range(8), tmp_path, nfe=5, schedule=shifted, batch_size=2)
    assert torch.equal(SamplingPlan.build(GAUSSIAN, nfe=5, schedule=shifted).sample([5]),
                       probflow.sample(GAUSSIAN, probflow.per_sample_noise(SHAPE, [5]), schedule=shifted))

"""The widened benchmark problem set: each family has the geometry its docstring states, every problem's
reference endpoint is cheap and finite, and cached references are reused only for the same problem."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks import problems, reference_cache
from benchmarks.problems import Problem


@pytest.fixture(scope="module")
def all_problems() -> dict[str, Problem]:
    return {p.name: p for p in problems.benchmark_problems()}


def test_the_tuned_six_come_first_and_at_least_four_new_families_follow(all_problems):
    names = list(all_problems)
    assert names[:6] == ["gaussian-16d", "ring-8", "grid-25", "uneven-2d", "mixture-48d", "digits-kde"]
    assert {"digits-kde-0.05", "digits-kde-0.2", "digits-kde-0.5", "aniso-gaussian-32d", "skewed-narrow-8d",
            "skewed-broad-8d", "circle-32d", "swissroll-16d"} <= set(names[6:])


def test_digits_kdes_have_one_kernel_per_image_at_their_bandwidth(all_problems):
    for bandwidth in (0.05, 0.2, 0.5):
        kde = all_problems[f"digits-kde-{bandwidth}"].denoiser
        assert kde.points.shape == (1797, 64) and kde.bandwidth == bandwidth
        assert kde.points.min() >= -1.0 and kde.points.max() <= 1.0


def test_anisotropic_gaussian_spans_four_decades(all_problems):
    std = all_problems["aniso-gaussian-32d"].denoiser.std
    assert float(std.min()) == pytest.approx(1e-3) and float(std.max()) == pytest.approx(10.0)
    ratios = std[1:] / std[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 1e4 ** (1 / 31)))


@pytest.mark.parametrize("name, narrow_weight", [("skewed-narrow-8d", 0.98), ("skewed-broad-8d", 0.02)])
def test_skewed_mixtures_have_the_stated_weights_and_scales(all_problems, name, narrow_weight):
    mixture = all_problems[name].denoiser
    torch.testing.assert_close(mixture.log_weights.exp(),
                               torch.tensor([narrow_weight, 1 - narrow_weight], dtype=torch.float64))
    torch.testing.assert_close(mixture.variances.sqrt().flatten(), torch.tensor([0.01, 1.0], dtype=torch.float64))
    # The fraction of samples drawn from the narrow mode is its weight.
    draws = mixture.sample(4000, generator=torch.Generator().manual_seed(0))
    near_narrow = ((draws - 0.5).norm(dim=1) < 0.1).double().mean()
    assert float(near_narrow) == pytest.approx(narrow_weight, abs=0.01)


def test_circle_points_lie_on_a_unit_circle_in_a_plane(all_problems):
    points = all_problems["circle-32d"].denoiser.points
    torch.testing.assert_close(points.norm(dim=1), torch.ones(512, dtype=torch.float64))
    singular = torch.linalg.svdvals(points)
    assert singular[2] < 1e-10 * singular[0]  # rank 2


def test_swiss_roll_is_a_sheet_in_three_of_sixteen_dimensions(all_problems):
    points = all_problems["swissroll-16d"].denoiser.points
    singular = torch.linalg.svdvals(points)
    assert singular[3] < 1e-10 * singular[0] and singular[2] > 0.1 * singular[0]
    frame = torch.linalg.svd(points, full_matrices=False).Vh[:3]
    assert (points @ frame.T).abs().max() <= math.sqrt(3) + 1e-9  # coordinates in [-1, 1] in its 3-space


def test_every_problem_has_a_finite_reference_at_a_loose_tolerance(all_problems):
    for problem in all_problems.values():
        noise = problem.noise()[:2]
        reference = problems.reference_endpoint(problem.denoiser, noise, tolerance=1e-4)
        assert reference.shape == noise.shape and bool(torch.isfinite(reference).all())


def test_anisotropic_reference_matches_the_closed_form(all_problems):
    problem = all_problems["aniso-gaussian-32d"]
    noise = problem.noise()[:8]
    reference = problems.reference_endpoint(problem.denoiser, noise, tolerance=1e-8)
    torch.testing.assert_close(reference, problems.gaussian_endpoint(problem.denoiser, noise), rtol=0, atol=1e-6)


def test_cached_reference_is_read_back_and_keyed_by_the_problem(tmp_path, monkeypatch):
    problem = problems.benchmark_problems(smoke=True)[0]
    noise = problem.noise()
    first = reference_cache.cached_reference(problem, noise, 1e-6, tmp_path)
    assert len(list(tmp_path.iterdir())) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("the cached reference should have been read")

    monkeypatch.setattr(reference_cache, "reference_endpoint", refuse)
    torch.testing.assert_close(reference_cache.cached_reference(problem, noise, 1e-6, tmp_path), first,
                               rtol=0, atol=0)
    shifted = Problem(problem.name, problem.description,
                      type(problem.denoiser)(problem.denoiser.mean + 0.1, problem.denoiser.std), problem.num_samples)
    assert reference_cache.reference_key(shifted, noise, 1e-6) != reference_cache.reference_key(problem, noise, 1e-6)
    assert reference_cache.reference_key(problem, noise, 1e-7) != reference_cache.reference_key(problem, noise, 1e-6)

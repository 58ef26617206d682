"""The lesson's DDIM: its ``median_sigma`` step (the "median sig" experiment of fastai course22p2 ``22_noise-pred``)
checked against the notebook's formula written out on the VP state in float64, and the alias that keeps the old
``DDIM(..., clip=...)`` spelling working."""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow.comparison import cosine_ddim_sigmas
from probflow.errors import SolverConfigError
from probflow.noise import seed_generators
from probflow.comparison.lesson_ddim import LessonDDIM
from probflow.solvers import DDIM, get_solver

STEPS = 100
CLIP = 4.0
CUTOFF = 0.01
SEEDS = range(5)


def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return 0.8 * x / (1.0 + sigma.reshape(-1, 1, 1, 1) ** 2) + 0.1


def sigmoid_of_mean(x_vp: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x_vp.flatten(1).mean(dim=1))


def constant_predictor(alpha_bar_hat: torch.Tensor):
    return lambda x_vp: alpha_bar_hat.to(x_vp.dtype)


def one_lesson_step(index: int, solver: LessonDDIM) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """The start state, probflow's state after step ``index`` of the lesson's 100-step cosine grid, and the step's
    sigmas."""
    sigmas = cosine_ddim_sigmas(STEPS)
    sigma, sigma_next = float(sigmas[index]), float(sigmas[index + 1])
    x = torch.randn(len(SEEDS), 1, 3, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 2.0
    stepped = probflow.solve(denoiser, solver, x, [sigma, sigma_next], generator=seed_generators(SEEDS)).x
    return x, stepped, sigma, sigma_next


def lesson_median_step(x: torch.Tensor, sigma: float, index: int, alpha_bar_hat: torch.Tensor,
                       eta: float) -> torch.Tensor:
    """The notebook's ``ddim_step`` with the median-sig lines on: VP state, per-image ``a``, batch median ``med``,
    ``t = inv_abar(med)``, ``at1 = abar(t - 1/N)``, ``sig`` from them, cutoff and re-noising on the schedule."""
    t = (STEPS - 1 - index) / STEPS
    abar_next = math.cos(math.pi / 2 * (t - 1 / STEPS)) ** 2
    bbar_next = 1.0 - abar_next
    x_vp = x / math.sqrt(1.0 + sigma**2)
    noise = (x - denoiser(x, torch.tensor([sigma], dtype=x.dtype))) / sigma
    a = alpha_bar_hat.reshape(-1, 1, 1, 1)
    x_0_hat = ((x_vp - (1 - a).sqrt() * noise) / a.sqrt()).clamp(-CLIP, CLIP)
    med = float(alpha_bar_hat.median())
    t_med = math.acos(math.sqrt(med)) * 2 / math.pi
    at1 = math.cos(math.pi / 2 * (t_med - 1 / STEPS)) ** 2 if t_med > 1 / STEPS else 1.0
    sig = math.sqrt((1 - at1) / (1 - med)) * math.sqrt(1 - med / at1) * eta
    if bbar_next <= sig**2 + CUTOFF:
        sig = 0.0
    z = torch.stack([torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
                     for seed in SEEDS])
    x_vp_next = math.sqrt(abar_next) * x_0_hat + math.sqrt(bbar_next - sig**2) * noise + sig * z
    return x_vp_next / math.sqrt(abar_next)


def median_ddim(alpha_bar_hat: torch.Tensor, eta: float, median_sigma: bool = True) -> LessonDDIM:
    return LessonDDIM(eta, alpha_bar_predictor=constant_predictor(alpha_bar_hat), clip=CLIP, noise_cutoff=CUTOFF,
                median_sigma=median_sigma)


@pytest.mark.parametrize(("index", "alpha_bar_hat"), [
    (30, [0.05, 0.09, 0.12, 0.2, 0.3]),
    (70, [0.4, 0.55, 0.6, 0.62, 0.9]),
    (90, [0.7, 0.8, 0.9, 0.93, 0.97]),
])
@pytest.mark.parametrize("eta", [1.0, 0.5])
def test_median_sigma_step_equals_the_notebooks_vp_formula(index, alpha_bar_hat, eta):
    alpha_bar_hat = torch.tensor(alpha_bar_hat, dtype=torch.float64)
    x, stepped, sigma, _ = one_lesson_step(index, median_ddim(alpha_bar_hat, eta))
    expected = lesson_median_step(x, sigma, index, alpha_bar_hat, eta)
    torch.testing.assert_close(stepped, expected, rtol=1e-12, atol=1e-12)


def test_median_sigma_differs_from_the_schedule_sigma_when_the_median_level_does():
    alpha_bar_hat = torch.tensor([0.05, 0.09, 0.12, 0.2, 0.3], dtype=torch.float64)
    _, median_step, _, _ = one_lesson_step(30, median_ddim(alpha_bar_hat, 1.0))
    _, schedule_step, _, _ = one_lesson_step(30, median_ddim(alpha_bar_hat, 1.0, median_sigma=False))
    assert (median_step - schedule_step).abs().max() > 1e-3


def test_a_median_within_one_step_of_clean_gives_the_deterministic_step():
    alpha_bar_hat = torch.tensor([0.9997, 0.9998, 0.99995, 0.99999, 0.999995], dtype=torch.float64)
    assert math.acos(math.sqrt(0.99995)) * 2 / math.pi < 1 / STEPS
    _, median_step, _, _ = one_lesson_step(40, median_ddim(alpha_bar_hat, 1.0))
    _, deterministic_step, _, _ = one_lesson_step(40, median_ddim(alpha_bar_hat, 0.0, median_sigma=False))
    torch.testing.assert_close(median_step, deterministic_step, rtol=1e-12, atol=1e-12)


def test_halving_eta_halves_the_median_sigma_in_the_noise_and_in_the_direction():
    sigmas = cosine_ddim_sigmas(STEPS)
    sigma, sigma_next = float(sigmas[20]), float(sigmas[21])
    solver = LessonDDIM(1.0, alpha_bar_predictor=torch.sigmoid, median_sigma=True)
    direction, noise_weight = solver.median_coefficients(0.1, sigma, sigma_next)
    half_direction, half_noise_weight = LessonDDIM(0.5, alpha_bar_predictor=torch.sigmoid,
                                                   median_sigma=True).median_coefficients(0.1, sigma, sigma_next)
    abar_next = 1.0 / (1.0 + sigma_next**2)
    s = float(noise_weight) * math.sqrt(abar_next)
    assert s > 0
    assert float(half_noise_weight) == pytest.approx(float(noise_weight) / 2, rel=1e-12)
    assert float(half_direction) == pytest.approx(math.sqrt((1 - abar_next - s**2 / 4) / abar_next), rel=1e-12)
    assert float(direction) == pytest.approx(math.sqrt((1 - abar_next - s**2) / abar_next), rel=1e-12)


def test_median_sigma_without_a_noise_level_predictor_is_a_config_error():
    with pytest.raises(SolverConfigError, match="median_sigma needs an alpha_bar_predictor"):
        LessonDDIM(1.0, median_sigma=True)


def test_repr_and_spec_name_every_option_and_the_spec_parses_back():
    solver = LessonDDIM(0.5, clip=2.0, noise_cutoff=0.01, median_sigma=False)
    assert solver.spec == "lesson_ddim(eta=0.5, clip=2.0, noise_cutoff=0.01)"
    assert get_solver(solver.spec) == solver
    with_predictor = LessonDDIM(0.5, alpha_bar_predictor=sigmoid_of_mean, median_sigma=True)
    name = f"{sigmoid_of_mean.__module__}:sigmoid_of_mean"
    assert with_predictor.spec == f"lesson_ddim(eta=0.5, alpha_bar_predictor=<{name}>, median_sigma=True)"
    assert repr(with_predictor).startswith("LessonDDIM(eta=0.5, alpha_bar_predictor=<function sigmoid_of_mean")
    assert with_predictor.config()["alpha_bar_predictor"] == name


def test_the_old_ddim_spelling_with_lesson_options_warns_and_builds_the_lesson_ddim():
    with pytest.warns(FutureWarning, match="moved to probflow.comparison.lesson_ddim.LessonDDIM"):
        import probflow._deprecation as deprecation

        deprecation._warned.discard("DDIM lesson options")
        solver = DDIM(1.0, clip=2.0, noise_cutoff=0.01)
    assert solver == LessonDDIM(1.0, clip=2.0, noise_cutoff=0.01) and type(solver) is LessonDDIM
    assert type(DDIM(1.0)) is DDIM

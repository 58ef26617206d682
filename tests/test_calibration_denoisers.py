"""``probflow.calibrate`` with every kind of denoiser the issue names: a shipped network, a diffusers model through
``from_diffusers``, and a conditional denoiser whose per-sample ``model_kwargs`` must follow their paths through the
fit / held-out split. Small budgets: these test that calibration runs and stays honest, not how good it gets."""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow.calibration import Schedule, calibrate
from probflow.denoisers import from_diffusers

TINY = {"teacher_steps": 8, "max_calls": 300}


def _within_budget(schedule: Schedule, nfe: int) -> None:
    """A schedule of this budget whose held-out check ran: calibrated and default errors both finite and recorded,
    the one returned being the lower."""
    assert isinstance(schedule, Schedule) and schedule.nfe == nfe
    assert schedule.solver.nfe(len(schedule.sigmas) - 1) <= nfe
    calibrated, default = schedule.info["calibrated_heldout_error"], schedule.info["default_heldout_error"]
    assert math.isfinite(calibrated) and math.isfinite(default)
    assert schedule.info["heldout_error"] == min(calibrated, default)
    assert schedule.info["fallback"] == (calibrated >= default)


def test_a_shipped_network_calibrates():
    model = probflow.pretrained.load("digits-edm")
    noise = probflow.per_sample_noise(model.shape, seeds=range(8), dtype=torch.float64)
    schedule = calibrate(model, noise, nfe=4, **TINY)
    _within_budget(schedule, 4)
    assert probflow.calibration.same_model(schedule.info["fingerprint"],
                                           probflow.calibration.fingerprint(model, model.shape))


def test_a_diffusers_model_calibrates_on_its_own_noise_range():
    diffusers = pytest.importorskip("diffusers")
    from tests.tiny_diffusers import unet

    denoiser = from_diffusers(unet(torch.float64), diffusers.DDPMScheduler(prediction_type="v_prediction"))
    noise = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    schedule = calibrate(denoiser, noise, nfe=4, sigma_max=denoiser.sigma_max, **TINY)
    _within_budget(schedule, 4)
    assert float(schedule.sigmas[0]) == denoiser.sigma_max


STD = 0.1


def conditional_gaussian(x: torch.Tensor, sigma: torch.Tensor, *, mean: torch.Tensor) -> torch.Tensor:
    """The exact denoiser of ``N(mean, STD^2 I)``, one mean per sample: ``mean + STD^2 / (STD^2 + sigma^2) (x - mean)``."""
    shrink = STD**2 / (STD**2 + sigma.reshape(-1, 1) ** 2)
    return mean + shrink * (x - mean)


def test_per_sample_model_kwargs_follow_their_paths_through_the_split():
    # Means 10 apart: a path denoised with another path's mean would miss by 10 or more, while 5 calls on its own
    # mean's flow miss by a few tenths at most. The exact flow map of N(m, s^2) from sigma_max: m + s (x - m) / sqrt(s^2 + sigma_max^2).
    means = 10.0 * torch.arange(12, dtype=torch.float64).reshape(-1, 1).expand(12, 3).contiguous()
    noise = torch.randn(12, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    schedule = calibrate(conditional_gaussian, noise, nfe=5, model_kwargs={"mean": means}, **TINY)
    _within_budget(schedule, 5)
    assert not schedule.info["fallback"] and schedule.info["heldout_error"] < 1.0
    samples = probflow.sample(conditional_gaussian, noise, nfe=5, schedule=schedule, model_kwargs={"mean": means})
    exact = means + STD * (noise * 80.0 - means) / math.sqrt(STD**2 + 80.0**2)
    assert float((samples - exact).abs().max()) < 1.0

"""from_diffusers against the DDPM formulas evaluated by hand on a tiny randomly initialised diffusers UNet."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from probflow.denoisers import DiscreteDDPM, from_diffusers

diffusers = pytest.importorskip("diffusers")
from tests import tiny_diffusers as tiny  # needs diffusers, checked above
from tests.tiny_diffusers import single_thread  # noqa: F401 (an autouse fixture)


def _denoised_by_hand(unet, scheduler, x: torch.Tensor, sigma: np.ndarray, net_dtype: torch.dtype) -> np.ndarray:
    """D from the DDPM formulas: t by log-sigma interpolation, x_vp = x / sqrt(1 + sigma^2), then eps / v / x0."""
    alpha_bar_table = scheduler.alphas_cumprod.double().numpy()
    sigma_table = np.sqrt((1 - alpha_bar_table) / alpha_bar_table)
    t = np.interp(np.log(sigma), np.log(sigma_table), np.arange(len(sigma_table)))
    s = sigma.reshape(-1, 1, 1, 1)
    x_vp = x.numpy() / np.sqrt(1 + s**2)
    conditioning_dtype = torch.promote_types(net_dtype, torch.float32)
    with torch.no_grad():
        output = unet(torch.from_numpy(x_vp).to(net_dtype), torch.from_numpy(t).to(conditioning_dtype)).sample
    output = output.double().numpy()
    assert output.std() > 1e-2, "a network that outputs a constant would make this comparison vacuous"
    alpha_bar = 1 / (1 + s**2)
    prediction = scheduler.config.prediction_type
    if prediction == "epsilon":
        return x.numpy() - s * output
    if prediction == "v_prediction":
        return np.sqrt(alpha_bar) * x_vp - np.sqrt(1 - alpha_bar) * output
    return output


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize(("net_dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_from_diffusers_matches_the_ddpm_formulas(prediction: str, net_dtype: torch.dtype, tolerance: float) -> None:
    unet = tiny.unet(net_dtype)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, prediction_type=prediction)
    denoiser = from_diffusers(unet, scheduler)
    assert isinstance(denoiser, DiscreteDDPM) and denoiser.prediction == prediction
    sigma = np.array([0.02, 0.5, 3.0, 60.0])
    noise_scale = torch.from_numpy(np.sqrt(1 + sigma**2)).reshape(-1, 1, 1, 1)
    x = noise_scale * torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        denoised = denoiser(x, torch.from_numpy(sigma))
    assert denoised.dtype == torch.float64 and denoised.shape == x.shape
    expected = _denoised_by_hand(unet, scheduler, x, sigma, net_dtype)
    np.testing.assert_allclose(denoised.numpy(), expected, rtol=tolerance, atol=tolerance)


def test_unknown_scheduler_prediction_type_is_rejected() -> None:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=10, prediction_type="flow")
    with pytest.raises(ValueError, match="unknown prediction type 'flow'"):
        from_diffusers(tiny.unet(torch.float32), scheduler)


def test_missing_diffusers_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=10)
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ImportError, match=r"from_diffusers needs diffusers: pip install 'probflow\[diffusers\]'"):
        from_diffusers(torch.nn.Identity(), scheduler)

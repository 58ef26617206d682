"""probflow.integrations.k_diffusion against k-diffusion's own code (``sampling.py`` and ``external.py``, loaded by
path with a stand-in ``utils``, as benchmarks/peers.py does): the samplers agree to 1e-12 in float64, a CFG
wrapper written for k-diffusion runs through ``extra_args``, and k-diffusion's denoiser wrappers are probflow
denoisers."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import pytest
import torch
from torch import nn

import probflow
from benchmarks import peers
from probflow.denoisers import ClassifierFreeGuidance, from_diffusers
from probflow.errors import GeneratorError, SolverConfigError
from probflow.integrations.k_diffusion import denoiser_from_k_diffusion, sampler
from probflow.solvers import ExponentialAdams
from tests.test_generation_toys import MIXTURE

if importlib.util.find_spec("k_diffusion") is None:
    pytest.skip("k-diffusion is not installed", allow_module_level=True)


@cache
def k_diffusion():
    """k-diffusion's ``sampling`` and ``external`` modules, under benchmarks/peers.py's private package name."""
    sampling = peers.load_k_diffusion_sampling()
    sys.modules.setdefault(sampling.__name__, sampling)
    name = f"{sampling.__name__.rpartition('.')[0]}.external"
    spec = importlib.util.spec_from_file_location(name, Path(sampling.__file__).with_name("external.py"))
    external = importlib.util.module_from_spec(spec)
    sys.modules[name] = external
    spec.loader.exec_module(external)
    return sampling, external


def setup(batch: int = 3, steps: int = 10):
    sampling, _ = k_diffusion()
    sigmas = sampling.get_sigmas_karras(steps, 0.002, 80.0, rho=7.0).to(torch.float64)
    noise = torch.randn(batch, *MIXTURE.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return sampling, sigmas, noise * sigmas[0]


@pytest.mark.parametrize("name", ["dpmpp_2m", "heun", "euler"])
def test_probflow_samplers_equal_k_diffusion_samplers_in_float64(name):
    sampling, sigmas, x = setup()
    theirs = getattr(sampling, f"sample_{name}")(MIXTURE, x, sigmas, disable=True)
    ours = sampler(name)(MIXTURE, x, sigmas, disable=True)
    assert sampler(name).__name__ == f"sample_{name}"
    assert float((ours - theirs).abs().max()) <= 1e-12


@pytest.mark.parametrize("options", [{}, {"eta": 0.5, "s_noise": 0.9}])
def test_euler_ancestral_equals_k_diffusion_fed_the_same_noise(options):
    sampling, sigmas, x = setup()

    def noise_sampler(seed):
        generator = torch.Generator().manual_seed(seed)
        return lambda sigma, sigma_next: torch.randn(x.shape, generator=generator, dtype=x.dtype)

    theirs = sampling.sample_euler_ancestral(MIXTURE, x, sigmas, disable=True, noise_sampler=noise_sampler(7),
                                             **options)
    with_generator = sampler("euler_ancestral")(MIXTURE, x, sigmas, disable=True,
                                                generator=torch.Generator().manual_seed(7), **options)
    with_noise_sampler = sampler("euler_ancestral")(MIXTURE, x, sigmas, disable=True, noise_sampler=noise_sampler(7),
                                                    **options)
    assert float((with_generator - theirs).abs().max()) <= 1e-12
    assert torch.equal(with_noise_sampler, with_generator)


def test_the_callback_receives_what_k_diffusion_passes():
    sampling, sigmas, x = setup(steps=5)
    theirs, ours = [], []
    sampling.sample_dpmpp_2m(MIXTURE, x, sigmas, disable=True, callback=theirs.append)
    sampler("dpmpp_2m")(MIXTURE, x, sigmas, disable=True, callback=ours.append)
    assert len(ours) == len(theirs) == len(sigmas) - 1
    for mine, reference in zip(ours, theirs):
        assert mine.keys() == reference.keys() and mine["i"] == reference["i"]
        assert float(mine["sigma"]) == float(reference["sigma"]) == float(mine["sigma_hat"])
        for key in ("x", "denoised"):
            assert float((mine[key] - reference[key]).abs().max()) <= 1e-12


class CFGDenoiser(nn.Module):
    """The classifier-free guidance wrapper that code written for k-diffusion uses (A1111, k-diffusion's examples):
    conditioning through ``extra_args`` ``cond``/``uncond``/``cond_scale``, both halves in one batched call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner_model = model

    def forward(self, x, sigma, uncond, cond, cond_scale):
        x_in, sigma_in = torch.cat([x] * 2), torch.cat([sigma] * 2)
        unconditional, conditional = self.inner_model(x_in, sigma_in, class_labels=torch.cat([uncond, cond])).chunk(2)
        return unconditional + (conditional - unconditional) * cond_scale


class CountingUNet(nn.Module):
    """``unet(x, t, **kwargs).sample``, counting calls and rows."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet
        self.calls = self.rows = 0

    def forward(self, x, t, **kwargs):
        self.calls += 1
        self.rows += len(x)
        return self.unet(x, t, **kwargs).sample


def test_exp_adams_runs_a_k_diffusion_cfg_wrapper_with_extra_args():
    tiny = pytest.importorskip("tests.tiny_diffusers")
    diffusers = pytest.importorskip("diffusers")
    _, external = k_diffusion()
    unet = tiny.unet(torch.float64, num_class_embeds=tiny.NUM_CLASSES + 1)
    training = diffusers.DDPMScheduler()
    counting = CountingUNet(unet)
    model = CFGDenoiser(external.DiscreteEpsDDPMDenoiser(counting, training.alphas_cumprod.double(), quantize=False))
    sigmas = probflow.schedules.karras(6, 0.02, 80.0, 7.0)
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    labels, null = torch.tensor([1, 2]), torch.full((2,), tiny.NULL_CLASS)
    with torch.no_grad():
        ours = sampler("exp_adams")(model, noise * sigmas[0], sigmas, disable=True,
                                    extra_args={"cond": labels, "uncond": null, "cond_scale": 3.0})
    guided = ClassifierFreeGuidance(from_diffusers(unet, training), 3.0, unconditional={"class_labels": null})
    reference = probflow.solve(guided, ExponentialAdams(), noise * sigmas[0], sigmas, model_kwargs={"class_labels": labels})
    assert counting.calls == reference.nfe == guided.network_calls == 6 and counting.rows == 4 * 6
    assert float((ours - reference.x).abs().max()) <= 1e-10 * float(reference.x.abs().max())


def test_k_diffusion_denoisers_are_probflow_denoisers():
    tiny = pytest.importorskip("tests.tiny_diffusers")
    diffusers = pytest.importorskip("diffusers")
    _, external = k_diffusion()
    unet = tiny.unet(torch.float64)
    training = diffusers.DDPMScheduler()
    wrapped = external.DiscreteEpsDDPMDenoiser(lambda x, t: unet(x, t).sample, training.alphas_cumprod.double(),
                                               quantize=False)
    theirs = denoiser_from_k_diffusion(wrapped)
    ours = from_diffusers(unet, training)
    assert denoiser_from_k_diffusion(theirs) is theirs
    assert theirs.sigma_min == pytest.approx(ours.sigma_min, rel=1e-12)
    assert theirs.sigma_max == pytest.approx(ours.sigma_max, rel=1e-12)
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    kwargs = {"nfe": 7, "sigma_min": ours.sigma_min, "sigma_max": ours.sigma_max}
    with torch.no_grad():
        samples = [probflow.sample(denoiser, noise, **kwargs) for denoiser in (theirs, ours)]
    assert float((samples[0] - samples[1]).abs().max()) <= 1e-10 * float(samples[1].abs().max())


def test_options_are_the_solvers_parameters():
    _, sigmas, x = setup()
    with pytest.raises(SolverConfigError, match="bad parameters"):
        sampler("heun")(MIXTURE, x, sigmas, disable=True, s_churn=1.0)
    with pytest.raises(GeneratorError, match="not both"):
        sampler("euler_ancestral")(MIXTURE, x, sigmas, disable=True, generator=torch.Generator(),
                                   noise_sampler=lambda sigma, sigma_next: torch.zeros_like(x))
    order_two = sampler("exp_adams")(MIXTURE, x, sigmas, disable=True, order=2, corrector_order=0)
    assert torch.equal(order_two, probflow.solve(MIXTURE, ExponentialAdams(2, corrector_order=0), x, sigmas).x)


def test_a_noise_sampler_of_the_wrong_shape_is_refused():
    # A [1, d] draw would broadcast: every sample of the batch would get the same noise, silently.
    _, sigmas, x = setup()
    with pytest.raises(GeneratorError, match="tensor of the state's shape"):
        sampler("euler_ancestral")(MIXTURE, x, sigmas, disable=True,
                                   noise_sampler=lambda sigma, sigma_next: torch.randn(1, *x.shape[1:]))

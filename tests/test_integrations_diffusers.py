"""ProbflowScheduler inside real diffusers pipelines, built locally from tiny random models (nothing downloaded).

Each pipeline's images are compared with ``probflow.solve`` on ``from_diffusers(unet, scheduler)`` for the same
model, grid and noise (1e-5 in float32, 1e-10 in float64), and the DPM-Solver++ 2M update with diffusers' own
``DPMSolverMultistepScheduler`` on the same explicit sigmas.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

import probflow
from probflow.calibration import ShiftedNoiseLevels
from probflow.denoisers import ClassifierFreeGuidance, DiscreteDDPM, from_diffusers
from probflow.errors import (
    DenoiserConfigError, InvalidArgumentError, MissingDependencyError, SchedulerStateError, SolverConfigError,
    UnsupportedSolverError,
)
from probflow.solvers import DPMSolverPP, Heun
from tests import tiny_diffusers as tiny
from tests.tiny_diffusers import single_thread  # noqa: F401 (an autouse fixture)

diffusers = pytest.importorskip("diffusers")
from probflow.integrations.diffusers import ProbflowScheduler  # needs diffusers, checked above

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
SHAPE = (1, 8, 8)


def scheduler_for(prediction: str = "epsilon", **config) -> ProbflowScheduler:
    """A ProbflowScheduler made as a user makes it: from a DDPM pipeline's scheduler config."""
    return ProbflowScheduler.from_config(diffusers.DDPMScheduler(prediction_type=prediction).config, **config)


def vp_start(noise: torch.Tensor, sigma_max: float) -> torch.Tensor:
    """The VE state of pure noise held as the model's VP input: ``sqrt(1 + sigma_max^2) n``."""
    return noise * math.sqrt(1.0 + sigma_max**2)


def pipeline_loop(model, scheduler, latents: torch.Tensor, generator=None, **model_kwargs) -> torch.Tensor:
    """The sampling loop every diffusers pipeline runs, without the post-processing."""
    latents = latents * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        model_output = model(scheduler.scale_model_input(latents, t), t, **model_kwargs).sample
        latents = scheduler.step(model_output, t, latents, generator=generator).prev_sample
    return latents


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float) -> float:
    """Max difference relative to the larger of 1 and the samples' size (a random epsilon network's samples reach
    hundreds, where float32 resolves 3e-5)."""
    difference = float((actual - expected).abs().max()) / max(1.0, float(expected.abs().max()))
    assert difference <= tolerance, difference
    return difference


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("solver", [None, "exp_adams", "dpmpp_2m", "heun", "euler_ancestral"])
def test_ddpm_pipeline_with_probflow_scheduler_equals_solve(solver, dtype):
    scheduler = scheduler_for("v_prediction", solver=solver)
    pipe = tiny.ddpm_pipeline(scheduler, dtype)
    images = pipe(batch_size=2, generator=torch.Generator().manual_seed(3), num_inference_steps=8,
                  output_type="pt").images
    generator = torch.Generator().manual_seed(3)
    noise = torch.randn(2, *SHAPE, generator=generator, dtype=dtype)
    x = vp_start(noise, float(scheduler.grid_sigmas[0]))
    solution = probflow.solve(from_diffusers(tiny.unet(dtype), scheduler), scheduler.solver, x,
                              scheduler.grid_sigmas, generator=generator)
    expected = (solution.x / 2 + 0.5).clamp(0, 1)
    assert 0.2 < float(((expected > 0) & (expected < 1)).double().mean()), "images all clamped: a vacuous check"
    assert len(scheduler.timesteps) == solution.nfe <= 8
    assert_close(images, expected, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("solver", ["exp_adams", "heun", "rk:rk4", "edm_stochastic(s_churn=3, s_tmax=5)"])
def test_the_pipeline_loop_sees_the_model_inputs_of_solve(solver, dtype):
    """Epsilon prediction, one timestep per model call (every stage of a multi-stage solver): the timesteps are
    DiscreteDDPM.sigma_to_t of the noise levels solve calls the model at."""
    scheduler = scheduler_for(solver=solver)
    scheduler.set_timesteps(9)
    noise = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(0), dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    latents = pipeline_loop(tiny.unet(dtype), scheduler, noise, generator=generator)
    called_at = []
    denoiser = from_diffusers(tiny.unet(dtype), scheduler)

    def recording(x, sigma):
        called_at.append(float(sigma[0]))
        return denoiser(x, sigma)

    generator = torch.Generator().manual_seed(1)
    solution = probflow.solve(recording, scheduler.solver, vp_start(noise, float(scheduler.grid_sigmas[0])),
                              scheduler.grid_sigmas, generator=generator)
    assert scheduler.sigmas[:-1].tolist() == pytest.approx(called_at, rel=1e-6) and len(called_at) == solution.nfe
    assert scheduler.order == scheduler.solver.calls_per_step
    expected_t = DiscreteDDPM(lambda x, t: x, scheduler.alphas_cumprod).sigma_to_t(torch.tensor(called_at))
    assert torch.allclose(scheduler.timesteps, expected_t.float(), rtol=1e-6)
    assert_close(latents, solution.x, TOLERANCE[dtype])


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-6)])
def test_dpmpp_2m_agrees_with_diffusers_dpm_solver_multistep_on_the_same_sigmas(dtype, tolerance):
    """Both run DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) on the VP state; diffusers' scheduler is configured so its
    update is the same rule: ``solver_order=2``, ``algorithm_type="dpmsolver++"``, ``solver_type="midpoint"`` (the
    published 2M), ``final_sigmas_type="zero"`` (the last step goes to sigma = 0, where its first-order update is
    the final denoise ``x = D``, as probflow's) and ``lower_order_final=True`` (its default; with a step into 0 it
    only concerns that last step). Its first step is first order, as probflow's. Its grid is replaced by the same
    explicit sigmas (in the sample's dtype) and their timesteps, since its ``set_timesteps`` takes no sigmas.

    diffusers' ``step`` rounds the sample to float32 (``sample = sample.to(torch.float32)``) even in a float64
    pipeline, so the agreement is float32's: 7e-8 of the samples' size in float64 (1e-6 tested)."""
    probflow_scheduler = scheduler_for(solver="dpmpp_2m")
    sigmas = probflow.schedules.karras(7, 0.05, 60.0, 7.0)
    probflow_scheduler.set_timesteps(sigmas=sigmas.tolist())
    theirs = diffusers.DPMSolverMultistepScheduler(solver_order=2, algorithm_type="dpmsolver++",
                                                   solver_type="midpoint", final_sigmas_type="zero",
                                                   lower_order_final=True)
    theirs.set_timesteps(len(sigmas) - 1)
    theirs.sigmas = sigmas.to(dtype)
    theirs.timesteps = probflow_scheduler.timesteps.clone()
    noise = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(5), dtype=dtype)
    ours = pipeline_loop(tiny.unet(dtype), probflow_scheduler, noise)
    reference = pipeline_loop(tiny.unet(dtype), theirs, noise)
    assert_close(ours, reference, tolerance)


@pytest.mark.parametrize("sample_space", ["ve", "vp"])
def test_stable_diffusion_loop_with_text_guidance_equals_solve(sample_space):
    """StableDiffusionPipeline's loop (its __call__ needs transformers for the text encoder, which is not a dependency
    here; the loop below is its code path for given prompt embeddings): latents times init_noise_sigma,
    ``cat([negative, prompt])`` embeddings in one UNet2DConditionModel call, ``scale_model_input``, guidance 3 on
    the noise prediction, the step on the unscaled latents; an explicit grid as the pipeline's ``sigmas=`` gives
    it. The reference guides the denoiser with ClassifierFreeGuidance, one batched call per step as well."""
    dtype = torch.float32
    config = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).config
    scheduler = ProbflowScheduler.from_config(config, solver="exp_adams", sample_space=sample_space)
    model = tiny.conditional_unet(dtype)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randn(2, tiny.TOKENS, tiny.WIDTH, generator=generator)
    negative = torch.randn(1, tiny.TOKENS, tiny.WIDTH, generator=generator)
    noise = torch.randn(2, 4, 8, 8, generator=generator)
    sigmas = probflow.schedules.karras(6, 0.03, 14.6, 7.0)
    scheduler.set_timesteps(sigmas=sigmas.tolist()[:-1])
    embeddings = torch.cat([negative.expand(2, -1, -1), prompt])
    latents = noise * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        latent_model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
        noise_pred = model(latent_model_input, t, encoder_hidden_states=embeddings).sample
        noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
        noise_pred = noise_pred_uncond + 3.0 * (noise_pred_text - noise_pred_uncond)
        latents = scheduler.step(noise_pred, t, latents, return_dict=False)[0]
    guided = ClassifierFreeGuidance(from_diffusers(model, scheduler), 3.0,
                                    unconditional={"encoder_hidden_states": negative})
    start = noise * 14.6 if sample_space == "ve" else vp_start(noise, 14.6)
    solution = probflow.solve(guided, "exp_adams", start, sigmas, model_kwargs={"encoder_hidden_states": prompt})
    assert guided.guided_calls == solution.nfe == len(scheduler.timesteps) == 6
    assert guided.network_evaluations == 2 * solution.nfe
    assert_close(latents, solution.x, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dit_pipeline_with_probflow_scheduler_equals_guided_solve(dtype):
    """diffusers' DiTPipeline: a class-conditional transformer with learned variance, guidance 4 with the null class
    1000, the batch doubled through the scheduler, no init_noise_sigma and no input scaling (sample_space='vp'),
    then the VAE. The reference: solve on the transformer's epsilon as a DiscreteDDPM, guided by
    ClassifierFreeGuidance, decoded by the same VAE."""
    scheduler = scheduler_for(solver="exp_adams")
    pipe = tiny.dit_pipeline(scheduler, dtype)
    images = pipe(class_labels=[3, 7], guidance_scale=4.0, generator=torch.Generator().manual_seed(0),
                  num_inference_steps=6, output_type="pt").images
    transformer = tiny.dit_transformer(dtype)

    def epsilon(x, t, class_labels):
        return transformer(x, timestep=t, class_labels=class_labels).sample[:, :4]

    guided = ClassifierFreeGuidance(DiscreteDDPM(epsilon, scheduler.alphas_cumprod), 4.0,
                                    unconditional={"class_labels": torch.tensor([1000])})
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0), dtype=dtype)
    solution = probflow.solve(guided, scheduler.solver, vp_start(noise, float(scheduler.grid_sigmas[0])),
                              scheduler.grid_sigmas, model_kwargs={"class_labels": torch.tensor([3, 7])})
    with torch.no_grad():
        expected = (pipe.vae.decode(solution.x / pipe.vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
    assert 0.5 < float(((expected > 0) & (expected < 1)).double().mean()), "images all clamped: a vacuous check"
    assert guided.guided_calls == solution.nfe == 6
    assert_close(images, expected, TOLERANCE[dtype])


def test_class_conditional_dit_style_loop_with_guidance_equals_solve():
    """DiT's loop (DiTPipeline): the batch doubled with the null class, the guided output applied to both halves,
    the scheduler stepping the doubled batch; in sample_space='vp' it needs neither init_noise_sigma nor
    scale_model_input. float64."""
    dtype = torch.float64
    model = tiny.unet(dtype, num_class_embeds=tiny.NUM_CLASSES + 1)
    scheduler = scheduler_for(solver="dpmpp_2m")
    scheduler.set_timesteps(6)
    labels = torch.tensor([0, 3])
    noise = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(2), dtype=dtype)
    scale = 4.0
    latent_model_input = torch.cat([noise, noise])
    class_labels = torch.cat([labels, torch.full_like(labels, tiny.NULL_CLASS)])
    for t in scheduler.timesteps:
        half = latent_model_input[:2]
        latent_model_input = scheduler.scale_model_input(torch.cat([half, half]), t)
        eps = model(latent_model_input, t.expand(4), class_labels=class_labels).sample
        conditional, unconditional = eps.split(2)
        guided = unconditional + scale * (conditional - unconditional)
        latent_model_input = scheduler.step(torch.cat([guided, guided]), t, latent_model_input).prev_sample
    samples = latent_model_input[:2]
    guidance = ClassifierFreeGuidance(from_diffusers(model, scheduler), scale,
                                      unconditional={"class_labels": torch.tensor([tiny.NULL_CLASS])})
    solution = probflow.solve(guidance, scheduler.solver, vp_start(noise, float(scheduler.grid_sigmas[0])),
                              scheduler.grid_sigmas, model_kwargs={"class_labels": labels})
    assert_close(samples, solution.x, TOLERANCE[dtype])


def test_per_sample_generators_keep_ancestral_samples_independent_of_the_batch():
    scheduler = scheduler_for("v_prediction", solver="euler_ancestral")
    pipe = tiny.ddpm_pipeline(scheduler, torch.float64)

    def images(seeds):
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        return pipe(batch_size=len(seeds), generator=generators, num_inference_steps=6, output_type="pt").images

    two, three = images([11, 12]), images([11, 12, 13])
    assert torch.allclose(two, three[:2], rtol=0, atol=1e-12)
    assert not torch.allclose(three[1], three[2])


def test_two_schedulers_stepping_in_turn_share_no_state():
    model = tiny.unet(torch.float64)
    noise = torch.randn(2, 2, *SHAPE, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    alone = []
    for index in range(2):
        scheduler = scheduler_for(solver="exp_adams")
        scheduler.set_timesteps(5)
        alone.append(pipeline_loop(model, scheduler, noise[index]))
    first = scheduler_for(solver="exp_adams")
    second = ProbflowScheduler.from_config(first.config)
    latents = [noise[0].clone(), noise[1].clone()]
    for scheduler in (first, second):
        scheduler.set_timesteps(5)
    for t in first.timesteps:
        for index, scheduler in enumerate((first, second)):
            latents[index] = scheduler.step(model(latents[index], t).sample, t, latents[index]).prev_sample
    assert torch.equal(latents[0], alone[0]) and torch.equal(latents[1], alone[1])


def test_config_carries_the_training_schedule_prediction_type_and_solver(tmp_path):
    base = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                   prediction_type="v_prediction", clip_sample=False)
    scheduler = ProbflowScheduler.from_config(base.config, solver=Heun())
    assert scheduler.config.solver == "heun" and scheduler.config.prediction_type == "v_prediction"
    assert torch.equal(scheduler.alphas_cumprod, base.alphas_cumprod)
    scheduler.save_config(tmp_path)
    loaded = ProbflowScheduler.from_pretrained(tmp_path)
    assert loaded.config.solver == "heun" and torch.equal(loaded.alphas_cumprod, base.alphas_cumprod)
    assert len(loaded) == 1000
    # from_diffusers reads a ProbflowScheduler as it reads the pipeline's own scheduler.
    assert torch.equal(from_diffusers(tiny.unet(), scheduler).sigmas, from_diffusers(tiny.unet(), base).sigmas)


def test_zero_terminal_snr_schedules_end_at_sigma_4096():
    config = {"prediction_type": "v_prediction", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
              "beta_end": 0.012, "rescale_betas_zero_snr": True}
    scheduler = ProbflowScheduler.from_config(diffusers.DDPMScheduler(**config).config, solver="euler")
    assert torch.equal(scheduler.alphas_cumprod, diffusers.EulerDiscreteScheduler(**config).alphas_cumprod)
    scheduler.set_timesteps(5)
    assert float(scheduler.grid_sigmas[0]) == pytest.approx(4096.0) and scheduler.timesteps[0] == 999


def test_set_timesteps_takes_a_budget_sigmas_or_timesteps():
    scheduler = scheduler_for(solver="heun")
    scheduler.set_timesteps(10)
    assert len(scheduler.timesteps) == 9 and scheduler.num_inference_steps == 9  # 5 Heun steps, the last one call
    assert scheduler.grid_sigmas[0] == pytest.approx(scheduler.schedule.sigma_max)
    assert scheduler.grid_sigmas[-2] == pytest.approx(scheduler.schedule.sigma_min)
    sigmas = [14.0, 3.0, 0.5, 0.05]
    scheduler.set_timesteps(sigmas=sigmas)
    assert scheduler.grid_sigmas.tolist() == [*sigmas, 0.0] and len(scheduler.timesteps) == 7
    scheduler.set_timesteps(timesteps=[999, 500, 100])
    assert scheduler.grid_sigmas[:-1].tolist() == pytest.approx(scheduler.schedule.sigmas[[999, 500, 100]].tolist())
    default = scheduler_for()
    default.set_timesteps(12)
    recommended = probflow.recommended(12)
    assert default.solver == recommended.solver and len(default.timesteps) == 12
    end = max(recommended.sigma_min, default.schedule.sigma_min)       # never below the model's trained range
    assert torch.allclose(default.grid_sigmas, recommended.sigmas(default.schedule.sigma_max, sigma_min=end))
    with pytest.raises(InvalidArgumentError, match="one of"):
        scheduler.set_timesteps(5, sigmas=sigmas)


def test_a_fixed_grid_in_the_config_serves_pipelines_that_pass_only_a_step_count():
    sigmas = [80.0, 10.0, 1.0, 0.1, 0.0]
    scheduler = scheduler_for("v_prediction", solver="exp_adams", sigmas=sigmas)
    pipe = tiny.ddpm_pipeline(scheduler)
    pipe(num_inference_steps=4, output_type="pt")
    assert scheduler.grid_sigmas.tolist() == sigmas and len(scheduler.timesteps) == 4
    with pytest.raises(SolverConfigError, match="needs 4 model calls"):
        scheduler.set_timesteps(3)


def test_learned_variance_channels_are_dropped():
    scheduler = scheduler_for(solver="euler", variance_type="learned_range")
    plain = scheduler_for(solver="euler")
    x = torch.randn(1, *SHAPE, generator=torch.Generator().manual_seed(0))
    output = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    for candidate in (scheduler, plain):
        candidate.set_timesteps(4)
    t = scheduler.timesteps[0]
    assert torch.equal(scheduler.step(output, t, x).prev_sample, plain.step(output[:, :1], t, x).prev_sample)


def test_add_noise_follows_the_training_schedule():
    base = diffusers.DDPMScheduler()
    clean = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(1))
    timesteps = torch.tensor([10, 400, 999])
    vp = scheduler_for().add_noise(clean, noise, timesteps)
    assert torch.allclose(vp, base.add_noise(clean, noise, timesteps), atol=1e-5)
    sigma = ((1 - base.alphas_cumprod[timesteps]) / base.alphas_cumprod[timesteps]).sqrt().reshape(-1, 1, 1, 1)
    ve = scheduler_for(sample_space="ve").add_noise(clean, noise, timesteps)
    assert torch.allclose(ve, clean + sigma * noise, rtol=1e-5)


@pytest.mark.parametrize("solver", ["torchdiffeq:rk4", "torchdiffeq:dopri5", "torchsde:euler"])
def test_backends_and_adaptive_solvers_are_refused(solver):
    with pytest.raises(UnsupportedSolverError, match="own integrator|adaptive"):
        scheduler = scheduler_for(solver=solver)
        scheduler.set_timesteps(6)


def test_churn_before_the_first_call_is_refused():
    with pytest.raises(UnsupportedSolverError, match="before its first model call"):
        scheduler_for(solver="edm_stochastic(s_churn=5)").set_timesteps(7)


def test_a_step_that_breaks_the_contract_is_refused_as_in_solve():
    from tests.test_solver_contract import _BrokenSolver

    with pytest.raises(probflow.SolverConfigError, match=r"must return \(x_next, denoised\)"):
        scheduler_for(solver=_BrokenSolver()).set_timesteps(4)


def test_protocol_errors_name_the_fix():
    model = tiny.unet()
    scheduler = scheduler_for(solver="dpmpp_2m")
    x = torch.randn(1, *SHAPE)
    with pytest.raises(SchedulerStateError, match="set_timesteps"):
        scheduler.step(x, 999, x)
    scheduler.set_timesteps(3)
    first, second = scheduler.timesteps[:2]
    with pytest.raises(SchedulerStateError, match="in order"):
        scheduler.step(x, second, x)
    x = scheduler.step(model(x, first).sample, first, x).prev_sample
    with pytest.raises(SchedulerStateError, match="edits the latents"):
        scheduler.step(model(x, second).sample, second, x + 1.0)
    for t in scheduler.timesteps[1:]:
        x = scheduler.step(model(x, t).sample, t, x).prev_sample
    with pytest.raises(SchedulerStateError, match="all taken"):
        scheduler.step(x, first, x)
    with pytest.raises(SchedulerStateError, match="img2img"):
        scheduler.set_begin_index(2)
    with pytest.raises(SchedulerStateError, match="sample_space='vp'"):
        tiny.ddpm_pipeline(scheduler_for(sample_space="ve"))(num_inference_steps=3)
    with pytest.raises(DenoiserConfigError, match="flow-matching"):
        ProbflowScheduler.from_config(diffusers.FlowMatchEulerDiscreteScheduler().config)


def test_without_diffusers_the_integration_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    monkeypatch.delitem(sys.modules, "probflow.integrations.diffusers")
    with pytest.raises(MissingDependencyError, match=r"pip install 'probflow\[diffusers\]'"):
        __import__("probflow.integrations.diffusers")


def test_probflow_scheduler_and_solve_use_the_same_solver_objects():
    scheduler = scheduler_for(solver=DPMSolverPP(2))
    assert scheduler.solver == DPMSolverPP(2) and scheduler.config.solver == DPMSolverPP(2).spec


@pytest.mark.parametrize("sample_space", ["vp", "ve"])
def test_told_noise_levels_run_in_a_pipeline_as_in_solve(sample_space):
    """A calibrated schedule's grid and told noise levels in the config: the pipeline loop equals ``probflow.solve``
    of the shifted denoiser in float64, and differs from the unshifted run."""
    dtype = torch.float64
    grid = probflow.schedules.karras(6, 0.05, 60.0)
    shifts = torch.tensor([0.0, 0.2, -0.3, 0.1, 0.25, -0.15], dtype=dtype)
    told = (grid[:-1] * shifts.exp()).tolist()
    scheduler = scheduler_for("v_prediction", solver="exp_adams", sample_space=sample_space, sigmas=grid.tolist(),
                              model_sigmas=told)
    scheduler.set_timesteps(6)
    model = tiny.unet(dtype)
    noise = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(5), dtype=dtype)
    latents = pipeline_loop(model, scheduler, noise)
    start = vp_start(noise, 60.0) if sample_space == "vp" else noise * 60.0
    denoiser = from_diffusers(model, scheduler)
    expected = probflow.solve(ShiftedNoiseLevels(denoiser, grid, shifts), "exp_adams", start, grid).x
    plain = probflow.solve(denoiser, "exp_adams", start, grid).x
    assert scheduler.timesteps.tolist() == pytest.approx(scheduler.schedule.sigma_to_t(torch.tensor(told)).tolist())
    assert_close(latents, expected, TOLERANCE[dtype])
    assert float((expected - plain).abs().max()) > 1e-3


def test_told_noise_levels_are_checked():
    grid = [60.0, 5.0, 0.5, 0.0]
    with pytest.raises(InvalidArgumentError, match="one positive finite noise level per positive grid point"):
        scheduler_for(solver="exp_adams", sigmas=grid, model_sigmas=[60.0, 5.0])
    with pytest.raises(InvalidArgumentError, match="needs the grid as sigmas"):
        scheduler_for(solver="exp_adams", model_sigmas=[60.0, 5.0, 0.5])
    scheduler = scheduler_for(solver="exp_adams", sigmas=grid, model_sigmas=[70.0, 5.5, 0.4])
    with pytest.raises(InvalidArgumentError, match="right only at the grid's own first level"):
        scheduler.set_timesteps(3)
    scheduler = scheduler_for(solver="exp_adams", sigmas=grid, model_sigmas=[60.0, 5.5, 0.4])
    with pytest.raises(InvalidArgumentError, match="takes no other grid"):
        scheduler.set_timesteps(sigmas=[50.0, 1.0, 0.0])
    with pytest.raises(UnsupportedSolverError, match="between grid points"):
        scheduler_for(solver="rk:midpoint", sigmas=grid, model_sigmas=[60.0, 5.5, 0.4]).set_timesteps(6)

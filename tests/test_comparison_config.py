"""SamplerConfig, its 'key=value;...' parser, and the lesson's sigma grids."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import probflow
from probflow.comparison import SamplerConfig, cosine_ddim_sigmas, initial_noise_scale, parse_config
from probflow.comparison.run import _sample
from probflow.denoisers import GaussianMixture
from probflow.errors import SigmaGridError, SolverConfigError, UnknownSolverError
from probflow.noise import seed_generators
from probflow.solvers import Heun


def test_parse_config_sets_fields_and_passes_other_keys_to_the_solver_with_their_types():
    config = parse_config("label=heun, churn;solver=edm_stochastic;steps=20;s_churn=0.5;s_noise=1;sigma_min=0.01")
    assert (config.label, config.solver, config.steps, config.nfe, config.sigma_min) == (
        "heun, churn", "edm_stochastic", 20, None, 0.01)
    assert config.params == {"s_churn": 0.5, "s_noise": 1}
    assert type(config.params["s_noise"]) is int
    assert config.build_solver().s_churn == 0.5


def test_parse_config_reads_booleans_and_defaults_the_label_to_the_text():
    config = parse_config(" solver=ddim; steps=10; grid=cosine; predicted_alpha_bar=true ")
    assert config.label == "solver=ddim; steps=10; grid=cosine; predicted_alpha_bar=true"
    assert config.predicted_alpha_bar is True and config.grid == "cosine"


@pytest.mark.parametrize(("text", "error", "message"), [
    ("", SolverConfigError, "non-empty"),
    ("steps=20", SolverConfigError, "names no solver"),
    ("solver=heun;steps", SolverConfigError, "bad config part 'steps'"),
    ("solver=heun;steps=", SolverConfigError, "expected key=value"),
    ("solver=heun;steps=2;steps=3", SolverConfigError, "'steps' appears twice"),
    ("solver=heun;steps=2;nfe=3", SolverConfigError, "exactly one of steps and nfe"),
    ("solver=heun", SolverConfigError, "exactly one of steps and nfe"),
    ("solver=heun;steps=0", SolverConfigError, "steps must be a positive integer"),
    ("solver=heun;steps=2.5", SolverConfigError, "steps must be a positive integer"),
    ("solver=heun;steps=2;grid=wavy", SolverConfigError, "unknown grid 'wavy'"),
    ("solver=heun;steps=2;s_churn=inf", SolverConfigError, "not finite"),
    ("solver=nope;steps=2", UnknownSolverError, "unknown solver 'nope'"),
    ("solver=heun;steps=2;eta=1", SolverConfigError, "bad parameters for solver 'heun'"),
    ("solver=heun;steps=2;predicted_alpha_bar=true", SolverConfigError, "bad parameters for solver 'heun'"),
    ("solver=torchdiffeq:dopri5;nfe=10", SolverConfigError, "adaptive"),
    ("solver=heun;steps=2;sigma_min=100", SigmaGridError, "sigma_min must be < sigma_max"),
])
def test_bad_config_text_is_a_clear_error(text, error, message):
    with pytest.raises(error, match=message):
        parse_config(text)


def test_a_solver_instance_takes_no_params():
    with pytest.raises(SolverConfigError, match="need a solver name"):
        SamplerConfig("x", Heun(), steps=3, params={"eta": 1.0})
    solver = Heun()
    assert SamplerConfig("x", solver, steps=3).build_solver() is solver


def test_predicted_alpha_bar_needs_a_predictor_when_the_solver_is_built():
    config = SamplerConfig("x", "ddim", steps=3, predicted_alpha_bar=True)
    with pytest.raises(SolverConfigError, match="noise-level predictor"):
        config.build_solver()


@settings(derandomize=True, max_examples=15, deadline=None)
@given(nfe=st.integers(1, 120), solver=st.sampled_from(["euler", "heun", "lms", "edm_stochastic", "dpmpp"]))
def test_nfe_budget_gives_the_most_karras_steps_that_fit(nfe, solver):
    config = SamplerConfig("x", solver, nfe=nfe)
    built, steps = config.build_solver(), config.num_steps()
    assert built.nfe(steps) <= nfe < built.nfe(steps + 1)


def test_nfe_budget_on_the_cosine_grid_counts_its_intervals():
    # The lesson's N-step grid has N - 1 intervals: 99 calls buy the lesson's 100 steps.
    assert SamplerConfig("x", "ddim", nfe=99, grid="cosine").num_steps() == 100


@pytest.mark.parametrize("steps", [2, 3, 50, 100])
def test_cosine_grid_is_the_lessons_t_grid_through_alpha_bar_cos_squared(steps):
    sigmas = cosine_ddim_sigmas(steps).tolist()
    assert len(sigmas) == steps and sigmas[-1] == 0.0
    for i in range(steps - 1):
        t = (steps - 1 - i) / steps
        alpha_bar = math.cos(math.pi * t / 2) ** 2
        assert sigmas[i] == pytest.approx(math.sqrt((1 - alpha_bar) / alpha_bar), rel=1e-12)
        # Each step lands on alpha_bar(t - 1/N), as in the lesson.
        alpha_bar_prev = math.cos(math.pi * (t - 1 / steps) / 2) ** 2
        assert 1 / (1 + sigmas[i + 1] ** 2) == pytest.approx(alpha_bar_prev, rel=1e-12)


@pytest.mark.parametrize("steps", [1, 0, 2.0, True])
def test_cosine_grid_needs_two_or_more_integer_steps(steps):
    with pytest.raises(SolverConfigError, match="cosine grid's steps .* must be an integer >= 2"):
        cosine_ddim_sigmas(steps)


def test_cosine_start_is_the_vp_prior_and_karras_start_the_ve_prior():
    sigma = float(cosine_ddim_sigmas(100)[0])
    noise = torch.randn(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x_vp = noise * initial_noise_scale("cosine", sigma) / math.sqrt(1 + sigma**2)
    torch.testing.assert_close(x_vp, noise, rtol=1e-15, atol=0)
    assert initial_noise_scale("karras", 80.0) == 80.0


def test_karras_config_grid_runs_from_sigma_max_to_sigma_min_then_zero():
    sigmas = SamplerConfig("x", "heun", steps=20, sigma_min=0.01, sigma_max=80.0, rho=7.0).sigmas()
    assert len(sigmas) == 21 and float(sigmas[-1]) == 0.0
    for i in range(20):  # EDM eq. 5 with N = 20 points before the trailing 0
        expected = (80.0 ** (1 / 7) + i / 19 * (0.01 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
        assert float(sigmas[i]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("nfe", [6, 12, 20, 50])
def test_recommended_config_is_what_probflow_sample_runs(nfe):
    config = parse_config(f"solver=recommended;nfe={nfe};sigma_min=0.003;sigma_max=70")
    choice = probflow.recommended(nfe)
    assert repr(config.build_solver()) == repr(choice.solver)
    assert config.num_steps() == choice.num_steps
    torch.testing.assert_close(config.sigmas(), choice.sigmas(70.0, sigma_min=0.003), rtol=0.0, atol=0.0)


def test_recommended_config_samples_equal_probflow_sample():
    mixture = GaussianMixture(torch.tensor([[0.5, -0.5], [-0.5, 0.5]]), std=0.1)
    config = parse_config("solver=recommended;nfe=12")
    samples, nfe = _sample(mixture, config.build_solver(), config, [3, 4], (2,), batch_size=2)
    noise = torch.stack([torch.randn(2, generator=generator) for generator in seed_generators([3, 4])])
    assert nfe == 12
    torch.testing.assert_close(samples, probflow.sample(mixture, noise, nfe=12), rtol=0.0, atol=0.0)


@pytest.mark.parametrize("text", ["solver=recommended;steps=10", "solver=recommended;nfe=10;order=2",
                                  "solver=recommended;nfe=10;predicted_alpha_bar=true"])
def test_recommended_config_takes_only_a_budget(text):
    with pytest.raises(SolverConfigError, match="solver=recommended takes nfe"):
        parse_config(text)

"""The contract every schedule keeps: a strictly decreasing, positive float64 grid of n values, then 0."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.schedules import (
    chen,
    chen_between,
    cosine_alphas_cumprod,
    ddpm_sigmas,
    exponential,
    karras,
    linear,
    linear_beta_alphas_cumprod,
    polyexponential,
    validate_sigmas,
    vp,
    vp_between,
)

steps = st.integers(min_value=1, max_value=200)


@st.composite
def sigma_ranges(draw: st.DrawFn) -> dict[str, float]:
    sigma_min = draw(st.floats(min_value=1e-3, max_value=1.0))
    ratio = draw(st.floats(min_value=1.5, max_value=1e5))
    return {"sigma_min": sigma_min, "sigma_max": sigma_min * ratio}


@st.composite
def ddpm_arguments(draw: st.DrawFn) -> dict[str, object]:
    num_train_timesteps = draw(st.integers(min_value=1, max_value=2000))
    make_alphas = draw(st.sampled_from([linear_beta_alphas_cumprod, cosine_alphas_cumprod]))
    n = draw(st.integers(min_value=1, max_value=min(num_train_timesteps, 200)))
    return {"alphas_cumprod": make_alphas(num_train_timesteps), "n": n}


chen_shapes = st.one_of(
    st.fixed_dictionaries({"kind": st.just("linear")}),
    st.fixed_dictionaries(
        {
            "kind": st.just("sigmoid"),
            "start": st.floats(min_value=-5.0, max_value=-1.0),
            "end": st.floats(min_value=1.0, max_value=5.0),
            "tau": st.floats(min_value=0.5, max_value=2.0),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("cosine"),
            "start": st.floats(min_value=0.0, max_value=0.4),
            "end": st.floats(min_value=0.8, max_value=1.0),
            "tau": st.floats(min_value=0.5, max_value=2.0),
        }
    ),
)


def _merged(*parts: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    return st.tuples(*parts).map(lambda dicts: {key: value for part in dicts for key, value in part.items()})


SCHEDULE_CASES = {
    "karras": (karras, _merged(st.fixed_dictionaries({"n": steps, "rho": st.floats(0.5, 10.0)}), sigma_ranges())),
    "exponential": (exponential, _merged(st.fixed_dictionaries({"n": steps}), sigma_ranges())),
    "polyexponential": (
        polyexponential,
        _merged(st.fixed_dictionaries({"n": steps, "rho": st.floats(0.5, 3.0)}), sigma_ranges()),
    ),
    "linear": (linear, _merged(st.fixed_dictionaries({"n": steps}), sigma_ranges())),
    "vp": (
        vp,
        st.fixed_dictionaries(
            {
                "n": steps,
                "beta_d": st.floats(1.0, 30.0),
                "beta_min": st.floats(0.01, 1.0),
                "eps_s": st.floats(1e-4, 0.1),
            }
        ),
    ),
    "vp_between": (
        vp_between,
        st.fixed_dictionaries(
            {
                "n": steps,
                # inside log(1 + sigma_min^2) < eps_s (2 - eps_s) log(1 + sigma_max^2), see vp_between
                "sigma_min": st.floats(1e-3, 0.01),
                "sigma_max": st.floats(10.0, 200.0),
                "eps_s": st.floats(1e-3, 1e-2),
            }
        ),
    ),
    "chen": (
        chen,
        _merged(
            chen_shapes,
            st.fixed_dictionaries(
                {"n": steps, "clip_min": st.floats(1e-12, 1e-6), "input_scale": st.floats(0.1, 10.0)}
            ),
        ),
    ),
    "chen_between": (
        chen_between,
        _merged(chen_shapes, st.fixed_dictionaries({"n": steps, "input_scale": st.floats(0.1, 10.0)}), sigma_ranges()),
    ),
    "ddpm_sigmas": (ddpm_sigmas, ddpm_arguments()),
}


@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
@settings(derandomize=True, max_examples=20, deadline=None)
@given(data=st.data())
def test_grid_is_strictly_decreasing_float64_with_one_trailing_zero_that_append_zero_false_drops(
    name: str, data: st.DataObject
) -> None:
    schedule, arguments = SCHEDULE_CASES[name]
    kwargs = data.draw(arguments)
    grid = schedule(**kwargs)
    assert grid.dtype == torch.float64
    assert grid.shape == (kwargs["n"] + 1,)
    assert grid[-1].item() == 0.0
    assert bool((grid[:-1] > 0).all()) and bool(torch.isfinite(grid).all())
    assert bool((grid[1:] < grid[:-1]).all())
    validate_sigmas(grid)
    assert torch.equal(schedule(**kwargs, append_zero=False), grid[:-1])

"""Schedule specs and curves of the demo and ``probflow schedules``: parsing, the 2 log b log-SNR shift of
Chen's input scaling, and the registry schedules' exact ends."""

from __future__ import annotations

import math

import pytest
import torch

from probflow.demo import parse_schedule_spec, plot_schedules, schedule_curves, schedule_sigmas
from probflow.errors import SigmaGridError
from probflow.schedules import karras, sigma_to_log_snr
from tests.figure_checks import assert_nothing_clipped, built_without_backend_change


def test_spec_parses_numbers_as_floats_and_words_as_text():
    spec = parse_schedule_spec("chen:kind=sigmoid, tau=0.7")
    assert spec.name == "chen" and spec.params == {"kind": "sigmoid", "tau": 0.7}
    assert spec.label == "chen (kind=sigmoid, tau=0.7)"


@pytest.mark.parametrize(("text", "message"), [("warp", "unknown schedule 'warp'"), ("karras:rho", "key=value")])
def test_bad_spec_raises_sigma_grid_error(text, message):
    with pytest.raises(SigmaGridError, match=message):
        parse_schedule_spec(text)


def test_registry_spec_matches_the_schedule_function_with_its_parameters():
    sigmas = schedule_sigmas(parse_schedule_spec("karras:rho=3"), 12, 0.01, 50.0)
    expected = karras(12, 0.01, 50.0, rho=3.0, append_zero=False)
    torch.testing.assert_close(sigmas, expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["cosine", "sigmoid", "linear"])
@pytest.mark.parametrize("input_scale", [0.25, 0.5, 2.0])
def test_chen_input_scaling_shifts_log_snr_by_two_log_b(kind, input_scale):
    base = sigma_to_log_snr(schedule_sigmas(parse_schedule_spec(f"chen:kind={kind}"), 16))
    scaled = sigma_to_log_snr(schedule_sigmas(parse_schedule_spec(f"chen:kind={kind},input_scale={input_scale}"), 16))
    torch.testing.assert_close(scaled - base, torch.full_like(base, 2.0 * math.log(input_scale)), rtol=0, atol=1e-9)


def test_curves_are_each_specs_sigmas_by_label_and_their_plot_is_a_figure(monkeypatch):
    specs = [parse_schedule_spec("vp"), parse_schedule_spec("chen:kind=linear")]
    curves = schedule_curves(specs, steps=8)
    assert list(curves) == ["vp", "chen (kind=linear)"]
    torch.testing.assert_close(curves["vp"], schedule_sigmas(specs[0], 8), rtol=0, atol=0)
    figure = built_without_backend_change(lambda: plot_schedules(curves), monkeypatch)
    sigma_axes, snr_axes = figure.axes
    assert [line.get_label() for line in snr_axes.get_lines()] == list(curves)
    assert_nothing_clipped(figure)

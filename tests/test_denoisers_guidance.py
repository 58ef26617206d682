"""ClassifierFreeGuidance: the formula D_u + w (D_c - D_u) in one batched call, the guidance interval, the counts."""

from __future__ import annotations

import math

import pytest
import torch

import probflow
from probflow.denoisers import ClassifierFreeGuidance
from probflow.denoisers.base import DenoiserModule, broadcast_sigma
from probflow.errors import InvalidArgumentError
from probflow.schedules import karras
from probflow.solvers import Euler

NULL = 3
MEANS = torch.tensor([[-1.0, 0.5], [2.0, -0.3], [0.7, 1.5], [0.0, 0.0]], dtype=torch.float64)


class LabelledGaussian(DenoiserModule):
    """Exact denoiser of N(MEANS[label], 0.5^2 I), label per sample; counts its calls and the rows they carry."""

    def __init__(self):
        super().__init__()
        self.calls = self.rows = 0

    def forward(self, x, sigma, labels, offset=0.0):
        self.calls += 1
        self.rows += len(x)
        mean = MEANS[labels].to(x) + offset
        return mean + 0.25 / (0.25 + broadcast_sigma(sigma, x) ** 2) * (x - mean)


def batch(size: int = 3):
    generator = torch.Generator().manual_seed(0)
    x = 5.0 * torch.randn(size, 2, generator=generator, dtype=torch.float64)
    sigma = torch.tensor([0.3, 1.7, 6.0, 0.05, 20.0][:size], dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 1, 0][:size])
    return x, sigma, labels


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.5, 7.5])
def test_guidance_is_the_formula_in_one_batched_call(scale):
    x, sigma, labels = batch()
    inner = LabelledGaussian()
    guided = ClassifierFreeGuidance(inner, scale, unconditional={"labels": torch.tensor([NULL])})
    result = guided(x, sigma, labels=labels)
    assert (inner.calls, inner.rows) == (1, 2 * len(x))
    reference = LabelledGaussian()
    conditional = reference(x, sigma, labels=labels)
    unconditional = reference(x, sigma, labels=torch.full_like(labels, NULL))
    assert torch.allclose(result, unconditional + scale * (conditional - unconditional), rtol=0, atol=1e-12)
    assert (guided.guided_calls, guided.conditional_calls, guided.network_evaluations) == (1, 0, 2)


def test_outside_the_interval_the_conditional_denoiser_alone_in_a_half_size_call():
    x, _, labels = batch()
    inner = LabelledGaussian()
    guided = ClassifierFreeGuidance(inner, 4.0, unconditional={"labels": torch.tensor([NULL])}, interval=(0.5, 2.0))
    for sigma in (0.5, 0.2, 2.0001):  # the interval is (sigma_lo, sigma_hi], as in Kynkaanniemi et al. 2024
        assert torch.equal(guided(x, sigma, labels=labels), LabelledGaussian()(x, sigma, labels=labels))
    assert (inner.calls, inner.rows) == (3, 3 * len(x))
    guided(x, 2.0, labels=labels)
    assert (inner.calls, inner.rows) == (4, 5 * len(x))
    assert (guided.guided_calls, guided.conditional_calls, guided.network_calls, guided.network_evaluations) == (1, 3, 4, 5)
    guided.reset_counts()
    assert guided.network_calls == guided.network_evaluations == 0


def test_per_sample_noise_levels_guide_only_the_rows_inside_the_interval():
    x, sigma, labels = batch(5)  # sigma = 0.3, 1.7, 6.0, 0.05, 20.0
    inner = LabelledGaussian()
    guided = ClassifierFreeGuidance(inner, 2.0, unconditional={"labels": torch.tensor([NULL])}, interval=(0.1, 7.0))
    result = guided(x, sigma, labels=labels)
    everywhere = ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={"labels": torch.tensor([NULL])})
    inside = torch.tensor([True, True, True, False, False])
    assert torch.equal(result[inside], everywhere(x, sigma, labels=labels)[inside])
    assert torch.equal(result[~inside], LabelledGaussian()(x, sigma, labels=labels)[~inside])
    assert inner.calls == 1


def test_solve_counts_denoiser_calls_and_the_wrapper_network_evaluations():
    x, _, labels = batch()
    sigmas = karras(12, 0.01, 40.0, 7.0)
    guided = ClassifierFreeGuidance(LabelledGaussian(), 3.0, unconditional={"labels": torch.tensor([NULL])},
                                    interval=(0.28, 2.9))
    solution = probflow.solve(guided, Euler(), x * 40.0, sigmas, model_kwargs={"labels": labels})
    inside = sum(0.28 < sigma <= 2.9 for sigma in sigmas[:-1].tolist())  # Euler calls at every sigma but the last 0
    assert solution.nfe == guided.network_calls == len(sigmas) - 1
    assert guided.guided_calls == inside and guided.conditional_calls == solution.nfe - inside
    assert guided.network_evaluations == solution.nfe + inside
    assert guided.denoiser.rows == len(x) * guided.network_evaluations


def test_unconditional_entries_shared_and_per_sample_agree_and_other_entries_follow():
    x, sigma, labels = batch()
    shared = ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={"labels": torch.tensor([NULL])})
    per_sample = ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={"labels": torch.full((3,), NULL)})
    offsets = torch.tensor([[0.1, 0.0], [0.0, -0.2], [0.3, 0.3]], dtype=torch.float64)
    for offset in (0.5, offsets):  # a shared entry, then a per-sample one: both halves see it
        result = shared(x, sigma, labels=labels, offset=offset)
        assert torch.equal(result, per_sample(x, sigma, labels=labels, offset=offset))
        conditional = LabelledGaussian()(x, sigma, labels=labels, offset=offset)
        unconditional = LabelledGaussian()(x, sigma, labels=torch.full_like(labels, NULL), offset=offset)
        assert torch.allclose(result, 2.0 * conditional - unconditional, rtol=0, atol=1e-12)


def test_bad_guidance_inputs_are_named():
    x, sigma, labels = batch()
    null = {"labels": torch.tensor([NULL])}
    with pytest.raises(InvalidArgumentError, match="which the denoiser is not called with"):
        ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional=null)(x, sigma, offset=0.0)
    with pytest.raises(InvalidArgumentError, match="per-sample tensor"):
        ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={"offset": torch.zeros(1)})(
            x, sigma, labels=labels, offset=0.5)
    with pytest.raises(InvalidArgumentError, match=r"shape \[3 or 1\]"):
        ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={"labels": torch.zeros(2, dtype=torch.long)})(
            x, sigma, labels=labels)
    with pytest.raises(InvalidArgumentError, match="sigma_hi"):
        ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional=null, interval=(3.0, 1.0))
    with pytest.raises(InvalidArgumentError, match="unconditional must name"):
        ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional={})
    with pytest.raises(InvalidArgumentError, match="finite"):
        ClassifierFreeGuidance(LabelledGaussian(), math.nan, unconditional=null)
    open_above = ClassifierFreeGuidance(LabelledGaussian(), 2.0, unconditional=null, interval=(1.0, math.inf))
    assert open_above.interval == (1.0, math.inf)

"""Conditioning (``model_kwargs``) reaches the network through every adapter and follows its samples in a solve."""

from __future__ import annotations

import pytest
import torch

import probflow
from probflow.conditioning import is_per_sample, select_rows
from probflow.denoisers import (
    ContinuousDDPM, DiscreteDDPM, EDMPrecond, EpsilonPrediction, IDDPMPrecond, NoiseLevelDenoiser, ScorePrediction,
    TimeFreeEpsilon, VEPrecond, VPPrecond, VPrediction, X0Prediction,
)
from probflow.pretrained.denoiser import PretrainedDenoiser
from probflow.schedules import karras

LABELS = torch.tensor([0, 2, 1])


class LabelledNetwork:
    """``net(x_in, *noise, labels)``: a smooth function of its input that differs per label; records what it got."""

    def __init__(self):
        self.seen: list[torch.Tensor] = []

    def __call__(self, x_in, *noise_conditioning, labels, shared=0.0):
        self.seen.append(labels)
        shift = labels.to(x_in).reshape(-1, *[1] * (x_in.ndim - 1))
        return 0.3 * torch.tanh(x_in) + 0.1 * shift + shared


def _alphas_cumprod():
    return torch.linspace(0.9999, 0.01, 100, dtype=torch.float64)


ADAPTERS = {
    "EDMPrecond": lambda net: EDMPrecond(net),
    "VPPrecond": lambda net: VPPrecond(net),
    "VEPrecond": lambda net: VEPrecond(net),
    "IDDPMPrecond": lambda net: IDDPMPrecond(net, M=50),
    "EpsilonPrediction": lambda net: EpsilonPrediction(net),
    "X0Prediction": lambda net: X0Prediction(net),
    "ScorePrediction": lambda net: ScorePrediction(net),
    "VPrediction": lambda net: VPrediction(net),
    "DiscreteDDPM": lambda net: DiscreteDDPM(net, _alphas_cumprod()),
    "ContinuousDDPM": lambda net: ContinuousDDPM.cosine(net, prediction="v_prediction"),
    "TimeFreeEpsilon": lambda net: TimeFreeEpsilon(net),
    "NoiseLevelDenoiser": lambda net: NoiseLevelDenoiser(net, lambda x_vp: torch.full((len(x_vp),), 0.5).to(x_vp),
                                                         clip=None),
    "PretrainedDenoiser": lambda net: PretrainedDenoiser(EDMPrecond(net), name="toy", shape=(2,), sigma_data=0.5),
}


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_adapter_passes_model_kwargs_to_its_network(name):
    network = LabelledNetwork()
    denoiser = ADAPTERS[name](network)
    x = 3.0 * torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigmas = karras(4, 0.05, 3.0, 7.0)
    solution = probflow.solve(denoiser, "heun", x, sigmas, model_kwargs={"labels": LABELS})
    assert len(network.seen) == solution.nfe and all(torch.equal(labels, LABELS) for labels in network.seen)
    other = probflow.solve(denoiser, "heun", x, sigmas, model_kwargs={"labels": LABELS.flip(0)})
    assert not torch.allclose(solution.x, other.x)


def test_per_sample_conditioning_follows_its_rows_through_a_solve():
    """A batch solves like each of its samples alone with its own labels (select_rows), also for a stochastic
    solver with per-sample generators."""
    denoiser = EDMPrecond(LabelledNetwork())
    x = 3.0 * torch.randn(3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sigmas = karras(6, 0.05, 3.0, 7.0)
    kwargs = {"labels": LABELS, "shared": 1.0}
    for solver in ("exp_adams", "euler_ancestral"):
        together = probflow.solve(denoiser, solver, x, sigmas, model_kwargs=kwargs,
                                  generator=[torch.Generator().manual_seed(seed) for seed in range(3)]).x
        for row in range(3):
            alone = probflow.solve(denoiser, solver, x[row:row + 1], sigmas,
                                   model_kwargs=select_rows(kwargs, 3, slice(row, row + 1)),
                                   generator=[torch.Generator().manual_seed(row)]).x
            assert torch.allclose(alone[0], together[row], rtol=0, atol=1e-14)


def test_probflow_sample_passes_model_kwargs():
    network = LabelledNetwork()
    noise = torch.randn(3, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    probflow.sample(EDMPrecond(network), noise, nfe=5, model_kwargs={"labels": LABELS})
    assert len(network.seen) == 5 and all(torch.equal(labels, LABELS) for labels in network.seen)


def test_per_sample_entries_are_tensors_of_the_batch_size():
    assert is_per_sample(torch.zeros(3, 7), 3) and not is_per_sample(torch.zeros(1, 7), 3)
    assert not is_per_sample(torch.tensor(3.0), 3) and not is_per_sample([1, 2, 3], 3)
    selected = select_rows({"a": torch.arange(3), "b": "text"}, 3, torch.tensor([2, 0]))
    assert selected["a"].tolist() == [2, 0] and selected["b"] == "text"


def test_from_diffusers_passes_text_embeddings_and_class_labels():
    tiny = pytest.importorskip("tests.tiny_diffusers")
    diffusers = pytest.importorskip("diffusers")
    training = diffusers.DDPMScheduler()
    x = 5.0 * torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([5.0, 0.5])
    text = torch.randn(2, tiny.TOKENS, tiny.WIDTH, generator=torch.Generator().manual_seed(1))
    cases = [(tiny.conditional_unet(), x, "encoder_hidden_states", text, text.flip(0)),
             (tiny.unet(num_class_embeds=tiny.NUM_CLASSES + 1), x[:, :1], "class_labels", torch.tensor([0, 1]),
              torch.tensor([2, 3]))]
    for unet, state, key, value, other in cases:
        adapter = probflow.denoisers.from_diffusers(unet, training)
        by_hand = DiscreteDDPM(lambda x_vp, t, unet=unet, **kwargs: unet(x_vp, t, **kwargs).sample,
                               training.alphas_cumprod)
        with torch.no_grad():
            denoised = adapter(state, sigma, **{key: value})
            assert torch.equal(denoised, by_hand(state, sigma, **{key: value}))
            assert not torch.allclose(denoised, adapter(state, sigma, **{key: other}))

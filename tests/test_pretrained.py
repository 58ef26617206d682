"""The shipped weights: every name loads, denoises, and digits-edm's samples are recognisable digits.

Sampling 200 digits with Heun (25 NFE) and classifying them takes a few seconds on 2 CPU cores.
"""

import pytest
import torch

import probflow
from probflow.data import load_digits
from probflow.metrics import ClassifierFeatures, fid
from probflow.pretrained import available, load, weights_path
from probflow.solvers import Heun

DENOISERS = ["digits-cosine", "digits-edm", "digits-notime"]


def test_available_lists_the_shipped_files():
    assert available() == ["digits-classifier", "digits-cosine", "digits-edm", "digits-notime"]
    for name in available():
        assert weights_path(name).is_file()
        assert weights_path(name).stat().st_size < 1_100_000


def test_unknown_name_lists_the_available_names():
    with pytest.raises(KeyError, match="unknown pretrained model 'mnist'; available: digits-classifier, digits-cosine"):
        load("mnist")


@pytest.mark.parametrize("name", DENOISERS)
def test_denoisers_load_ready_and_reduce_noise(name):
    denoiser = load(name)
    assert denoiser.shape == (1, 8, 8) and denoiser.sigma_data == pytest.approx(0.75)
    assert not denoiser.training and not any(parameter.requires_grad for parameter in denoiser.parameters())
    clean, _ = load_digits("test", dtype=torch.float64)
    per_pixel_variance = clean.var(dim=0).mean()
    generator = torch.Generator().manual_seed(0)
    for sigma in (0.2, 1.0):
        noisy = clean + sigma * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
        denoised = denoiser(noisy, torch.full((clean.shape[0],), sigma, dtype=torch.float64))
        assert denoised.dtype == torch.float64 and denoised.shape == clean.shape
        # An estimate of E[y | x] beats both the noisy input (error sigma^2) and the best guess that ignores x,
        # the per-pixel mean (error: the mean per-pixel variance), by a wide margin.
        error = (denoised - clean).square().mean()
        assert error < 0.5 * min(sigma**2, per_pixel_variance)


def test_notime_noise_level_predictor_recovers_alpha_bar():
    predictor = load("digits-notime").noise_level
    clean, _ = load_digits("test", dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    for alpha_bar in (0.1, 0.5, 0.9):
        noise = torch.randn(clean.shape, generator=generator, dtype=torch.float64)
        x_vp = alpha_bar**0.5 * clean + (1 - alpha_bar) ** 0.5 * noise
        estimate = predictor(x_vp)
        assert estimate.shape == (clean.shape[0],)
        assert estimate.median().item() == pytest.approx(alpha_bar, abs=0.05)


def test_classifier_test_accuracy():
    classifier = load("digits-classifier")
    images, labels = load_digits("test")
    with torch.no_grad():
        accuracy = (classifier(images).argmax(dim=1) == labels).double().mean().item()
    assert accuracy >= 0.97


@pytest.fixture(scope="module")
def edm_samples():
    denoiser = load("digits-edm")
    noise = torch.randn(200, *denoiser.shape, generator=torch.Generator().manual_seed(0))
    return probflow.sample(denoiser, noise, nfe=25, solver=Heun())


def test_shipped_edm_samples_are_recognisable_digits(edm_samples):
    # Measured on these 200 samples: mean confidence 0.97, class frequencies 6%-15.5% (see pretrained/README.md).
    with torch.no_grad():
        probabilities = load("digits-classifier")(edm_samples).softmax(dim=1)
    assert probabilities.max(dim=1).values.mean() >= 0.85
    class_frequency = probabilities.argmax(dim=1).bincount(minlength=10).double() / edm_samples.shape[0]
    assert bool(((class_frequency >= 0.03) & (class_frequency <= 0.20)).all()), class_frequency


def test_edm_sample_fid_lies_between_real_data_and_noise(edm_samples):
    features = ClassifierFeatures(load("digits-classifier"))
    reference = features(load_digits("test")[0])
    real = fid(features(load_digits("train")[0]), reference)
    model = fid(features(edm_samples), reference)
    noise = fid(features(torch.randn(200, 1, 8, 8, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)), reference)
    assert real < model < noise
    assert model < 0.1 * noise

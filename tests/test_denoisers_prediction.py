"""Prediction-target adapters against their formulas, computed by hand in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from probflow.denoisers import EpsilonPrediction, ScorePrediction, VPrediction, X0Prediction
from probflow.errors import DenoiserOutputError

SIGMA = np.array([0.02, 0.7, 3.0, 80.0])


class RecordingModel:
    """Returns a fixed output and records what it was called with."""

    def __init__(self, output: torch.Tensor) -> None:
        self.output = output
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, x_in: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.calls.append((x_in.clone(), sigma.clone()))
        return self.output


def _column(values: np.ndarray) -> np.ndarray:
    return values.reshape(-1, 1, 1)


# Each case: adapter factory, expected model input c_in * x, expected D from the model output F. numpy only.
CASES = {
    "epsilon": (EpsilonPrediction, lambda x, s: x, lambda x, s, f: x - _column(s) * f),
    "x0": (X0Prediction, lambda x, s: x, lambda x, s, f: f),
    "score": (ScorePrediction, lambda x, s: x, lambda x, s, f: x + _column(s) ** 2 * f),
    "v_unit": (
        VPrediction,
        lambda x, s: x / np.sqrt(_column(s) ** 2 + 1),
        lambda x, s, f: x / (_column(s) ** 2 + 1) - _column(s) / np.sqrt(_column(s) ** 2 + 1) * f,
    ),
    "v_sigma_data": (
        lambda model: VPrediction(model, sigma_data=0.5),
        lambda x, s: x / np.sqrt(_column(s) ** 2 + 0.25),
        lambda x, s, f: 0.25 / (_column(s) ** 2 + 0.25) * x - _column(s) * 0.5 / np.sqrt(_column(s) ** 2 + 0.25) * f,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_adapter_matches_hand_formula_and_feeds_model_scaled_input_and_sigma(name: str) -> None:
    factory, expected_input, expected_denoised = CASES[name]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 3, generator=generator, dtype=torch.float64)
    model_output = torch.randn(4, 2, 3, generator=generator, dtype=torch.float64)
    model = RecordingModel(model_output)
    denoised = factory(model)(x, torch.from_numpy(SIGMA))
    (x_in, sigma_in), = model.calls
    np.testing.assert_allclose(x_in.numpy(), expected_input(x.numpy(), SIGMA), rtol=1e-14)
    np.testing.assert_array_equal(sigma_in.numpy(), SIGMA)
    np.testing.assert_allclose(denoised.numpy(), expected_denoised(x.numpy(), SIGMA, model_output.numpy()), rtol=1e-13)


@pytest.mark.parametrize("adapter", [EpsilonPrediction, X0Prediction, ScorePrediction, VPrediction])
def test_module_and_plain_function_give_the_same_result(adapter: type[nn.Module]) -> None:
    torch.manual_seed(1)
    linear = nn.Linear(3, 3).double()

    def as_function(x_in: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return linear(x_in) * sigma[:, None]

    class AsModule(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = linear

        def forward(self, x_in: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return self.linear(x_in) * sigma[:, None]

    x = torch.randn(5, 3, dtype=torch.float64)
    sigma = torch.linspace(0.1, 5.0, 5, dtype=torch.float64)
    torch.testing.assert_close(adapter(as_function)(x, sigma), adapter(AsModule())(x, sigma), rtol=0, atol=0)


@pytest.mark.parametrize("adapter", [EpsilonPrediction, X0Prediction, ScorePrediction, VPrediction])
def test_scalar_sigma_equals_batch_of_equal_sigmas(adapter: type[nn.Module]) -> None:
    def model(x_in: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return torch.sin(x_in) * sigma.reshape(-1, 1)

    denoiser = adapter(model)
    x = torch.randn(3, 4, dtype=torch.float64)
    from_scalar = denoiser(x, 1.3)
    from_batch = denoiser(x, torch.full((3,), 1.3, dtype=torch.float64))
    assert from_scalar.dtype == x.dtype and from_scalar.shape == x.shape
    torch.testing.assert_close(from_scalar, from_batch, rtol=0, atol=0)


def test_sigma_of_wrong_shape_is_rejected() -> None:
    denoiser = EpsilonPrediction(lambda x_in, sigma: x_in)
    with pytest.raises(ValueError, match=r"sigma must be a scalar or of shape \[batch=3\]"):
        denoiser(torch.zeros(3, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))


def test_model_output_of_wrong_shape_is_rejected() -> None:
    denoiser = X0Prediction(lambda x_in, sigma: x_in[:, :1])
    with pytest.raises(DenoiserOutputError, match=r"shape \(3, 1\) for an input of shape \(3, 2\)"):
        denoiser(torch.zeros(3, 2, dtype=torch.float64), 1.0)

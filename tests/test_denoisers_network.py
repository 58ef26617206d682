"""The dtype rule of call_network: the network runs in its own dtype, the caller keeps x's dtype."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probflow.denoisers import EDMPrecond
from probflow.denoisers.network import call_network, network_dtype
from probflow.errors import DenoiserOutputError


class DtypeRecorder(nn.Module):
    """A network whose only parameter fixes its dtype; it records the dtypes it receives."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones((), dtype=dtype))
        self.seen: list[torch.dtype] = []

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        self.seen = [x_in.dtype, c_noise.dtype]
        return x_in * self.weight


@pytest.mark.parametrize(
    ("net_dtype", "expected_conditioning"),
    [(torch.float32, torch.float32), (torch.bfloat16, torch.float32), (torch.float64, torch.float64)],
)
def test_network_sees_its_dtype_and_conditioning_at_least_float32(
    net_dtype: torch.dtype, expected_conditioning: torch.dtype
) -> None:
    net = DtypeRecorder(net_dtype)
    x = torch.randn(2, 3, dtype=torch.float64)
    output = call_network(net, x, torch.tensor([1.5, 2.5], dtype=torch.float64))
    assert net.seen == [net_dtype, expected_conditioning]
    assert output.dtype == torch.float64


def test_float32_network_inside_an_adapter_returns_x_dtype_with_float32_accuracy() -> None:
    net = DtypeRecorder(torch.float32)
    x = torch.randn(4, 3, dtype=torch.float64)
    denoised = EDMPrecond(net)(x, 2.0)
    assert denoised.dtype == torch.float64
    c_in = 1 / (4.0 + 0.25) ** 0.5
    expected = 0.25 / 4.25 * x + 2.0 * 0.5 / 4.25**0.5 * c_in * x
    torch.testing.assert_close(denoised, expected, rtol=1e-6, atol=1e-7)


def test_plain_function_and_parameter_free_module_have_no_dtype() -> None:
    assert network_dtype(lambda x: x) is None
    assert network_dtype(nn.Identity()) is None
    assert network_dtype(nn.Linear(1, 1).double()) is torch.float64


def test_non_tensor_output_is_rejected() -> None:
    with pytest.raises(DenoiserOutputError, match="returned tuple, expected a torch.Tensor"):
        call_network(lambda x_in: (x_in,), torch.zeros(2))

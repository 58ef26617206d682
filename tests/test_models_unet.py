"""The UNet: output shapes, the zero initialisation, conditioning and input checks."""

import pytest
import torch

from probflow.models import UNet


@pytest.mark.parametrize("size", [8, 16, 32])
def test_unet_output_matches_input_shape(size):
    net = UNet(channels=(8, 16, 16), num_groups=4)
    x = torch.randn(3, 1, size, size)
    assert net(x, torch.rand(3)).shape == x.shape


def test_untrained_unet_outputs_exactly_zero():
    net = UNet(channels=(8, 16, 16), num_groups=4)
    assert torch.equal(net(torch.randn(2, 1, 16, 16), torch.rand(2)), torch.zeros(2, 1, 16, 16))


def perturbed(net: UNet) -> UNet:
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return net


def test_unet_output_depends_on_noise_cond():
    net = perturbed(UNet(channels=(8, 16), num_groups=4))
    x = torch.randn(2, 1, 8, 8)
    assert not torch.allclose(net(x, torch.tensor([0.1, 0.1])), net(x, torch.tensor([0.9, 0.9])))


def test_unet_without_noise_cond_equals_zero_condition():
    net = perturbed(UNet(channels=(8, 16), num_groups=4))
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(net(x), net(x, torch.zeros(2)))


def test_unet_samples_are_processed_independently():
    net = perturbed(UNet(channels=(8, 16), num_groups=4, blocks_per_level=2))
    x, cond = torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.rand(4, dtype=torch.float64)
    net = net.double()
    torch.testing.assert_close(net(x, cond)[1:3], net(x[1:3], cond[1:3]))


def test_unet_rejects_size_not_divisible_by_downsampling():
    net = UNet(channels=(8, 16, 16), num_groups=4)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.randn(1, 1, 10, 10), torch.rand(1))

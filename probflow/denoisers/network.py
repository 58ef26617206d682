"""Calling a wrapped network in its own precision.

Every adapter evaluates its network through :func:`call_network`, so the dtype rule lives in one
place: the network sees its inputs in the dtype of its first parameter, and the adapter gets the result
back in the dtype of ``x`` (the convention of NVlabs/edm ``training/networks.py``), so that the
sampler's arithmetic keeps its own precision whatever precision the network runs in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from probflow.errors import DenoiserOutputError


def network_dtype(net: Callable[..., torch.Tensor]) -> torch.dtype | None:
    """The dtype of the first parameter of ``net``, or ``None`` for a plain function or a parameter-free module."""
    if not isinstance(net, nn.Module):
        return None
    first = next(net.parameters(), None)
    return None if first is None else first.dtype


def call_network(
    net: Callable[..., torch.Tensor],
    x_in: torch.Tensor,
    *conditioning: torch.Tensor,
    same_shape: bool = True,
) -> torch.Tensor:
    """Return ``net(x_in, *conditioning)`` cast to the dtype of ``x_in``.

    ``x_in`` is cast to the network's dtype. The conditioning (a noise level or timestep) is cast to the
    wider of the network's dtype and float32, because half precision cannot resolve fractional timesteps
    such as 999.37. When ``same_shape`` is set, an output whose shape differs from ``x_in`` raises
    :class:`DenoiserOutputError` instead of broadcasting silently.
    """
    dtype = network_dtype(net)
    if dtype is not None:
        conditioning_dtype = torch.promote_types(dtype, torch.float32)
        conditioning = tuple(c.to(conditioning_dtype) for c in conditioning)
        output = net(x_in.to(dtype), *conditioning)
    else:
        output = net(x_in, *conditioning)
    if not isinstance(output, torch.Tensor):
        raise DenoiserOutputError(f"the network returned {type(output).__name__}, expected a torch.Tensor")
    if same_shape and output.shape != x_in.shape:
        raise DenoiserOutputError(
            f"the network returned shape {tuple(output.shape)} for an input of shape {tuple(x_in.shape)}"
        )
    return output.to(x_in.dtype)

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
    """The dtype ``net`` computes in: its ``dtype`` attribute if that is a ``torch.dtype``, else the dtype of its first
    parameter; ``None`` for a plain function or a parameter-free module (called in the caller's dtype)."""
    declared = getattr(net, "dtype", None)
    if isinstance(declared, torch.dtype):
        return declared
    if not isinstance(net, nn.Module):
        return None
    first = next(net.parameters(), None)
    return None if first is None else first.dtype


def cast_for_network(dtype: torch.dtype | None, x_in: torch.Tensor,
                     *conditioning: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """``x_in`` in the network's ``dtype``, and the conditioning (a noise level or timestep) in the wider of that dtype
    and float32, because half precision cannot resolve fractional timesteps such as 999.37; unchanged for
    ``dtype=None`` (a network that computes in the caller's dtype)."""
    if dtype is None:
        return x_in, conditioning
    conditioning_dtype = torch.promote_types(dtype, torch.float32)
    return x_in.to(dtype), tuple(c.to(conditioning_dtype) for c in conditioning)


def call_network(
    net: Callable[..., torch.Tensor],
    x_in: torch.Tensor,
    *conditioning: torch.Tensor,
    same_shape: bool = True,
    **model_kwargs: object,
) -> torch.Tensor:
    """Return ``net(x_in, *conditioning, **model_kwargs)`` cast to the dtype of ``x_in``.

    The inputs are cast by :func:`cast_for_network` for :func:`network_dtype` ``(net)``. ``model_kwargs`` (class
    labels, text embeddings: k-diffusion's ``extra_args``) are passed as they are. When ``same_shape`` is set, an
    output whose shape differs from ``x_in`` raises :class:`DenoiserOutputError` instead of broadcasting silently.
    """
    network_input, conditioning = cast_for_network(network_dtype(net), x_in, *conditioning)
    output = net(network_input, *conditioning, **model_kwargs)
    if not isinstance(output, torch.Tensor):
        raise DenoiserOutputError(f"the network returned {type(output).__name__}, expected a torch.Tensor")
    if same_shape and output.shape != x_in.shape:
        raise DenoiserOutputError(
            f"the network returned shape {tuple(output.shape)} for an input of shape {tuple(x_in.shape)}"
        )
    return output.to(x_in.dtype)

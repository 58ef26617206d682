"""Interoperability with Hugging Face ``diffusers`` (an optional dependency, imported only when used)."""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

from probflow.errors import MissingDependencyError
from probflow.denoisers.discrete import DiscreteDDPM


class _UNetSample(nn.Module):
    """``unet(x, t, **model_kwargs).sample``: a diffusers model as a plain ``net(x, t) -> tensor`` whose parameters
    stay visible."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor, **model_kwargs: object) -> torch.Tensor:
        return self.unet(x, t, **model_kwargs).sample


def from_diffusers(unet: nn.Module, scheduler: Any) -> DiscreteDDPM:
    """A :class:`~probflow.denoisers.discrete.DiscreteDDPM` for a diffusers UNet trained with ``scheduler``.

    Reads ``scheduler.alphas_cumprod`` (``alpha_bar_k``, Ho et al. 2020 eq. 4) and
    ``scheduler.config.prediction_type`` (``"epsilon"``, ``"v_prediction"`` or ``"sample"``) and calls
    ``unet(x_vp, t, **model_kwargs).sample`` with the fractional timestep ``t`` of shape ``[batch]`` and the
    denoiser's ``model_kwargs``: ``encoder_hidden_states`` for a ``UNet2DConditionModel`` (text embeddings),
    ``class_labels`` for a class-conditional ``UNet2DModel``. Only the scheduler's training schedule is used; its
    sampling logic is not.
    """
    try:
        importlib.import_module("diffusers")
    except ImportError as exc:
        raise MissingDependencyError("from_diffusers needs diffusers: pip install 'probflow[diffusers]'") from exc
    return DiscreteDDPM(_UNetSample(unet), scheduler.alphas_cumprod, prediction=scheduler.config.prediction_type)

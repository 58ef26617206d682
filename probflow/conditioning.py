"""Conditioning passed to every denoiser call (``model_kwargs``, k-diffusion's ``extra_args``), and how per-sample
entries follow their samples when a batch is split.

A tensor entry whose leading dimension equals the batch size is *per sample* (class labels ``[batch]``, text
embeddings ``[batch, tokens, width]``): taking rows of the batch takes the same rows of it. Any other entry (a
scalar, a tensor shared by the whole batch, a Python value) is passed unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

ModelKwargs = Mapping[str, object]


def select_rows(model_kwargs: ModelKwargs | None, batch: int, rows: slice | torch.Tensor) -> dict[str, object] | None:
    """``model_kwargs`` for the samples ``rows`` of a batch of ``batch`` samples (module docstring)."""
    if model_kwargs is None:
        return None
    return {key: value[rows] if is_per_sample(value, batch) else value for key, value in model_kwargs.items()}


def is_per_sample(value: object, batch: int) -> bool:
    """Whether ``value`` is a per-sample entry of a batch of ``batch`` samples: a tensor of leading dimension
    ``batch``."""
    return isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == batch

"""The recipes behind ``probflow/pretrained/weights/*.safetensors``: named sets of training runs and their export.

Each recipe maps component names to a :class:`TrainConfig`; :func:`build_recipe` trains every component
(checkpointing, and resuming from the latest checkpoint of an interrupted run) and writes one weights file
via :func:`probflow.models.save_weights`, with metadata ``recipe``, ``sigma_data`` and ``training`` (the
configs as JSON).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import torch

from probflow.errors import CheckpointError, InvalidArgumentError, UnknownModelError
from probflow.files import check_output_dir, check_output_file
from probflow.models import save_weights
from probflow.training.checkpoint import model_from_checkpoint, read_checkpoint_metadata
from probflow.training.config import TrainConfig
from probflow.training.loop import train
from probflow.validation import check_int

DIGITS_SIGMA_DATA = 0.75
"""Standard deviation of the training split of :func:`probflow.data.load_digits` (pixels in [-1, 1]), 0.753,
rounded; EDM's ``sigma_data`` for the digits models (the lesson's 0.66 was Fashion-MNIST's)."""

_DIGITS_UNET = dict(channels=(32, 48, 48), num_groups=8, batch_size=128)
_DIGITS_ENCODER = dict(channels=(32, 64), num_groups=8, batch_size=128)

RECIPES: dict[str, dict[str, TrainConfig]] = {
    "digits-edm": {
        "model": TrainConfig(
            objective="edm", sigma_data=DIGITS_SIGMA_DATA, steps=2000, max_lr=1e-2, seed=0, **_DIGITS_UNET
        ),
    },
    "digits-cosine": {
        "model": TrainConfig(objective="cosine-epsilon", steps=2000, max_lr=4e-3, seed=0, **_DIGITS_UNET),
    },
    "digits-notime": {
        "eps": TrainConfig(objective="time-free-epsilon", steps=2000, max_lr=4e-3, seed=0, **_DIGITS_UNET),
        "regressor": TrainConfig(objective="noise-level", steps=1000, max_lr=1e-2, seed=0, **_DIGITS_ENCODER),
    },
    "digits-classifier": {
        "model": TrainConfig(objective="classification", steps=600, max_lr=4e-3, seed=0, **_DIGITS_ENCODER),
    },
}


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The readable checkpoint with the highest step in ``checkpoint_dir``, or ``None``.

    A newer file that is not a readable checkpoint (truncated by a crash of a probflow version that wrote in
    place, or damaged since) is passed over with a warning naming it; the resumed run replaces it when it gets
    to that step again.
    """
    for path in sorted(Path(checkpoint_dir).glob("step-*.safetensors"), reverse=True):
        try:
            read_checkpoint_metadata(path)
        except CheckpointError as exc:
            warnings.warn(f"skipping an unreadable checkpoint: {exc}", stacklevel=2)
            continue
        return path
    return None


def build_recipe(
    name: str,
    out: str | Path,
    *,
    work_dir: str | Path,
    checkpoint_every: int = 500,
    progress: bool = True,
    dtype: torch.dtype = torch.float16,
    steps: int | None = None,
) -> Path:
    """Train the components of recipe ``name`` under ``work_dir/<name>/<component>`` and write ``out``.

    ``steps`` replaces the recipe's number of optimiser steps (a quick, lower-quality model; the recorded
    ``training`` metadata says how many were taken).

    An existing checkpoint in a component's folder is resumed (a finished run is not retrained); a checkpoint of
    a different config raises :class:`~probflow.errors.CheckpointMismatchError`. Weights are stored in ``dtype``.
    An ``out`` or ``work_dir`` that cannot be written raises :class:`~probflow.errors.OutputPathError` before
    any training.
    """
    if name not in RECIPES:
        raise UnknownModelError(f"unknown recipe {name!r}; available: {', '.join(sorted(RECIPES))}")
    configs = {component: config if steps is None else dataclasses.replace(
        config, steps=check_int("steps", steps, minimum=1, error=InvalidArgumentError))
        for component, config in RECIPES[name].items()}
    check_output_file(out, "weights file")
    for component in RECIPES[name]:
        check_output_dir(Path(work_dir) / name / component, "checkpoint folder")
    models = {}
    for component, config in configs.items():
        checkpoint_dir = Path(work_dir) / name / component
        final = train(
            config,
            checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume_from=latest_checkpoint(checkpoint_dir),
            progress=progress,
        )
        models[component] = model_from_checkpoint(final)[0]
    metadata = {
        "recipe": name,
        "sigma_data": str(DIGITS_SIGMA_DATA),
        "training": json.dumps({component: config.to_dict() for component, config in configs.items()}),
    }
    return save_weights(out, models, metadata=metadata, dtype=dtype)

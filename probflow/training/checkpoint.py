"""Training checkpoints in safetensors: everything needed to continue a run bit for bit.

Tensors: ``"model.<key>"`` (the model's ``state_dict``), ``"optimizer.<i>.<key>"`` (Adam's per-parameter state,
``i`` the parameter's index), ``"history.loss"`` (the loss of every step so far). Metadata (strings):
``"format"``, ``"step"`` (steps completed), ``"config"`` (the :class:`TrainConfig` as JSON), and
``"optimizer_param_groups"`` and ``"scheduler"`` as JSON. The data order and the noise of step ``k`` are
functions of ``(seed, k)`` (see :mod:`probflow.training.loop`), so no RNG state needs saving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from probflow.errors import CheckpointError
from probflow.files import replacing
from probflow.training.config import TrainConfig, build_model

CHECKPOINT_FORMAT = "probflow-checkpoint-1"


@dataclass(frozen=True)
class TrainingState:
    """What a checkpoint restores besides the tensors loaded in place: the config, the step and the loss history."""

    config: TrainConfig
    step: int
    losses: torch.Tensor


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainingState,
) -> Path:
    """Write a checkpoint to ``path`` atomically (:func:`probflow.files.replacing`: a kill mid-write leaves the
    previous file, never a truncated one); parent folders are created. Returns ``path``."""
    tensors = {f"model.{key}": value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    for index, parameter_state in optimizer_state["state"].items():
        for key, value in parameter_state.items():
            tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
    tensors["history.loss"] = state.losses.detach().cpu().float().contiguous()
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "step": str(state.step),
        "config": json.dumps(state.config.to_dict()),
        "optimizer_param_groups": json.dumps(optimizer_state["param_groups"]),
        "scheduler": json.dumps(scheduler.state_dict()),
    }
    path = Path(path)
    with replacing(path) as temporary:
        save_file(tensors, temporary, metadata=metadata)
    return path


def read_checkpoint_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a checkpoint; raises :class:`CheckpointError` if ``path`` is not a readable probflow
    checkpoint (truncated, corrupt, or another kind of file)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except SafetensorError as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: not a probflow training checkpoint "
            f"(format {metadata.get('format')!r}, expected {CHECKPOINT_FORMAT!r})"
        )
    return metadata


def load_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> TrainingState:
    """Load the checkpoint's tensors into ``model`` (and ``optimizer``, ``scheduler`` if given) in place.

    Raises :class:`CheckpointError` naming ``path`` if it is not a readable probflow checkpoint."""
    metadata = read_checkpoint_metadata(path)
    tensors = load_file(path)  # its header was checked by read_checkpoint_metadata
    model.load_state_dict(
        {key.removeprefix("model."): value for key, value in tensors.items() if key.startswith("model.")}
    )
    if optimizer is not None:
        parameter_states: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                parameter_states.setdefault(int(index), {})[name] = value
        param_groups = json.loads(metadata["optimizer_param_groups"])
        optimizer.load_state_dict({"state": parameter_states, "param_groups": param_groups})
    if scheduler is not None:
        scheduler.load_state_dict(json.loads(metadata["scheduler"]))
    config = TrainConfig.from_dict(json.loads(metadata["config"]))
    return TrainingState(config=config, step=int(metadata["step"]), losses=tensors["history.loss"])


def model_from_checkpoint(path: str | Path) -> tuple[nn.Module, TrainConfig]:
    """The trained model of a checkpoint (eval mode) and the config it was trained with."""
    config = TrainConfig.from_dict(json.loads(read_checkpoint_metadata(path)["config"]))
    model = build_model(config)
    load_checkpoint(path, model=model)
    return model.eval(), config

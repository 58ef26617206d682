"""Model weights on disk: safetensors files that carry their own architecture, and safe ``.pt`` reading.

A weights file holds one or more named components (e.g. ``eps`` and ``regressor``). Tensor ``"<component>.<key>"``
is entry ``key`` of that component's ``state_dict``; the metadata entry ``"components"`` is JSON mapping each
component to ``{"class": <class name>, "hparams": <constructor arguments>}``, so :func:`load_weights` can
rebuild the modules without pickled code. Other metadata entries are free-form strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from probflow.errors import CheckpointError, InvalidArgumentError
from probflow.files import replacing
from probflow.loading import load_checkpoint
from probflow.models.encoders import Classifier, NoiseLevelRegressor
from probflow.models.unet import UNet

MODEL_CLASSES: dict[str, type[nn.Module]] = {cls.__name__: cls for cls in (UNet, Classifier, NoiseLevelRegressor)}


def model_spec(module: nn.Module) -> dict:
    """``{"class": name, "hparams": kwargs}`` that :func:`model_from_spec` turns back into an equal module."""
    name = type(module).__name__
    if MODEL_CLASSES.get(name) is not type(module):
        raise InvalidArgumentError(f"{name} is not a probflow model; expected one of {sorted(MODEL_CLASSES)}")
    return {"class": name, "hparams": dict(module.hparams)}


def model_from_spec(spec: dict) -> nn.Module:
    """A freshly initialised module of ``spec["class"]`` built from ``spec["hparams"]``."""
    if spec.get("class") not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model class {spec.get('class')!r}; expected one of {sorted(MODEL_CLASSES)}")
    return MODEL_CLASSES[spec["class"]](**spec["hparams"])


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The flat ``state_dict`` in a checkpoint file, read by :func:`probflow.loading.load_checkpoint` (safetensors,
    or a pickle restricted to tensors and containers, so an untrusted checkpoint cannot execute anything)."""
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"{path}: expected a flat dict of tensors (a state_dict), got {type(state).__name__}")
    return state


def save_weights(
    path: str | Path,
    components: dict[str, nn.Module],
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``components`` to ``path`` (atomically) with floating tensors stored in ``dtype``; returns ``path``."""
    tensors = {}
    for component, module in components.items():
        for key, value in module.state_dict().items():
            value = value.detach().cpu()
            tensors[f"{component}.{key}"] = (value.to(dtype) if value.is_floating_point() else value).contiguous()
    specs = {component: model_spec(module) for component, module in components.items()}
    path = Path(path)
    with replacing(path) as temporary:
        save_file(tensors, temporary, metadata={**(metadata or {}), "components": json.dumps(specs)})
    return path


def read_weights_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a file written by :func:`save_weights` (e.g. ``recipe``), without reading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if "components" not in metadata:
        raise CheckpointError(f"{path}: not a probflow weights file (no 'components' metadata entry)")
    return metadata


def load_weights(path: str | Path) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """Rebuild the components of a file written by :func:`save_weights` (float32, eval mode, no gradients).

    Returns ``(components, metadata)``.
    """
    metadata = read_weights_metadata(path)
    tensors = load_file(path)
    components = {}
    for component, spec in json.loads(metadata["components"]).items():
        module = model_from_spec(spec)
        prefix = f"{component}."
        state = {
            key[len(prefix) :]: value.float() if value.is_floating_point() else value
            for key, value in tensors.items()
            if key.startswith(prefix)
        }
        module.load_state_dict(state)
        components[component] = module.eval().requires_grad_(False)
    return components, metadata

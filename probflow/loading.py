"""Safe checkpoint loading: tensors only, never code.

A pickle is a program: unpickling can call any importable function (``os.system`` included), so an
untrusted ``.pt`` file read with plain ``torch.load`` can run code. probflow reads

* ``.safetensors`` with ``safetensors.torch.load_file``: a JSON header and raw tensor bytes, no code at all
  (the format of every shipped and saved probflow weight file);
* ``.pt``, ``.pth`` and ``.ckpt`` with ``torch.load(weights_only=True)``, whose restricted unpickler only
  rebuilds tensors and plain containers (dicts, lists, numbers, strings) and refuses every other global.

Anything else is refused with an error that names the file.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from probflow.errors import CheckpointError, MissingFileError, UnsafeCheckpointError

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt")


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Any:
    """Read the tensors of a checkpoint file, dispatching on its suffix.

    ``.safetensors`` returns ``dict[str, Tensor]``; ``.pt``/``.pth``/``.ckpt`` return whatever the
    ``weights_only`` unpickler rebuilds (typically a state dict, possibly nested). Raises
    ``FileNotFoundError``, :class:`UnsafeCheckpointError` for a pickle that would import or call anything
    else, and :class:`CheckpointError` for an unknown suffix or a corrupt file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES:
        known = ", ".join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
        raise CheckpointError(f"{path}: unknown checkpoint suffix {path.suffix!r}; expected one of {known}")
    if not path.is_file():
        raise MissingFileError(f"{path}: no such checkpoint file")
    if suffix in SAFETENSORS_SUFFIXES:
        try:
            return load_file(path, device=str(map_location))
        except SafetensorError as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path}: refused to unpickle: the file needs objects beyond tensors and plain containers, "
            f"which could execute code. Convert it to .safetensors, or load it with torch.load only if you "
            f"trust its source. ({str(exc).strip().splitlines()[0]})"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc})") from exc

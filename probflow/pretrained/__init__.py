"""Weights that ship with probflow, trained on the 8x8 digits (see README.md in this folder for how each file
was made and the exact command that reproduces it). Nothing is downloaded: the files live in ``weights/``.

- ``"digits-edm"``: ``EDMPrecond(UNet, sigma_data)`` (Karras et al. 2022, Table 1 "Ours").
- ``"digits-cosine"``: ``ContinuousDDPM.cosine(UNet, prediction="epsilon")`` (the lesson's 22_cosine model).
- ``"digits-notime"``: ``TimeFreeEpsilon(UNet)``; its :class:`~probflow.denoisers.NoiseLevelPredictor` is the
  attribute ``noise_level`` (the lesson's 22_noise-pred pair).
- ``"digits-classifier"``: a :class:`~probflow.models.Classifier`, the FID/KID feature extractor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from probflow.errors import CheckpointError, MissingFileError, UnknownModelError
from probflow.denoisers import ContinuousDDPM, EDMPrecond, NoiseLevelPredictor, TimeFreeEpsilon
from probflow.models import load_weights, read_weights_metadata
from probflow.pretrained.denoiser import PretrainedDenoiser

WEIGHTS_DIR = Path(__file__).parent / "weights"

DIGITS_SHAPE = (1, 8, 8)

#: ``(weights path, label) -> model``.
Loader = Callable[[Path, str], nn.Module]


def _digits_denoiser(wrap: Callable[[dict[str, nn.Module], float], nn.Module]) -> Loader:
    def build(path: Path, label: str) -> PretrainedDenoiser:
        components, metadata = load_weights(path)
        sigma_data = float(metadata["sigma_data"])
        noise_level = NoiseLevelPredictor(components["regressor"]) if "regressor" in components else None
        return PretrainedDenoiser(
            wrap(components, sigma_data), name=label, shape=DIGITS_SHAPE, sigma_data=sigma_data, noise_level=noise_level
        )

    return build


def _classifier(path: Path, label: str) -> nn.Module:
    components, _ = load_weights(path)
    return components["model"]


#: Recipe -> how its weights file becomes a model: the same for a shipped file and one ``probflow train`` wrote.
_LOADERS: dict[str, Loader] = {
    "digits-edm": _digits_denoiser(lambda parts, sigma_data: EDMPrecond(parts["model"], sigma_data)),
    "digits-cosine": _digits_denoiser(lambda parts, _: ContinuousDDPM.cosine(parts["model"], prediction="epsilon")),
    "digits-notime": _digits_denoiser(lambda parts, _: TimeFreeEpsilon(parts["eps"])),
    "digits-classifier": _classifier,
}


def available() -> list[str]:
    """The shipped names :func:`load` accepts (it also takes the path of a file that ``probflow train`` wrote)."""
    return sorted(_LOADERS)


def weights_path(name: str) -> Path:
    """The shipped safetensors file of ``name``."""
    _check_name(name)
    return WEIGHTS_DIR / f"{name}.safetensors"


def _check_name(name: str) -> None:
    if name not in _LOADERS:
        raise UnknownModelError(f"unknown pretrained model {name!r}; available: {', '.join(available())} (or the "
                                f"path of a .safetensors file written by probflow train)")


def is_weights_file(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a weights file rather than a shipped model."""
    return Path(name_or_path).suffix == ".safetensors" or Path(name_or_path).is_file()


def load(name_or_path: str | Path) -> nn.Module:
    """A shipped model by name, or a model from a ``.safetensors`` file that ``probflow train`` wrote (its recipe is
    in the file's metadata), in eval mode with gradients off, on the CPU in float32.

    Denoisers come back as :class:`PretrainedDenoiser` (callable ``D(x, sigma)``, with ``.shape`` and
    ``.sigma_data``); ``"digits-classifier"`` as the :class:`~probflow.models.Classifier` itself.
    """
    if is_weights_file(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise MissingFileError(f"{path}: no such weights file")
        recipe = read_weights_metadata(path).get("recipe")
        if recipe not in _LOADERS:
            raise CheckpointError(f"{path}: its metadata names no known recipe (recipe={recipe!r}); probflow train "
                                  f"writes one of {', '.join(available())}")
        return _LOADERS[recipe](path, path.stem)
    path = weights_path(str(name_or_path))
    if not path.is_file():
        raise MissingFileError(f"the weights of {name_or_path!r} are missing from {path}; rebuild them with "
                                f"`python -m probflow.training {name_or_path} --out {path}`")
    return _LOADERS[str(name_or_path)](path, str(name_or_path))


__all__ = ["DIGITS_SHAPE", "WEIGHTS_DIR", "PretrainedDenoiser", "available", "is_weights_file", "load", "weights_path"]

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

from probflow.errors import MissingFileError, UnknownModelError
from probflow.denoisers import ContinuousDDPM, EDMPrecond, NoiseLevelPredictor, TimeFreeEpsilon
from probflow.models import load_weights
from probflow.pretrained.denoiser import PretrainedDenoiser

WEIGHTS_DIR = Path(__file__).parent / "weights"

DIGITS_SHAPE = (1, 8, 8)


def _digits_denoiser(name: str, wrap: Callable[[dict[str, nn.Module], float], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> PretrainedDenoiser:
        components, metadata = load_weights(weights_path(name))
        sigma_data = float(metadata["sigma_data"])
        noise_level = NoiseLevelPredictor(components["regressor"]) if "regressor" in components else None
        return PretrainedDenoiser(
            wrap(components, sigma_data), name=name, shape=DIGITS_SHAPE, sigma_data=sigma_data, noise_level=noise_level
        )

    return build


def _classifier() -> nn.Module:
    components, _ = load_weights(weights_path("digits-classifier"))
    return components["model"]


_LOADERS: dict[str, Callable[[], nn.Module]] = {
    "digits-edm": _digits_denoiser("digits-edm", lambda parts, sigma_data: EDMPrecond(parts["model"], sigma_data)),
    "digits-cosine": _digits_denoiser(
        "digits-cosine", lambda parts, _: ContinuousDDPM.cosine(parts["model"], prediction="epsilon")
    ),
    "digits-notime": _digits_denoiser("digits-notime", lambda parts, _: TimeFreeEpsilon(parts["eps"])),
    "digits-classifier": _classifier,
}


def available() -> list[str]:
    """The names :func:`load` accepts."""
    return sorted(_LOADERS)


def weights_path(name: str) -> Path:
    """The shipped safetensors file of ``name``."""
    _check_name(name)
    return WEIGHTS_DIR / f"{name}.safetensors"


def _check_name(name: str) -> None:
    if name not in _LOADERS:
        raise UnknownModelError(f"unknown pretrained model {name!r}; available: {', '.join(available())}")


def load(name: str) -> nn.Module:
    """The shipped model ``name``, in eval mode with gradients off, on the CPU in float32.

    Denoisers come back as :class:`PretrainedDenoiser` (callable ``D(x, sigma)``, with ``.shape`` and
    ``.sigma_data``); ``"digits-classifier"`` as the :class:`~probflow.models.Classifier` itself.
    """
    path = weights_path(name)
    if not path.is_file():
        raise MissingFileError(f"the weights of {name!r} are missing from {path}; rebuild them with "
                                f"`python -m probflow.training {name} --out {path}`")
    return _LOADERS[name]()


__all__ = ["DIGITS_SHAPE", "WEIGHTS_DIR", "PretrainedDenoiser", "available", "load", "weights_path"]

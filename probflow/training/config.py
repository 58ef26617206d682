"""What a training run trains: the configuration, and the model, data and loss it implies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from probflow.errors import InvalidArgumentError
from probflow.data import load_digits, load_fashion_mnist
from probflow.denoisers import EDMPrecond
from probflow.models import Classifier, NoiseLevelRegressor, UNet
from probflow.training.edm_loss import EDMLoss
from probflow.training.vp_losses import CosineEpsilonLoss, NoiseLevelLoss

Objective = Literal["edm", "cosine-epsilon", "time-free-epsilon", "noise-level", "classification"]
OBJECTIVES: tuple[str, ...] = ("edm", "cosine-epsilon", "time-free-epsilon", "noise-level", "classification")
DATASETS: tuple[str, ...] = ("digits", "fashion-mnist")

LossFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights (a resumed run must match it exactly).

    Objectives and the network each trains:

    - ``"edm"``: :class:`~probflow.training.edm_loss.EDMLoss` on ``EDMPrecond(UNet, sigma_data)``.
    - ``"cosine-epsilon"`` / ``"time-free-epsilon"``: :class:`~probflow.training.vp_losses.CosineEpsilonLoss`
      on a :class:`~probflow.models.UNet` with / without its time input.
    - ``"noise-level"``: :class:`~probflow.training.vp_losses.NoiseLevelLoss` on a
      :class:`~probflow.models.NoiseLevelRegressor`.
    - ``"classification"``: cross-entropy on a :class:`~probflow.models.Classifier`.

    ``dataset`` is ``"digits"`` (the training split of :func:`probflow.data.load_digits`) or ``"fashion-mnist"``
    (IDX files in ``data_root``, scaled to ``data_scale``). Optimisation follows the lesson: Adam with
    ``adam_eps``, a one-cycle learning rate peaking at ``max_lr`` (Smith & Topin 2017; torch's ``OneCycleLR``)
    over ``steps`` minibatches of ``batch_size``; the last incomplete batch of each epoch is dropped.
    """

    objective: Objective
    dataset: str = "digits"
    data_root: str | None = None
    data_scale: tuple[float, float] = (-1.0, 1.0)
    channels: tuple[int, ...] = (32, 64, 64)
    num_groups: int = 8
    blocks_per_level: int = 1
    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    steps: int = 2000
    batch_size: int = 128
    max_lr: float = 4e-3
    adam_eps: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InvalidArgumentError(f"unknown objective {self.objective!r}; expected one of {list(OBJECTIVES)}")
        if self.dataset not in DATASETS:
            raise InvalidArgumentError(f"unknown dataset {self.dataset!r}; expected one of {list(DATASETS)}")
        if self.dataset == "fashion-mnist" and self.data_root is None:
            raise InvalidArgumentError("dataset 'fashion-mnist' needs data_root, the folder holding its IDX files")
        if self.steps < 1 or self.batch_size < 1:
            raise InvalidArgumentError(f"steps and batch_size must be positive, got {self.steps} and {self.batch_size}")
        # JSON round trips turn tuples into lists; normalise so that equal configs compare equal.
        object.__setattr__(self, "channels", tuple(int(width) for width in self.channels))
        object.__setattr__(self, "data_scale", tuple(float(bound) for bound in self.data_scale))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        return cls(**values)


def build_model(config: TrainConfig) -> nn.Module:
    """The freshly initialised network that ``config.objective`` trains (uses the global RNG)."""
    if config.objective == "noise-level":
        return NoiseLevelRegressor(channels=config.channels, num_groups=config.num_groups)
    if config.objective == "classification":
        return Classifier(channels=config.channels, num_groups=config.num_groups)
    return UNet(channels=config.channels, num_groups=config.num_groups, blocks_per_level=config.blocks_per_level)


def load_training_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of the training split of ``config.dataset``."""
    if config.dataset == "digits":
        return load_digits("train")
    return load_fashion_mnist(config.data_root, "train", scale=config.data_scale)


def loss_function(config: TrainConfig) -> LossFunction:
    """``loss(model, images, labels)`` for ``config.objective``; randomness comes from the global RNG."""
    if config.objective == "edm":
        edm = EDMLoss(config.sigma_data, config.p_mean, config.p_std)
        return lambda model, images, labels: edm(EDMPrecond(model, config.sigma_data), images)
    if config.objective in ("cosine-epsilon", "time-free-epsilon"):
        cosine = CosineEpsilonLoss(time_input=config.objective == "cosine-epsilon")
        return lambda model, images, labels: cosine(model, images)
    if config.objective == "noise-level":
        return lambda model, images, labels: NoiseLevelLoss()(model, images)
    return lambda model, images, labels: F.cross_entropy(model(images), labels)

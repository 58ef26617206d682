"""Training the denoisers, classifier and noise-level regressor that probflow ships or that users train."""

from probflow.training.checkpoint import (
    TrainingState,
    load_checkpoint,
    model_from_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
)
from probflow.training.config import OBJECTIVES, TrainConfig, build_model, load_training_data, loss_function
from probflow.training.edm_loss import EDMLoss
from probflow.training.loop import build_optimisation, checkpoint_path, epoch_order, train
from probflow.training.vp_losses import CosineEpsilonLoss, NoiseLevelLoss, vp_noisy

__all__ = [
    "OBJECTIVES",
    "CosineEpsilonLoss",
    "EDMLoss",
    "NoiseLevelLoss",
    "TrainConfig",
    "TrainingState",
    "build_model",
    "build_optimisation",
    "checkpoint_path",
    "epoch_order",
    "load_checkpoint",
    "load_training_data",
    "loss_function",
    "model_from_checkpoint",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "train",
    "vp_noisy",
]

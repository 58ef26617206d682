"""Pure-torch networks for small images: a noise-conditioned UNet, a classifier and a noise-level regressor."""

from probflow.models.blocks import ResBlock
from probflow.models.embedding import SinusoidalEmbedding
from probflow.models.encoders import Classifier, NoiseLevelRegressor, ResNetEncoder
from probflow.models.serialization import (
    load_weights, model_from_spec, model_spec, read_state_dict, read_weights_metadata, save_weights,
)
from probflow.models.unet import UNet

__all__ = [
    "Classifier",
    "NoiseLevelRegressor",
    "ResBlock",
    "ResNetEncoder",
    "SinusoidalEmbedding",
    "UNet",
    "load_weights",
    "model_from_spec",
    "model_spec",
    "read_state_dict",
    "read_weights_metadata",
    "save_weights",
]

"""Denoisers ``D(x, sigma) -> x0_hat``: adapters from network parameterisations, and exact ground truth."""

from probflow.denoisers.analytic import AnalyticDenoiser, Empirical, Gaussian, GaussianMixture
from probflow.denoisers.base import Denoiser, batch_sigma, broadcast_sigma
from probflow.denoisers.diffusers import from_diffusers
from probflow.denoisers.discrete import (
    ContinuousDDPM,
    DiscreteDDPM,
    VPTimestepModel,
    cosine_alpha_bar,
    cosine_alpha_bar_inverse,
)
from probflow.denoisers.guidance import ClassifierFreeGuidance
from probflow.denoisers.noise_level import NoiseLevelDenoiser, NoiseLevelPredictor, TimeFreeEpsilon
from probflow.denoisers.precond import Coefficients, EDMPrecond, IDDPMPrecond, Preconditioning, VEPrecond, VPPrecond
from probflow.denoisers.prediction import EpsilonPrediction, ScorePrediction, VPrediction, X0Prediction
from probflow.denoisers.scalings import PREDICTION_TYPES

__all__ = [
    "PREDICTION_TYPES",
    "AnalyticDenoiser",
    "ClassifierFreeGuidance",
    "Coefficients",
    "ContinuousDDPM",
    "Denoiser",
    "DiscreteDDPM",
    "EDMPrecond",
    "Empirical",
    "EpsilonPrediction",
    "Gaussian",
    "GaussianMixture",
    "IDDPMPrecond",
    "NoiseLevelDenoiser",
    "NoiseLevelPredictor",
    "Preconditioning",
    "ScorePrediction",
    "TimeFreeEpsilon",
    "VEPrecond",
    "VPPrecond",
    "VPTimestepModel",
    "VPrediction",
    "X0Prediction",
    "batch_sigma",
    "broadcast_sigma",
    "cosine_alpha_bar",
    "cosine_alpha_bar_inverse",
    "from_diffusers",
]

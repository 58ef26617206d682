"""Adapters from the common network prediction targets to a denoiser ``D(x, sigma)``.

Each wraps ``model(x_in, sigma)`` (``sigma`` of shape ``[batch]``) trained in the variance-exploding
convention ``x = y + sigma n``, and is a row of :class:`~probflow.denoisers.precond.Preconditioning`
with ``c_noise = sigma``.
"""

from __future__ import annotations

import torch

from probflow.denoisers.precond import Coefficients, Network, Preconditioning
from probflow.denoisers.scalings import output_scalings, sigma_data_scalings


class EpsilonPrediction(Preconditioning):
    """Noise prediction (Ho et al. 2020): ``D = x - sigma eps_hat`` with ``eps_hat = model(x, sigma)``
    (EDM eq. 3 with the score ``-eps / sigma``)."""

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        c_skip, c_out = output_scalings("epsilon", sigma)
        return Coefficients(c_skip, c_out, 1.0, sigma)


class X0Prediction(Preconditioning):
    """Clean-data prediction: ``D = model(x, sigma)``."""

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        c_skip, c_out = output_scalings("sample", sigma)
        return Coefficients(c_skip, c_out, 1.0, sigma)


class ScorePrediction(Preconditioning):
    """Score prediction: ``model`` returns ``grad_x log p(x; sigma)`` and ``D = x + sigma^2 score``
    (Tweedie's formula; EDM eq. 3)."""

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        return Coefficients(1.0, sigma**2, 1.0, sigma)


class VPrediction(Preconditioning):
    """v-prediction in sigma form (Salimans & Ho 2022, sec. 4).

    ``D = c_skip x + c_out model(c_in x, sigma)`` with ``c_skip = sd^2 / (sigma^2 + sd^2)``,
    ``c_out = -sigma sd / sqrt(sigma^2 + sd^2)``, ``c_in = 1 / sqrt(sigma^2 + sd^2)``, ``sd = sigma_data``.
    With ``sigma_data = 1`` this is the VP ``v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0``.
    """

    def __init__(self, model: Network, sigma_data: float = 1.0) -> None:
        super().__init__(model)
        self.sigma_data = sigma_data

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        c_skip, c_out, c_in = sigma_data_scalings(sigma, self.sigma_data)
        # EDM's network target F is -v, so v-prediction is EDM's row with c_out negated.
        return Coefficients(c_skip, -c_out, c_in, sigma)

"""Scaling coefficients shared by the adapters: how a network output becomes ``D(x, sigma)``.

Every adapter in this package writes the denoiser as ``D = c_skip * x + c_out * F`` where ``F`` is the
network output (Karras et al. 2022, "EDM", eq. 7). The functions here give the coefficients for each
prediction target, as functions of ``sigma`` (any shape, any floating dtype) in the variance-exploding
convention ``x = y + sigma * n``.
"""

from __future__ import annotations

import torch

from probflow.errors import DenoiserConfigError

PREDICTION_TYPES: tuple[str, ...] = ("epsilon", "sample", "v_prediction")
"""Prediction targets of discrete/continuous-time VP models, named as in diffusers' ``prediction_type``."""


def sigma_data_scalings(
    sigma: torch.Tensor, sigma_data: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EDM preconditioning (EDM Table 1, "Ours"; eqs. 7 and 114-117), returned as ``(c_skip, c_out, c_in)``.

    ``c_skip = sd^2 / (sigma^2 + sd^2)``, ``c_out = sigma * sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1 / sqrt(sigma^2 + sd^2)`` with ``sd = sigma_data``: the network input and its training
    target both have unit variance when the data has standard deviation ``sd``.
    """
    total = sigma**2 + sigma_data**2
    return sigma_data**2 / total, sigma * sigma_data / total.sqrt(), total.rsqrt()


def vp_input_scaling(sigma: torch.Tensor) -> torch.Tensor:
    """``1 / sqrt(1 + sigma^2)``: maps the VE sample ``x = y + sigma n`` to the VP sample
    ``x_vp = sqrt(alpha_bar) y + sqrt(1 - alpha_bar) n`` with ``alpha_bar = 1 / (1 + sigma^2)``
    (Song et al. 2021; EDM eq. 4 with the VP scaling ``s = 1 / sqrt(1 + sigma^2)`` of Table 1)."""
    return (1 + sigma**2).rsqrt()


def output_scalings(prediction: str, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out)`` turning a VP model's output into ``D = c_skip * x + c_out * F``.

    - ``"epsilon"`` (Ho et al. 2020): ``F = eps_hat``, ``D = x - sigma * eps_hat`` (EDM eq. 3 with the score
      ``-eps / sigma``).
    - ``"sample"``: ``F = x0_hat``, ``D = x0_hat``.
    - ``"v_prediction"`` (Salimans & Ho 2022, sec. 4): ``v = sqrt(a) eps - sqrt(1 - a) x0``
      with ``a = alpha_bar = 1 / (1 + sigma^2)`` gives ``x0 = sqrt(a) x_vp - sqrt(1 - a) v``, i.e.
      ``D = x / (1 + sigma^2) - sigma / sqrt(1 + sigma^2) * v``: the EDM coefficients with
      ``sigma_data = 1`` and ``c_out`` negated.
    """
    check_prediction_type(prediction)
    if prediction == "epsilon":
        return torch.ones_like(sigma), -sigma
    if prediction == "sample":
        return torch.zeros_like(sigma), torch.ones_like(sigma)
    c_skip, c_out, _ = sigma_data_scalings(sigma, sigma_data=1.0)
    return c_skip, -c_out


def check_prediction_type(prediction: str) -> None:
    """Raise ``ValueError`` naming the accepted values when ``prediction`` is not in :data:`PREDICTION_TYPES`."""
    if prediction not in PREDICTION_TYPES:
        expected = ", ".join(repr(name) for name in PREDICTION_TYPES)
        raise DenoiserConfigError(f"unknown prediction type {prediction!r}; expected one of {expected}")

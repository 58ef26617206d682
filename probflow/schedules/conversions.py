"""Conversions between sigma, alpha-bar and log-SNR.

A variance-preserving sample ``x_t = sqrt(abar) x0 + sqrt(1 - abar) eps`` divided by ``sqrt(abar)`` is
the variance-exploding sample ``x = x0 + sigma eps`` with ``sigma^2 = (1 - abar) / abar``
(Karras et al. 2022, EDM Table 1, VP row: ``s(t) = 1 / sqrt(1 + sigma(t)^2)``). The signal-to-noise
ratio is ``SNR = abar / (1 - abar) = 1 / sigma^2`` and the log-SNR ``lambda = log SNR``, so that
``abar = sigmoid(lambda)`` (Kingma et al. 2021, "Variational Diffusion Models", Sec. 2).

All functions are elementwise. A floating tensor keeps its dtype and device; anything else becomes a
float64 tensor. They do not check their domain (sigma >= 0, abar in [0, 1]): the boundaries map to
IEEE infinities (sigma = 0 <-> abar = 1 <-> lambda = +inf), and values outside the domain give NaN.
"""

from __future__ import annotations

import torch


def _as_float_tensor(values: torch.Tensor | float) -> torch.Tensor:
    if isinstance(values, torch.Tensor) and values.is_floating_point():
        return values
    return torch.as_tensor(values, dtype=torch.float64)


def sigma_to_alpha_bar(sigma: torch.Tensor | float) -> torch.Tensor:
    """``abar = 1 / (1 + sigma^2)``."""
    sigma = _as_float_tensor(sigma)
    return 1.0 / (1.0 + sigma.square())


def alpha_bar_to_sigma(alpha_bar: torch.Tensor | float) -> torch.Tensor:
    """``sigma = sqrt((1 - abar) / abar)``."""
    alpha_bar = _as_float_tensor(alpha_bar)
    return torch.sqrt((1.0 - alpha_bar) / alpha_bar)


def sigma_to_log_snr(sigma: torch.Tensor | float) -> torch.Tensor:
    """``lambda = log(1 / sigma^2) = -2 log sigma``."""
    return -2.0 * torch.log(_as_float_tensor(sigma))


def log_snr_to_sigma(log_snr: torch.Tensor | float) -> torch.Tensor:
    """``sigma = exp(-lambda / 2)``."""
    return torch.exp(-0.5 * _as_float_tensor(log_snr))


def alpha_bar_to_log_snr(alpha_bar: torch.Tensor | float) -> torch.Tensor:
    """``lambda = log(abar / (1 - abar))``, as ``log abar - log1p(-abar)`` to keep precision near abar = 0."""
    alpha_bar = _as_float_tensor(alpha_bar)
    return torch.log(alpha_bar) - torch.log1p(-alpha_bar)


def log_snr_to_alpha_bar(log_snr: torch.Tensor | float) -> torch.Tensor:
    """``abar = 1 / (1 + exp(-lambda)) = sigmoid(lambda)``, the inverse of :func:`alpha_bar_to_log_snr`."""
    return torch.sigmoid(_as_float_tensor(log_snr))

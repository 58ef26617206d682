"""Noise schedules: descending float64 sigma grids that end in 0, and conversions between noise scales.

Every schedule returns a grid that passes :func:`validate_sigmas`; a bad parameter raises
:class:`probflow.errors.SigmaGridError` naming the parameter and its value.
"""

from probflow.schedules.chen import chen, chen_between, gamma_cosine, gamma_linear, gamma_sigmoid, gamma_to_sigma
from probflow.schedules.conversions import (
    alpha_bar_to_log_snr,
    alpha_bar_to_sigma,
    log_snr_to_alpha_bar,
    log_snr_to_sigma,
    sigma_to_alpha_bar,
    sigma_to_log_snr,
)
from probflow.schedules.ddpm import cosine_alphas_cumprod, ddpm_sigmas, linear_beta_alphas_cumprod
from probflow.schedules.piecewise import piecewise_geometric
from probflow.schedules.registry import SCHEDULES
from probflow.schedules.sigma_grids import exponential, karras, linear, polyexponential
from probflow.validation import validate_sigmas
from probflow.schedules.vp import vp, vp_between

__all__ = [
    "SCHEDULES",
    "alpha_bar_to_log_snr",
    "alpha_bar_to_sigma",
    "chen",
    "chen_between",
    "cosine_alphas_cumprod",
    "ddpm_sigmas",
    "exponential",
    "gamma_cosine",
    "gamma_linear",
    "gamma_sigmoid",
    "gamma_to_sigma",
    "karras",
    "linear",
    "linear_beta_alphas_cumprod",
    "log_snr_to_alpha_bar",
    "log_snr_to_sigma",
    "piecewise_geometric",
    "polyexponential",
    "sigma_to_alpha_bar",
    "sigma_to_log_snr",
    "validate_sigmas",
    "vp",
    "vp_between",
]

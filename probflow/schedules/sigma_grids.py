"""Sigma grids that run from ``sigma_max`` down to ``sigma_min``, then 0.

Each grid is ``n`` values at the fractions ``r_i = i / (n - 1)``, ``i = 0 .. n-1`` (``r_0 = 0`` when
``n = 1``, so a one-step grid is ``[sigma_max, 0]``), followed by a trailing 0 unless
``append_zero=False`` (the k-diffusion convention: the last step denoises to sigma = 0). The first value
is exactly ``sigma_max`` and the last before the 0 exactly ``sigma_min``.
"""

from __future__ import annotations

import math

import torch

from probflow.errors import SigmaGridError
from probflow.validation import check_int, check_positive, check_sigma_range
from probflow.schedules.finishing import finish_range_grid


def _fractions(n: int) -> torch.Tensor:
    """``r_i = i / (n - 1)`` for ``i = 0 .. n-1`` in float64; ``[0]`` when ``n = 1``."""
    return torch.linspace(0.0, 1.0, n, dtype=torch.float64)


def karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, *, append_zero: bool = True) -> torch.Tensor:
    """Karras et al. (2022, EDM) eq. 5: ``sigma_i = (s_max^(1/rho) + r_i (s_min^(1/rho) - s_max^(1/rho)))^rho``.

    Uniform in ``sigma^(1/rho)``; ``rho = 7`` (the EDM default) spends more steps near ``sigma_min``,
    ``rho = 1`` is :func:`linear`. Returns ``n + 1`` values (``n`` with ``append_zero=False``).

    Evaluated as ``sigma_i = s_max (1 + r_i expm1(log(s_min / s_max) / rho))^rho`` (the same expression divided
    by ``s_max``), which cannot overflow: ``s_max^(1/rho)`` itself overflows for a small ``rho``.
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    rho = check_positive("rho", rho, error=SigmaGridError)
    shrink = math.expm1(math.log(sigma_min / sigma_max) / rho)
    sigmas = sigma_max * torch.exp(rho * torch.log1p(_fractions(n) * shrink))
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="karras")


def exponential(n: int, sigma_min: float, sigma_max: float, *, append_zero: bool = True) -> torch.Tensor:
    """Log-uniform grid: ``log sigma_i = log s_max + r_i (log s_min - log s_max)``.

    Equivalently ``sigma_i = s_max (s_min / s_max)^(r_i)``, a geometric sequence (k-diffusion's
    ``get_sigmas_exponential``; uniform steps in log-SNR ``= -2 log sigma``).
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    log_max, log_min = math.log(sigma_max), math.log(sigma_min)
    sigmas = torch.exp(log_max + _fractions(n) * (log_min - log_max))
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="exponential")


def polyexponential(
    n: int, sigma_min: float, sigma_max: float, rho: float = 1.0, *, append_zero: bool = True
) -> torch.Tensor:
    """Polynomial ramp in log sigma: ``log sigma_i = log s_min + (1 - r_i)^rho (log s_max - log s_min)``.

    The ramp ``1 - r_i`` runs from 1 at ``sigma_max`` to 0 at ``sigma_min`` and is raised to ``rho``; this
    is the convention of k-diffusion's ``get_sigmas_polyexponential`` (ramp ``linspace(1, 0, n) ** rho``).
    Since ``(1 - r)^rho <= 1 - r`` for ``rho >= 1``, a larger ``rho`` drops log sigma faster at the start
    and spends more steps near ``sigma_min``. (The other direction, ``log s_max + r_i^rho (log s_min -
    log s_max)``, would do the opposite; both reduce to :func:`exponential` at ``rho = 1``.)
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    rho = check_positive("rho", rho, error=SigmaGridError)
    log_max, log_min = math.log(sigma_max), math.log(sigma_min)
    ramp = (1.0 - _fractions(n)) ** rho
    sigmas = torch.exp(log_min + ramp * (log_max - log_min))
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="polyexponential")


def linear(n: int, sigma_min: float, sigma_max: float, *, append_zero: bool = True) -> torch.Tensor:
    """Uniform in sigma: ``sigma_i = s_max + r_i (s_min - s_max)`` (EDM eq. 5 with ``rho = 1``)."""
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    sigmas = sigma_max + _fractions(n) * (sigma_min - sigma_max)
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="linear")

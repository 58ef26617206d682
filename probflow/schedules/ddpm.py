"""Discrete DDPM training schedules (alpha-bar over T timesteps) and the sigma grid they induce.

A discrete-time model trained on ``x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps``, ``k = 0 .. T-1``, sees
the VE noise level ``sigma_k = sqrt((1 - abar_k) / abar_k)`` (see :mod:`probflow.schedules.conversions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from probflow.errors import SigmaGridError
from probflow.validation import check_int, check_nonnegative, check_open_unit, check_values_within
from probflow.schedules.finishing import finish_grid
from probflow.schedules.conversions import alpha_bar_to_sigma


def linear_beta_alphas_cumprod(
    num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> torch.Tensor:
    """``abar_k = prod_{j=0}^{k} (1 - beta_j)`` with ``beta_j`` linear from ``beta_start`` to ``beta_end``.

    Ho et al. (2020), "Denoising Diffusion Probabilistic Models", Sec. 4: ``T = 1000``, betas linear from
    1e-4 to 0.02. Returns the float64 ``abar_k`` for ``k = 0 .. T-1``.
    """
    num_train_timesteps = check_int("num_train_timesteps", num_train_timesteps, minimum=1, error=SigmaGridError)
    beta_start = check_open_unit("beta_start", beta_start, error=SigmaGridError)
    beta_end = check_open_unit("beta_end", beta_end, error=SigmaGridError)
    betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def cosine_alphas_cumprod(num_train_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal (2021), "Improved DDPM", eq. 17, with betas clipped at ``max_beta``.

    ``f(t) = cos^2(pi/2 (t/T + s) / (1 + s))`` and ``abar(t) = f(t) / f(0)``. The betas
    ``beta_t = min(1 - abar(t) / abar(t-1), max_beta)``, ``t = 1 .. T``, are clipped (0.999 in the paper)
    to avoid the singularity at ``t = T``; the returned ``abar_k = prod_{t=1}^{k+1} (1 - beta_t)``,
    ``k = 0 .. T-1``, equals ``f(k+1) / f(0)`` wherever no clipping occurred.
    """
    num_train_timesteps = check_int("num_train_timesteps", num_train_timesteps, minimum=1, error=SigmaGridError)
    s = check_nonnegative("s", s, error=SigmaGridError)
    max_beta = check_open_unit("max_beta", max_beta, error=SigmaGridError)
    times = torch.arange(num_train_timesteps + 1, dtype=torch.float64) / num_train_timesteps
    f = torch.cos((times + s) / (1.0 + s) * (math.pi / 2)).square()
    betas = (1.0 - f[1:] / f[:-1]).clamp(max=max_beta)
    return torch.cumprod(1.0 - betas, dim=0)


def ddpm_sigmas(alphas_cumprod: torch.Tensor | Sequence[float], n: int, *, append_zero: bool = True) -> torch.Tensor:
    """``sigma_k = sqrt((1 - abar_k) / abar_k)`` at ``n`` timesteps evenly spaced from ``T - 1`` down to 0, then 0.

    The timesteps are ``k_i = floor((T - 1)(n - 1 - i) / (n - 1) + 1/2)``, ``i = 0 .. n-1``: the
    "linspace" spacing of Lin et al. (2024), "Common Diffusion Noise Schedules and Sample Steps are
    Flawed", Table 2, rounded to the nearest integer with ties up. It starts at the last training
    timestep ``T - 1`` and ends at 0 (``n = 1`` gives ``T - 1`` alone). ``n`` may not exceed ``T``, so
    that the rounded timesteps are distinct. ``alphas_cumprod`` must lie in (0, 1).
    """
    alpha_bars = check_values_within("alphas_cumprod", alphas_cumprod, 0.0, 1.0, closed=False, error=SigmaGridError)
    if alpha_bars.ndim != 1 or alpha_bars.numel() == 0:
        raise SigmaGridError(f"alphas_cumprod must be a non-empty 1-D sequence, got shape {tuple(alpha_bars.shape)}")
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    num_train_timesteps = alpha_bars.numel()
    if n > num_train_timesteps:
        raise SigmaGridError(f"n must be <= len(alphas_cumprod) = {num_train_timesteps}, got n={n}")
    if n == 1:
        timesteps = torch.tensor([num_train_timesteps - 1])
    else:
        # integer arithmetic, so that ties (k_i exactly halfway) round the same way on every platform
        steps_to_end = torch.arange(n - 1, -1, -1)
        timesteps = (2 * (num_train_timesteps - 1) * steps_to_end + (n - 1)) // (2 * (n - 1))
    return finish_grid(alpha_bar_to_sigma(alpha_bars[timesteps]), append_zero=append_zero, context="ddpm_sigmas")

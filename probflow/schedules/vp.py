"""The variance-preserving (VP) schedule of Song et al. (2021), as written in EDM Table 1.

``sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1)``, the VP-SDE with the linear
``beta(t) = beta_min + beta_d t`` (Song et al. 2021, "Score-based generative modeling through SDEs"),
in the form of Karras et al. 2022, EDM Table 1 (VP row, ``sigma(t)``). With
``L(t) = log(1 + sigma(t)^2) = beta_d t^2 / 2 + beta_min t``, sigma is positive and increasing on
``[eps_s, 1]`` iff ``L(eps_s) > 0`` and ``L'(t) = beta_d t + beta_min > 0`` at both ends (``L'`` is linear).
"""

from __future__ import annotations

import math

import torch

from probflow.errors import SigmaGridError
from probflow.validation import check_int, check_open_unit, check_real, check_sigma_range
from probflow.schedules.finishing import finish_grid, finish_range_grid


def _vp_sigma(t: torch.Tensor, beta_d: float, beta_min: float) -> torch.Tensor:
    """``sqrt(expm1(L(t)))``: expm1 keeps sigma accurate where ``L(t)`` is tiny (t near 0)."""
    return torch.sqrt(torch.expm1(0.5 * beta_d * t.square() + beta_min * t))


def _check_vp_parameters(beta_d: object, beta_min: object, eps_s: object) -> tuple[float, float, float]:
    beta_d = check_real("beta_d", beta_d, error=SigmaGridError)
    beta_min = check_real("beta_min", beta_min, error=SigmaGridError)
    eps_s = check_open_unit("eps_s", eps_s, error=SigmaGridError)
    log_variance_at_eps = 0.5 * beta_d * eps_s**2 + beta_min * eps_s
    if log_variance_at_eps <= 0 or beta_d * eps_s + beta_min <= 0 or beta_d + beta_min <= 0:
        raise SigmaGridError(
            f"vp: beta_d={beta_d}, beta_min={beta_min}, eps_s={eps_s} do not give a positive, increasing sigma(t) "
            "on [eps_s, 1]; need beta_d*eps_s^2/2 + beta_min*eps_s > 0 and beta_d*t + beta_min > 0 at t = eps_s, 1"
        )
    return beta_d, beta_min, eps_s


def vp(
    n: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3, *, append_zero: bool = True
) -> torch.Tensor:
    """``sigma(t_i)`` at ``t_i = linspace(1, eps_s, n)``, then 0 (EDM Table 1 VP; k-diffusion ``get_sigmas_vp``).

    Defaults are the VP-SDE of Song et al. (2021): ``beta_min = 0.1``, ``beta_d = 19.9`` (``beta_max = 20``),
    ``eps_s = 1e-3``. ``n = 1`` gives ``[sigma(1), 0]``.
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    beta_d, beta_min, eps_s = _check_vp_parameters(beta_d, beta_min, eps_s)
    times = torch.linspace(1.0, eps_s, n, dtype=torch.float64)
    return finish_grid(_vp_sigma(times, beta_d, beta_min), append_zero=append_zero, context="vp")


def vp_between(
    n: int, sigma_min: float, sigma_max: float, *, eps_s: float = 1e-3, append_zero: bool = True
) -> torch.Tensor:
    """The VP schedule whose ``beta_d, beta_min`` put ``sigma(1) = sigma_max`` and ``sigma(eps_s) = sigma_min``.

    Solving ``L(1) = log(1 + sigma_max^2)`` and ``L(eps_s) = log(1 + sigma_min^2)`` for the two betas gives
    ``beta_d = 2 (L(eps_s) / eps_s - L(1)) / (eps_s - 1)`` and ``beta_min = L(1) - beta_d / 2``: the VP time
    discretisation of the EDM reference sampler (NVlabs/edm ``generate.py``, ``discretization='vp'``).

    Such a sigma(t) increases on ``[eps_s, 1]`` iff ``log(1 + sigma_min^2) < eps_s (2 - eps_s) log(1 +
    sigma_max^2)`` (when convex it always does; when concave, ``L'(1) > 0`` is that inequality). EDM's
    0.002, 80, 1e-3 satisfy it by far; a large ``sigma_min`` with a small ``eps_s`` does not, and raises
    :class:`SigmaGridError`.
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    eps_s = check_open_unit("eps_s", eps_s, error=SigmaGridError)
    log_variance_max, log_variance_min = math.log1p(sigma_max**2), math.log1p(sigma_min**2)
    beta_d = 2.0 * (log_variance_min / eps_s - log_variance_max) / (eps_s - 1.0)
    beta_min = log_variance_max - 0.5 * beta_d
    beta_d, beta_min, eps_s = _check_vp_parameters(beta_d, beta_min, eps_s)
    times = torch.linspace(1.0, eps_s, n, dtype=torch.float64)
    sigmas = _vp_sigma(times, beta_d, beta_min)
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="vp_between")

"""A log-sigma grid that is denser inside a band of noise levels: three geometric pieces.

With ``t = log sigma`` the ``n`` grid points split the range ``[log sigma_min, log sigma_max]`` into steps whose
size is inversely proportional to a piecewise-constant density: 1 for ``sigma`` in ``[band_low, band_high]``
and ``outer_density`` outside. Equivalently, the cumulative density ``M(t) = integral_{log sigma_max}^{t}
density`` is cut into ``n - 1`` equal parts: ``sigma_i = exp(M^-1(i / (n - 1) M(log sigma_min)))``. Each piece
is a geometric (log-SNR uniform) grid; ``outer_density = 1`` is :func:`~probflow.schedules.exponential`.

The band is where the denoiser of image-like data (scaled to [-1, 1]) changes fastest along a sampling path:
modes are told apart at ``sigma`` of the order of the data's spread and each mode's own width is resolved near
``sigma`` of the order of its standard deviation. Used by :func:`probflow.recommended`, with the band and density
tuned on ``benchmarks/accuracy.py``'s problems (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probflow.errors import SigmaGridError
from probflow.validation import check_int, check_less, check_positive, check_sigma_range
from probflow.schedules.finishing import finish_range_grid


def piecewise_geometric(n: int, sigma_min: float, sigma_max: float, *, band_low: float, band_high: float,
                        outer_density: float, append_zero: bool = True) -> torch.Tensor:
    """``n`` sigmas from ``sigma_max`` to ``sigma_min`` (then 0), log-uniform in each of three pieces.

    Steps in ``log sigma`` inside ``[band_low, band_high]`` (clipped to the range) are ``outer_density`` times
    the steps outside. Returns ``n + 1`` values (``n`` with ``append_zero=False``).
    """
    n = check_int("n", n, minimum=1, error=SigmaGridError)
    sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
    band_low = check_positive("band_low", band_low, error=SigmaGridError)
    band_low, band_high = check_less("band_low", band_low, "band_high", band_high, error=SigmaGridError)
    outer_density = check_positive("outer_density", outer_density, error=SigmaGridError)
    top, bottom = math.log(sigma_max), math.log(sigma_min)
    knees = np.array([top, min(max(math.log(band_high), bottom), top), max(min(math.log(band_low), top), bottom),
                      bottom])
    density = np.array([outer_density, 1.0, outer_density])
    cumulative = np.concatenate([[0.0], np.cumsum(density * (knees[:-1] - knees[1:]))])
    targets = np.linspace(0.0, cumulative[-1], n)
    log_sigmas = np.interp(targets, cumulative, knees)
    sigmas = torch.tensor(np.exp(log_sigmas), dtype=torch.float64)
    return finish_range_grid(sigmas, sigma_min, sigma_max, append_zero=append_zero, context="piecewise_geometric")

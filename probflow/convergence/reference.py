"""High-accuracy solutions of the probability-flow ODE to measure other solvers' errors against.

The ODE ``dx/dsigma = (x - D(x, sigma))/sigma`` (Karras et al. 2022, eq. 1 and 3) is solved in
``t = log sigma``, where it reads ``dx/dt = x - D`` and is smooth at large sigma, by torchdiffeq's ``dopri8``
(Dormand & Prince 1981, an embedded 8(7) Runge-Kutta pair; Hairer, Norsett & Wanner I, II.10) in float64.

torchdiffeq steps past the last output time and returns an interpolated value there; that interpolant is of
lower order than the method, so at ``rtol = atol = 1e-12`` the end point is only good to about 1e-9. Passing
the end as ``step_t`` makes the solver land on it exactly, and the end point then has the accuracy of the steps
(about 1e-13 on the built-in problems).

The reference's own error is estimated by solving again at a 10x looser tolerance: the difference is the looser
solution's error (the tighter one being far more accurate), an upper estimate of the tighter one's error. Errors
are root-mean-square differences over every element of the batch (:func:`rms_difference`).
"""

from __future__ import annotations

import math

import torch

from probflow.solve import solve
from probflow.solvers.torchdiffeq_backend import TorchDiffEq

REFERENCE_TOLERANCE = 1e-12


def _dopri8(denoiser, x: torch.Tensor, sigma_max: float, sigma_min: float, tolerance: float) -> torch.Tensor:
    end = torch.tensor([math.log(sigma_min)], dtype=torch.float64)
    method = TorchDiffEq("dopri8", rtol=tolerance, atol=tolerance, time_variable="log_sigma", step_t=end)
    return solve(denoiser, method, x.to(torch.float64), [sigma_max, sigma_min]).x


def rms_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """``sqrt(mean((a - b)^2))`` over every element, in float64: the error norm of the ODE order estimates."""
    return float((a.to(torch.float64) - b.to(torch.float64)).square().mean().sqrt())


def ode_reference(
    denoiser, x: torch.Tensor, sigma_max: float, sigma_min: float, *, tolerance: float = REFERENCE_TOLERANCE
) -> tuple[torch.Tensor, float]:
    """``(x(sigma_min), error estimate)`` for the probability-flow ODE started at ``x = x(sigma_max)``, in float64.

    The estimate is the RMS difference from a solve at ``10 * tolerance`` (module docstring).
    """
    reference = _dopri8(denoiser, x, sigma_max, sigma_min, tolerance)
    looser = _dopri8(denoiser, x, sigma_max, sigma_min, 10.0 * tolerance)
    return reference, rms_difference(reference, looser)

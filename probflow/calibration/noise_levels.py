"""Telling the denoiser another noise level than the state's grid point: ``D'(x, sigma_i) = D(x, sigma_i e^{delta_i})``.

A solver on the grid ``sigma_0 > ... > sigma_{N-1} > sigma_N = 0`` asks for ``D(x_i, sigma_i)`` at its grid points.
With shifted noise levels it gets ``D(x_i, s_i)`` instead, ``s_i = sigma_i exp(delta_i)``, while its own update
keeps ``sigma_i``: the integrator's coefficients are unchanged and only the model's input noise level moves. The
shifts are fitted with the grid (:mod:`probflow.calibration.search`), one per grid point, so they absorb part of the
discretisation error that no grid can remove at a few calls: the state a coarse solver reaches at ``sigma_i`` is
not exactly on the true trajectory, and the denoiser at a nearby noise level answers it better.

Sources: the lesson's DDIM with a per-image predicted alpha-bar (the network is told the noise level the state
seems to have, not the schedule's) and the time-shift sampler of Li et al. (ICLR 2024, "Alleviating exposure bias
in diffusion models through sampling with shifted time steps"), which picks a shifted time step per step from the
state's variance. Here the shifts are fitted per model and budget, on the actual solver's error at sigma = 0.

This is no longer a plain sigma grid: a sampler that is given only ``sigmas`` does not apply the shifts. The
wrapper has the k-diffusion/EDM signature, so ``ShiftedNoiseLevels(model, sigmas, log_shifts)`` runs inside
k-diffusion's samplers too, as long as they ask for the model only at grid points (all first-step-at-a-grid-point
samplers do; one that asks between grid points is refused).
"""

from __future__ import annotations

import math

import torch

from probflow.denoisers.base import DenoiserModule
from probflow.denoisers.network import network_dtype
from probflow.errors import InvalidArgumentError, SolverConfigError

#: Relative distance in sigma within which a requested noise level is taken as a grid point (float16 rounds sigma
#: to about 1e-3 relative; distinct grid points of a calibrated grid are much further apart).
MATCH_TOLERANCE = 2e-3


def told_levels(name: str, levels, points: int) -> tuple[float, ...]:
    """``levels`` as floats, checked: one positive finite noise level per positive grid point (``points`` of them);
    anything else is an :class:`~probflow.errors.InvalidArgumentError` naming ``name``."""
    try:
        told = tuple(float(level) for level in levels)
    except (TypeError, ValueError):
        told = ()
    if len(told) != points or not all(math.isfinite(level) and level > 0 for level in told):
        raise InvalidArgumentError(f"{name} needs one positive finite noise level per positive grid point ({points}), "
                                   f"got {levels!r}")
    return told


class ShiftedNoiseLevels:
    """``denoiser`` told ``sigma_i exp(log_shifts[i])`` whenever it is asked at grid point ``sigmas[i]`` (module
    docstring). ``sigmas`` is the grid ending in 0 (``N + 1`` values), ``log_shifts`` has one value per positive
    grid point (``N``); both may require grad, and the output is differentiable in them. A request at sigma = 0 is
    passed on unchanged; any other sigma off the grid is refused. Finding the grid point reads the requested sigma
    on the host: one read per model call."""

    def __init__(self, denoiser, sigmas: torch.Tensor, log_shifts: torch.Tensor):
        positive = sigmas[:-1]
        if log_shifts.shape != positive.shape:
            raise SolverConfigError(f"a shift per positive grid point is needed: {positive.numel()} grid points, "
                                    f"{log_shifts.numel()} shifts")
        self.denoiser = denoiser
        self.log_shifts = log_shifts
        self._log_grid = [math.log(float(sigma)) for sigma in positive.detach()]

    @property
    def dtype(self) -> torch.dtype | None:
        """The wrapped network's dtype, so that probflow casts for it as it would without the wrapper (a probflow
        denoiser, or a plain function, is called in the compute dtype: ``None``)."""
        return None if isinstance(self.denoiser, DenoiserModule) else network_dtype(self.denoiser)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        value = float(sigma.detach().reshape(-1)[0])
        if value == 0.0:
            return self.denoiser(x, sigma, **kwargs)
        distances = [abs(math.log(value) - point) for point in self._log_grid]
        index = min(range(len(distances)), key=distances.__getitem__)
        if distances[index] > MATCH_TOLERANCE:
            raise SolverConfigError(f"the model was asked at sigma={value:.6g}, which is not a point of this grid: "
                                    "shifted noise levels are defined at the grid points only")
        shift = self.log_shifts[index].exp().to(dtype=sigma.dtype, device=sigma.device)
        return self.denoiser(x, sigma * shift, **kwargs)

"""Euler-Maruyama on the reverse-time SDE (Kloeden & Platen 1992, sec. 10.2)."""

from __future__ import annotations

import numpy as np
import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.terms import ReverseSDE


class _EulerMaruyamaStepper:
    """``drift_weights[i] = (1/sigma + beta) dtau`` and ``noise_weights[i] = sqrt(2 beta) sigma sqrt(dtau)``."""

    def __init__(self, term: ReverseSDE, model: ModelCall, sigmas: list[float], noise: NoiseSource):
        self.model = model
        self.noise = noise
        self.sigmas = sigmas
        grid = np.asarray(sigmas)
        sigma, sigma_next = grid[:-1], grid[1:]
        beta = np.broadcast_to(term.beta_at(torch.from_numpy(sigma)).numpy(), sigma.shape)
        if not np.all(beta >= 0.0):
            bad = int(np.flatnonzero(~(beta >= 0.0))[0])
            raise SolverConfigError(f"beta(sigma) must be >= 0, got {beta[bad]} at sigma={sigma[bad]:.6g}")
        dtau = sigma - sigma_next
        self.drift_weights = (1.0 / sigma + beta) * dtau
        self.noise_weights = np.sqrt(2.0 * beta) * sigma * np.sqrt(dtau)

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        denoised = self.model(x, sigma)
        if sigma_next == 0.0:
            return denoised, denoised
        x_next = torch.lerp(x, denoised, self.drift_weights[i])
        return torch.add(x_next, self.noise.increment(sigma, sigma_next), alpha=self.noise_weights[i]), denoised


class EulerMaruyama(Solver):
    """Euler-Maruyama on :class:`~probflow.ReverseSDE` in ``tau = -sigma``.

    ``x_next = x + (1/sigma + beta(sigma)) (D - x) dtau + sqrt(2 beta(sigma)) sigma sqrt(dtau) z`` with
    ``dtau = sigma - sigma_next``; the step into 0 is the final denoise. One call per step. Weak order 1.
    The diffusion does not depend on x (additive noise), for which Euler-Maruyama is strong order 1
    (Kloeden & Platen 1992, sec. 10.2 and 10.4) rather than the generic 0.5.
    """

    name = "euler_maruyama"
    stochastic = True
    term_kind = "sde"
    order = 1
    strong_order = 1.0

    def start(self, term: ReverseSDE, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _EulerMaruyamaStepper:
        return _EulerMaruyamaStepper(term, model, sigmas, noise)

    def __repr__(self) -> str:
        return "EulerMaruyama()"

"""Euler-Maruyama on the reverse-time SDE (Kloeden & Platen 1992, sec. 10.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_weighted
from probflow.solvers.grid import Grid
from probflow.terms import ReverseSDE


class _EulerMaruyamaStepper:
    """``drift_weights[i] = (1/sigma + beta) dtau`` and ``noise_weights[i] = sqrt(2 beta) sigma sqrt(dtau)``."""

    def __init__(self, term: ReverseSDE, grid: Grid, noise: NoiseSource):
        self.grid = grid
        self.noise = noise
        sigma, sigma_next = grid.sigma_from, grid.sigma_to
        beta = torch.broadcast_to(term.beta_at(sigma), sigma.shape)
        if not bool((beta.detach() >= 0.0).all()):
            bad = int(torch.nonzero(~(beta.detach() >= 0.0))[0])
            raise SolverConfigError(f"beta(sigma) must be >= 0, got {float(beta[bad])} at sigma={float(sigma[bad]):.6g}")
        dtau = sigma - sigma_next
        self.drift_weights = grid.constants((1.0 / sigma + beta) * dtau)
        self.noise_weights = grid.constants(torch.sqrt(2.0 * beta) * sigma * torch.sqrt(dtau))

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        denoised = yield x, self.grid.sigma(i)
        x_next = torch.lerp(x, denoised, self.drift_weights[i])
        increment = self.noise.increment(self.grid.values[i], self.grid.values[i + 1])
        return add_weighted(x_next, [self.noise_weights[i]], [increment]), denoised


@dataclass(frozen=True, repr=False)
class EulerMaruyama(Solver):
    """Euler-Maruyama on :class:`~probflow.ReverseSDE` in ``tau = -sigma``.

    ``x_next = x + (1/sigma + beta(sigma)) (D - x) dtau + sqrt(2 beta(sigma)) sigma sqrt(dtau) z`` with
    ``dtau = sigma - sigma_next``; the step into 0 is the final denoise. One call per step. Weak order 1.
    The diffusion does not depend on x (additive noise), for which Euler-Maruyama is strong order 1
    (Kloeden & Platen 1992, sec. 10.2 and 10.4) rather than the generic 0.5.
    """

    family: ClassVar[str] = "euler_maruyama"
    stochastic: ClassVar[bool] = True
    integrates_term: ClassVar[bool] = True
    term_kind: ClassVar[str] = "sde"
    strong_order: ClassVar[float] = 1.0

    def start(self, grid: Grid, term: ReverseSDE, noise: NoiseSource) -> _EulerMaruyamaStepper:
        return _EulerMaruyamaStepper(term, grid, noise)

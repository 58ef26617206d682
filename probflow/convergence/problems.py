"""Named convergence problems: data distributions with exact denoisers, for ``probflow order`` and the tests.

Each builds an :class:`~probflow.denoisers.AnalyticDenoiser` whose ``D(x, sigma) = E[y | x]`` is exact (EDM eq. 3
and appendix B.3), so the only error in a solve is the solver's. Parameters are fixed (seeded where random), so a
problem means the same thing on every machine.

* ``gaussian``: 4-D diagonal Gaussian; the flow is exact (``Gaussian.exact_flow``), so no ODE reference is solved.
* ``mixture2d``: three 2-D Gaussians of different widths and weights: curved, component-switching trajectories.
* ``mixture64``: eight 64-D components (seeded means of scale 1.5, stds 0.1-0.5).
* ``digits-kde``: a kernel density estimate (bandwidth 0.1) of the 1438 training images of scikit-learn's bundled
  8x8 digits, the data of a small image model (nothing is downloaded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from probflow.errors import InvalidArgumentError
from probflow.data.digits import load_digits
from probflow.denoisers.analytic import AnalyticDenoiser, Gaussian, GaussianMixture


@dataclass(frozen=True)
class Problem:
    """A named problem: ``build()`` makes its denoiser; ``initial_state`` draws the start at ``sigma_max``."""

    name: str
    description: str
    build: Callable[[], AnalyticDenoiser]
    batch: int = 8

    def initial_state(self, denoiser: AnalyticDenoiser, sigma_max: float, seed: int = 0) -> torch.Tensor:
        """``batch`` draws of ``x = y + sigma_max n`` (the exact marginal at ``sigma_max``), seeded."""
        return denoiser.sample_noisy(self.batch, sigma_max, generator=torch.Generator().manual_seed(seed))


def _gaussian() -> Gaussian:
    return Gaussian(mean=[0.5, -1.0, 2.0, 0.0], std=[0.05, 0.3, 1.0, 0.5])


def _mixture2d() -> GaussianMixture:
    means = [[-1.0, -1.0], [1.0, 0.5], [0.0, 1.5]]
    return GaussianMixture(means, std=[0.1, 0.2, 0.15], weights=[0.5, 0.3, 0.2])


def _mixture64() -> GaussianMixture:
    generator = torch.Generator().manual_seed(64)
    means = 1.5 * torch.randn(8, 64, generator=generator, dtype=torch.float64)
    std = 0.1 + 0.4 * torch.rand(8, generator=generator, dtype=torch.float64)
    return GaussianMixture(means, std=std)


def _digits_kde() -> GaussianMixture:
    images, _ = load_digits("train", dtype=torch.float64)
    return GaussianMixture(images, std=0.1)


PROBLEMS: dict[str, Problem] = {
    problem.name: problem
    for problem in (
        Problem("gaussian", "4-D diagonal Gaussian, exact flow", _gaussian),
        Problem("mixture2d", "3-component 2-D Gaussian mixture", _mixture2d),
        Problem("mixture64", "8-component 64-D Gaussian mixture", _mixture64),
        Problem("digits-kde", "KDE (h = 0.1) of the 8x8 digits training set", _digits_kde, batch=4),
    )
}


def get_problem(name: str) -> Problem:
    """The named problem, or a ``ValueError`` listing the known names."""
    if name not in PROBLEMS:
        raise InvalidArgumentError(f"unknown problem {name!r}; known: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]

"""Explicit Runge-Kutta methods in sigma, from a Butcher tableau: one engine for Euler, Heun, RK4, ...

For ``dx/dsigma = f(x, sigma) = (x - D(x, sigma)) / sigma`` and a step ``h = sigma_next - sigma``::

    k_j = f(x + h * sum_l a[j][l] * k_l,  sigma + c[j] * h),   j = 1..s
    x_next = x + h * sum_j b[j] * k_j

(Butcher, "Numerical Methods for ODEs", 2016, sec. 23; Hairer, Norsett & Wanner I, II.1). A tableau of
order p has global error O(h^p). The step into sigma = 0 is the final denoise (see ``solvers.base``), so
Heun's tableau gives exactly EDM Algorithm 1 with NFE = 2N - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.combination import add_weighted


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Butcher tableau: strictly lower-triangular ``a``, weights ``b``, nodes ``c``."""

    name: str
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int

    def __post_init__(self) -> None:
        stages = len(self.b)
        if len(self.c) != stages or len(self.a) != stages:
            raise SolverConfigError(f"tableau {self.name!r}: a, b and c must describe {stages} stages")
        for j, row in enumerate(self.a):
            if len(row) != j:
                raise SolverConfigError(f"tableau {self.name!r}: row {j} of a must have {j} entries (explicit RK)")
            if abs(sum(row) - self.c[j]) > 1e-12:
                raise SolverConfigError(f"tableau {self.name!r}: row {j} of a must sum to c[{j}] = {self.c[j]}")
        if abs(sum(self.b) - 1.0) > 1e-12:
            raise SolverConfigError(f"tableau {self.name!r}: weights b must sum to 1 (consistency)")

    @property
    def stages(self) -> int:
        return len(self.b)

    @cached_property
    def stage_couplings(self) -> tuple[tuple[tuple[int, float], ...], ...]:
        """Per stage ``j``, the pairs ``(l, a[j][l])`` with a non-zero coefficient."""
        return tuple(tuple((l, a) for l, a in enumerate(row) if a != 0.0) for row in self.a)

    @cached_property
    def update_couplings(self) -> tuple[tuple[int, float], ...]:
        """The pairs ``(j, b[j])`` with a non-zero weight."""
        return tuple((j, b) for j, b in enumerate(self.b) if b != 0.0)


EULER = ButcherTableau("euler", a=((),), b=(1.0,), c=(0.0,), order=1)
MIDPOINT = ButcherTableau("midpoint", a=((), (0.5,)), b=(0.0, 1.0), c=(0.0, 0.5), order=2)
HEUN2 = ButcherTableau("heun2", a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0), order=2)
RALSTON2 = ButcherTableau("ralston2", a=((), (2 / 3,)), b=(0.25, 0.75), c=(0.0, 2 / 3), order=2)
HEUN3 = ButcherTableau("heun3", a=((), (1 / 3,), (0.0, 2 / 3)), b=(0.25, 0.0, 0.75), c=(0.0, 1 / 3, 2 / 3), order=3)
RK3 = ButcherTableau("rk3", a=((), (0.5,), (-1.0, 2.0)), b=(1 / 6, 2 / 3, 1 / 6), c=(0.0, 0.5, 1.0), order=3)
RK4 = ButcherTableau(
    "rk4", a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), c=(0.0, 0.5, 0.5, 1.0), order=4
)
#: Kutta's 3/8 rule; torchdiffeq's ``"rk4"`` method is this tableau, not the classic one.
RK4_38 = ButcherTableau(
    "rk4_38",
    a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    c=(0.0, 1 / 3, 2 / 3, 1.0),
    order=4,
)

TABLEAUS = {t.name: t for t in (EULER, MIDPOINT, HEUN2, RALSTON2, HEUN3, RK3, RK4, RK4_38)}


def runge_kutta_step(
    model: ModelCall, tableau: ButcherTableau, x: torch.Tensor, sigma: float, sigma_next: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One explicit RK step from ``sigma`` to ``sigma_next > 0``; returns ``(x_next, D(x, sigma))``.

    Each stage keeps ``u_j = X_j - D(X_j, s_j)``, so ``k_j = u_j / s_j``, and the factor ``h / s_j`` goes into
    the scalar weight: a stage costs one subtraction plus one addition per non-zero ``a[j][l]``, and the update
    one addition per non-zero ``b[j]``.
    """
    h = sigma_next - sigma
    stage_sigmas = [sigma + c * h for c in tableau.c]
    differences: list[torch.Tensor] = []
    first = None
    for stage_sigma, couplings in zip(stage_sigmas, tableau.stage_couplings):
        stage_x = add_weighted(x, *_scaled_slopes(couplings, h, stage_sigmas, differences)) if couplings else x
        denoised = model(stage_x, stage_sigma)
        first = denoised if first is None else first
        differences.append(stage_x - denoised)
    return add_weighted(x, *_scaled_slopes(tableau.update_couplings, h, stage_sigmas, differences)), first


def _scaled_slopes(couplings: tuple[tuple[int, float], ...], h: float, stage_sigmas: list[float],
                   differences: list[torch.Tensor]) -> tuple[list[float], list[torch.Tensor]]:
    """``sum_l coefficient_l * h * k_l`` as weights ``coefficient_l * h / s_l`` of the differences ``u_l``."""
    return [c * h / stage_sigmas[l] for l, c in couplings], [differences[l] for l, _ in couplings]


class _RungeKuttaStepper:
    def __init__(self, tableau: ButcherTableau, model: ModelCall, sigmas: list[float]):
        self.tableau = tableau
        self.model = model
        self.sigmas = sigmas

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        if sigma_next == 0.0:
            denoised = self.model(x, sigma)
            return denoised, denoised
        return runge_kutta_step(self.model, self.tableau, x, sigma, sigma_next)


class RungeKutta(Solver):
    """An explicit Runge-Kutta method in sigma given by its Butcher tableau (order = ``tableau.order``).

    ``RungeKutta(RK4)`` is the classic fourth-order method; ``TABLEAUS`` lists midpoint, heun2, ralston2,
    heun3, rk3, rk4 and rk4_38. Calls per step = number of stages.
    """

    name = "runge_kutta"

    def __init__(self, tableau: ButcherTableau | str = RK4):
        if isinstance(tableau, str):
            if tableau not in TABLEAUS:
                raise SolverConfigError(f"unknown tableau {tableau!r}; known: {', '.join(sorted(TABLEAUS))}")
            tableau = TABLEAUS[tableau]
        self.tableau = tableau
        self.order = tableau.order
        self.calls_per_step = tableau.stages
        self.name = f"rk:{tableau.name}"

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _RungeKuttaStepper:
        return _RungeKuttaStepper(self.tableau, model, sigmas)

    def __repr__(self) -> str:
        return f"RungeKutta({self.tableau.name})"


class Euler(RungeKutta):
    """Euler's method in sigma (order 1, one call per step): ``x_next = x + (sigma_next - sigma) * (x - D)/sigma``.

    EDM Algorithm 1 without the second-order correction; k-diffusion ``sample_euler``. Equivalently
    ``x_next = D + (sigma_next/sigma) * (x - D)``, which is DDIM with eta = 0 (Song et al. 2021a) in VE form.
    """

    name = "euler"

    def __init__(self) -> None:
        super().__init__(EULER)
        self.name = "euler"

    def __repr__(self) -> str:
        return "Euler()"


class Heun(RungeKutta):
    """Heun's second-order method (EDM Algorithm 1, Karras et al. 2022): the trapezoidal corrector.

    ``d = (x - D(x, s))/s;  x' = x + h d;  d' = (x' - D(x', s'))/s';  x_next = x + h (d + d')/2``, with an
    Euler step into sigma = 0, so NFE = 2N - 1. Order 2, two calls per step; the tableau ``HEUN2``.
    """

    name = "heun"

    def __init__(self) -> None:
        super().__init__(HEUN2)
        self.name = "heun"

    def __repr__(self) -> str:
        return "Heun()"

"""Explicit Runge-Kutta methods in sigma, from a Butcher tableau: one engine for Euler, Heun, RK4, ...

For ``dx/dsigma = f(x, sigma) = (x - D(x, sigma)) / sigma`` and a step ``h = sigma_next - sigma``::

    k_j = f(x + h * sum_l a[j][l] * k_l,  sigma + c[j] * h),   j = 1..s
    x_next = x + h * sum_j b[j] * k_j

(Butcher, "Numerical Methods for ODEs", 2016, sec. 23; Hairer, Norsett & Wanner I, II.1). A tableau of
order p has global error O(h^p). The step into sigma = 0 is the solve loop's final denoise, so Heun's tableau
gives exactly EDM Algorithm 1 with NFE = 2N - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_weighted
from probflow.solvers.grid import Grid


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


class RungeKuttaSteps:
    """A tableau's steps from ``sigma_from[i]`` to ``sigma_to[i]`` (float64 tensors), with every weight computed once.

    Each stage keeps ``u_j = X_j - D(X_j, s_j)``, so ``k_j = u_j / s_j``, and the factor ``h / s_j`` goes into the
    scalar weight: a stage costs one subtraction plus one addition per non-zero ``a[j][l]``, and the update one
    addition per non-zero ``b[j]``. The weights are ``coefficient * h / s_l`` with ``s_l = sigma + c_l h``.
    """

    def __init__(self, tableau: ButcherTableau, grid: Grid, sigma_from: torch.Tensor, sigma_to: torch.Tensor):
        self.tableau = tableau
        step = sigma_to - sigma_from
        stage_sigmas = sigma_from[:, None] + torch.tensor(tableau.c, dtype=torch.float64) * step[:, None]
        self.stage_sigmas = grid.constants(stage_sigmas)
        self.stage_sources = [[l for l, _ in couplings] for couplings in tableau.stage_couplings]
        self.stage_weights = [grid.constants(self._scaled(couplings, step, stage_sigmas))
                              for couplings in tableau.stage_couplings]
        self.update_sources = [j for j, _ in tableau.update_couplings]
        self.update_weights = grid.constants(self._scaled(tableau.update_couplings, step, stage_sigmas))

    @staticmethod
    def _scaled(couplings: tuple[tuple[int, float], ...], step: torch.Tensor, stage_sigmas: torch.Tensor) -> torch.Tensor:
        """``coefficient_l * h / s_l`` for every step (rows) and coupling (columns)."""
        columns = [coefficient * step / stage_sigmas[:, l] for l, coefficient in couplings]
        return torch.stack(columns, dim=1) if columns else step.new_zeros(len(step), 0)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        """One step (a generator of model requests); returns ``(x_next, D(x, sigma_from[i]))``."""
        differences: list[torch.Tensor] = []
        first = None
        for stage_sigma, sources, weights in zip(self.stage_sigmas[i], self.stage_sources, self.stage_weights):
            stage_x = add_weighted(x, weights[i], [differences[l] for l in sources]) if sources else x
            denoised = yield stage_x, stage_sigma
            first = denoised if first is None else first
            differences.append(stage_x - denoised)
        return add_weighted(x, self.update_weights[i], [differences[j] for j in self.update_sources]), first


@dataclass(frozen=True, repr=False)
class TableauSolver(Solver):
    """A solver that is one Butcher tableau on the grid: order and calls per step come from the tableau."""

    tableau: ClassVar[ButcherTableau]

    @property
    def order(self) -> int:
        return self.tableau.order

    @property
    def calls_per_step(self) -> int:
        return self.tableau.stages

    def start(self, grid: Grid) -> RungeKuttaSteps:
        return RungeKuttaSteps(self.tableau, grid, grid.sigma_from, grid.sigma_to)


@dataclass(frozen=True, repr=False)
class RungeKutta(TableauSolver):
    """An explicit Runge-Kutta method in sigma given by its Butcher tableau (order = ``tableau.order``).

    ``RungeKutta(RK4)`` (or ``RungeKutta("rk4")``) is the classic fourth-order method; ``TABLEAUS`` lists midpoint,
    heun2, ralston2, heun3, rk3, rk4 and rk4_38. Calls per step = number of stages.
    """

    family: ClassVar[str] = "rk"
    tableau: ButcherTableau = RK4

    def __post_init__(self) -> None:
        if isinstance(self.tableau, str):
            if self.tableau not in TABLEAUS:
                raise SolverConfigError(f"unknown tableau {self.tableau!r}; known: {', '.join(sorted(TABLEAUS))}")
            object.__setattr__(self, "tableau", TABLEAUS[self.tableau])
        elif not isinstance(self.tableau, ButcherTableau):
            raise SolverConfigError(f"tableau must be a ButcherTableau or a name, got {type(self.tableau).__name__}")

    @property
    def name(self) -> str:
        return f"rk:{self.tableau.name}"

    @property
    def asymptotic_steps(self) -> int:
        """Midpoint is third order on Gaussian data (the property tests) and falls to 2 only from about 64 steps."""
        return 64 if self.tableau is MIDPOINT else super().asymptotic_steps


@dataclass(frozen=True, repr=False)
class Euler(TableauSolver):
    """Euler's method in sigma (order 1, one call per step): ``x_next = x + (sigma_next - sigma) * (x - D)/sigma``.

    EDM Algorithm 1 without the second-order correction; k-diffusion ``sample_euler``. Equivalently
    ``x_next = D + (sigma_next/sigma) * (x - D)``, which is DDIM with eta = 0 (Song et al. 2021a) in VE form.
    """

    family: ClassVar[str] = "euler"
    tableau: ClassVar[ButcherTableau] = EULER


@dataclass(frozen=True, repr=False)
class Heun(TableauSolver):
    """Heun's second-order method (EDM Algorithm 1, Karras et al. 2022): the trapezoidal corrector.

    ``d = (x - D(x, s))/s;  x' = x + h d;  d' = (x' - D(x', s'))/s';  x_next = x + h (d + d')/2``, with an
    Euler step into sigma = 0, so NFE = 2N - 1. Order 2, two calls per step; the tableau ``HEUN2``.
    """

    family: ClassVar[str] = "heun"
    tableau: ClassVar[ButcherTableau] = HEUN2

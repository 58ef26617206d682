"""The solver interface driven by :func:`probflow.solve`.

A *solver* is a small frozen configuration that declares its maths as data (``order``, ``calls_per_step``,
``stochastic``). ``start`` binds it to one grid and returns a *stepper*, which holds what the grid lets it
compute once (coefficients, stage sigmas) and what it carries between steps (multistep history). The one
shared loop in :mod:`probflow.solve` calls ``stepper.step(i, x)`` for ``i = 0 .. len(sigmas) - 2``.

Every solver treats the step into ``sigma = 0`` the same way: the vector field ``(x - D)/sigma`` is 0/0
there, so the step is the final denoise ``x = D(x, sigma_last)``, the limit of an Euler step (EDM Alg. 1,
line 7). It costs one call and is first order, which is why convergence orders are measured at
``sigma_min`` (see :mod:`probflow.convergence`).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import torch

from probflow.model_call import ModelCall
from probflow.noise import NoiseSource


class Stepper(Protocol):
    """One solve's state: ``step(i, x)`` advances from ``sigmas[i]`` to ``sigmas[i+1]``."""

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(x_next, denoised)``; ``denoised`` is the estimate at ``sigmas[i]`` (or None)."""
        ...


class Solver:
    """Base class of probflow's solvers.

    Class-level facts, read by the CLI's ``solvers`` listing and checked by the convergence tests:

    * ``order``: global order of accuracy of the ODE solution at ``sigma_min`` (weak order for
      stochastic solvers);
    * ``strong_order``: for stochastic solvers, the pathwise order (None otherwise);
    * ``calls_per_step``: denoiser calls per interior step;
    * ``stochastic``: whether it injects noise;
    * ``term_kind``: the term it integrates, ``"ode"`` (a :class:`~probflow.ProbabilityFlowODE`) or
      ``"sde"`` (a :class:`~probflow.ReverseSDE`).
    """

    name: ClassVar[str] = "solver"
    order: float = 1
    strong_order: float | None = None
    calls_per_step: int = 1
    stochastic: ClassVar[bool] = False
    term_kind: ClassVar[str] = "ode"

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> Stepper:
        """Bind to a validated grid (Python floats, descending, only the last may be 0)."""
        raise NotImplementedError

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        """Denoiser calls for ``num_steps`` steps (the step into 0, when present, costs one)."""
        if ends_at_zero:
            return self.calls_per_step * (num_steps - 1) + 1
        return self.calls_per_step * num_steps

    def describe(self) -> str:
        """A one-line summary: name, order, calls per step, stochasticity."""
        kind = "stochastic" if self.stochastic else "deterministic"
        strong = f", strong order {self.strong_order:g}" if self.strong_order is not None else ""
        return f"{self.name}: order {self.order:g}{strong}, {self.calls_per_step} call(s)/step, {kind}"

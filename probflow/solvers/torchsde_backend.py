"""Any torchsde method on the reverse-time SDE (Li et al. 2020; Kidger et al. 2021, ``torchsde.sdeint``)."""

from __future__ import annotations

import torch
from torchsde._core import base_sde, methods

from probflow.brownian import BrownianNoise, SeededBrownian
from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.terms import ReverseSDE

#: method -> (SDE type it solves, strong order for additive noise, drift calls per step).
METHODS = {
    "euler": ("ito", 1.0, 1),
    "milstein": ("ito", 1.0, 1),
    "srk": ("ito", 1.5, 10),
    "heun": ("stratonovich", 1.0, 2),
    "midpoint": ("stratonovich", 1.0, 2),
    "reversible_heun": ("stratonovich", 1.0, 1),
}


class _StratonovichView(ReverseSDE):
    """The same SDE declared Stratonovich: valid because the noise is additive (g does not depend on x)."""

    sde_type = "stratonovich"


class _TorchSDEStepper:
    def __init__(self, config: "TorchSDE", term: ReverseSDE, model: ModelCall, sigmas: list[float],
                 noise: NoiseSource):
        self.config = config
        self.model = model
        self.sigmas = sigmas
        sde_type = METHODS[config.method][0]
        view = _StratonovichView if sde_type == "stratonovich" else ReverseSDE
        sde = view(model, term.beta, shape=tuple(model.shape[1:]))
        levy = "space-time" if config.method == "srk" else "none"
        if isinstance(noise, BrownianNoise):
            brownian = noise.brownian
        else:
            positive = [s for s in sigmas if s > 0.0]
            flat_shape = torch.Size([model.shape[0], model.shape[1:].numel()])
            brownian = SeededBrownian(-positive[0], -positive[-1], flat_shape, model.dtype, model.device,
                                      noise.generators, levy_area_approximation=levy)
        # torchsde's own stepper, driven on our grid. sdeint() would re-run its shape contract (two drift
        # calls) at every call and, with one call for the whole grid, step on a uniform dt instead.
        solver_class = methods.select(method=config.method, sde_type=sde_type)
        self.stepper = solver_class(sde=base_sde.ForwardSDE(sde), bm=brownian, dt=1.0, adaptive=False,
                                    rtol=0.0, atol=0.0, dt_min=0.0, options={})
        self.extra: tuple | None = None

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        if sigma_next == 0.0:
            denoised = self.model(x, sigma)
            return denoised, denoised
        y = x.reshape(x.shape[0], -1)
        substep = (sigma - sigma_next) / self.config.substeps
        for k in range(self.config.substeps):
            t0 = torch.tensor(-sigma + k * substep, dtype=x.dtype, device=x.device)
            t1 = torch.tensor(-sigma + (k + 1) * substep if k + 1 < self.config.substeps else -sigma_next,
                              dtype=x.dtype, device=x.device)
            if self.extra is None:
                self.extra = self.stepper.init_extra_solver_state(t0, y)
            y, self.extra = self.stepper.step(t0, t1, y, self.extra)
        return y.reshape(x.shape), None


class TorchSDE(Solver):
    """Run torchsde's ``method`` (as ``torchsde.sdeint`` would) on a :class:`~probflow.ReverseSDE`, seeded.

    Each grid interval is integrated with ``substeps`` fixed steps of torchsde's method, all reading one
    :class:`~probflow.brownian.SeededBrownian` path (per-sample seeds when ``generator`` is a sequence),
    so refining the grid refines the same path; a :class:`~probflow.brownian.BrownianNoise` passed as
    ``generator`` supplies that path, shared with hand-written steppers. The state is flattened to ``[batch, features]`` for torchsde.
    The drift is singular at sigma = 0: the solve ends at the last positive sigma and a grid ending in 0 takes
    a final denoise. Stratonovich methods (heun, midpoint, reversible_heun) are valid because the noise is
    additive. ``order`` is the weak order (1); ``strong_order`` the method's strong order for additive noise.
    """

    name = "torchsde"
    stochastic = True
    term_kind = "sde"
    order = 1

    def __init__(self, method: str = "euler", *, substeps: int = 1):
        if method not in METHODS:
            raise SolverConfigError(f"unknown torchsde method {method!r}; known: {', '.join(METHODS)}")
        if not isinstance(substeps, int) or substeps < 1:
            raise SolverConfigError(f"substeps must be an integer >= 1, got {substeps!r}")
        self.method = method
        self.substeps = substeps
        self.strong_order = METHODS[method][1]
        self.calls_per_step = METHODS[method][2] * substeps
        self.name = f"torchsde:{method}"

    def start(self, term: ReverseSDE, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _TorchSDEStepper:
        return _TorchSDEStepper(self, term, model, sigmas, noise)

    def __repr__(self) -> str:
        return f"TorchSDE({self.method!r}, substeps={self.substeps})"

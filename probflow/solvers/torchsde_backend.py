"""Any torchsde method on the reverse-time SDE (Li et al. 2020; Kidger et al. 2021, ``torchsde.sdeint``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torchsde

from probflow.brownian import BrownianNoise, SeededBrownian
from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.grid import Grid
from probflow.terms import ReverseSDE
from probflow.validation import check_choice, check_int

#: method -> (SDE type it solves, strong order for additive noise, drift evaluations per step). The counts are
#: distinct drift evaluations: torchsde's SRK re-evaluates earlier stages' drifts, which :class:`_SDEView` answers
#: from memory; reversible Heun carries its drift between steps, but ``sdeint`` checks the drift's shape at every
#: call, and that evaluation is a call of its own.
METHODS = {
    "euler": ("ito", 1.0, 1),
    "milstein": ("ito", 1.0, 1),
    "srk": ("ito", 1.5, 4),
    "heun": ("stratonovich", 1.0, 2),
    "midpoint": ("stratonovich", 1.0, 2),
    "reversible_heun": ("stratonovich", 1.0, 2),
}
#: Drift evaluations remembered per step: enough for SRK's four stages.
MEMORY = 8


class _SDEView:
    """The counted :class:`~probflow.ReverseSDE` as torchsde sees it: ``[batch, features]`` states, the method's SDE
    type (Stratonovich equals Ito here: the noise is additive), and each drift ``f(t, y)`` evaluated once per
    ``(t, y)``: torchsde asks again for points it already evaluated (its shape check at the start of every
    ``sdeint`` call, SRK's earlier stages), and a deterministic denoiser gives the same answer."""

    noise_type = "diagonal"

    def __init__(self, term: ReverseSDE, sde_type: str):
        self.term = term
        self.sde_type = sde_type
        self._drifts: list[tuple[float, torch.Tensor, int, torch.Tensor]] = []

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        time, version = float(t), _version(y)
        for known_time, known_y, known_version, drift in self._drifts:
            if known_y is y and known_version == version and known_time == time:
                return drift
        drift = self.term.f(t, y)
        self._drifts = [(time, y, version, drift), *self._drifts[:MEMORY - 1]]
        return drift

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.term.g(t, y)


def _version(y: torch.Tensor) -> int | None:
    """The tensor's in-place version (an inference tensor has none: torchsde's steps create new tensors)."""
    return None if y.is_inference() else y._version


class _TorchSDEStepper:
    def __init__(self, config: TorchSDE, term: ReverseSDE, grid: Grid, noise: NoiseSource):
        if grid.differentiable and grid.sigmas.requires_grad:
            raise SolverConfigError(f"{config.name}: torchsde does not differentiate with respect to its times; "
                                    "gradients with respect to the sigma grid need a hand-written solver")
        self.config = config
        self.grid = grid
        self.view = _SDEView(term, METHODS[config.method][0])
        if isinstance(noise, BrownianNoise):
            self.brownian = noise.brownian
        else:
            # The path spans the grid's times as torchsde will see them: rounded to the state's dtype.
            start, end = torch.tensor([-grid.values[0], -grid.values[grid.interior_steps]], dtype=noise.dtype).tolist()
            flat_shape = torch.Size([noise.shape[0], noise.shape[1:].numel()])
            levy = "space-time" if config.method == "srk" else "none"
            self.brownian = SeededBrownian(start, end, flat_shape, noise.dtype, noise.device, noise.generators,
                                           levy_area_approximation=levy)
        self.extra: tuple | None = None

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        y = x.reshape(x.shape[0], -1)
        start, end = -self.grid.values[i], -self.grid.values[i + 1]
        substeps = self.config.substeps
        for k in range(substeps):
            t0 = start + k * (end - start) / substeps
            t1 = start + (k + 1) * (end - start) / substeps if k + 1 < substeps else end
            times = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
            # One step per call: dt beyond the interval, so that torchsde lands on t1 exactly (min(t0 + dt, t1)).
            ys, self.extra = torchsde.sdeint(self.view, y, times, bm=self.brownian, method=self.config.method,
                                             dt=2.0 * (t1 - t0), extra=True, extra_solver_state=self.extra)
            y = ys[-1]
        return y.reshape(x.shape), None


@dataclass(frozen=True, repr=False)
class TorchSDE(Solver):
    """``torchsde.sdeint`` with ``method`` on a :class:`~probflow.ReverseSDE`, seeded, one grid interval at a time.

    Each grid interval is integrated with ``substeps`` fixed steps of torchsde's method (one ``sdeint`` call each,
    carrying the method's state between calls), all reading one :class:`~probflow.brownian.SeededBrownian` path
    (per-sample seeds when ``generator`` is a sequence), so refining the grid refines the same path; a
    :class:`~probflow.brownian.BrownianNoise` passed as ``generator`` supplies that path, shared with hand-written
    steppers. The state is flattened to ``[batch, features]`` for torchsde. The drift is singular at sigma = 0: the
    solve ends at the last positive sigma and a grid ending in 0 takes the loop's final denoise. Stratonovich
    methods (heun, midpoint, reversible_heun) are valid because the noise is additive. ``order`` is the weak order
    (1); ``strong_order`` the method's strong order for additive noise; ``calls_per_step`` counts distinct drift
    evaluations (see :data:`METHODS`).
    """

    family: ClassVar[str] = "torchsde"
    stochastic: ClassVar[bool] = True
    integrates_term: ClassVar[bool] = True
    term_kind: ClassVar[str] = "sde"
    method: str = "euler"
    substeps: int = 1

    def __post_init__(self) -> None:
        check_choice("torchsde method", self.method, tuple(METHODS), error=SolverConfigError)
        object.__setattr__(self, "substeps", check_int("substeps", self.substeps, minimum=1, error=SolverConfigError))

    @property
    def name(self) -> str:
        return f"torchsde:{self.method}"

    @property
    def strong_order(self) -> float:
        return METHODS[self.method][1]

    @property
    def calls_per_step(self) -> int:
        return METHODS[self.method][2] * self.substeps

    def start(self, grid: Grid, term: ReverseSDE, noise: NoiseSource) -> _TorchSDEStepper:
        return _TorchSDEStepper(self, term, grid, noise)

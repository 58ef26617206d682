"""A calibrated sampler: the sigma grid and the solver that runs on it, for one budget of denoiser calls."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from probflow.calibration.fingerprint import warn_if_other_model
from probflow.calibration.noise_levels import ShiftedNoiseLevels, told_levels
from probflow.errors import InvalidArgumentError, MissingFileError, SolverConfigError
from probflow.files import write_text
from probflow.solvers.base import Solver
from probflow.solvers.registry import as_solver, get_solver
from probflow.validation import check_int, validate_sigmas

FORMAT = "probflow-schedule-1"


@dataclass(frozen=True, eq=False)
class Schedule:
    """A sigma grid (float64, from ``sigma_max`` down to 0), the solver that runs on it, and its budget ``nfe``.

    ``info`` records how it was made: held-out errors of the schedule and of the default, calls spent, wall time,
    seeds, the teacher's accuracy, the probflow version, and a fingerprint of the denoiser's outputs on fixed probe
    inputs (:mod:`probflow.calibration.fingerprint`), so that using a schedule with another model warns.

    ``model_grid``, when not ``None``, holds the noise level the denoiser is *told* at each positive grid point
    (:mod:`probflow.calibration.noise_levels`); :meth:`denoiser` wraps a model so that it is. ``probflow.sample``
    applies it. Elsewhere: ``sigmas.tolist()`` is what k-diffusion's samplers and diffusers'
    ``set_timesteps(sigmas=...)`` take, and in k-diffusion ``schedule.denoiser(model)`` is the model to pass with
    it; a sampler given only the sigmas of a schedule with ``model_grid`` runs without its shifts
    (``calibrate(..., shift_noise_levels=False)`` makes a plain grid).
    """

    grid: tuple[float, ...]
    solver: Solver
    nfe: int
    info: Mapping[str, Any] = field(default_factory=dict)
    model_grid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        sigmas = validate_sigmas(list(self.grid))
        if float(sigmas[-1]) != 0.0:
            raise InvalidArgumentError("a schedule's sigmas must end in 0 (it samples down to sigma = 0)")
        object.__setattr__(self, "grid", tuple(float(s) for s in sigmas))
        object.__setattr__(self, "solver", as_solver(self.solver))
        object.__setattr__(self, "nfe", check_int("nfe", self.nfe, minimum=1, error=SolverConfigError))
        if not self.solver.adaptive and self.solver.nfe(len(self.grid) - 1) > self.nfe:
            raise SolverConfigError(f"{self.solver.name} needs {self.solver.nfe(len(self.grid) - 1)} calls on this "
                                    f"grid, more than the schedule's nfe={self.nfe}")
        object.__setattr__(self, "info", dict(self.info))
        if self.model_grid is not None:
            object.__setattr__(self, "model_grid", told_levels("model_grid", self.model_grid, len(self.grid) - 1))

    @property
    def sigmas(self) -> torch.Tensor:
        """The grid as a float64 tensor ending in 0."""
        return torch.tensor(self.grid, dtype=torch.float64)

    @property
    def model_sigmas(self) -> torch.Tensor:
        """The noise level the denoiser is told at each positive grid point (float64): ``model_grid``, or the grid's
        own points for a plain grid. ``ProbflowScheduler``'s ``model_sigmas`` takes its ``tolist()``."""
        return torch.tensor(self.grid[:-1] if self.model_grid is None else self.model_grid, dtype=torch.float64)

    def denoiser(self, denoiser):
        """``denoiser`` as this schedule runs it: told :attr:`model_sigmas` at the grid points, or unchanged."""
        if self.model_grid is None:
            return denoiser
        return ShiftedNoiseLevels(denoiser, self.sigmas, (self.model_sigmas / self.sigmas[:-1]).log())

    @property
    def sigma_max(self) -> float:
        """The starting noise level: sampling starts at ``x = noise * sigma_max``."""
        return self.grid[0]

    def check_denoiser(self, denoiser, sample_shape: Sequence[int], device: torch.device | str = "cpu") -> None:
        """Warn (:class:`~probflow.calibration.ScheduleMismatchWarning`) if ``denoiser`` is not the model this schedule
        was calibrated for (its fingerprint, when recorded, differs)."""
        warn_if_other_model(self.info.get("fingerprint"), denoiser, sample_shape, device)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.grid, self.model_grid, self.solver, self.nfe, _canonical(self.info)) == (
            other.grid, other.model_grid, other.solver, other.nfe, _canonical(other.info))

    __hash__ = None

    def to_json(self) -> dict[str, Any]:
        """The schedule as JSON values: the grid (and the noise levels the model is told, if shifted), the solver's
        spec and full configuration, nfe and info."""
        told = {} if self.model_grid is None else {"model_sigmas": list(self.model_grid)}
        return {"format": FORMAT, "nfe": self.nfe, "solver": self.solver.spec, "solver_config": self.solver.config(),
                "sigmas": list(self.grid), **told, "info": dict(self.info)}

    def save(self, path: str | Path) -> Path:
        """Write the schedule as JSON a person can read (atomically); floats round-trip exactly."""
        return write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        """Read a schedule written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"{path}: no such schedule file")
        try:
            content = json.loads(path.read_text())
        except ValueError as exc:
            raise InvalidArgumentError(f"{path}: not a JSON schedule ({exc})") from exc
        return cls.from_json(content, source=str(path))

    @classmethod
    def from_json(cls, content: Mapping[str, Any], *, source: str = "schedule") -> Schedule:
        """The schedule of :meth:`to_json`'s values."""
        if not isinstance(content, Mapping) or content.get("format") != FORMAT:
            raise InvalidArgumentError(f"{source}: not a probflow schedule (format {FORMAT!r} expected)")
        try:
            solver = get_solver(content["solver"])
            told = content.get("model_sigmas")
            return cls(tuple(content["sigmas"]), solver, content["nfe"], content.get("info", {}),
                       None if told is None else tuple(told))
        except KeyError as exc:
            raise InvalidArgumentError(f"{source}: the schedule lacks {exc}") from exc


def _canonical(value: Any) -> Any:
    """JSON-like values compared with NaN equal to itself (a missing error is stored as NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, Mapping):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value

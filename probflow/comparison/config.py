"""One sampler setting to compare: a solver, a grid and a step count, and its ``key=value;...`` text form."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import torch

from probflow.comparison.grids import GRIDS, sampling_grid, steps_for_intervals
from probflow.errors import SolverConfigError
from probflow.sample import DEFAULT_SIGMA_MIN, recommended
from probflow.solvers import Solver, get_solver

AlphaBarPredictor = Callable[[torch.Tensor], torch.Tensor]

#: The solver name of probflow.sample's default: the recommended solver and grid for the config's nfe.
RECOMMENDED = "recommended"


@dataclass(frozen=True)
class SamplerConfig:
    """A labelled sampler: ``solver`` (a registry name with ``params``, or a ready :class:`~probflow.solvers.Solver`)
    on ``grid`` with ``steps`` steps, or with the most steps whose denoiser calls fit in ``nfe``.

    ``grid``, ``sigma_min``, ``sigma_max`` and ``rho`` pick the sigmas
    (:func:`~probflow.comparison.grids.sampling_grid`). ``solver="recommended"`` (with ``nfe``) is what
    ``probflow.sample(denoiser, noise, nfe=nfe)`` runs: :func:`probflow.recommended`'s solver on its own grid
    between its own ``sigma_min`` (unless one is given) and ``sigma_max`` (``grid`` and ``rho`` do not apply).
    Other grids end at ``sigma_min`` or 0.002.
    ``predicted_alpha_bar`` hands the model's noise-level predictor to the solver as ``alpha_bar_predictor``
    (DDIM's per-image ``alpha_bar_hat``, the lesson's 22_noise-pred sampler); it needs a solver name.
    """

    label: str
    solver: str | Solver
    steps: int | None = None
    nfe: int | None = None
    params: Mapping[str, object] = field(default_factory=dict, hash=False)
    grid: str = "karras"
    sigma_min: float | None = None
    sigma_max: float = 80.0
    rho: float = 7.0
    predicted_alpha_bar: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise SolverConfigError(f"a sampler config needs a non-empty label, got {self.label!r}")
        if (self.steps is None) == (self.nfe is None):
            raise SolverConfigError(f"{self.label}: give exactly one of steps and nfe")
        for name in ("steps", "nfe"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise SolverConfigError(f"{self.label}: {name} must be a positive integer, got {value!r}")
        if self.grid not in GRIDS:
            raise SolverConfigError(f"{self.label}: unknown grid {self.grid!r}; known: {', '.join(GRIDS)}")
        if isinstance(self.solver, Solver) and (self.params or self.predicted_alpha_bar):
            raise SolverConfigError(f"{self.label}: params and predicted_alpha_bar need a solver name, not an instance")
        if self.solver == RECOMMENDED and (self.nfe is None or self.params or self.predicted_alpha_bar):
            raise SolverConfigError(f"{self.label}: solver=recommended takes nfe, and no steps, params or "
                                    f"predicted_alpha_bar")
        object.__setattr__(self, "params", dict(self.params))
        self.build_solver(_placeholder_predictor if self.predicted_alpha_bar else None)
        self.sigmas()

    def build_solver(self, alpha_bar_predictor: AlphaBarPredictor | None = None) -> Solver:
        """The solver; ``alpha_bar_predictor`` is required exactly when ``predicted_alpha_bar`` is set."""
        if isinstance(self.solver, Solver):
            return self.solver
        if self.solver == RECOMMENDED:
            return recommended(self.nfe).solver
        if self.predicted_alpha_bar and alpha_bar_predictor is None:
            raise SolverConfigError(f"{self.label}: predicted_alpha_bar needs a model with a noise-level predictor")
        extra = {"alpha_bar_predictor": alpha_bar_predictor} if self.predicted_alpha_bar else {}
        return get_solver(self.solver, **self.params, **extra)

    def num_steps(self) -> int:
        """``steps``, or the most steps whose grid costs at most ``nfe`` calls of this solver (at least the smallest
        grid, whose one step into 0 is a single call)."""
        if self.steps is not None:
            return self.steps
        if self.solver == RECOMMENDED:
            return recommended(self.nfe).num_steps
        solver = self.build_solver(_placeholder_predictor if self.predicted_alpha_bar else None)
        return steps_for_intervals(self.grid, solver.steps_within(self.nfe))

    def sigmas(self, steps: int | None = None) -> torch.Tensor:
        """The float64 sigma grid for ``steps`` (default :meth:`num_steps`)."""
        if self.solver == RECOMMENDED:
            choice = recommended(self.nfe)
            return replace(choice, num_steps=choice.num_steps if steps is None else steps).sigmas(
                self.sigma_max, sigma_min=self.sigma_min)
        sigma_min = DEFAULT_SIGMA_MIN if self.sigma_min is None else self.sigma_min
        return sampling_grid(self.grid, self.num_steps() if steps is None else steps, sigma_min=sigma_min,
                             sigma_max=self.sigma_max, rho=self.rho)


def _placeholder_predictor(x_vp: torch.Tensor) -> torch.Tensor:
    """Stands in for the model's predictor when a config is validated before any model is loaded; never called."""
    raise AssertionError("a validation-only predictor was called")


_FIELDS = {"label", "solver", "steps", "nfe", "grid", "sigma_min", "sigma_max", "rho", "predicted_alpha_bar"}


def parse_config(text: str) -> SamplerConfig:
    """``"label=heun 20;solver=heun;steps=20;s_churn=0.5"`` -> a :class:`SamplerConfig`.

    Keys naming a :class:`SamplerConfig` field set it; any other key is a solver parameter. Values are read
    as integers, then floats, then ``true``/``false``, else kept as text. ``label`` defaults to the text itself.
    Raises :class:`~probflow.errors.SolverConfigError` naming the bad part.
    """
    if not isinstance(text, str) or not text.strip():
        raise SolverConfigError("a sampler config must be a non-empty 'key=value;...' string")
    values: dict[str, object] = {}
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        key, equals, raw = (piece.strip() for piece in part.partition("="))
        if not equals or not key or not raw:
            raise SolverConfigError(f"bad config part {part!r} in {text!r}: expected key=value")
        if key in values:
            raise SolverConfigError(f"key {key!r} appears twice in {text!r}")
        values[key] = raw if key in ("label", "solver", "grid") else _value(raw)
    if "solver" not in values:
        raise SolverConfigError(f"config {text!r} names no solver (add solver=NAME)")
    settings = {key: value for key, value in values.items() if key in _FIELDS}
    settings.setdefault("label", text.strip())
    params = {key: value for key, value in values.items() if key not in _FIELDS}
    return SamplerConfig(**settings, params=params)


def _value(raw: str) -> object:
    for convert in (int, float):
        try:
            value = convert(raw)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise SolverConfigError(f"config value {raw!r} is not finite")
        return value
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return raw

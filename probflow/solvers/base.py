"""The solver interface driven by :func:`probflow.solve`.

A *solver* is a frozen dataclass: its fields are its whole configuration, so equality, hashing, ``repr``, the
parseable :attr:`Solver.spec` and the JSON :meth:`Solver.config` all come from them. What it is, it declares as
attributes, each read in one place:

* ``name``: a short label (``"heun"``, ``"lms3"``, ``"rk:rk4"``);
* ``order``: global order of accuracy at ``sigma_min`` (the weak order for a stochastic solver);
  ``strong_order``: the pathwise order of a stochastic solver, else None;
* ``calls_per_step``: denoiser calls per interior step (None for an adaptive solver); ``adaptive``: whether its
  calls follow a tolerance rather than the grid;
* ``term_kind``: ``"ode"`` (a :class:`~probflow.ProbabilityFlowODE`) or ``"sde"`` (a :class:`~probflow.ReverseSDE`);
* ``stochastic``: whether it draws noise (its ``start`` then receives the noise source);
* ``integrates_term``: whether its stepper evaluates the term itself (``start`` then receives the *counted* term:
  the torchdiffeq/torchsde backends, and SDE steppers that read ``beta``);
* ``asymptotic_steps``: the step count from which its measured order is asymptotic (for order estimation);
* ``steps_into_zero``: whether it takes the step into ``sigma = 0`` itself; otherwise :func:`probflow.solve`
  takes it, as the final denoise ``x = D(x, sigma_last)``: the vector field ``(x - D)/sigma`` is 0/0 at 0 and the
  denoise is the limit of an Euler step (EDM Alg. 1, line 7), one call, first order in ``sigma_last`` -- which is
  why convergence orders are measured at ``sigma_min`` (:mod:`probflow.convergence`).

Each field is a constructor parameter of the same name, except where its metadata names the parameter (``LMS``'s
field ``adams_order`` is its ``order`` argument, since ``order`` is the declared convergence order); ``repr``,
``spec`` and ``config`` use the parameter names, so ``repr`` reads as the call that builds the solver.

``start(grid, [term], [noise])`` binds the solver to one grid and returns a *stepper*, which holds what the grid
lets it compute once and what it carries between steps (multistep history). ``stepper.step(i, x)`` advances from
``sigmas[i]`` to ``sigmas[i+1]``. A hand-written stepper is a generator: it *yields* each model request
``(x, sigma)`` and receives the denoised value, so the solve loop makes every denoiser call (counting, dtype,
checks); it *returns* ``(x_next, denoised)``, ``denoised`` being the estimate at ``sigmas[i]``. A backend that
integrates the counted term itself returns ``(x_next, denoised or None)`` directly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.grid import Grid
from probflow.validation import check_int

#: A model request ``(x, sigma)``: evaluate the denoiser at state ``x`` and noise level ``sigma``.
Request = tuple[torch.Tensor, "float | torch.Tensor"]
#: What a step returns: ``(x_next, denoised)``.
StepResult = tuple[torch.Tensor, "torch.Tensor | None"]
StepGenerator = Generator[Request, torch.Tensor, StepResult]


class Stepper(Protocol):
    """One solve's state: ``step(i, x)`` advances from ``sigmas[i]`` to ``sigmas[i+1]`` (module docstring)."""

    def step(self, i: int, x: torch.Tensor) -> StepGenerator | StepResult: ...


@dataclass(frozen=True, repr=False)
class Solver:
    """Base class of probflow's solvers (module docstring); subclasses are frozen dataclasses (``repr=False``: the
    base's ``__repr__`` uses parameter names)."""

    #: The registry family (:func:`probflow.solvers.get_solver`), the head of :attr:`spec`.
    family: ClassVar[str] = "solver"
    order: ClassVar[float] = 1
    strong_order: ClassVar[float | None] = None
    calls_per_step: ClassVar[int | None] = 1
    adaptive: ClassVar[bool] = False
    term_kind: ClassVar[str] = "ode"
    stochastic: ClassVar[bool] = False
    integrates_term: ClassVar[bool] = False
    steps_into_zero: ClassVar[bool] = False

    def denoises_into(self, sigma_next: float) -> bool:
        """Whether the loop takes the step into ``sigma_next`` as the final denoise ``x = D(x, sigma)``: the step
        into 0, unless the solver takes it itself (:attr:`steps_into_zero`)."""
        return sigma_next == 0.0 and not self.steps_into_zero

    @property
    def asymptotic_steps(self) -> int:
        """Karras-grid step count from which the error follows ``C N^-order`` (measured on Gaussians and mixtures,
        ``rho`` in [3, 10]; :func:`probflow.convergence.suggested_steps`): one-step methods of order 1 and 2 from
        about 32 steps, third-order ones from about 128, fourth-order ones from about 64 (they near round-off past
        512). Solvers that approach their order more slowly say so."""
        return {1: 32, 2: 32, 3: 128}.get(int(self.order), 64)

    @property
    def name(self) -> str:
        """A short label; the family name unless a solver says more."""
        return self.family

    def start(self, grid: Grid, **inputs: Any) -> Stepper:
        """Bind to a grid; ``inputs`` are ``term`` (if :attr:`integrates_term`) and ``noise`` (if :attr:`stochastic`)."""
        raise NotImplementedError

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        """Denoiser calls for ``num_steps`` steps (the step into 0, when present, costs one)."""
        if self.adaptive:
            raise SolverConfigError(f"{self.name} is adaptive: its NFE is only known after solving")
        if ends_at_zero:
            return self.calls_per_step * (num_steps - 1) + 1
        return self.calls_per_step * num_steps

    def steps_within(self, nfe: int) -> int:
        """The most steps of a grid ending in 0 whose calls fit in a budget of ``nfe`` (at least one step)."""
        nfe = check_int("nfe", nfe, minimum=1, error=SolverConfigError)
        if self.adaptive:
            raise SolverConfigError(f"{self.name} is adaptive and cannot honour a fixed nfe; use probflow.solve")
        if self.nfe(1) > nfe:
            raise SolverConfigError(f"{self.name} needs at least {self.nfe(1)} calls, got nfe={nfe}")
        steps = 1
        while self.nfe(steps + 1) <= nfe:
            steps += 1
        return steps

    @property
    def spec(self) -> str:
        """The configuration as text that :func:`probflow.solvers.get_solver` parses back into an equal solver:
        ``family(parameter=value, ...)`` with the parameters that differ from their defaults (``"ddim(eta=1.0)"``).
        Objects without a registered name (a custom tableau, a callable) appear as ``<module:qualname>``, which
        names them but cannot be parsed back."""
        arguments = ", ".join(f"{name}={_spec_value(value)}" for name, value, default in self.parameters()
                              if value != default)
        return f"{self.family}({arguments})" if arguments else self.family

    def config(self) -> dict[str, Any]:
        """Every parameter as a JSON value (callables by qualified name), with the class: what generation records in
        ``run.json`` and compares on resume, so that two configurations never mix."""
        parameters = {name: _json_value(value) for name, value, _ in self.parameters()}
        return {"solver": f"{type(self).__module__}.{type(self).__qualname__}", **parameters}

    def parameters(self) -> list[tuple[str, Any, Any]]:
        """``(parameter name, value, default)`` for every field (module docstring), the pairs of a ``keywords`` field
        (``**options``) each as a parameter; a parameter without a default compares unequal to every value."""
        found = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.metadata.get("keywords"):  # extra keyword arguments, kept as sorted (name, value) pairs
                found.extend((name, keyword_value, _NO_DEFAULT) for name, keyword_value in value)
                continue
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
            found.append((field.metadata.get("parameter", field.name), value,
                          _NO_DEFAULT if default is dataclasses.MISSING else default))
        return found

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value, _ in self.parameters())
        return f"{type(self).__name__}({arguments})"

    def describe(self) -> str:
        """A one-line summary: name, order, calls per step, stochasticity."""
        kind = "stochastic" if self.stochastic else "deterministic"
        strong = f", strong order {self.strong_order:g}" if self.strong_order is not None else ""
        calls = "adaptive calls" if self.adaptive else f"{self.calls_per_step} call(s)/step"
        return f"{self.name}: order {self.order:g}{strong}, {calls}, {kind}"



class _NoDefault:
    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None


_NO_DEFAULT = _NoDefault()


def qualified_name(function: Callable) -> str:
    """``module:qualname`` of a callable (of its class for a callable object)."""
    owner = function if hasattr(function, "__qualname__") else type(function)
    return f"{owner.__module__}:{owner.__qualname__}"


def _spec_value(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    spec = getattr(value, "spec", None) or getattr(value, "name", None)
    if isinstance(spec, str):
        return repr(spec)
    return f"<{qualified_name(value)}>"


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if dataclasses.is_dataclass(value):
        return {field.name: _json_value(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    return qualified_name(value)

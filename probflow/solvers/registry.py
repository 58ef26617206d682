"""Name -> solver registry, so users and the CLI can write ``get_solver("heun")`` (torchdiffeq style)."""

from __future__ import annotations

from collections.abc import Callable

from probflow.errors import UnknownSolverError
from probflow.solvers.ancestral import EulerAncestral
from probflow.solvers.base import Solver
from probflow.solvers.ddim import DDIM
from probflow.solvers.dpm_solver_pp import DPMSolverPP
from probflow.solvers.edm_stochastic import EDMStochastic
from probflow.solvers.euler_maruyama import EulerMaruyama
from probflow.solvers.exponential_adams import ExponentialAdams
from probflow.solvers.lms import LMS
from probflow.solvers.runge_kutta import TABLEAUS, Euler, Heun, RungeKutta
from probflow.solvers.torchdiffeq_backend import ADAPTIVE_METHODS, FIXED_GRID_METHODS, TorchDiffEq
from probflow.solvers.torchsde_backend import METHODS as TORCHSDE_METHODS
from probflow.solvers.torchsde_backend import TorchSDE

SOLVERS: dict[str, Callable[..., Solver]] = {
    "euler": Euler,
    "heun": Heun,
    "lms": LMS,
    "euler_ancestral": EulerAncestral,
    "edm_stochastic": EDMStochastic,
    "ddim": DDIM,
    "dpmpp": DPMSolverPP,
    "exp_adams": ExponentialAdams,
    "rk": RungeKutta,
    "euler_maruyama": EulerMaruyama,
    "torchdiffeq": TorchDiffEq,
    "torchsde": TorchSDE,
}

#: Short names for common configurations; ``family:argument`` picks a tableau or backend method.
ALIASES: dict[str, Callable[[], Solver]] = {
    **{f"lms{k}": (lambda k=k: LMS(order=k)) for k in range(1, 5)},
    **{f"dpmpp_{k}m": (lambda k=k: DPMSolverPP(order=k)) for k in (1, 2, 3)},
}


def solver_names() -> list[str]:
    """Every configuration name :func:`get_solver` accepts without parameters (families listed by variant)."""
    parameterised = {"lms", "dpmpp", "rk", "torchdiffeq", "torchsde"}
    names = [name for name in SOLVERS if name not in parameterised] + list(ALIASES)
    names += [f"rk:{t}" for t in TABLEAUS]
    names += [f"torchdiffeq:{m}" for m in (*FIXED_GRID_METHODS, *ADAPTIVE_METHODS)]
    names += [f"torchsde:{m}" for m in TORCHSDE_METHODS]
    return names


def get_solver(name: str, **params) -> Solver:
    """Build a solver from its registry name (``"heun"``, ``"lms3"``, ``"rk:rk4"``, ``"torchdiffeq:dopri5"``)."""
    if not isinstance(name, str):
        raise UnknownSolverError(f"solver name must be a string, got {type(name).__name__}")
    if name in ALIASES and not params:
        return ALIASES[name]()
    family, _, argument = name.partition(":")
    if family not in SOLVERS or (argument and family not in ("rk", "torchdiffeq", "torchsde")):
        raise UnknownSolverError(f"unknown solver {name!r}; known: {', '.join(solver_names())}")
    factory = SOLVERS[family]
    try:
        return factory(argument, **params) if argument else factory(**params)
    except TypeError as exc:
        raise UnknownSolverError(f"bad parameters for solver {name!r}: {exc}") from exc

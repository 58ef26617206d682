"""Solvers by name, with parameters: ``get_solver("heun")``, ``get_solver("ddim(eta=1)")``, ``get_solver("rk:rk4")``.

One syntax everywhere (Python, the CLI's ``--solver``, comparison configurations, report labels)::

    family                      "heun", "exp_adams"
    family(name=value, ...)     "ddim(eta=1)", "exp_adams(order=4, form='noise', corrector_order=0)"
    family:argument(...)        "rk:rk4", "torchdiffeq:dopri5(rtol=1e-6)" (the argument is the first parameter)
    preset                      "lms3" = "lms(order=3)", "dpmpp_2m" = "dpmpp(order=2)"

Values are Python literals; a bare word is a string (``form=noise``), and ``inf`` is infinity. Every solver's
:attr:`~probflow.solvers.Solver.spec` is in this syntax and parses back into an equal solver.
"""

from __future__ import annotations

import ast
import importlib
import math
from collections.abc import Callable
from typing import Any

from probflow.errors import SolverConfigError, UnknownSolverError
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
    solver.family: solver for solver in (
        Euler, Heun, LMS, EulerAncestral, EDMStochastic, DDIM, DPMSolverPP, ExponentialAdams, RungeKutta,
        EulerMaruyama, TorchDiffEq, TorchSDE,
    )
}

#: Families defined outside the core, imported when first named: the lesson's DDIM lives with the lesson's code.
LAZY_SOLVERS: dict[str, str] = {"lesson_ddim": "probflow.comparison.lesson_ddim:LessonDDIM"}

#: Short names for common configurations.
ALIASES: dict[str, str] = {
    **{f"lms{k}": f"lms(order={k})" for k in range(1, 5)},
    **{f"dpmpp_{k}m": f"dpmpp(order={k})" for k in (1, 2, 3)},
}

#: Families whose first parameter may follow a colon: ``rk:rk4``, ``torchdiffeq:dopri5``, ``torchsde:srk``.
ARGUMENT_FAMILIES = ("rk", "torchdiffeq", "torchsde")


def register(solver: type[Solver]) -> None:
    """Make ``solver.family`` a name of :func:`get_solver` (for solvers defined outside this package)."""
    SOLVERS[solver.family] = solver


def _family(name: str) -> Callable[..., Solver] | None:
    if name not in SOLVERS and name in LAZY_SOLVERS:
        module, _, attribute = LAZY_SOLVERS[name].partition(":")
        register(getattr(importlib.import_module(module), attribute))
    return SOLVERS.get(name)


def solver_names() -> list[str]:
    """Every configuration name :func:`get_solver` accepts without parameters (families listed by variant)."""
    families = dict.fromkeys([*SOLVERS, *LAZY_SOLVERS])
    names = [name for name in families if name not in ("lms", "dpmpp", *ARGUMENT_FAMILIES)] + list(ALIASES)
    names += [f"rk:{t}" for t in TABLEAUS]
    names += [f"torchdiffeq:{m}" for m in (*FIXED_GRID_METHODS, *ADAPTIVE_METHODS)]
    names += [f"torchsde:{m}" for m in TORCHSDE_METHODS]
    return names


def parse_spec(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``"family:argument(a, name=value)"`` -> ``(family, [argument, a], {name: value})`` (module docstring)."""
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownSolverError(f"a solver spec must be a non-empty string, got {spec!r}")
    text = ALIASES.get(spec.strip(), spec.strip())
    head, parenthesis, rest = text.partition("(")
    family, colon, argument = head.strip().partition(":")
    arguments: list[Any] = [argument.strip()] if colon else []
    keywords: dict[str, Any] = {}
    if parenthesis:
        if not rest.endswith(")"):
            raise UnknownSolverError(f"bad solver spec {spec!r}: expected family(name=value, ...)")
        try:
            call = ast.parse(f"f({rest}", mode="eval").body
        except SyntaxError as exc:
            raise UnknownSolverError(f"bad solver spec {spec!r}: {exc.msg}") from exc
        arguments += [_literal(node, spec) for node in call.args]
        keywords = {keyword.arg: _literal(keyword.value, spec) for keyword in call.keywords}
        if None in keywords:
            raise UnknownSolverError(f"bad solver spec {spec!r}: ** is not allowed")
    if _family(family) is None:
        raise UnknownSolverError(f"unknown solver {family!r} in {spec!r}; known: {', '.join(solver_names())}")
    if colon and family not in ARGUMENT_FAMILIES:
        raise UnknownSolverError(f"solver {family!r} takes no ':argument' (in {spec!r})")
    return family, arguments, keywords


def _literal(node: ast.expr, spec: str) -> Any:
    if isinstance(node, ast.Name):
        return {"inf": math.inf, "true": True, "false": False, "none": None}.get(node.id.lower(), node.id)
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise UnknownSolverError(f"bad value {ast.unparse(node)!r} in solver spec {spec!r}: use a literal") from exc


def get_solver(spec: str, **params: Any) -> Solver:
    """Build a solver from its spec (module docstring); ``params`` add or override keyword parameters."""
    family, arguments, keywords = parse_spec(spec)
    try:
        return SOLVERS[family](*arguments, **{**keywords, **params})
    except TypeError as exc:
        raise SolverConfigError(f"bad parameters for solver {spec!r}: {exc}") from exc


def as_solver(solver: Solver | str) -> Solver:
    """A solver instance, or one built from its spec string."""
    if isinstance(solver, Solver):
        return solver
    if isinstance(solver, str):
        return get_solver(solver)
    if isinstance(solver, type) and issubclass(solver, Solver):
        raise SolverConfigError(f"solver must be an instance, e.g. {solver.__name__}(), not the class itself")
    raise SolverConfigError(f"solver must be a probflow Solver or a spec such as 'heun', got {type(solver).__name__}")

"""Hand-written diffusion steppers and the torchdiffeq/torchsde backends, all driven by ``probflow.solve``."""

from probflow.solvers.ancestral import EulerAncestral, ancestral_split
from probflow.solvers.base import Solver, Stepper
from probflow.solvers.ddim import DDIM
from probflow.solvers.dpm_solver_pp import DPMSolverPP
from probflow.solvers.edm_stochastic import EDMStochastic
from probflow.solvers.euler_maruyama import EulerMaruyama
from probflow.solvers.exponential_adams import ExponentialAdams
from probflow.solvers.grid import Grid
from probflow.solvers.lms import LMS
from probflow.solvers.registry import ALIASES, SOLVERS, as_solver, get_solver, parse_spec, register, solver_names
from probflow.solvers.runge_kutta import (
    EULER, HEUN2, HEUN3, MIDPOINT, RALSTON2, RK3, RK4, RK4_38, TABLEAUS, ButcherTableau, Euler, Heun, RungeKutta,
    RungeKuttaSteps, TableauSolver,
)
from probflow.solvers.torchdiffeq_backend import TorchDiffEq
from probflow.solvers.torchsde_backend import TorchSDE

__all__ = [
    "ALIASES", "DDIM", "DPMSolverPP", "EDMStochastic", "EULER", "Euler", "EulerAncestral", "EulerMaruyama",
    "ExponentialAdams", "Grid", "HEUN2", "HEUN3", "Heun", "LMS", "MIDPOINT", "RALSTON2", "RK3", "RK4", "RK4_38",
    "SOLVERS", "TABLEAUS", "ButcherTableau", "RungeKutta", "RungeKuttaSteps", "Solver", "Stepper", "TableauSolver",
    "TorchDiffEq", "TorchSDE", "ancestral_split", "as_solver", "get_solver", "parse_spec", "register",
    "solver_names",
]

"""probflow: diffusion sampling as solving the probability-flow ODE or the reverse-time SDE.

Any denoiser ``D(x, sigma)`` becomes the vector field ``dx/dsigma = (x - D(x, sigma))/sigma``, which both the
hand-written diffusion steppers and torchdiffeq/torchsde integrate.

``import probflow`` gives the whole package: the core names below at once, and every public subpackage
(``probflow.convergence``, ``probflow.pretrained``, ...) on first use (PEP 562), so that importing probflow never
imports matplotlib, scikit-learn or diffusers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from probflow.errors import (
    DenoiserOutputError, GeneratorError, NonFiniteResultError, ProbflowError, SigmaGridError, SolverConfigError,
    UnknownSolverError,
)
from probflow.noise import per_sample_noise, seed_generators
from probflow.sample import Recommendation, recommended, sample
from probflow.solve import Solution, solve
from probflow.terms import ProbabilityFlowODE, ReverseSDE

__version__ = "0.1.0"

#: Subpackages and modules imported on first attribute access.
SUBPACKAGES = (
    "brownian", "calibration", "cli", "comparison", "convergence", "data", "demo", "denoisers", "errors", "files",
    "generation", "integrations", "loading", "metrics", "models", "noise", "pretrained", "schedules", "solvers",
    "terms", "training", "validation",
)

#: Top-level names resolved on first use, from the subpackage that defines them.
LAZY_NAMES = {"calibrate": "calibration", "Schedule": "calibration"}


__all__ = [
    "DenoiserOutputError", "GeneratorError", "NonFiniteResultError", "ProbabilityFlowODE", "ProbflowError",
    "Recommendation", "ReverseSDE", "SigmaGridError", "Solution", "SolverConfigError", "UnknownSolverError",
    "per_sample_noise", "recommended", "sample", "seed_generators", "solve", *LAZY_NAMES, *SUBPACKAGES,
]


def __getattr__(name: str) -> ModuleType | object:
    if name in SUBPACKAGES:
        return importlib.import_module(f"probflow.{name}")
    if name in LAZY_NAMES:
        return getattr(importlib.import_module(f"probflow.{LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'probflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

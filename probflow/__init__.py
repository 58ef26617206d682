"""probflow: diffusion sampling as solving the probability-flow ODE or the reverse-time SDE.

Any denoiser ``D(x, sigma)`` becomes the vector field ``dx/dsigma = (x - D(x, sigma))/sigma``, which both the
hand-written diffusion steppers and torchdiffeq/torchsde integrate.
"""

from probflow.errors import (
    DenoiserOutputError, GeneratorError, ProbflowError, SigmaGridError, SolverConfigError, UnknownSolverError,
)
from probflow.noise import per_sample_noise, seed_generators
from probflow.sample import Recommendation, recommended, sample
from probflow.solve import Solution, solve
from probflow.terms import ProbabilityFlowODE, ReverseSDE

__version__ = "0.1.0"

__all__ = [
    "DenoiserOutputError", "GeneratorError", "ProbabilityFlowODE", "ProbflowError", "Recommendation", "ReverseSDE",
    "SigmaGridError", "Solution", "SolverConfigError", "UnknownSolverError", "per_sample_noise", "recommended",
    "sample", "seed_generators", "solve",
]

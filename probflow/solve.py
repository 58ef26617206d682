"""The one integration loop: ``solve(term, solver, x, sigmas)``.

It owns validation, dtype handling, NFE counting, the finiteness check, callbacks, the progress bar and
the optional trajectory; solvers only step. Sampling runs under ``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from probflow.errors import GeneratorError, SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import GeneratorLike, NoiseSource
from probflow.schedules.validation import validate_sigmas
from probflow.solvers.base import Solver
from probflow.terms import ProbabilityFlowODE, ReverseSDE

Callback = Callable[[dict], None]


@dataclass
class Solution:
    """What :func:`solve` returns.

    * ``x``: the state at ``sigmas[-1]``;
    * ``nfe``: the exact number of denoiser calls;
    * ``sigmas``: the float64 grid that was solved on;
    * ``trajectory``: ``[len(sigmas), *x.shape]`` states at every grid point, if requested.
    """

    x: torch.Tensor
    nfe: int
    sigmas: torch.Tensor
    trajectory: torch.Tensor | None = None


def compute_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """Solver maths runs in float64 if the state is float64, else in float32 (never in half precision)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def as_term(term: object, solver: Solver) -> ProbabilityFlowODE | ReverseSDE:
    """Accept a term, or a bare denoiser (wrapped in the ODE), and check it suits the solver."""
    if not isinstance(term, (ProbabilityFlowODE, ReverseSDE)):
        if not callable(term):
            raise TypeError(f"term must be a ProbabilityFlowODE, a ReverseSDE or a denoiser, got {type(term).__name__}")
        term = ProbabilityFlowODE(term)
    wanted = ReverseSDE if solver.term_kind == "sde" else ProbabilityFlowODE
    if not isinstance(term, wanted):
        raise SolverConfigError(f"{solver.name} integrates a {wanted.__name__}, got a {type(term).__name__}")
    return term


def validate_state(x: object) -> torch.Tensor:
    """The initial state must be a floating tensor with a batch dimension."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [batch, ...], got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty batch dimension, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x holds NaN or Inf")
    return x


def solve(
    term: ProbabilityFlowODE | ReverseSDE | Callable,
    solver: Solver,
    x: torch.Tensor,
    sigmas: torch.Tensor | Sequence[float],
    *,
    generator: GeneratorLike = None,
    callback: Callback | None = None,
    progress: bool = False,
    trajectory: bool = False,
) -> Solution:
    """Integrate ``term`` with ``solver`` from ``sigmas[0]`` to ``sigmas[-1]``, starting at ``x``.

    ``x`` is the state at ``sigmas[0]`` (e.g. ``noise * sigmas[0]``). ``sigmas`` is strictly decreasing,
    finite and non-negative, with 0 allowed only last (k-diffusion convention). ``generator`` feeds the
    stochastic solvers: one ``torch.Generator``, a sequence of one per sample (batch-size independent), or a
    ready :class:`~probflow.noise.NoiseSource` such as :class:`~probflow.brownian.BrownianNoise`.
    ``callback`` receives ``{"i", "sigma", "sigma_next", "x", "denoised"}`` after every step (``x`` is the
    new state). The returned state has ``x``'s dtype; the maths runs in :func:`compute_dtype_for` of it.
    """
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a probflow Solver instance, got {type(solver).__name__}")
    x = validate_state(x)
    term = as_term(term, solver)
    grid = validate_sigmas(sigmas)
    output_dtype = x.dtype
    state = x.to(compute_dtype_for(x.dtype))
    sigma_values = grid.tolist()
    model = ModelCall(term.denoiser, state, sigma_values)
    noise = generator if isinstance(generator, NoiseSource) else NoiseSource(generator, state.shape, state.dtype,
                                                                             state.device)
    if noise.shape != state.shape:
        raise GeneratorError(f"the noise source has shape {tuple(noise.shape)}, the state {tuple(state.shape)}")
    stepper = solver.start(term, model, sigma_values, noise)
    states = [state] if trajectory else None
    steps = range(len(sigma_values) - 1)
    with torch.inference_mode():
        for i in tqdm(steps, desc=solver.name, leave=False) if progress else steps:
            model.step = i
            state, denoised = stepper.step(i, state)
            if callback is not None:
                callback({"i": i, "sigma": sigma_values[i], "sigma_next": sigma_values[i + 1], "x": state,
                          "denoised": denoised})
            if states is not None:
                states.append(state)
    model.check_finite()
    path = torch.stack(states).to(output_dtype) if states is not None else None
    return Solution(x=state.to(output_dtype), nfe=model.nfe, sigmas=grid, trajectory=path)

"""The one integration loop: ``solve(denoiser_or_term, solver, x, sigmas)``.

It builds the term the solver integrates, owns validation, the dtype rule, every denoiser call (through
:class:`~probflow.model_call.ModelCall`: counting, casting, checking), the step into ``sigma = 0``, callbacks,
the progress bar and the optional trajectory; solvers only step. Sampling runs without autograd unless the solve
is differentiable (``grad=True``, or a state or grid that requires grad): it runs in ``torch.inference_mode()`` and
returns ordinary tensors, copied out of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import GeneratorType

import torch
from tqdm.auto import tqdm

from probflow.errors import InvalidArgumentError, NonFiniteResultError, SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import GeneratorLike, NoiseSource, as_noise_source
from probflow.solvers.base import Solver, StepGenerator, Stepper, StepResult
from probflow.solvers.grid import Grid
from probflow.solvers.registry import as_solver
from probflow.terms import ProbabilityFlowODE, ReverseSDE
from probflow.validation import validate_sigmas, validate_state

Callback = Callable[[dict], None]
Term = ProbabilityFlowODE | ReverseSDE


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


def build_term(denoiser_or_term: object, solver: Solver) -> Term:
    """The term ``solver`` integrates: a given term (checked against ``solver.term_kind``), or a bare denoiser
    wrapped in the :class:`~probflow.ProbabilityFlowODE` or the :class:`~probflow.ReverseSDE` (default Langevin
    strength)."""
    wanted = ReverseSDE if solver.term_kind == "sde" else ProbabilityFlowODE
    if isinstance(denoiser_or_term, (ProbabilityFlowODE, ReverseSDE)):
        if not isinstance(denoiser_or_term, wanted):
            raise SolverConfigError(f"{solver.name} integrates a {wanted.__name__}, got a "
                                    f"{type(denoiser_or_term).__name__}")
        return denoiser_or_term
    if not callable(denoiser_or_term):
        raise InvalidArgumentError(f"the first argument must be a denoiser D(x, sigma), a ProbabilityFlowODE or a "
                                   f"ReverseSDE, got {type(denoiser_or_term).__name__}")
    return wanted(denoiser_or_term)


def solve(
    denoiser_or_term: Term | Callable,
    solver: Solver | str,
    x: torch.Tensor,
    sigmas: torch.Tensor | Sequence[float],
    *,
    generator: GeneratorLike | NoiseSource = None,
    callback: Callback | None = None,
    progress: bool = False,
    trajectory: bool = False,
    model_kwargs: Mapping[str, object] | None = None,
    grad: bool | None = None,
) -> Solution:
    """Integrate from ``sigmas[0]`` to ``sigmas[-1]`` with ``solver``, starting at ``x``.

    * ``denoiser_or_term``: a denoiser ``D(x, sigma)`` (``sigma`` reaches it as a ``[batch]`` tensor), or a term.
    * ``solver``: a :class:`~probflow.solvers.Solver` or its spec (``"heun"``, ``"ddim(eta=1)"``).
    * ``x``: the state at ``sigmas[0]`` (e.g. ``noise * sigmas[0]``), ``[batch, ...]``.
    * ``sigmas``: strictly decreasing, finite and non-negative, with 0 allowed only last (k-diffusion). The step
      into 0 is the final denoise ``x = D(x, sigma_last)`` unless the solver declares its own.
    * ``generator``: feeds the stochastic solvers: one ``torch.Generator``, a sequence of one per sample
      (batch-size independent), or a ready :class:`~probflow.noise.NoiseSource` such as
      :class:`~probflow.brownian.BrownianNoise`.
    * ``callback`` receives ``{"i", "sigma", "sigma_next", "x", "denoised"}`` after every step (``x`` is the new
      state); ``progress=True`` shows a tqdm bar; ``trajectory=True`` keeps the state at every grid point.
    * ``model_kwargs`` are passed to every denoiser call, ``D(x, sigma, **model_kwargs)`` (k-diffusion's
      ``extra_args``: class labels, text embeddings).
    * ``grad``: differentiate through the solve (gradients with respect to ``x``, to ``sigmas`` when it requires
      grad, and to the denoiser's parameters). By default the solve is differentiable exactly when ``x`` or
      ``sigmas`` requires grad; otherwise it runs under ``torch.inference_mode()`` and returns ordinary tensors.

    The returned state has ``x``'s dtype; the maths runs in :func:`compute_dtype_for` of it. NaN or Inf is never
    returned: a non-finite denoiser output raises :class:`~probflow.errors.DenoiserOutputError`, a non-finite state
    that the solver produced (or a result that overflows ``x``'s dtype)
    :class:`~probflow.errors.NonFiniteResultError`, each naming the step, sigma and dtype.
    """
    solver = as_solver(solver)
    x = validate_state(x, name="x", error=InvalidArgumentError)
    term = build_term(denoiser_or_term, solver)
    sigmas = validate_sigmas(sigmas)
    differentiable = (x.requires_grad or sigmas.requires_grad) if grad is None else bool(grad)
    state = x.to(compute_dtype_for(x.dtype))
    grid = Grid(sigmas, dtype=state.dtype, device=state.device, differentiable=differentiable)
    model = ModelCall(term.denoiser, state, grid.values, solver_name=solver.name, model_kwargs=model_kwargs,
                      differentiable=differentiable)
    noise = as_noise_source(generator, state)  # checked for every solver: a wrong generator is a caller's error
    inputs: dict[str, object] = {}
    if solver.integrates_term:
        inputs["term"] = term.with_denoiser(model, shape=tuple(state.shape[1:]))
    if solver.stochastic:
        inputs["noise"] = noise
    states = [state] if trajectory else None
    with torch.enable_grad() if differentiable else torch.inference_mode():
        try:
            state = _integrate(solver, solver.start(grid, **inputs), grid, model, state, callback, progress, states)
        except Exception as error:
            failure = model.first_failure()  # a NaN/Inf earlier in the solve is the likelier cause
            if failure is not None:
                raise failure from error
            raise
    model.check_finite()
    # Outside inference mode: the caller gets ordinary tensors (in-place updates and autograd work on them).
    result = state.to(x.dtype) if differentiable else state.to(x.dtype, copy=True)
    _check_result(result, state, solver, grid)
    path = torch.stack(states).to(x.dtype) if states is not None else None
    return Solution(x=result, nfe=model.nfe, sigmas=sigmas, trajectory=path)


def _integrate(solver: Solver, stepper: Stepper, grid: Grid, model: ModelCall, state: torch.Tensor,
               callback: Callback | None, progress: bool, states: list[torch.Tensor] | None) -> torch.Tensor:
    """The loop: every step of the grid, the step into 0 as the final denoise unless the solver takes it."""
    steps = range(grid.num_steps)
    for i in tqdm(steps, desc=solver.name, leave=False) if progress else steps:
        model.step = i
        if solver.denoises_into(grid.values[i + 1]):
            state = denoised = model(state, grid.sigma(i))
        else:
            state, denoised = _run(stepper.step(i, state), model)
        if callback is not None:
            callback({"i": i, "sigma": grid.values[i], "sigma_next": grid.values[i + 1], "x": state,
                      "denoised": denoised})
        if states is not None:
            states.append(state)
    return state


def _run(step: StepGenerator | StepResult, model: ModelCall) -> StepResult:
    """Drive one step: answer each model request ``(x, sigma)`` of a stepper's generator with the denoiser; a
    backend's step has already computed its result."""
    if type(step) is not GeneratorType:
        result = step
    else:
        try:
            x, sigma = next(step)
            while True:
                x, sigma = step.send(model(x, sigma))
        except StopIteration as finished:
            result = finished.value
    return step_result(result, model.solver_name)


def step_result(result: object, solver_name: str) -> StepResult:
    """``result`` if it keeps the step contract, a pair ``(x_next, denoised)`` (:mod:`probflow.solvers.base`);
    :class:`SolverConfigError` naming the solver otherwise, before a wrong unpacking fails somewhere less clear."""
    if type(result) is not tuple or len(result) != 2:
        raise SolverConfigError(f"{solver_name}: a step must return (x_next, denoised) (the step contract, "
                                f"probflow.solvers.base), got {type(result).__name__}")
    return result


def _check_result(result: torch.Tensor, state: torch.Tensor, solver: Solver, grid: Grid) -> None:
    """NaN/Inf in the result that no denoiser output explains: the solver's last combination, or the cast to a
    narrower dtype."""
    if bool(torch.isfinite(result.detach()).all()):
        return
    last = grid.num_steps - 1
    if bool(torch.isfinite(state.detach()).all()):
        largest = float(state.detach().abs().max())
        raise NonFiniteResultError(f"the result of {solver.name} does not fit in {result.dtype}: max |x| = "
                                   f"{largest:.3g} (the solve ran in {state.dtype}); use a wider dtype")
    raise NonFiniteResultError(f"{solver.name} produced NaN/Inf in its last step (step {last}, sigma="
                               f"{grid.values[last]:.6g} -> {grid.values[last + 1]:.6g}), while every denoiser output "
                               f"was finite (solver maths in {state.dtype})")

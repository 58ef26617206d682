"""probflow's solvers as a diffusers scheduler: ``pipe.scheduler = ProbflowScheduler.from_config(pipe.scheduler.config,
solver="exp_adams")``.

A diffusers pipeline calls the model itself, once per entry of ``scheduler.timesteps``, and hands each output to
``scheduler.step``. probflow's steppers are generators that *yield* model requests ``(x, sigma)`` and receive the
denoised value (:mod:`probflow.solvers.base`), so a solver runs in a pipeline by answering each request with one
pipeline model call: :class:`ProbflowScheduler` plans the requests of the whole grid in ``set_timesteps`` (one
timestep per model call; a multi-stage solver such as Heun or RK4 lists every stage, as diffusers'
``HeunDiscreteScheduler`` does), then each ``step`` converts the model output to the denoised estimate, sends it
into the stepper and returns the state of the next request.

The mathematics is that of :func:`probflow.solve` on :func:`probflow.denoisers.from_diffusers` ``(unet, scheduler)``
(a :class:`~probflow.denoisers.DiscreteDDPM`): with the training schedule ``alpha_bar_k`` of the config
(``beta_schedule``/``trained_betas``/``num_train_timesteps``), ``sigma_k = sqrt((1 - alpha_bar_k) / alpha_bar_k)``,
the VE state ``x = y + sigma n`` is the model's VP input scaled by ``sqrt(1 + sigma^2)`` (EDM eq. 4, Table 1),
the model timestep of a noise level is :meth:`DiscreteDDPM.sigma_to_t` (log-sigma interpolation into the table),
and the model output ``F`` becomes ``D = c_skip x + c_out F`` for the config's ``prediction_type``
(:func:`probflow.denoisers.scalings.output_scalings`). The same model, grid and noise give the same images as
``probflow.solve`` (measured in ``tests/test_integrations_diffusers.py``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from types import GeneratorType
from typing import Any

import torch

from probflow.calibration.noise_levels import told_levels
from probflow.denoisers.base import batch_sigma, broadcast_sigma
from probflow.denoisers.discrete import DiscreteDDPM
from probflow.denoisers.scalings import output_scalings, vp_input_scaling
from probflow.errors import (
    DenoiserConfigError, DenoiserOutputError, InvalidArgumentError, SchedulerStateError, SolverConfigError,
    UnsupportedSolverError,
)
from probflow.extras import require
from probflow.noise import NoiseSource, as_noise_source
from probflow.sample import recommended
from probflow.schedules import karras
from probflow.solve import build_term, compute_dtype_for, step_result
from probflow.solvers.base import Request, Solver, Stepper
from probflow.solvers.grid import Grid
from probflow.solvers.registry import as_solver
from probflow.validation import validate_sigmas

require("diffusers", feature="probflow.integrations.diffusers")

# diffusers is imported only after the one-line check above that it is installed.
from diffusers import DDPMScheduler
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import KarrasDiffusionSchedulers, SchedulerMixin
from diffusers.utils import BaseOutput

SAMPLE_SPACES = ("vp", "ve")
#: Model outputs that carry a learned variance after the prediction (the variance is not used).
LEARNED_VARIANCE = ("learned", "learned_range")
#: Relative tolerance when matching the timestep a pipeline passes back with the planned one (a pipeline may pass
#: it through half precision).
TIMESTEP_TOLERANCE = 1e-3
#: ``alpha_bar`` of the last training timestep under zero terminal SNR (diffusers' EulerDiscreteScheduler's value).
ZERO_SNR_ALPHA_BAR = 2.0**-24
Calls = Generator[Request, torch.Tensor, torch.Tensor]


@dataclass
class ProbflowSchedulerOutput(BaseOutput):
    """What :meth:`ProbflowScheduler.step` returns: ``prev_sample``, the pipeline's sample at the next model call (the
    final sample after the last), and ``pred_original_sample``, the denoised estimate of this call."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor | None = None


def _called_by_the_pipeline(*args: object, **kwargs: object) -> torch.Tensor:
    raise SchedulerStateError("ProbflowScheduler never calls the model: the pipeline does")


class ProbflowScheduler(SchedulerMixin, ConfigMixin):
    """A diffusers scheduler that runs a probflow solver, one model call per ``step`` (module docstring).

    Configuration (diffusers ``ConfigMixin``; ``from_config(pipe.scheduler.config, solver=...)`` keeps the training
    schedule and prediction type of the pipeline's scheduler):

    * ``num_train_timesteps``, ``beta_start``, ``beta_end``, ``beta_schedule``, ``trained_betas``: the training
      schedule, computed as diffusers' ``DDPMScheduler`` does (with ``rescale_betas_zero_snr``, Lin et al. 2024, the
      last ``alpha_bar`` is ``2^-24`` instead of 0, ``sigma_max = 4096``, as in diffusers' Euler scheduler, or half
      the previous ``alpha_bar`` if that is smaller);
      ``prediction_type``: ``"epsilon"``, ``"v_prediction"`` or ``"sample"``; ``variance_type``:
      ``"learned"``/``"learned_range"`` drops the variance channels of the model output.
    * ``solver``: a probflow solver spec (``"exp_adams"``, ``"dpmpp_2m"``, ``"heun"``, ``"euler_ancestral"``,
      ``"ddim(eta=1)"``) or instance; ``None`` is :func:`probflow.recommended`'s for each budget. torchdiffeq and
      torchsde backends, and adaptive solvers, call the model inside their own integrator and are refused
      (:class:`~probflow.errors.UnsupportedSolverError`).
    * ``sigma_min``, ``sigma_max`` (default: the model's range ``sigma_0``, ``sigma_{N-1}``) and ``rho`` (default
      7) of the default grids (the recommended grid ends at its own ``sigma_min``, or the model's if that is
      larger); ``sigmas``: a fixed grid used by every ``set_timesteps`` (for pipelines that cannot
      pass one, e.g. a calibrated :class:`~probflow.calibration.Schedule`'s ``sigmas.tolist()``);
      ``model_sigmas``: with ``sigmas``, the noise level the model is *told* at each positive grid point (a
      calibrated schedule's ``model_sigmas.tolist()``, :mod:`probflow.calibration.noise_levels`): the model's
      timestep, its input scaling and the conversion of its output use it, while the solver integrates on
      ``sigmas``. Every call must then be at a grid point, and ``set_timesteps`` takes no other grid.
    * ``sample_space``: the state the pipeline holds between calls.

      - ``"vp"`` (default): the model's own input ``x_vp = x / sqrt(1 + sigma^2)``, as DDPM/DDIM/DPM-Solver
        schedulers hold it: ``init_noise_sigma = 1`` and ``scale_model_input`` is the identity, so it works in every
        pipeline, including those that call neither (``DDPMPipeline``, ``DiTPipeline``). Pure noise ``n`` is the VE
        state ``sqrt(1 + sigma_max^2) n``.
      - ``"ve"``: the VE state ``x`` of :func:`probflow.solve`, as diffusers' Euler/Heun schedulers hold it:
        ``init_noise_sigma = sigmas[0]`` and ``scale_model_input`` maps ``x`` to ``x / sqrt(1 + sigma^2)``; for
        pipelines that call both (Stable Diffusion), where the pipeline's latents are exactly probflow's states.

    ``set_timesteps(num_inference_steps)`` takes a budget of model calls, as :func:`probflow.sample`'s ``nfe``: the
    default grid (:func:`probflow.recommended` for ``solver=None``, else a Karras grid, EDM eq. 5) has as many steps
    as fit, so ``len(timesteps) <= num_inference_steps``. ``timesteps`` has one entry per model call, ``sigmas`` the
    noise level of each call and the final one, ``grid_sigmas`` the solver's grid.

    The scheduler integrates from its own state: ``step`` must receive the sample it returned last (it raises
    :class:`~probflow.errors.SchedulerStateError` if the pipeline changed it, as inpainting pipelines do), and the
    timesteps in order. A new ``set_timesteps`` starts a new run; every instance keeps its own run, so pipelines
    sampling concurrently need their own instances (``from_config`` makes one). Stochastic solvers draw from the
    ``generator`` the pipeline passes to ``step`` (a list of per-sample generators keeps each sample independent of
    the batch size).
    """

    _compatibles = [scheduler.name for scheduler in KarrasDiffusionSchedulers]
    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        trained_betas: Sequence[float] | None = None,
        prediction_type: str = "epsilon",
        variance_type: str | None = None,
        rescale_betas_zero_snr: bool = False,
        solver: str | None = None,
        sample_space: str = "vp",
        sigma_min: float | None = None,
        sigma_max: float | None = None,
        rho: float | None = None,
        sigmas: Sequence[float] | None = None,
        model_sigmas: Sequence[float] | None = None,
    ):
        if sample_space not in SAMPLE_SPACES:
            raise InvalidArgumentError(f"sample_space must be one of {SAMPLE_SPACES}, got {sample_space!r}")
        if solver is not None:
            solver = as_solver(solver)
            self.register_to_config(solver=solver.spec)  # JSON in the config, whichever form was given
            _check_one_call_per_step(solver)
        if sigmas is not None:
            self.register_to_config(sigmas=[float(sigma) for sigma in _grid_ending_in_zero(sigmas)])
        if model_sigmas is not None:
            self.register_to_config(model_sigmas=_told_levels(model_sigmas, self.config.sigmas))
        training = DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_start=beta_start, beta_end=beta_end,
                                 beta_schedule=beta_schedule, trained_betas=trained_betas,
                                 rescale_betas_zero_snr=rescale_betas_zero_snr)
        self.alphas_cumprod = training.alphas_cumprod
        if rescale_betas_zero_snr:
            # Zero terminal SNR puts the last noise level at infinity; diffusers' Euler scheduler stops at 2^-24
            # (kept below the previous value, so the table still decreases).
            self.alphas_cumprod[-1] = min(ZERO_SNR_ALPHA_BAR, float(self.alphas_cumprod[-2]) / 2)
        try:
            self.schedule = DiscreteDDPM(_called_by_the_pipeline, self.alphas_cumprod, prediction=prediction_type)
        except DenoiserConfigError as exc:
            raise DenoiserConfigError(f"ProbflowScheduler cannot use this training schedule: {exc}") from exc
        self.solver: Solver | None = solver
        self.order = 1 if solver is None else solver.calls_per_step
        self.grid_sigmas: torch.Tensor | None = None
        self.sigmas: torch.Tensor | None = None
        self.timesteps: torch.Tensor | None = None
        self.num_inference_steps: int | None = None
        self._run: _Run | None = None
        self._planned: list[float] = []
        self._told: list[float] = []
        self._calls_made = 0
        self._scaled_for = -1

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, return_unused_kwargs: bool = False, **kwargs: Any):
        """diffusers' ``from_config``; refuses the config of a flow-matching scheduler, whose model is not a
        DDPM-trained one this scheduler can read (``alphas_cumprod`` would silently be wrong)."""
        if isinstance(config, Mapping) and _is_flow_matching(config):
            raise DenoiserConfigError("this is a flow-matching scheduler's config; ProbflowScheduler runs DDPM-trained "
                                      "(epsilon, v or x0) models")
        return super().from_config(config, return_unused_kwargs=return_unused_kwargs, **kwargs)

    def __len__(self) -> int:
        return self.config.num_train_timesteps

    @property
    def init_noise_sigma(self) -> float:
        """What pure noise is multiplied by to start: 1 for ``sample_space="vp"``, the first sigma for ``"ve"``."""
        if self.config.sample_space == "vp":
            return 1.0
        return float(self.grid_sigmas[0]) if self.grid_sigmas is not None else self.schedule.sigma_max

    @property
    def step_index(self) -> int | None:
        """The number of model calls taken in this run (None before ``set_timesteps``)."""
        return None if self.timesteps is None else self._calls_made

    @property
    def begin_index(self) -> int:
        """Runs start at the first model call."""
        return 0

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Only 0: starting part-way (an img2img ``strength`` below 1) would start a multistep solver mid-grid."""
        if begin_index != 0:
            raise SchedulerStateError(f"ProbflowScheduler starts at the first model call; begin_index={begin_index} "
                                      f"(img2img with strength < 1) is not supported: pass the shorter grid as "
                                      f"set_timesteps(sigmas=...) instead")

    def set_timesteps(self, num_inference_steps: int | None = None, device: str | torch.device | None = None,
                      timesteps: Sequence[float] | None = None, sigmas: Sequence[float] | None = None) -> None:
        """Plan a run: give a budget of model calls, or the grid as ``sigmas`` (decreasing; a 0 is appended if it
        does not end in 0) or as model ``timesteps`` (each mapped to its noise level). Sets ``timesteps`` (one per
        model call, float32 on ``device``), ``sigmas`` (each call's noise level, then the final one),
        ``grid_sigmas`` and ``num_inference_steps`` (the number of model calls)."""
        given = [name for name, value in (("num_inference_steps", num_inference_steps), ("timesteps", timesteps),
                                          ("sigmas", sigmas)) if value is not None]
        if len(given) != 1:
            raise InvalidArgumentError(f"set_timesteps takes one of num_inference_steps, timesteps or sigmas, got "
                                       f"{given or 'none'}")
        if timesteps is not None:
            sigmas = self.schedule.t_to_sigma(torch.as_tensor(timesteps, dtype=torch.float64)).tolist()
        if sigmas is not None and self.config.model_sigmas is not None:
            raise InvalidArgumentError("this scheduler tells the model calibrated noise levels at the grid points of "
                                       "its configured sigmas; it takes no other grid in set_timesteps")
        solver, grid = self._solver_and_grid(num_inference_steps, sigmas)
        planned = plan_calls(solver, grid)
        if num_inference_steps is not None and len(planned) > num_inference_steps:
            raise SolverConfigError(f"the configured grid needs {len(planned)} model calls with {solver.name}, more "
                                    f"than num_inference_steps={num_inference_steps}")
        self.solver, self.grid_sigmas, self._planned = solver, grid, planned
        self._told = self._told_at(planned, grid)
        self.order = solver.calls_per_step
        self.sigmas = torch.tensor([*planned, float(grid[-1])], dtype=torch.float64)
        self.timesteps = self.schedule.sigma_to_t(torch.tensor(self._told, dtype=torch.float64)).to(
            device=device, dtype=torch.float32)
        self._planned_timesteps = self.timesteps.tolist()  # read in step(): Python floats, no device reads
        self.num_inference_steps = len(planned)
        self._run, self._calls_made, self._scaled_for = None, 0, -1

    def _told_at(self, planned: list[float], grid: torch.Tensor) -> list[float]:
        """The noise level the model is told at each planned call: the call's own, or the configured one of its
        grid point."""
        if self.config.model_sigmas is None:
            return list(planned)
        told = dict(zip(grid[:-1].tolist(), self.config.model_sigmas))
        off_grid = [sigma for sigma in planned if sigma not in told]
        if off_grid:
            raise UnsupportedSolverError(f"{self.solver.name} calls the model between grid points (sigma="
                                         f"{off_grid[0]:.6g}), where no told noise level is configured")
        levels = [told[sigma] for sigma in planned]
        if self.config.sample_space == "vp" and levels[0] != planned[0]:
            raise InvalidArgumentError("in sample_space='vp' the pipeline's pure noise is the model's input at the "
                                       "first call, which is right only at the grid's own first level: give "
                                       "model_sigmas[0] = sigmas[0] (as calibrate does) or use sample_space='ve'")
        return levels

    def _solver_and_grid(self, budget: int | None, sigmas: Sequence[float] | None) -> tuple[Solver, torch.Tensor]:
        if sigmas is None and self.config.sigmas is not None:
            sigmas = self.config.sigmas
        if sigmas is not None:
            grid = _grid_ending_in_zero(sigmas)
            positive = len(grid) - 1
            return (self.solver if self.config.solver is not None else recommended(positive).solver), grid
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise InvalidArgumentError(f"num_inference_steps must be a positive integer, got {budget!r}")
        sigma_min = self.config.sigma_min or self.schedule.sigma_min
        sigma_max = self.config.sigma_max or self.schedule.sigma_max
        if self.config.solver is None and self.config.rho is None:
            # The recommended grid ends at its own sigma_min, but never below the model's trained range.
            choice = recommended(budget)
            end = self.config.sigma_min or max(choice.sigma_min, self.schedule.sigma_min)
            return choice.solver, choice.sigmas(sigma_max, sigma_min=end)
        solver = self.solver if self.config.solver is not None else recommended(budget).solver
        rho = 7.0 if self.config.rho is None else self.config.rho
        return solver, karras(solver.steps_within(budget), sigma_min, sigma_max, rho)

    def scale_model_input(self, sample: torch.Tensor, timestep: float | torch.Tensor | None = None) -> torch.Tensor:
        """The model's input for the next call: ``sample`` itself in ``sample_space="vp"``; ``x / sqrt(1 +
        sigma^2)`` at that call's noise level in ``"ve"``."""
        if self.config.sample_space == "vp":
            return sample
        index = self._next_call(timestep)
        self._scaled_for = index
        return _vp_scale(self._told[index], sample) * sample

    def step(self, model_output: torch.Tensor, timestep: float | torch.Tensor, sample: torch.Tensor,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             return_dict: bool = True) -> ProbflowSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """Take the model output of the next planned call: convert it to ``D`` (``prediction_type``), send it to the
        solver, and return the sample at the following call (the final sample after the last call) and ``D``."""
        index = self._next_call(timestep)
        if self.config.sample_space == "ve" and self._scaled_for != index:
            raise SchedulerStateError("sample_space='ve' needs the pipeline to call scale_model_input before each "
                                      "model call; for a pipeline that feeds the sample to the model as it is "
                                      "(DDPMPipeline, DiTPipeline) use sample_space='vp'")
        if index == 0:
            self._run = _Run(self.solver, self.grid_sigmas, self._initial_state(sample), generator)
        elif not torch.equal(sample, self._run.handed_out):
            raise SchedulerStateError(
                "step() got another sample than the prev_sample it returned: ProbflowScheduler integrates from its own "
                "state, so a pipeline that edits the latents between calls (an inpainting blend) is not supported" +
                ("; in sample_space='ve' pass the unscaled latents" if self.config.sample_space == "ve" else ""))
        x, _ = self._run.request
        denoised = self._denoised(model_output, x, self._told[index])
        request = self._run.answer(denoised)
        self._calls_made += 1
        if request is None:
            prev_sample = self._run.final
        else:
            if float(request[1]) != self._planned[index + 1]:
                raise UnsupportedSolverError(f"{self.solver.name} asked for the model at sigma={float(request[1]):.6g}"
                                             f" where its plan had {self._planned[index + 1]:.6g}: its calls depend "
                                             f"on the sample, not on the grid alone")
            prev_sample = self._pipeline_sample(request[0], self._told[index + 1])
        prev_sample = prev_sample.to(sample.dtype)
        self._run.handed_out = prev_sample
        pred_original_sample = denoised.to(sample.dtype)
        if not return_dict:
            return prev_sample, pred_original_sample
        return ProbflowSchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)

    def _next_call(self, timestep: float | torch.Tensor | None) -> int:
        """The index of the next model call, after checking that ``timestep`` (if given) is its timestep."""
        if self.timesteps is None:
            raise SchedulerStateError("call set_timesteps before sampling")
        index = self._calls_made
        if index >= len(self._planned):
            raise SchedulerStateError(f"this run's {len(self._planned)} model calls are all taken; call set_timesteps "
                                      f"to sample again")
        if timestep is not None:
            given = float(torch.as_tensor(timestep).reshape(-1)[0])
            expected = self._planned_timesteps[index]
            if not abs(given - expected) <= TIMESTEP_TOLERANCE * max(1.0, abs(expected)):
                raise SchedulerStateError(f"got timestep {given:.6g}, but the next model call (call {index} of "
                                          f"{len(self._planned)}) is at timestep {expected:.6g}: step through "
                                          f"scheduler.timesteps in order, once each")
        return index

    def _initial_state(self, sample: torch.Tensor) -> torch.Tensor:
        """The VE state of the pipeline's first sample."""
        state = sample.to(compute_dtype_for(sample.dtype))
        if self.config.sample_space == "ve":
            return state
        return state / _vp_scale(self._told[0], state)

    def _pipeline_sample(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """The state of a model request as the pipeline holds it (the model's input at the told noise level
        ``sigma`` in ``sample_space="vp"``, computed as :class:`~probflow.denoisers.DiscreteDDPM` computes it)."""
        if self.config.sample_space == "ve":
            return x
        return _vp_scale(sigma, x) * x

    def _denoised(self, model_output: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """``D = c_skip x + c_out F`` for the prediction type, as :class:`~probflow.denoisers.Preconditioning`."""
        if not isinstance(model_output, torch.Tensor):
            raise DenoiserOutputError(f"the model output must be a tensor, got {type(model_output).__name__}")
        if self.config.variance_type in LEARNED_VARIANCE:
            model_output = model_output[:, :x.shape[1]]
        if model_output.shape != x.shape:
            raise DenoiserOutputError(f"the model output has shape {tuple(model_output.shape)} for a sample of shape "
                                      f"{tuple(x.shape)}")
        c_skip, c_out = output_scalings(self.config.prediction_type, batch_sigma(sigma, x))
        return broadcast_sigma(c_skip, x) * x + broadcast_sigma(c_out, x) * model_output.to(x.dtype)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor,
                  timesteps: torch.Tensor | float) -> torch.Tensor:
        """``original_samples`` noised to the noise level of ``timesteps`` (one, or one per sample) in the pipeline's
        sample space: ``y + sigma n`` (VE), or ``sqrt(alpha_bar) y + sqrt(1 - alpha_bar) n`` (VP)."""
        sigma = self.schedule.t_to_sigma(torch.as_tensor(timesteps, dtype=torch.float64).cpu())
        sigma = broadcast_sigma(sigma.reshape(-1).to(original_samples.device), original_samples)
        noisy = original_samples + sigma * noise
        return noisy if self.config.sample_space == "ve" else noisy * vp_input_scaling(sigma)


class _Run:
    """One sampling run: the solver's stepper on the grid, driven one model request at a time."""

    def __init__(self, solver: Solver, grid_sigmas: torch.Tensor, state: torch.Tensor,
                 generator: torch.Generator | Sequence[torch.Generator] | None):
        grid = Grid(grid_sigmas, dtype=state.dtype, device=state.device, differentiable=False)
        self.calls = model_requests(solver, start(solver, grid, state, as_noise_source(generator, state)), grid, state)
        self.request: Request | None = next(self.calls)
        self.final: torch.Tensor | None = None
        self.handed_out: torch.Tensor | None = None

    def answer(self, denoised: torch.Tensor) -> Request | None:
        """Send the denoised value of the current request; the next request, or None when the run is finished."""
        try:
            self.request = self.calls.send(denoised)
        except StopIteration as finished:
            self.request, self.final = None, finished.value
        return self.request


def start(solver: Solver, grid: Grid, state: torch.Tensor, noise: NoiseSource) -> Stepper:
    """``solver.start`` with the inputs it declares; a term that refuses to be evaluated, since here only the
    pipeline calls the model (a backend that integrates the term itself is refused at its first evaluation)."""
    inputs: dict[str, object] = {}
    if solver.integrates_term:
        inputs["term"] = build_term(_RefuseBackend(solver), solver).with_denoiser(_RefuseBackend(solver),
                                                                                  shape=tuple(state.shape[1:]))
    if solver.stochastic:
        inputs["noise"] = noise
    return solver.start(grid, **inputs)


def model_requests(solver: Solver, stepper: Stepper, grid: Grid, state: torch.Tensor) -> Calls:
    """The model requests of a whole solve, one at a time: yields ``(x, sigma)``, receives the denoised value,
    returns the final state. The step into ``sigma = 0`` is the final denoise unless the solver takes it itself,
    as in :func:`probflow.solve`."""
    for i in range(grid.num_steps):
        if solver.denoises_into(grid.values[i + 1]):
            state = yield state, grid.sigma(i)
            continue
        step = stepper.step(i, state)
        if type(step) is not GeneratorType:
            raise UnsupportedSolverError(_backend_message(solver))
        state, _ = step_result((yield from step), solver.name)
    return state


def plan_calls(solver: Solver, grid_sigmas: torch.Tensor) -> list[float]:
    """The noise level of every model call ``solver`` makes on the grid, from a dry run on a one-number state (the
    requests of a grid-driven solver do not depend on the model's values)."""
    _check_one_call_per_step(solver)
    state = torch.ones(1, 1, dtype=torch.float64)
    grid = Grid(grid_sigmas, dtype=torch.float64, device=state.device, differentiable=False)
    noise = NoiseSource(torch.Generator().manual_seed(0), state.shape, state.dtype, state.device)
    calls = model_requests(solver, start(solver, grid, state, noise), grid, state)
    x, sigma = next(calls)
    if not torch.equal(x, state):
        raise UnsupportedSolverError(f"{solver.name} changes the state before its first model call (churn at the "
                                     f"first step), which a pipeline has already evaluated: start churning below the "
                                     f"first sigma (s_tmax)")
    planned = []
    try:
        while True:
            planned.append(float(sigma))
            x, sigma = calls.send(torch.zeros_like(x))
    except StopIteration:
        return planned


class _RefuseBackend:
    """The denoiser of the term a backend would integrate: evaluating it means the solver calls the model itself."""

    def __init__(self, solver: Solver):
        self.solver = solver

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        raise UnsupportedSolverError(_backend_message(self.solver))


def _backend_message(solver: Solver) -> str:
    return (f"{solver.name} evaluates the model inside its own integrator (a torchdiffeq/torchsde backend), so it "
            f"cannot take one model call per scheduler step; use one of probflow's own solvers (exp_adams, dpmpp_2m, "
            f"heun, euler_ancestral, ...)")


def _check_one_call_per_step(solver: Solver) -> None:
    if solver.adaptive:
        raise UnsupportedSolverError(f"{solver.name} is adaptive: its model calls are not known before sampling, "
                                     f"but a pipeline needs scheduler.timesteps in advance")


def _is_flow_matching(config: Mapping[str, Any]) -> bool:
    """Whether a scheduler config belongs to a rectified-flow model: a FlowMatch scheduler's (its ``shift``), or a
    multistep scheduler switched to flow sigmas or flow prediction."""
    return ("shift" in config or bool(config.get("use_flow_sigmas")) or config.get("prediction_type") ==
            "flow_prediction" or "FlowMatch" in str(config.get("_class_name", "")))


def _vp_scale(sigma: float, like: torch.Tensor) -> torch.Tensor:
    """``1 / sqrt(1 + sigma^2)`` broadcast against ``like``: the VE state times it is the VP sample (the model's
    input), as :class:`~probflow.denoisers.DiscreteDDPM` computes it."""
    return broadcast_sigma(vp_input_scaling(batch_sigma(sigma, like)), like)


def _told_levels(model_sigmas: Sequence[float], sigmas: Sequence[float] | None) -> list[float]:
    """``model_sigmas`` as floats, checked against the configured grid (:func:`~probflow.calibration.noise_levels.
    told_levels`)."""
    if sigmas is None:
        raise InvalidArgumentError("model_sigmas needs the grid as sigmas: the told levels belong to its points")
    return list(told_levels("model_sigmas", model_sigmas, len(sigmas) - 1))


def _grid_ending_in_zero(sigmas: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A validated float64 grid; a 0 is appended when it ends above 0, so that the pipeline's output is the sample."""
    grid = validate_sigmas(torch.as_tensor(sigmas, dtype=torch.float64).detach().cpu() if isinstance(
        sigmas, torch.Tensor) else sigmas)
    return grid if float(grid[-1]) == 0.0 else torch.cat([grid, grid.new_zeros(1)])

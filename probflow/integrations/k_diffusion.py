"""probflow's solvers as k-diffusion samplers, and k-diffusion denoisers as probflow denoisers.

k-diffusion (Crowson; the convention of Karras et al. 2022, "EDM") and probflow agree on the mathematics: a denoiser
``model(x, sigma * s_in, **extra_args)`` returns the denoised image, sampling starts at ``x = noise * sigmas[0]``
and integrates the probability-flow ODE ``dx/dsigma = (x - D(x, sigma)) / sigma`` (or the reverse SDE) down a grid
``sigmas`` that ends in 0. Only the calling conventions differ, and this module maps them:

* :func:`sampler` turns a probflow solver into a function with the signature of k-diffusion's
  ``sample_*(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)``, so code written for
  k-diffusion (ComfyUI's ``KSAMPLER``, A1111's samplers) runs probflow's solvers unchanged;
* :func:`denoiser_from_k_diffusion` turns a k-diffusion denoiser wrapper (``CompVisDenoiser``,
  ``DiscreteEpsDDPMDenoiser``, a ``CFGDenoiser``, any ``model(x, sigma, **kwargs)``) into a probflow denoiser.

k-diffusion itself is not imported: nothing here needs it installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from probflow.denoisers.base import DenoiserModule, batch_sigma
from probflow.errors import GeneratorError, InvalidArgumentError
from probflow.noise import GeneratorLike, NoiseSource
from probflow.solve import compute_dtype_for, solve
from probflow.solvers.base import Solver
from probflow.solvers.registry import as_solver, get_solver

#: k-diffusion's ``noise_sampler(sigma, sigma_next) -> noise of the state's shape``.
NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: A function with the signature of k-diffusion's ``sample_*``.
KSampler = Callable[..., torch.Tensor]


class KDiffusionDenoiser(DenoiserModule):
    """A k-diffusion denoiser ``model(x, sigma, **extra_args)`` as a probflow denoiser.

    ``sigma`` reaches ``model`` as a ``[batch]`` tensor and the denoiser's ``model_kwargs`` as its ``extra_args``.
    Being a :class:`~probflow.denoisers.base.DenoiserModule`, it is called in the solver state's dtype, as
    k-diffusion's samplers call it (:func:`probflow.solve` would otherwise cast a bare ``nn.Module``'s inputs to its
    parameters' dtype): the wrapper's own preconditioning decides where the network's precision begins.
    ``sigma_min`` and ``sigma_max`` are the model's noise-level range when it declares one (k-diffusion's
    ``DiscreteSchedule`` wrappers do), else ``None``.
    """

    def __init__(self, model: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        if not callable(model):
            raise InvalidArgumentError(f"model must be callable as model(x, sigma, **extra_args), got "
                                       f"{type(model).__name__}")
        self.model = model

    @property
    def sigma_min(self) -> float | None:
        """The model's smallest noise level, if it declares one."""
        return _declared(self.model, "sigma_min")

    @property
    def sigma_max(self) -> float | None:
        """The model's largest noise level, if it declares one."""
        return _declared(self.model, "sigma_max")

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **extra_args: object) -> torch.Tensor:
        return self.model(x, batch_sigma(sigma, x), **extra_args)


def _declared(model: object, name: str) -> float | None:
    value = getattr(model, name, None)
    return None if value is None else float(value)


def denoiser_from_k_diffusion(model: Callable[..., torch.Tensor]) -> KDiffusionDenoiser:
    """A probflow denoiser from a k-diffusion denoiser ``model(x, sigma, **extra_args)`` (see
    :class:`KDiffusionDenoiser`): ``probflow.solve(denoiser_from_k_diffusion(model), solver, x, sigmas,
    model_kwargs=extra_args)``."""
    return model if isinstance(model, KDiffusionDenoiser) else KDiffusionDenoiser(model)


class NoiseSamplerSource(NoiseSource):
    """A k-diffusion ``noise_sampler(sigma, sigma_next)`` as a probflow noise source.

    The Brownian increments of a step (ancestral noise, Euler-Maruyama) are the noise sampler's draws for that
    step, called with 0-d tensors of the caller's sigmas' dtype and device, as k-diffusion calls it; fresh draws
    that k-diffusion takes with ``torch.randn_like`` (EDM churn) come from torch's global generator, as there.
    """

    def __init__(self, noise_sampler: NoiseSampler, like: torch.Tensor, sigmas_like: torch.Tensor):
        super().__init__(None, like.shape, compute_dtype_for(like.dtype), like.device)
        if not callable(noise_sampler):
            raise GeneratorError(f"noise_sampler must be callable as noise_sampler(sigma, sigma_next), got "
                                 f"{type(noise_sampler).__name__}")
        self.noise_sampler = noise_sampler
        self.sigma_dtype = sigmas_like.dtype if sigmas_like.is_floating_point() else torch.float64
        self.sigma_device = sigmas_like.device

    def increment(self, sigma: float, sigma_next: float) -> torch.Tensor:
        noise = self.noise_sampler(self._tensor(sigma), self._tensor(sigma_next))
        if not isinstance(noise, torch.Tensor) or noise.shape != self.shape:
            got = tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__
            raise GeneratorError(f"noise_sampler(sigma, sigma_next) must return a tensor of the state's shape "
                                 f"{tuple(self.shape)}, got {got}")
        return noise.to(device=self.device, dtype=self.dtype)

    def _tensor(self, sigma: float) -> torch.Tensor:
        return torch.tensor(sigma, dtype=self.sigma_dtype, device=self.sigma_device)


def sampler(solver: Solver | str) -> KSampler:
    """A k-diffusion sampler running probflow's ``solver`` (an instance or a spec such as ``"dpmpp_2m"``,
    ``"heun"``, ``"euler_ancestral"``, ``"exp_adams"``).

    The returned ``sample(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)`` is
    ``probflow.solve(denoiser_from_k_diffusion(model), solver, x, sigmas, model_kwargs=extra_args).x``:

    * ``model(x, sigma * s_in, **extra_args)`` returns the denoised image (any k-diffusion denoiser, a CFG wrapper
      taking ``cond``/``uncond``/``cond_scale`` as ``extra_args``); ``x`` is the noise already scaled by
      ``sigmas[0]``; ``sigmas`` decreases to 0 (any dtype and device).
    * ``callback`` gets k-diffusion's ``{"x", "i", "sigma", "sigma_hat", "denoised"}`` once per step: ``x`` is the
      state at ``sigmas[i]`` where the step starts, ``sigma = sigma_hat = sigmas[i]``, ``denoised`` the estimate
      there (the values k-diffusion passes; it calls back before the update, probflow after it).
      ``disable=True`` hides the progress bar.
    * ``options``: the solver's parameters (``eta``, ``s_noise``, ``order``, ...; a k-diffusion option that the
      solver lacks is a :class:`~probflow.errors.SolverConfigError`), and for stochastic solvers either
      ``noise_sampler`` (k-diffusion's: called once per noisy step with ``(sigmas[i], sigmas[i + 1])``; without it,
      torch's global generator, as k-diffusion's default) or probflow's ``generator`` (one ``torch.Generator``, or
      one per sample for batch-size independent noise).

    The solver takes the step into ``sigma = 0`` as probflow does (the final denoise, or the solver's own), which is
    also how k-diffusion's samplers end.
    """
    configured = as_solver(solver)

    def sample(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor,
               extra_args: Mapping[str, object] | None = None, callback: Callable[[dict], None] | None = None,
               disable: bool | None = None, noise_sampler: NoiseSampler | None = None,
               generator: GeneratorLike = None, **options: Any) -> torch.Tensor:
        chosen = get_solver(configured.spec, **options) if options else configured
        noise = _noise_source(noise_sampler, generator, x, sigmas)
        steps = None if callback is None else _KDiffusionCallback(callback, x, sigmas)
        solution = solve(denoiser_from_k_diffusion(model), chosen, x, sigmas, generator=noise, callback=steps,
                         progress=not disable, model_kwargs=extra_args)
        return solution.x

    sample.__name__ = sample.__qualname__ = f"sample_{configured.name}"
    sample.__doc__ = f"k-diffusion-style sampler running probflow's {configured.spec} (probflow.integrations.k_diffusion.sampler)."
    return sample


def _noise_source(noise_sampler: NoiseSampler | None, generator: GeneratorLike, x: torch.Tensor,
                  sigmas: torch.Tensor) -> GeneratorLike | NoiseSource:
    if noise_sampler is None:
        return generator
    if generator is not None:
        raise GeneratorError("give either k-diffusion's noise_sampler or probflow's generator, not both")
    return NoiseSamplerSource(noise_sampler, x, torch.as_tensor(sigmas))


class _KDiffusionCallback:
    """probflow's per-step callback (``x`` after the step) as k-diffusion's (``x`` at the step's start)."""

    def __init__(self, callback: Callable[[dict], None], x: torch.Tensor, sigmas: torch.Tensor):
        self.callback = callback
        self.x = x
        self.sigmas = torch.as_tensor(sigmas)

    def __call__(self, info: dict) -> None:
        i = info["i"]
        sigma = self.sigmas[i]
        self.callback({"x": self.x, "i": i, "sigma": sigma, "sigma_hat": sigma, "denoised": info["denoised"]})
        self.x = info["x"]

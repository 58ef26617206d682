"""DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12), written on the VE state."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall, model_dtype
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver


class _DDIMStepper:
    def __init__(self, config: "DDIM", model: ModelCall, sigmas: list[float], noise: NoiseSource):
        self.config = config
        self.model = model
        self.noise = noise
        self.sigmas = sigmas
        self.coefficients = [config.coefficients(sigmas[i], sigmas[i + 1]) for i in range(len(sigmas) - 1)]
        predictor = config.alpha_bar_predictor
        self.predictor_dtype = None if predictor is None else model_dtype(predictor)

    def clean_estimate(self, x: torch.Tensor, sigma: float, denoised: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        predictor = self.config.alpha_bar_predictor
        if predictor is None:
            return denoised
        x_vp = x / math.sqrt(1.0 + sigma**2)
        model_input = x_vp if self.predictor_dtype in (None, x.dtype) else x_vp.to(self.predictor_dtype)
        alpha_bar = predictor(model_input).to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return (x_vp - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = self.sigmas[i]
        denoised = self.model(x, sigma)
        eps = (x - denoised).div_(sigma)
        clean = self.clean_estimate(x, sigma, denoised, eps)
        if self.config.clip is not None:
            clean = clean.clamp(-self.config.clip, self.config.clip)
        direction, noise_scale = self.coefficients[i]
        x_next = torch.add(clean, eps, alpha=direction)
        if noise_scale > 0.0:
            x_next = torch.add(x_next, self.noise.increment(sigma, self.sigmas[i + 1]), alpha=noise_scale)
        return x_next, clean


class DDIM(Solver):
    """DDIM with stochasticity ``eta``, the lesson's step, on the VE state ``x = x_vp / sqrt(abar)``.

    With ``abar = 1/(1 + sigma^2)``, ``bbar = 1 - abar`` and ``eps = (x - D)/sigma`` (Song et al. 2021, eq. 12/16)::

        s       = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')
        x0_hat  = D                (or, with a noise-level model, (x_vp - sqrt(1 - abar_hat) eps)/sqrt(abar_hat))
        x_vp'   = sqrt(abar') x0_hat + sqrt(bbar' - s^2) eps + noise_scale * s z
        x_next  = x_vp' / sqrt(abar')

    * ``eta = 0`` is deterministic and, on the VE state, identical to :class:`Euler` in sigma.
    * ``eta = 1`` has ``s / sqrt(abar') = sigma_up`` of :func:`~probflow.solvers.ancestral.ancestral_split`.
    * ``alpha_bar_predictor``: a callable ``x_vp -> abar_hat`` of shape [batch] (e.g.
      :class:`probflow.denoisers.NoiseLevelPredictor`); the clean-image estimate then uses the per-image
      predicted ``abar_hat`` while ``s``, ``abar'`` and the re-noising keep the fixed schedule (the lesson's
      time-free sampler, fastai course22p2 ``22_noise-pred``). Its calls are not counted as NFE.
    * ``clip``: clamp ``x0_hat`` to ``[-clip, clip]`` (the lesson clamps).
    * ``noise_cutoff``: when ``bbar' <= s^2 + noise_cutoff`` the step is deterministic (the lesson uses 0.01).
    * ``noise_scale`` multiplies only the injected noise ``s z`` (the lesson's "sigma x 0.5" variant).

    One call per step; weak order 1 for eta > 0 (order 1 for eta = 0), and strong order 1 on a Brownian path
    (the additive-noise case, as for :class:`EulerAncestral`). The step into 0 returns ``x0_hat``.
    """

    name = "ddim"
    stochastic = True
    order = 1
    strong_order = 1.0

    def __init__(self, eta: float = 0.0, *, alpha_bar_predictor: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 clip: float | None = None, noise_cutoff: float = 0.0, noise_scale: float = 1.0):
        for label, value in (("eta", eta), ("noise_cutoff", noise_cutoff), ("noise_scale", noise_scale)):
            if not (value >= 0 and math.isfinite(value)):
                raise SolverConfigError(f"{label} must be a finite number >= 0, got {value!r}")
        if clip is not None and not clip > 0:
            raise SolverConfigError(f"clip must be None or > 0, got {clip!r}")
        if alpha_bar_predictor is not None and not callable(alpha_bar_predictor):
            raise SolverConfigError("alpha_bar_predictor must be callable as x_vp -> abar_hat")
        self.eta = float(eta)
        self.alpha_bar_predictor = alpha_bar_predictor
        self.clip = clip
        self.noise_cutoff = float(noise_cutoff)
        self.noise_scale = float(noise_scale)
        self.stochastic = self.eta > 0
        self.strong_order = 1.0 if self.stochastic else None

    def coefficients(self, sigma: float, sigma_next: float) -> tuple[float, float]:
        """``(sqrt((bbar' - s^2)/abar'), noise_scale * s/sqrt(abar'))``: the eps and z weights on the VE state."""
        alpha_bar, alpha_bar_next = 1.0 / (1.0 + sigma**2), 1.0 / (1.0 + sigma_next**2)
        beta_bar, beta_bar_next = 1.0 - alpha_bar, 1.0 - alpha_bar_next
        s = self.eta * math.sqrt(beta_bar_next / beta_bar) * math.sqrt(max(0.0, 1.0 - alpha_bar / alpha_bar_next))
        if beta_bar_next <= s**2 + self.noise_cutoff:
            s = 0.0
        direction = math.sqrt(max(0.0, beta_bar_next - s**2) / alpha_bar_next)
        return direction, self.noise_scale * s / math.sqrt(alpha_bar_next)

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _DDIMStepper:
        return _DDIMStepper(self, model, sigmas, noise)

    def __repr__(self) -> str:
        return f"DDIM(eta={self.eta:g})"

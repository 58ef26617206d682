"""DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12), written on the VE state."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike

from probflow.denoisers.discrete import cosine_alpha_bar, cosine_alpha_bar_inverse
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
        self.directions, self.noise_weights = config.coefficients(np.asarray(sigmas[:-1]), np.asarray(sigmas[1:]))
        predictor = config.alpha_bar_predictor
        self.predictor_dtype = None if predictor is None else model_dtype(predictor)

    def clean_estimate(self, x: torch.Tensor, sigma: float, denoised: torch.Tensor,
                       eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x0_hat`` and the predicted ``abar_hat`` it used (``None`` without a predictor)."""
        predictor = self.config.alpha_bar_predictor
        if predictor is None:
            return denoised, None
        x_vp = x / math.sqrt(1.0 + sigma**2)
        model_input = x_vp if self.predictor_dtype in (None, x.dtype) else x_vp.to(self.predictor_dtype)
        alpha_bar = predictor(model_input).to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return (x_vp - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt(), alpha_bar

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = self.sigmas[i]
        denoised = self.model(x, sigma)
        eps = (x - denoised).div_(sigma)
        clean, alpha_bar_hat = self.clean_estimate(x, sigma, denoised, eps)
        if self.config.clip is not None:
            clean = clean.clamp(-self.config.clip, self.config.clip)
        direction, noise_weight = self.directions[i], self.noise_weights[i]
        if self.config.median_sigma:
            direction, noise_weight = self.config.median_coefficients(float(alpha_bar_hat.median()), sigma,
                                                                      self.sigmas[i + 1])
        x_next = torch.add(clean, eps, alpha=direction)
        if noise_weight > 0.0:
            x_next = torch.add(x_next, self.noise.increment(sigma, self.sigmas[i + 1]), alpha=noise_weight)
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
    * ``noise_scale`` multiplies only the injected noise ``s z``.
    * ``median_sigma`` (needs ``alpha_bar_predictor``): ``s`` comes from the batch median of ``abar_hat`` instead
      of the schedule (:meth:`median_coefficients`, the lesson's "median sig" experiment).

    One call per step; weak order 1 for eta > 0 (order 1 for eta = 0), and strong order 1 on a Brownian path
    (the additive-noise case, as for :class:`EulerAncestral`). The step into 0 returns ``x0_hat``.
    """

    name = "ddim"
    stochastic = True
    order = 1
    strong_order = 1.0

    def __init__(self, eta: float = 0.0, *, alpha_bar_predictor: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 clip: float | None = None, noise_cutoff: float = 0.0, noise_scale: float = 1.0,
                 median_sigma: bool = False):
        for label, value in (("eta", eta), ("noise_cutoff", noise_cutoff), ("noise_scale", noise_scale)):
            if not (value >= 0 and math.isfinite(value)):
                raise SolverConfigError(f"{label} must be a finite number >= 0, got {value!r}")
        if clip is not None and not clip > 0:
            raise SolverConfigError(f"clip must be None or > 0, got {clip!r}")
        if alpha_bar_predictor is not None and not callable(alpha_bar_predictor):
            raise SolverConfigError("alpha_bar_predictor must be callable as x_vp -> abar_hat")
        if median_sigma and alpha_bar_predictor is None:
            raise SolverConfigError("median_sigma needs an alpha_bar_predictor: it takes the median of abar_hat")
        self.eta = float(eta)
        self.alpha_bar_predictor = alpha_bar_predictor
        self.clip = clip
        self.noise_cutoff = float(noise_cutoff)
        self.noise_scale = float(noise_scale)
        self.median_sigma = bool(median_sigma)
        self.stochastic = self.eta > 0
        self.strong_order = 1.0 if self.stochastic else None

    def coefficients(self, sigma: ArrayLike, sigma_next: ArrayLike,
                     noise_std: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(sqrt((bbar' - s^2)/abar'), noise_scale * s/sqrt(abar'))``: the eps and z weights on the VE state.

        Elementwise over steps: ``sigma`` and ``sigma_next`` are the steps' start and end noise levels; ``s`` is
        ``noise_std`` when given, else the schedule's (:meth:`noise_std`).
        """
        alpha_bar_next = 1.0 / (1.0 + np.asarray(sigma_next, dtype=np.float64) ** 2)
        beta_bar_next = 1.0 - alpha_bar_next
        s = self.noise_std(sigma, sigma_next) if noise_std is None else np.asarray(noise_std, dtype=np.float64)
        s = np.where(beta_bar_next <= s**2 + self.noise_cutoff, 0.0, s)
        direction = np.sqrt(np.maximum(0.0, beta_bar_next - s**2) / alpha_bar_next)
        return direction, self.noise_scale * s / np.sqrt(alpha_bar_next)

    def noise_std(self, sigma: ArrayLike, sigma_next: ArrayLike) -> np.ndarray:
        """``s = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')`` (Song et al. 2021 eq. 16), elementwise, before
        the cutoff."""
        alpha_bar = 1.0 / (1.0 + np.asarray(sigma, dtype=np.float64) ** 2)
        alpha_bar_next = 1.0 / (1.0 + np.asarray(sigma_next, dtype=np.float64) ** 2)
        beta_bar, beta_bar_next = 1.0 - alpha_bar, 1.0 - alpha_bar_next
        return self.eta * np.sqrt(beta_bar_next / beta_bar) * np.sqrt(np.maximum(0.0, 1.0 - alpha_bar / alpha_bar_next))

    def median_coefficients(self, alpha_bar_median: float, sigma: float,
                            sigma_next: float) -> tuple[np.ndarray, np.ndarray]:
        """The eps and z weights of a step whose ``s`` comes from the batch median ``m`` of ``abar_hat``.

        On the cosine time ``t(abar) = (2/pi) acos(sqrt(abar))`` (fastai course22p2 ``22_noise-pred``, the
        "median sig" experiment; Nichol & Dhariwal 2021 eq. 17 without offset), ``m`` moves back by the step's
        ``dt = t(abar) - t(abar')``::

            m'  = cos^2(pi (t(m) - dt) / 2)          (1 when t(m) <= dt)
            s   = eta * sqrt((1 - m')/(1 - m)) * sqrt(1 - m/m')

        while the cutoff, ``abar'`` and the re-noising keep the schedule (:meth:`coefficients` with this ``s``).
        """
        levels = torch.tensor([alpha_bar_median, 1.0 / (1.0 + sigma**2), 1.0 / (1.0 + sigma_next**2)],
                              dtype=torch.float64)
        time_median, time, time_next = cosine_alpha_bar_inverse(levels).tolist()
        step = time - time_next
        if time_median <= step:
            return self.coefficients(sigma, sigma_next, noise_std=0.0)
        median_next = float(cosine_alpha_bar(torch.tensor(time_median - step, dtype=torch.float64)))
        sigma_median, sigma_median_next = (math.sqrt((1.0 - level) / level)
                                           for level in (alpha_bar_median, median_next))
        return self.coefficients(sigma, sigma_next, noise_std=self.noise_std(sigma_median, sigma_median_next))

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource) -> _DDIMStepper:
        return _DDIMStepper(self, model, sigmas, noise)

    def __repr__(self) -> str:
        return f"DDIM(eta={self.eta:g}" + (", median_sigma=True)" if self.median_sigma else ")")

"""The lesson's DDIM (fastai course22p2, ``22_cosine`` and ``22_noise-pred``): the published rule plus the lesson's
experiments -- a per-image predicted ``alpha_bar``, clipping, a noise cutoff, a noise scale and the "median sigma"
step. Registered as the solver family ``"lesson_ddim"``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from probflow.denoisers.discrete import cosine_alpha_bar, cosine_alpha_bar_inverse
from probflow.denoisers.network import cast_for_network, network_dtype
from probflow.errors import SolverConfigError
from probflow.noise import NoiseSource
from probflow.solvers.base import StepGenerator
from probflow.solvers.combination import add_noise
from probflow.solvers.ddim import DDIM, ddim_coefficients, ddim_noise_std
from probflow.solvers.grid import Grid
from probflow.solvers.registry import register
from probflow.validation import check_nonnegative, check_positive

AlphaBarPredictor = Callable[[torch.Tensor], torch.Tensor]


class _LessonDDIMStepper:
    def __init__(self, config: LessonDDIM, grid: Grid, noise: NoiseSource | None):
        self.config = config
        self.grid = grid
        self.noise = noise
        sigma, sigma_next = grid.sigmas[:-1], grid.sigmas[1:]
        directions, noise_weights = config.coefficients(sigma_next, ddim_noise_std(sigma, sigma_next, config.eta))
        self.directions = directions.numpy()
        self.noise_weights = noise_weights.numpy()
        predictor = config.alpha_bar_predictor
        self.predictor_dtype = None if predictor is None else network_dtype(predictor)

    def clean_estimate(self, x: torch.Tensor, sigma: float, denoised: torch.Tensor,
                       eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x0_hat`` and the predicted ``abar_hat`` it used (``None`` without a predictor)."""
        predictor = self.config.alpha_bar_predictor
        if predictor is None:
            return denoised, None
        x_vp = x / math.sqrt(1.0 + sigma**2)
        model_input, _ = cast_for_network(self.predictor_dtype, x_vp)
        alpha_bar = predictor(model_input).to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return (x_vp - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt(), alpha_bar

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        sigma, sigma_next = self.grid.values[i], self.grid.values[i + 1]
        denoised = yield x, sigma
        eps = (x - denoised).div_(sigma)
        clean, alpha_bar_hat = self.clean_estimate(x, sigma, denoised, eps)
        if self.config.clip is not None:
            clean = clean.clamp(-self.config.clip, self.config.clip)
        direction, noise_weight = self.directions[i], self.noise_weights[i]
        if self.config.median_sigma:
            direction, noise_weight = self.config.median_coefficients(float(alpha_bar_hat.median()), sigma, sigma_next)
        x_next = torch.add(clean, eps, alpha=direction)
        return add_noise(x_next, noise_weight, self.noise, sigma, sigma_next, draws=noise_weight > 0.0), clean


@dataclass(frozen=True, repr=False)
class LessonDDIM(DDIM):
    """DDIM as the lesson runs it, on the VE state (Song et al. 2021, eq. 12/16; fastai course22p2 lesson 22)::

        s       = eta * sqrt(bbar'/bbar) * sqrt(1 - abar/abar')
        x0_hat  = D                (or, with a noise-level model, (x_vp - sqrt(1 - abar_hat) eps)/sqrt(abar_hat))
        x_vp'   = sqrt(abar') x0_hat + sqrt(bbar' - s^2) eps + noise_scale * s z
        x_next  = x_vp' / sqrt(abar')

    * ``alpha_bar_predictor``: a callable ``x_vp -> abar_hat`` of shape [batch] (e.g.
      :class:`probflow.denoisers.NoiseLevelPredictor`); the clean-image estimate then uses the per-image
      predicted ``abar_hat`` while ``s``, ``abar'`` and the re-noising keep the fixed schedule (the lesson's
      time-free sampler, ``22_noise-pred``). Its calls are not counted as NFE.
    * ``clip``: clamp ``x0_hat`` to ``[-clip, clip]`` (the lesson clamps).
    * ``noise_cutoff``: when ``bbar' <= s^2 + noise_cutoff`` the step is deterministic (the lesson uses 0.01).
    * ``noise_scale`` multiplies only the injected noise ``s z``.
    * ``median_sigma`` (needs ``alpha_bar_predictor``): ``s`` comes from the batch median of ``abar_hat`` instead
      of the schedule (:meth:`median_coefficients`, the lesson's "median sig" experiment).

    The step into 0 returns the (clipped) ``x0_hat`` of that step, not the plain denoise.
    """

    family: ClassVar[str] = "lesson_ddim"
    steps_into_zero: ClassVar[bool] = True
    alpha_bar_predictor: AlphaBarPredictor | None = None
    clip: float | None = None
    noise_cutoff: float = 0.0
    noise_scale: float = 1.0
    median_sigma: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        error = SolverConfigError
        object.__setattr__(self, "noise_cutoff", check_nonnegative("noise_cutoff", self.noise_cutoff, error=error))
        object.__setattr__(self, "noise_scale", check_nonnegative("noise_scale", self.noise_scale, error=error))
        if self.clip is not None:
            object.__setattr__(self, "clip", check_positive("clip (or None)", self.clip, error=error))
        if self.alpha_bar_predictor is not None and not callable(self.alpha_bar_predictor):
            raise error("alpha_bar_predictor must be callable as x_vp -> abar_hat")
        if self.median_sigma and self.alpha_bar_predictor is None:
            raise error("median_sigma needs an alpha_bar_predictor: it takes the median of abar_hat")

    def coefficients(self, sigma_next: torch.Tensor, noise_std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The eps and z weights (:func:`~probflow.solvers.ddim.ddim_coefficients` with the cutoff), the z weight
        scaled by ``noise_scale``."""
        direction, noise_weight = ddim_coefficients(sigma_next, noise_std, self.noise_cutoff)
        return direction, self.noise_scale * noise_weight

    def median_coefficients(self, alpha_bar_median: float, sigma: float, sigma_next: float) -> tuple[float, float]:
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
        next_level = torch.tensor(sigma_next, dtype=torch.float64)
        if time_median <= step:
            noise_std = torch.zeros((), dtype=torch.float64)
        else:
            median_next = float(cosine_alpha_bar(torch.tensor(time_median - step, dtype=torch.float64)))
            sigma_median, sigma_median_next = (math.sqrt((1.0 - level) / level)
                                               for level in (alpha_bar_median, median_next))
            noise_std = ddim_noise_std(torch.tensor(sigma_median, dtype=torch.float64),
                                       torch.tensor(sigma_median_next, dtype=torch.float64), self.eta)
        direction, noise_weight = self.coefficients(next_level, noise_std)
        return float(direction), float(noise_weight)

    def start(self, grid: Grid, noise: NoiseSource | None = None) -> _LessonDDIMStepper:
        return _LessonDDIMStepper(self, grid, noise)


register(LessonDDIM)

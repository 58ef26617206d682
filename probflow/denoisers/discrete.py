"""Denoisers from variance-preserving models conditioned on a timestep ``t`` (DDPM and its descendants).

A VP model sees ``x_vp = sqrt(alpha_bar) y + sqrt(1 - alpha_bar) n``. With ``sigma^2 = (1 - alpha_bar) / alpha_bar``
this is the VE sample ``x = y + sigma n`` scaled by ``s = 1 / sqrt(1 + sigma^2)`` (EDM eq. 4 with the VP scaling
of Table 1), so ``D(x, sigma) = c_skip x + c_out model(x / sqrt(1 + sigma^2), t(sigma))`` with ``(c_skip, c_out)`` from
:func:`~probflow.denoisers.scalings.output_scalings`. The two classes differ only in the map ``sigma -> t``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence

import torch

from probflow.errors import DenoiserConfigError
from probflow.denoisers.precond import Coefficients, Network, Preconditioning
from probflow.denoisers.scalings import check_prediction_type, output_scalings, vp_input_scaling
from probflow.schedules.conversions import alpha_bar_to_sigma, sigma_to_alpha_bar

ScheduleFunction = Callable[[torch.Tensor], torch.Tensor]


def _as_float64(value: torch.Tensor | float) -> tuple[torch.Tensor, torch.dtype]:
    """``value`` in float64 (schedule arithmetic is ill-conditioned in float32 near ``alpha_bar = 1``),
    and the dtype to return it in: its own if floating, else float64."""
    if not isinstance(value, torch.Tensor):
        return torch.as_tensor(value, dtype=torch.float64), torch.float64
    out_dtype = value.dtype if value.is_floating_point() else torch.float64
    return value.to(torch.float64), out_dtype


class VPTimestepModel(Preconditioning):
    """``D(x, sigma) = c_skip x + c_out model(x / sqrt(1 + sigma^2), t(sigma))`` for a VP model ``model(x_vp, t)``.

    ``prediction`` is ``"epsilon"``, ``"v_prediction"`` or ``"sample"`` (diffusers' ``prediction_type``):
    ``D = x - sigma eps_hat``, ``D = x / (1 + sigma^2) - sigma / sqrt(1 + sigma^2) v_hat``, or ``D = x0_hat``.
    ``t`` has shape ``[batch]``. Subclasses define the schedule through :meth:`sigma_to_t` and :meth:`t_to_sigma`.
    """

    def __init__(self, model: Network, prediction: str = "epsilon") -> None:
        check_prediction_type(prediction)
        super().__init__(model)
        self.prediction = prediction

    @abstractmethod
    def sigma_to_t(self, sigma: torch.Tensor | float) -> torch.Tensor:
        """The model timestep at noise level ``sigma``."""

    @abstractmethod
    def t_to_sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """The noise level at model timestep ``t``; the inverse of :meth:`sigma_to_t`."""

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        c_skip, c_out = output_scalings(self.prediction, sigma)
        return Coefficients(c_skip, c_out, vp_input_scaling(sigma), self.sigma_to_t(sigma))


class DiscreteDDPM(VPTimestepModel):
    """A model trained on ``N`` discrete timesteps ``k = 0 .. N-1`` with cumulative products ``alpha_bar_k``
    (Ho et al. 2020, eq. 4), seen as a denoiser through the VP scaling of EDM Table 1.

    ``sigma_k = sqrt((1 - alpha_bar_k) / alpha_bar_k)`` increases with ``k``. A noise level ``sigma`` maps to the
    fractional timestep ``t`` obtained by interpolating ``k`` linearly against ``ln sigma_k``; ``t_to_sigma``
    interpolates ``ln sigma_k`` linearly in ``t``, so the two are exact inverses and ``sigma_k -> k``.
    Noise levels outside ``[sigma_min, sigma_max]`` are clamped to the table's ends for the timestep only
    (the input scaling ``1 / sqrt(1 + sigma^2)`` and the output conversion use the true ``sigma``), which is
    what a sampler needs when its grid starts a rounding error beyond ``sigma_max``.

    The tables are float64 buffers; cast the wrapped network, not this adapter, to a lower precision, since
    casting the adapter also rounds the tables.
    """

    sigmas: torch.Tensor
    log_sigmas: torch.Tensor

    def __init__(
        self,
        model: Network,
        alphas_cumprod: torch.Tensor | Sequence[float],
        prediction: str = "epsilon",
    ) -> None:
        super().__init__(model, prediction)
        alpha_bar = torch.as_tensor(alphas_cumprod, dtype=torch.float64, device="cpu").detach()
        if alpha_bar.ndim != 1 or alpha_bar.numel() < 2:
            raise DenoiserConfigError(f"alphas_cumprod must be 1-D with at least 2 entries, got shape {tuple(alpha_bar.shape)}")
        if not bool(((alpha_bar > 0) & (alpha_bar < 1)).all()):
            raise DenoiserConfigError("alphas_cumprod must lie strictly between 0 and 1")
        if not bool((alpha_bar[1:] < alpha_bar[:-1]).all()):
            raise DenoiserConfigError("alphas_cumprod must be strictly decreasing in the timestep")
        sigmas = alpha_bar_to_sigma(alpha_bar)
        self.register_buffer("sigmas", sigmas)
        self.register_buffer("log_sigmas", sigmas.log())

    @property
    def sigma_min(self) -> float:
        """``sigma_0``, the noise level of timestep 0."""
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        """``sigma_{N-1}``, the noise level of the last timestep."""
        return float(self.sigmas[-1])

    def sigma_to_t(self, sigma: torch.Tensor | float) -> torch.Tensor:
        """``t = k + (ln sigma - ln sigma_k) / (ln sigma_{k+1} - ln sigma_k)`` for ``sigma_k <= sigma <= sigma_{k+1}``,
        clamped to ``[0, N - 1]``."""
        sigma, out_dtype = _as_float64(sigma)
        log_sigmas = self.log_sigmas.to(device=sigma.device, dtype=torch.float64)
        log_sigma = sigma.log().clamp(log_sigmas[0], log_sigmas[-1])
        # right=True puts an exact table entry at the start of its interval, so sigma_k gives exactly k.
        index = (torch.searchsorted(log_sigmas, log_sigma, right=True) - 1).clamp(0, log_sigmas.numel() - 2)
        low, high = log_sigmas[index], log_sigmas[index + 1]
        return (index + (log_sigma - low) / (high - low)).to(out_dtype)

    def t_to_sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """``sigma(t) = exp((1 - f) ln sigma_k + f ln sigma_{k+1})`` with ``k = floor(t)``, ``f = t - k``;
        ``t`` is clamped to ``[0, N - 1]``."""
        t, out_dtype = _as_float64(t)
        log_sigmas = self.log_sigmas.to(device=t.device, dtype=torch.float64)
        t = t.clamp(0, log_sigmas.numel() - 1)
        index = t.floor().long().clamp(max=log_sigmas.numel() - 2)
        fraction = t - index
        log_sigma = (1 - fraction) * log_sigmas[index] + fraction * log_sigmas[index + 1]
        return log_sigma.exp().to(out_dtype)


def cosine_alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """``alpha_bar(t) = cos^2(pi t / 2)`` for ``t`` in ``[0, 1]`` (Nichol & Dhariwal 2021, eq. 17 without the offset
    ``s``; the schedule of fastai course22p2, lesson 22)."""
    return torch.cos(t * math.pi / 2) ** 2


def cosine_alpha_bar_inverse(alpha_bar: torch.Tensor) -> torch.Tensor:
    """``t = (2 / pi) acos(sqrt(alpha_bar))``, the inverse of :func:`cosine_alpha_bar` on ``[0, 1]``."""
    return torch.acos(alpha_bar.sqrt()) * 2 / math.pi


class ContinuousDDPM(VPTimestepModel):
    """A continuous-time VP model ``model(x_vp, t)`` with a schedule ``alpha_bar(t)``
    (Song et al. 2021; EDM eq. 4, VP scaling).

    ``sigma -> alpha_bar = 1 / (1 + sigma^2) -> t = alpha_bar_inverse(alpha_bar)``; both schedule functions act
    elementwise on float64 tensors. :meth:`cosine` builds the cosine schedule.
    """

    def __init__(
        self,
        model: Network,
        alpha_bar: ScheduleFunction,
        alpha_bar_inverse: ScheduleFunction,
        prediction: str = "epsilon",
    ) -> None:
        super().__init__(model, prediction)
        self.alpha_bar = alpha_bar
        self.alpha_bar_inverse = alpha_bar_inverse

    @classmethod
    def cosine(cls, model: Network, prediction: str = "epsilon") -> ContinuousDDPM:
        """The schedule ``alpha_bar(t) = cos^2(pi t / 2)``, ``t = (2 / pi) acos(sqrt(alpha_bar))``."""
        return cls(model, cosine_alpha_bar, cosine_alpha_bar_inverse, prediction)

    def sigma_to_t(self, sigma: torch.Tensor | float) -> torch.Tensor:
        """``t = alpha_bar_inverse(1 / (1 + sigma^2))``."""
        sigma, out_dtype = _as_float64(sigma)
        return self.alpha_bar_inverse(sigma_to_alpha_bar(sigma)).to(out_dtype)

    def t_to_sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """``sigma = sqrt((1 - alpha_bar(t)) / alpha_bar(t))``."""
        t, out_dtype = _as_float64(t)
        return alpha_bar_to_sigma(self.alpha_bar(t)).to(out_dtype)

"""Vector fields built from a denoiser: the probability-flow ODE and the reverse-time SDE.

With sigma(t) = t and s(t) = 1 (Karras et al. 2022, "EDM", eq. 1 and eq. 6), the score of the
noised data is ``grad log p(x; sigma) = (D(x, sigma) - x) / sigma**2`` (Tweedie; EDM eq. 3), so

* probability-flow ODE:  ``dx/dsigma = (x - D(x, sigma)) / sigma``;
* reverse-time SDE, run in ``tau = -sigma`` (so that time increases while the noise level falls):
  ``dx = (1/sigma + beta(sigma)) * (D(x, sigma) - x) dtau + sqrt(2 beta(sigma)) * sigma dW_tau``.

The SDE is EDM eq. 6 with the Langevin strength ``beta``: ``beta = 0`` is the ODE, and
``beta(sigma) = 1/sigma`` is the classic reverse-time VE SDE of Song et al. (2021), whose drift is
``2 (D - x) / sigma`` and diffusion ``sqrt(2 sigma)``.

:func:`probflow.solve` builds the term a solver integrates, and ``term.with_denoiser(counted)`` is the same term on
the loop's counted, checked denoiser: hand-written steppers ask the loop for denoiser values, and the
torchdiffeq/torchsde backends integrate that counted term's vector fields below.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from probflow.denoisers.base import Denoiser, batch_sigma
from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.validation import check_choice, check_nonnegative

BetaFn = Callable[[torch.Tensor], torch.Tensor]


class ProbabilityFlowODE:
    """The probability-flow ODE ``dx/dsigma = (x - D(x, sigma)) / sigma`` of a denoiser (EDM eq. 1, 3).

    ``time_variable`` picks the independent variable that generic solvers (torchdiffeq) integrate in:

    * ``"sigma"``: ``t = sigma`` and ``dx/dt = (x - D) / sigma``;
    * ``"log_sigma"``: ``t = log sigma`` and ``dx/dt = sigma * dx/dsigma = x - D``, which is smooth in the
      large-sigma regime where a Karras grid takes its biggest steps.
    """

    time_variables = ("sigma", "log_sigma")

    def __init__(self, denoiser: Denoiser):
        self.denoiser = _check_denoiser(denoiser)

    def with_denoiser(self, denoiser: Denoiser, *, shape: tuple[int, ...] | None = None) -> ProbabilityFlowODE:
        """The same ODE on another denoiser (the solve loop's counting wrapper); ``shape`` is not needed here."""
        return ProbabilityFlowODE(denoiser)

    def derivative(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """``dx/dsigma = (x - D(x, sigma)) / sigma`` at ``sigma > 0``."""
        sigma_batch = batch_sigma(sigma, x)
        denoised = self.denoiser(x, sigma_batch)
        return (x - denoised) / sigma_batch.reshape(-1, *([1] * (x.ndim - 1)))

    @staticmethod
    def time_to_sigma(t: torch.Tensor, time_variable: str) -> torch.Tensor:
        """The noise level at time ``t`` of the chosen time variable."""
        return t if time_variable == "sigma" else t.exp()

    @staticmethod
    def sigma_to_time(sigma: torch.Tensor, time_variable: str) -> torch.Tensor:
        """The time of the chosen variable at noise level ``sigma``."""
        check_choice("time_variable", time_variable, ProbabilityFlowODE.time_variables, error=SolverConfigError)
        return sigma if time_variable == "sigma" else sigma.log()

    def vector_field(self, time_variable: str = "sigma") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """A torchdiffeq-style ``f(t, x) = dx/dt`` in the chosen time variable."""
        self.sigma_to_time(torch.zeros(()), time_variable)

        def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            sigma = self.time_to_sigma(t, time_variable)
            difference = x - self.denoiser(x, sigma)
            return difference / sigma if time_variable == "sigma" else difference

        return field


class ReverseSDE:
    """The reverse-time SDE family of EDM eq. 6, as a torchsde-compatible object in ``tau = -sigma``.

    ``f(tau, x) = (1/sigma + beta(sigma)) * (D(x, sigma) - x)`` and ``g(tau, x) = sqrt(2 beta(sigma)) * sigma``
    with ``sigma = -tau``. ``beta`` is a float, a callable of sigma, or ``None`` for ``1/sigma`` (the reverse
    VE SDE of Song et al. 2021). ``beta = 0`` reduces to the probability-flow ODE. The noise is diagonal and,
    because ``g`` does not depend on ``x``, additive: Ito and Stratonovich coincide.

    torchsde works on ``[batch, features]`` tensors, so ``f`` and ``g`` flatten and restore ``shape``
    (one sample's shape), which must be set (``ReverseSDE(denoiser, shape=...)`` or by the solve loop).
    """

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, denoiser: Denoiser, beta: float | BetaFn | None = None, *, shape: tuple[int, ...] | None = None):
        if beta is not None and not callable(beta):
            beta = check_nonnegative("beta (a number or a callable of sigma)", beta, error=SolverConfigError)
        self.denoiser = _check_denoiser(denoiser)
        self.beta = beta
        self.shape = None if shape is None else tuple(shape)

    def beta_at(self, sigma: torch.Tensor) -> torch.Tensor:
        """The Langevin strength ``beta(sigma)``."""
        if self.beta is None:
            return 1.0 / sigma
        if callable(self.beta):
            return torch.as_tensor(self.beta(sigma), dtype=sigma.dtype, device=sigma.device)
        return torch.full_like(sigma, self.beta)

    def drift(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Drift per unit ``tau``: ``(1/sigma + beta(sigma)) * (D(x, sigma) - x)``."""
        return (1.0 / sigma + self.beta_at(sigma)) * (self.denoiser(x, sigma) - x)

    def diffusion(self, sigma: torch.Tensor) -> torch.Tensor:
        """Diffusion ``sqrt(2 beta(sigma)) * sigma``, the same for every component and sample."""
        return torch.sqrt(2.0 * self.beta_at(sigma)) * sigma

    def with_denoiser(self, denoiser: Denoiser, *, shape: tuple[int, ...] | None = None) -> ReverseSDE:
        """The same SDE on another denoiser (the solve loop's counting wrapper) and one sample's shape."""
        return ReverseSDE(denoiser, self.beta, shape=self.shape if shape is None else tuple(shape))

    def _unflatten(self, y: torch.Tensor) -> torch.Tensor:
        if self.shape is None:
            raise InvalidArgumentError("ReverseSDE.shape is unset: pass shape=(C, H, W) or solve it with probflow.solve")
        return y.reshape(y.shape[0], *self.shape)

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """torchsde drift in ``tau = -sigma``."""
        return self.drift(self._unflatten(y), -t).reshape(y.shape)

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """torchsde diagonal diffusion in ``tau = -sigma`` (independent of ``y``)."""
        return self.diffusion(-t).expand_as(y)


def _check_denoiser(denoiser: object) -> Denoiser:
    if not callable(denoiser):
        raise InvalidArgumentError(f"denoiser must be callable as D(x, sigma), got {type(denoiser).__name__}")
    return denoiser

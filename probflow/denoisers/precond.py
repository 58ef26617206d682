"""Network preconditioning, one class per row of EDM Table 1 (Karras et al. 2022).

A preconditioned denoiser is ``D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma))``
(EDM eq. 7). :class:`Preconditioning` evaluates that expression once for every parameterisation;
a subclass only states its four coefficients in :meth:`Preconditioning.coefficients`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import torch

from probflow.denoisers.base import DenoiserModule, batch_sigma, broadcast_sigma
from probflow.denoisers.network import call_network
from probflow.denoisers.scalings import sigma_data_scalings, vp_input_scaling

Network = Callable[..., torch.Tensor]


class Coefficients(NamedTuple):
    """One row of EDM Table 1: per-sample tensors of shape ``[batch]`` or Python numbers.

    ``c_noise`` is the network's noise conditioning, of shape ``[batch]``; ``None`` means that the
    network takes ``x_in`` alone.
    """

    c_skip: torch.Tensor | float
    c_out: torch.Tensor | float
    c_in: torch.Tensor | float
    c_noise: torch.Tensor | None


class Preconditioning(DenoiserModule, ABC):
    """``D(x, sigma) = c_skip x + c_out net(c_in x, c_noise)`` (EDM eq. 7).

    ``net`` is an ``nn.Module`` or a plain function called as ``net(x_in, c_noise, **model_kwargs)`` with ``c_noise``
    of shape ``[batch]`` (or ``net(x_in, **model_kwargs)`` when the row has no ``c_noise``); ``model_kwargs`` are the
    conditioning the denoiser is called with (class labels, text embeddings), passed on unchanged. ``sigma`` is a
    scalar or a ``[batch]`` tensor; the coefficients are computed in the dtype of ``x`` and the network runs in its
    own dtype (see :func:`probflow.denoisers.network.call_network`).
    """

    def __init__(self, net: Network) -> None:
        super().__init__()
        self.net = net

    @abstractmethod
    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        """The row ``(c_skip, c_out, c_in, c_noise)`` at the noise levels ``sigma`` of shape ``[batch]``."""

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **model_kwargs: object) -> torch.Tensor:
        row = self.coefficients(batch_sigma(sigma, x))
        conditioning = () if row.c_noise is None else (row.c_noise,)
        network_output = call_network(self.net, broadcast_sigma(row.c_in, x) * x, *conditioning, **model_kwargs)
        return broadcast_sigma(row.c_skip, x) * x + broadcast_sigma(row.c_out, x) * network_output


class EDMPrecond(Preconditioning):
    """EDM's own preconditioning (EDM Table 1, "Ours"; eqs. 114-117).

    ``c_skip = sd^2 / (sigma^2 + sd^2)``, ``c_out = sigma sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1 / sqrt(sigma^2 + sd^2)``, ``c_noise = ln(sigma) / 4``, with ``sd = sigma_data``.
    """

    def __init__(self, net: Network, sigma_data: float = 0.5) -> None:
        super().__init__(net)
        self.sigma_data = sigma_data

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        c_skip, c_out, c_in = sigma_data_scalings(sigma, self.sigma_data)
        return Coefficients(c_skip, c_out, c_in, sigma.log() / 4)


class VPPrecond(Preconditioning):
    """Variance-preserving preconditioning (Song et al. 2021; EDM Table 1, "VP").

    ``c_skip = 1``, ``c_out = -sigma``, ``c_in = 1 / sqrt(sigma^2 + 1)``, ``c_noise = (M - 1) t(sigma)`` with
    ``t(sigma) = (sqrt(beta_min^2 + 2 beta_d ln(1 + sigma^2)) - beta_min) / beta_d`` the inverse of
    ``sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1)`` (EDM Table 1, "VP" schedule).
    """

    def __init__(self, net: Network, beta_d: float = 19.9, beta_min: float = 0.1, M: int = 1000) -> None:
        super().__init__(net)
        self.beta_d = beta_d
        self.beta_min = beta_min
        self.M = M

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        """``t = (sqrt(beta_min^2 + 2 beta_d ln(1 + sigma^2)) - beta_min) / beta_d`` (EDM Table 1, sigma^-1)."""
        return ((self.beta_min**2 + 2 * self.beta_d * torch.log1p(sigma**2)).sqrt() - self.beta_min) / self.beta_d

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        return Coefficients(1.0, -sigma, vp_input_scaling(sigma), (self.M - 1) * self.sigma_to_t(sigma))


class VEPrecond(Preconditioning):
    """Variance-exploding preconditioning (Song et al. 2021; EDM Table 1, "VE").

    ``c_skip = 1``, ``c_out = sigma``, ``c_in = 1``, ``c_noise = ln(sigma / 2)``.
    """

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        return Coefficients(1.0, sigma, 1.0, (sigma / 2).log())


class IDDPMPrecond(Preconditioning):
    """Improved-DDPM preconditioning (Nichol & Dhariwal 2021; EDM Table 1, "iDDPM").

    ``c_skip = 1``, ``c_out = -sigma``, ``c_in = 1 / sqrt(sigma^2 + 1)``,
    ``c_noise = M - 1 - argmin_j |u_j - sigma|`` over the ``M + 1`` discrete noise levels
    ``u_M = 0``, ``u_{j-1} = sqrt((u_j^2 + 1) / max(alpha_bar(j-1) / alpha_bar(j), C_1) - 1)`` with
    ``alpha_bar(j) = sin^2(pi/2 * j / (M (C_2 + 1)))``. The levels are computed once, in float64, and kept
    in the buffer ``u`` (``u[0]`` largest, ``u[M] = 0``).
    """

    u: torch.Tensor

    def __init__(self, net: Network, C_1: float = 0.001, C_2: float = 0.008, M: int = 1000) -> None:
        super().__init__(net)
        self.C_1 = C_1
        self.C_2 = C_2
        self.M = M
        self.register_buffer("u", self._noise_levels(C_1, C_2, M))

    @staticmethod
    def _noise_levels(C_1: float, C_2: float, M: int) -> torch.Tensor:
        def alpha_bar(j: int) -> float:
            return math.sin(0.5 * math.pi * j / (M * (C_2 + 1))) ** 2

        u = [0.0] * (M + 1)
        for j in range(M, 0, -1):
            u[j - 1] = math.sqrt((u[j] ** 2 + 1) / max(alpha_bar(j - 1) / alpha_bar(j), C_1) - 1)
        return torch.tensor(u, dtype=torch.float64)

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        distance = (sigma.to(self.u.dtype)[:, None] - self.u[None, :]).abs()
        c_noise = (self.M - 1 - distance.argmin(dim=1)).to(sigma.dtype)
        return Coefficients(1.0, -sigma, vp_input_scaling(sigma), c_noise)

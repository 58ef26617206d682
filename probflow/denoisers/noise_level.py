"""Denoisers from a network that never sees the noise level (fastai course22p2, lesson 22 "22_noise-pred").

The lesson trains an epsilon network without time conditioning, plus a regressor that estimates the noise
level ``alpha_bar`` from the noisy image itself. Here ``sigma`` only moves between the VE sample
``x = y + sigma n`` and the VP sample ``x_vp = x / sqrt(1 + sigma^2) = sqrt(alpha_bar) y + sqrt(1 - alpha_bar) n``
(EDM eq. 4 with the VP scaling of Table 1); the networks see ``x_vp`` alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from probflow.denoisers.base import DenoiserModule, batch_sigma, broadcast_sigma
from probflow.denoisers.network import call_network
from probflow.denoisers.precond import Coefficients, Preconditioning
from probflow.denoisers.scalings import vp_input_scaling
from probflow.errors import DenoiserOutputError

AlphaBarPredictor = Callable[[torch.Tensor], torch.Tensor]


def _per_sample(values: torch.Tensor, x: torch.Tensor, what: str) -> torch.Tensor:
    """``values`` of shape ``[batch]`` or ``[batch, 1]`` as a ``[batch]`` tensor, or :class:`DenoiserOutputError`."""
    batch = x.shape[0]
    if values.shape not in ((batch,), (batch, 1)):
        raise DenoiserOutputError(f"{what} must have shape [{batch}] or [{batch}, 1], got {tuple(values.shape)}")
    return values.reshape(batch)


class NoiseLevelPredictor(nn.Module):
    """``alpha_bar_hat(x_vp) = sigmoid(regressor(x_vp))``, shape ``[batch]`` (lesson 22: the regressor is trained
    on ``logit(alpha_bar)``).

    With ``clamp_to_batch_median`` each estimate is clamped to ``[m / 2, 2 m]`` where ``m`` is the batch median
    (the lower middle value for an even batch, as ``torch.median``). The lesson uses this to tame outliers
    when every image of a batch was noised to the same level; it couples the samples of a batch, so results
    then depend on which images share the batch.
    """

    def __init__(self, regressor: Callable[[torch.Tensor], torch.Tensor], clamp_to_batch_median: bool = True) -> None:
        super().__init__()
        self.regressor = regressor
        self.clamp_to_batch_median = clamp_to_batch_median

    def forward(self, x_vp: torch.Tensor) -> torch.Tensor:
        logits = _per_sample(call_network(self.regressor, x_vp, same_shape=False), x_vp, "the regressor's logits")
        alpha_bar = logits.sigmoid()
        if self.clamp_to_batch_median:
            median = alpha_bar.median()
            alpha_bar = alpha_bar.clamp(median / 2, median * 2)
        return alpha_bar


class TimeFreeEpsilon(Preconditioning):
    """``D(x, sigma) = x - sigma eps_net(x_vp)`` with ``x_vp = x / sqrt(1 + sigma^2)``: an epsilon network that never
    sees the noise level (lesson 22), i.e. the EDM "VP" row (Table 1) with no ``c_noise``."""

    def coefficients(self, sigma: torch.Tensor) -> Coefficients:
        return Coefficients(1.0, -sigma, vp_input_scaling(sigma), None)


class NoiseLevelDenoiser(DenoiserModule):
    """``D(x, sigma) = clamp((x_vp - sqrt(1 - a) eps_net(x_vp)) / sqrt(a), -clip, clip)`` with
    ``a = predictor(x_vp)`` the estimated ``alpha_bar`` and ``x_vp = x / sqrt(1 + sigma^2)``
    (Ho et al. 2020 eq. 4 solved for ``x0``; lesson 22).

    The given ``sigma`` enters only through ``x_vp``; the noise level used to remove the noise is the
    predictor's. ``predictor`` returns ``[batch]`` (e.g. a :class:`NoiseLevelPredictor`); ``clip=None`` keeps
    ``x0_hat`` unclamped. ``model_kwargs`` (conditioning) go to ``eps_net``; the predictor sees the image alone.
    """

    def __init__(
        self,
        eps_net: Callable[[torch.Tensor], torch.Tensor],
        predictor: AlphaBarPredictor,
        clip: float | None = 2.0,
    ) -> None:
        super().__init__()
        self.eps_net = eps_net
        self.predictor = predictor
        self.clip = clip

    @staticmethod
    def _vp_sample(x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        return broadcast_sigma(vp_input_scaling(batch_sigma(sigma, x)), x) * x

    def _alpha_bar_of(self, x_vp: torch.Tensor) -> torch.Tensor:
        predicted = torch.as_tensor(self.predictor(x_vp), dtype=x_vp.dtype, device=x_vp.device)
        return _per_sample(predicted, x_vp, "the predicted alpha_bar")

    def predict_alpha_bar(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """The estimated ``alpha_bar`` of each sample, shape ``[batch]``, from ``x_vp = x / sqrt(1 + sigma^2)``."""
        return self._alpha_bar_of(self._vp_sample(x, sigma))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **model_kwargs: object) -> torch.Tensor:
        x_vp = self._vp_sample(x, sigma)
        alpha_bar = broadcast_sigma(self._alpha_bar_of(x_vp), x)
        eps = call_network(self.eps_net, x_vp, **model_kwargs)
        x0 = (x_vp - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
        return x0 if self.clip is None else x0.clamp(-self.clip, self.clip)

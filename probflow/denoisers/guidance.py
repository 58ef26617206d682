"""Classifier-free guidance as a denoiser: ``D = D_u + w (D_c - D_u)``, optionally only in an interval of noise
levels."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from probflow.conditioning import is_per_sample
from probflow.denoisers.base import DenoiserModule, batch_sigma
from probflow.denoisers.network import call_network
from probflow.errors import InvalidArgumentError
from probflow.validation import check_real


class ClassifierFreeGuidance(DenoiserModule):
    """``D(x, sigma) = D_u + s (D_c - D_u)`` with ``D_c = denoiser(x, sigma, **conditional)`` and
    ``D_u = denoiser(x, sigma, **unconditional)`` (Ho & Salimans 2022, eq. 6, ``(1 + w) eps_c - w eps_u``, with
    ``s = 1 + w``, written for the denoiser: for an epsilon, v or x0 network ``D`` is affine in the network output
    with the same coefficients in both terms, so guiding ``D`` is guiding the network output, as diffusers'
    pipelines do).

    * ``scale``: ``s``, diffusers' ``guidance_scale`` (the paper's ``1 + w``): 1 is the conditional denoiser (the
      paper's ``w = 0``), 0 the unconditional one.
    * The conditional inputs are the ``model_kwargs`` the denoiser is called with (``probflow.solve(...,
      model_kwargs=...)``); ``unconditional`` names the entries that differ in the unconditional half, each of the
      conditional entry's shape or a single row ``[1, ...]`` shared by every sample (a null class label, an empty
      prompt's embedding). Entries it does not name are the same in both halves.
    * ``interval=(sigma_lo, sigma_hi)``: guide only where ``sigma_lo < sigma <= sigma_hi`` (Kynkaanniemi et al.
      2024, "Applying guidance in a limited interval improves sample and distribution quality", sec. 3); elsewhere
      the conditional denoiser alone. ``None`` guides at every noise level.

    Cost. Inside the interval the conditional and unconditional halves go through the wrapped denoiser in one
    batched call of ``2 * batch`` rows (the inputs are concatenated unconditional-first and the output split);
    outside it, one call of ``batch`` rows. So every denoiser call, what :attr:`probflow.Solution.nfe` counts, is
    one network call. The wrapper counts them: ``guided_calls`` (``2 * batch`` rows), ``conditional_calls``
    (``batch`` rows), :attr:`network_calls` (their sum, equal to the denoiser calls), and
    :attr:`network_evaluations`, the network evaluations per sample, ``2 * guided_calls + conditional_calls``:
    the NFE of an implementation that evaluates the two halves separately. :meth:`reset_counts` zeroes them.
    """

    def __init__(self, denoiser: Callable[..., torch.Tensor], scale: float, *, unconditional: Mapping[str, object],
                 interval: tuple[float, float] | None = None) -> None:
        super().__init__()
        if not callable(denoiser):
            raise InvalidArgumentError(f"denoiser must be callable as D(x, sigma), got {type(denoiser).__name__}")
        if not isinstance(unconditional, Mapping) or not unconditional:
            raise InvalidArgumentError("unconditional must name the model_kwargs of the unconditional half, e.g. "
                                       "{'class_labels': null_label}")
        self.denoiser = denoiser
        self.scale = check_real("guidance scale", scale, error=InvalidArgumentError)
        self.unconditional = dict(unconditional)
        self.interval = _check_interval(interval)
        self.everywhere = interval is None
        self.reset_counts()

    def reset_counts(self) -> None:
        """Zero :attr:`guided_calls` and :attr:`conditional_calls`."""
        self.guided_calls = 0
        self.conditional_calls = 0

    @property
    def network_calls(self) -> int:
        """Calls of the wrapped denoiser: one per call of this one."""
        return self.guided_calls + self.conditional_calls

    @property
    def network_evaluations(self) -> int:
        """Network evaluations per sample: 2 per guided call, 1 per conditional-only call."""
        return 2 * self.guided_calls + self.conditional_calls

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **model_kwargs: object) -> torch.Tensor:
        sigma = batch_sigma(sigma, x)
        low, high = self.interval
        guided = None if self.everywhere else (sigma > low) & (sigma <= high)
        count = len(x) if guided is None else int(guided.sum())  # rows to guide: one host sync, none without interval
        if count == 0:
            self.conditional_calls += 1
            return self._denoise(x, sigma, model_kwargs)
        both = self._denoise(torch.cat([x, x]), torch.cat([sigma, sigma]), self._both_halves(model_kwargs, len(x)))
        unconditional, conditional = both.split(len(x))
        result = unconditional + self.scale * (conditional - unconditional)
        self.guided_calls += 1
        if count == len(x):
            return result
        return torch.where(guided.reshape(-1, *[1] * (x.ndim - 1)), result, conditional)

    def _denoise(self, x: torch.Tensor, sigma: torch.Tensor, model_kwargs: Mapping[str, object]) -> torch.Tensor:
        """The wrapped denoiser, called as :func:`probflow.solve` would: a probflow adapter in ``x``'s dtype, a bare
        network in its own."""
        if isinstance(self.denoiser, DenoiserModule):
            return self.denoiser(x, sigma, **model_kwargs)
        return call_network(self.denoiser, x, sigma, **model_kwargs)

    def _both_halves(self, conditional: Mapping[str, object], batch: int) -> dict[str, object]:
        """The model_kwargs of the ``2 * batch`` rows: unconditional rows first, then the conditional ones."""
        missing = sorted(set(self.unconditional) - set(conditional))
        if missing:
            raise InvalidArgumentError(f"unconditional names {missing}, which the denoiser is not called with: pass "
                                       f"the conditional values as model_kwargs")
        both: dict[str, object] = {}
        for key, value in conditional.items():
            if key in self.unconditional:
                both[key] = torch.cat([_unconditional_rows(key, self.unconditional[key], value, batch), value])
            elif is_per_sample(value, batch):
                both[key] = torch.cat([value, value])
            else:
                both[key] = value
        return both


def _unconditional_rows(key: str, unconditional: object, conditional: object, batch: int) -> torch.Tensor:
    """The unconditional entry as ``batch`` rows of the conditional entry's shape."""
    if not is_per_sample(conditional, batch):
        raise InvalidArgumentError(f"model_kwargs[{key!r}] must be a per-sample tensor [batch={batch}, ...] to be "
                                   f"guided, got {_describe(conditional)}")
    rows_shape = conditional.shape[1:]
    if (not isinstance(unconditional, torch.Tensor) or unconditional.ndim != conditional.ndim
            or unconditional.shape[1:] != rows_shape or unconditional.shape[0] not in (1, batch)):
        dimensions = ", ".join([f"{batch} or 1", *map(str, rows_shape)])
        raise InvalidArgumentError(f"unconditional[{key!r}] must be a tensor of shape [{dimensions}] like the "
                                   f"conditional entry, got {_describe(unconditional)}")
    return unconditional.to(device=conditional.device, dtype=conditional.dtype).expand(batch, *rows_shape)


def _describe(value: object) -> str:
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _check_interval(interval: tuple[float, float] | None) -> tuple[float, float]:
    if interval is None:
        return 0.0, math.inf
    try:
        low, high = interval
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"interval must be (sigma_lo, sigma_hi), got {interval!r}") from exc
    low = check_real("interval sigma_lo", low, minimum=0.0, error=InvalidArgumentError)
    if high != math.inf:  # no upper end: guide at every sigma above sigma_lo
        high = check_real("interval sigma_hi", high, minimum=low, error=InvalidArgumentError)
    return low, high

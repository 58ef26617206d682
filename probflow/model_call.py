"""The one place where a solver calls the denoiser: counting, casting and validating each call."""

from __future__ import annotations

import torch

from probflow.denoisers.base import Denoiser
from probflow.errors import DenoiserOutputError

#: Calls whose outputs are checked for NaN/Inf together: one host sync per block, and the memory of one block.
FINITE_CHECK_BLOCK = 64


def model_dtype(denoiser: Denoiser) -> torch.dtype | None:
    """The dtype a denoiser wants its input in: ``denoiser.dtype`` if set, else its first parameter's."""
    dtype = getattr(denoiser, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(denoiser, torch.nn.Module):
        for parameter in denoiser.parameters():
            return parameter.dtype
    return None


class ModelCall:
    """Calls ``D(x, sigma)`` for a solve: counts the calls (NFE), casts and checks every output.

    * The solver state lives in ``compute_dtype`` (float32 or float64); the input is cast to the model's
      dtype, and the output back, as EDM does.
    * ``sigma`` may be a Python float (the hand-written steppers) or a tensor (torchdiffeq/torchsde); a
      float becomes a ``[batch]`` tensor, reused while the solver asks for the same sigma (a step's last
      stage and the next step's first share it), so no tensor per grid point is kept.
    * Type, dtype, device and shape are checked on every call (attribute reads, no host sync). Finiteness is
      checked per block of :data:`FINITE_CHECK_BLOCK` calls: each call keeps ``denoised.sum()`` (non-finite iff
      some element is, barring overflow), and a full block is inspected at once, which costs one host sync per
      block and keeps the memory independent of the number of steps. The first non-finite call is remembered
      and :meth:`check_finite`, at the end of the solve, names its step and sigma.
    * ``step`` is the loop's step, or None while a backend integrates over the whole grid inside one step
      (torchdiffeq); errors then name the interval of ``sigmas`` (the solve's grid) that holds the call's sigma.
    """

    def __init__(self, denoiser: Denoiser, like: torch.Tensor, sigmas: list[float]):
        self.denoiser = denoiser
        self.nfe = 0
        self.step: int | None = 0
        self.sigmas = sigmas
        self.shape = like.shape
        self.dtype = like.dtype
        self.device = like.device
        self.input_dtype = model_dtype(denoiser) or like.dtype
        self._batch = (like.shape[0],)
        self._last_sigma: float | None = None
        self._last_sigma_tensor: torch.Tensor | None = None
        self._block_sums: list[torch.Tensor] = []
        self._block_where: list[tuple[int | None, float | torch.Tensor]] = []
        self._first_non_finite: tuple[str, int] | None = None  # (where, call number)

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        if isinstance(sigma, torch.Tensor):
            sigma_in = sigma.to(self.dtype).reshape(-1).expand(x.shape[0]) if sigma.numel() == 1 else sigma
        elif sigma == self._last_sigma:
            sigma_in = self._last_sigma_tensor
        else:
            sigma_in = self._last_sigma_tensor = x.new_full(self._batch, sigma)
            self._last_sigma = sigma
        denoised = self.denoiser(x if self.input_dtype is self.dtype else x.to(self.input_dtype), sigma_in)
        # The common case in four attribute reads; anything else takes the full check (and the cast).
        if not (type(denoised) is torch.Tensor and denoised.dtype is self.dtype and denoised.shape == self.shape
                and denoised.device == self.device):
            denoised = self._checked(denoised, x, sigma)
        self.nfe += 1
        self._block_sums.append(torch.sum(denoised))
        self._block_where.append((self.step, sigma))
        if len(self._block_sums) == FINITE_CHECK_BLOCK:
            self._check_block()
        return denoised

    def _checked(self, denoised: object, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """``denoised`` in the compute dtype, or :class:`DenoiserOutputError` naming what is wrong with it."""
        if not isinstance(denoised, torch.Tensor):
            problem = f"denoiser must return a torch.Tensor, got {type(denoised).__name__}"
        elif not denoised.is_floating_point():
            problem = f"denoiser returned dtype {denoised.dtype}, expected a floating dtype"
        elif denoised.device != self.device:
            problem = f"denoiser returned a tensor on {denoised.device}, expected {self.device}"
        elif denoised.shape != x.shape:
            problem = f"denoiser returned shape {tuple(denoised.shape)} for input shape {tuple(x.shape)}"
        else:
            return denoised.to(self.dtype)
        raise DenoiserOutputError(f"{problem} at {self._location(self.step, sigma)}")

    def _location(self, step: int | None, sigma: float | torch.Tensor) -> str:
        value = sigma.reshape(-1)[0].item() if isinstance(sigma, torch.Tensor) else sigma
        if step is None:  # the interval sigmas[i] >= sigma > sigmas[i + 1] of the descending grid
            step = min(max(sum(s >= value for s in self.sigmas) - 1, 0), len(self.sigmas) - 2)
        return f"step {step}, sigma={value:.6g}"

    def _check_block(self) -> None:
        """Inspect the pending calls' sums at once; remember where the first non-finite output came from."""
        if self._block_sums and self._first_non_finite is None:
            finite = torch.isfinite(torch.stack(self._block_sums))
            if not bool(finite.all()):
                first = int((~finite).nonzero()[0])
                call = self.nfe - len(self._block_sums) + first + 1
                self._first_non_finite = (self._location(*self._block_where[first]), call)
        self._block_sums.clear()
        self._block_where.clear()

    def check_finite(self) -> None:
        """Raise :class:`DenoiserOutputError` naming the first call whose output held NaN or Inf."""
        self._check_block()
        if self._first_non_finite is not None:
            where, call = self._first_non_finite
            raise DenoiserOutputError(f"denoiser returned NaN/Inf at {where} (call {call} of {self.nfe})")

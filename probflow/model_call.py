"""The one place where a solver calls the denoiser: counting, casting and validating each call."""

from __future__ import annotations

import torch

from probflow.denoisers.base import Denoiser
from probflow.errors import DenoiserOutputError


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
      float becomes a ``[batch]`` tensor once and is reused, so a grid costs no per-step allocation.
    * Type, dtype, device and shape are checked on every call (attribute reads, no host sync). Finiteness is
      checked without a host sync per step: each call appends ``denoised.sum()`` (non-finite iff some
      element is), and ``check_finite`` inspects them all at once and names the first bad step and sigma.
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
        self._sigma_tensors: dict[float, torch.Tensor] = {}
        self._sums: list[torch.Tensor] = []
        self._where: list[tuple[int, float | torch.Tensor]] = []

    def sigma_tensor(self, sigma: float) -> torch.Tensor:
        """``sigma`` as a ``[batch]`` tensor in the compute dtype, created once per value."""
        tensor = self._sigma_tensors.get(sigma)
        if tensor is None:
            tensor = torch.full((self.shape[0],), sigma, dtype=self.dtype, device=self.device)
            self._sigma_tensors[sigma] = tensor
        return tensor

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        if isinstance(sigma, torch.Tensor):
            sigma_in = sigma.to(self.dtype).reshape(-1).expand(x.shape[0]) if sigma.numel() == 1 else sigma
        else:
            sigma_in = self.sigma_tensor(sigma)
        model_input = x if self.input_dtype is self.dtype else x.to(self.input_dtype)
        denoised = self.denoiser(model_input, sigma_in)
        self._check_output(denoised, x, sigma)
        if denoised.dtype is not self.dtype:
            denoised = denoised.to(self.dtype)
        self.nfe += 1
        self._sums.append(denoised.sum())
        self._where.append((self.step, sigma))
        return denoised

    def _check_output(self, denoised: object, x: torch.Tensor, sigma: float | torch.Tensor) -> None:
        if not isinstance(denoised, torch.Tensor):
            problem = f"denoiser must return a torch.Tensor, got {type(denoised).__name__}"
        elif not denoised.is_floating_point():
            problem = f"denoiser returned dtype {denoised.dtype}, expected a floating dtype"
        elif denoised.device != self.device:
            problem = f"denoiser returned a tensor on {denoised.device}, expected {self.device}"
        elif denoised.shape != x.shape:
            problem = f"denoiser returned shape {tuple(denoised.shape)} for input shape {tuple(x.shape)}"
        else:
            return
        raise DenoiserOutputError(f"{problem} at {self._location(self.step, sigma)}")

    def _location(self, step: int | None, sigma: float | torch.Tensor) -> str:
        value = sigma.reshape(-1)[0].item() if isinstance(sigma, torch.Tensor) else sigma
        if step is None:  # the interval sigmas[i] >= sigma > sigmas[i + 1] of the descending grid
            step = min(max(sum(s >= value for s in self.sigmas) - 1, 0), len(self.sigmas) - 2)
        return f"step {step}, sigma={value:.6g}"

    def check_finite(self) -> None:
        """Raise :class:`DenoiserOutputError` naming the first call whose output held NaN or Inf."""
        if not self._sums:
            return
        finite = torch.isfinite(torch.stack(self._sums))
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        raise DenoiserOutputError(
            f"denoiser returned NaN/Inf at {self._location(*self._where[first])} (call {first + 1} of {self.nfe})"
        )

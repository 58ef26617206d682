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
    * Shape is checked per call; dtype and device once. Finiteness is checked without a host sync per step:
      each call appends ``denoised.sum()`` (non-finite iff some element is), and ``check_finite`` inspects
      them all at once and names the first bad step and sigma.
    """

    def __init__(self, denoiser: Denoiser, like: torch.Tensor):
        self.denoiser = denoiser
        self.nfe = 0
        self.step = 0
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
        if self.nfe == 0:
            self._check_first(denoised, sigma)
        if denoised.shape != x.shape:
            raise DenoiserOutputError(
                f"denoiser returned shape {tuple(denoised.shape)} for input shape {tuple(x.shape)} "
                f"at step {self.step}, sigma={_describe(sigma)}"
            )
        if denoised.dtype is not self.dtype:
            denoised = denoised.to(self.dtype)
        self.nfe += 1
        self._sums.append(denoised.sum())
        self._where.append((self.step, sigma))
        return denoised

    def _check_first(self, denoised: object, sigma: float | torch.Tensor) -> None:
        where = f"at step {self.step}, sigma={_describe(sigma)}"
        if not isinstance(denoised, torch.Tensor):
            raise DenoiserOutputError(f"denoiser must return a torch.Tensor, got {type(denoised).__name__} {where}")
        if not denoised.is_floating_point():
            raise DenoiserOutputError(f"denoiser returned dtype {denoised.dtype}, expected a floating dtype {where}")
        if denoised.device != self.device:
            raise DenoiserOutputError(
                f"denoiser returned a tensor on {denoised.device}, expected {self.device} {where}"
            )

    def check_finite(self) -> None:
        """Raise :class:`DenoiserOutputError` naming the first call whose output held NaN or Inf."""
        if not self._sums:
            return
        finite = torch.isfinite(torch.stack(self._sums))
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        step, sigma = self._where[first]
        raise DenoiserOutputError(
            f"denoiser returned NaN/Inf at step {step}, sigma={_describe(sigma)} (call {first + 1} of {self.nfe})"
        )


def _describe(sigma: float | torch.Tensor) -> str:
    if isinstance(sigma, torch.Tensor):
        return f"{sigma.reshape(-1)[0].item():.6g}"
    return f"{sigma:.6g}"

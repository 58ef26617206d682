"""The one place where a solve calls the denoiser: counting, casting at the network boundary, checking each call.

* **Counting**: every call is one NFE.
* **One dtype rule**: the solver state and the preconditioning live in the compute dtype (float32 or float64). A
  probflow :class:`~probflow.denoisers.base.DenoiserModule` (an adapter such as ``EDMPrecond``, an analytic
  denoiser) and a plain function are called in that dtype; an adapter casts only at its own network. Any other
  ``nn.Module`` (or an object with a ``dtype`` attribute) *is* the network: the input is cast to its dtype and the
  output back (:func:`~probflow.denoisers.network.cast_for_network`), as EDM does.
* **Checks**: type, dtype, device and shape on every call (attribute reads, no host sync). A denoiser called in
  the compute dtype must answer in it: a float16 answer to a float64 state would lose precision silently.
* **Finiteness**: each call keeps ``sum(x)`` of its input and ``sum(D)`` of its output (non-finite iff some element
  is, barring overflow of the sum); a block of :data:`FINITE_CHECK_BLOCK` calls is inspected at once, one host sync
  per block. The first call whose input is not finite, while every output before it was, shows that the *solver*
  produced NaN/Inf; the first non-finite output with a finite input, that the *denoiser* did. :meth:`check_finite`
  raises the matching error, naming the step, sigma, call number and dtype.
* ``sigma`` is a Python float (hand-written steppers), or a tensor (differentiable solves, torchdiffeq and
  torchsde); a float becomes a ``[batch]`` tensor, reused while the solver asks for the same sigma.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from probflow.denoisers.base import Denoiser, DenoiserModule
from probflow.denoisers.network import cast_for_network, network_dtype
from probflow.errors import DenoiserOutputError, NonFiniteResultError

#: Calls whose inputs and outputs are checked for NaN/Inf together: one host sync per block.
FINITE_CHECK_BLOCK = 64


class ModelCall:
    """Calls ``D(x, sigma, **model_kwargs)`` for one solve (module docstring).

    ``step`` is the loop's current step; a call whose sigma lies below that step's end (a backend integrating the
    whole grid inside one step) is located by its sigma in ``sigmas`` instead.
    """

    def __init__(self, denoiser: Denoiser, like: torch.Tensor, sigmas: list[float], *, solver_name: str,
                 model_kwargs: Mapping[str, object] | None = None, differentiable: bool = False):
        self.denoiser = denoiser
        self.differentiable = differentiable
        self.nfe = 0
        self.step = 0
        self.sigmas = sigmas
        self.solver_name = solver_name
        self.model_kwargs = dict(model_kwargs or {})
        self.shape = like.shape
        self.dtype = like.dtype
        self.device = like.device
        self.network_dtype = None if isinstance(denoiser, DenoiserModule) else network_dtype(denoiser)
        self.answer_dtype = self.network_dtype or like.dtype
        self._batch = (like.shape[0],)
        self._last_sigma: float | None = None
        self._last_sigma_tensor: torch.Tensor | None = None
        self._block_sums: list[torch.Tensor] = []
        self._block_calls: list[tuple[int, float | torch.Tensor]] = []  # (step, sigma) of each pending call
        self._failure: tuple[int, int, float | torch.Tensor, bool] | None = None  # (call, step, sigma, in output)

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        sigma_in = self._sigma_batch(x, sigma)
        if self.network_dtype is None:
            denoised = self.denoiser(x, sigma_in, **self.model_kwargs)
        else:
            network_input, (network_sigma,) = cast_for_network(self.network_dtype, x, sigma_in)
            denoised = self.denoiser(network_input, network_sigma, **self.model_kwargs)
        # The common case in four attribute reads; anything else takes the full check.
        if not (type(denoised) is torch.Tensor and denoised.dtype is self.answer_dtype
                and denoised.shape == self.shape and denoised.device == self.device):
            self._check_answer(denoised, x, sigma)
        if self.network_dtype is not None:
            denoised = denoised.to(self.dtype)
        self.nfe += 1
        if self.differentiable:
            self._block_sums += [torch.sum(x.detach()), torch.sum(denoised.detach())]
        else:
            self._block_sums += [torch.sum(x), torch.sum(denoised)]
        self._block_calls.append((self.step, sigma))
        if len(self._block_calls) == FINITE_CHECK_BLOCK:
            self._check_block()
        return denoised

    def _sigma_batch(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        if isinstance(sigma, torch.Tensor):
            return sigma.to(self.dtype).reshape(-1).expand(x.shape[0]) if sigma.numel() == 1 else sigma
        if sigma != self._last_sigma:
            self._last_sigma_tensor = x.new_full(self._batch, sigma)
            self._last_sigma = sigma
        return self._last_sigma_tensor

    def _check_answer(self, denoised: object, x: torch.Tensor, sigma: float | torch.Tensor) -> None:
        """Raise :class:`DenoiserOutputError` naming what is wrong with ``denoised`` (type, dtype, device, shape)."""
        if not isinstance(denoised, torch.Tensor):
            problem = f"denoiser must return a torch.Tensor, got {type(denoised).__name__}"
        elif denoised.dtype != self.answer_dtype:
            problem = (f"denoiser returned dtype {denoised.dtype} for an input of dtype {self.answer_dtype}; return "
                       f"the input's dtype (or give the denoiser a `dtype` attribute if it computes in another one)")
        elif denoised.device != self.device:
            problem = f"denoiser returned a tensor on {denoised.device}, expected {self.device}"
        else:
            problem = f"denoiser returned shape {tuple(denoised.shape)} for input shape {tuple(x.shape)}"
        raise DenoiserOutputError(f"{problem} at {self._location(self.step, _value(sigma))}")

    def _location(self, step: int, sigma: float) -> str:
        # Below the loop's step (to rounding: a stage at c = 1 lands an ulp off its end), a backend integrates ahead
        # of the loop: locate the call in the descending grid.
        if not self.sigmas[step + 1] * (1.0 - 1e-9) <= sigma:
            step = min(max(sum(s >= sigma for s in self.sigmas) - 1, 0), len(self.sigmas) - 2)
        return f"step {step}, sigma={sigma:.6g}"

    def _check_block(self) -> None:
        """Inspect the pending calls' sums at once; remember the first non-finite input or output."""
        if self._block_calls and self._failure is None:
            finite = torch.isfinite(torch.stack(self._block_sums))
            if not bool(finite.all()):
                first = int((~finite).nonzero()[0])
                call_index, is_output = divmod(first, 2)
                call = self.nfe - len(self._block_calls) + call_index + 1
                self._failure = (call, *self._block_calls[call_index], bool(is_output))
        self._block_sums.clear()
        self._block_calls.clear()

    def first_failure(self) -> Exception | None:
        """The error of the first non-finite input (:class:`NonFiniteResultError`: the solver produced it) or output
        (:class:`DenoiserOutputError`) of the calls so far, or None."""
        self._check_block()
        if self._failure is None:
            return None
        call, step, sigma, is_output = self._failure
        where = f"{self._location(step, _value(sigma))} (call {call} of {self.nfe})"
        if is_output:
            return DenoiserOutputError(f"denoiser returned NaN/Inf at {where}, from a finite input, in "
                                       f"{self.answer_dtype}")
        return NonFiniteResultError(f"{self.solver_name} produced NaN/Inf: the state it passed to the denoiser at "
                                    f"{where} is not finite, while every denoiser output before it was (solver maths "
                                    f"in {self.dtype})")

    def check_finite(self) -> None:
        """Raise :meth:`first_failure`, if any."""
        failure = self.first_failure()
        if failure is not None:
            raise failure


def _value(sigma: float | torch.Tensor) -> float:
    return float(sigma.detach().reshape(-1)[0]) if isinstance(sigma, torch.Tensor) else sigma

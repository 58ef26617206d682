"""A Brownian path sampled once on a fine grid, answering increments between any two of its points exactly.

On the grid ``tau_0 < ... < tau_M`` (``tau = -sigma``) with ``h_k = tau_{k+1} - tau_k`` it draws, independently,

    dW_k ~ N(0, h_k),   H_k ~ N(0, h_k / 12),   U_k = h_k (dW_k / 2 + H_k)

where ``U_k = integral_{tau_k}^{tau_{k+1}} (W_s - W_{tau_k}) ds`` is the space-time Levy area (torchsde's
``return_U``): given ``dW``, ``U - h dW / 2`` is the integral of a Brownian bridge over ``[0, h]``, Gaussian with
variance ``h^3 / 12`` and independent of ``dW`` (as torchsde's ``BrownianInterval`` samples it; Kidger et al.
2021, "Efficient and Accurate Gradients for Neural SDEs"). Over ``[tau_i, tau_j]``:

    W_ij = W_j - W_i,    U_ij = sum_{k=i}^{j-1} (U_k + (W_k - W_i) h_k)

which two cumulative sums give in O(1) per query (memory: two float64 tensors of ``M + 1`` times the shape).
Coarse increments are sums of fine ones, so every grid made of these points (every nested grid of a convergence
study) sees the same path, exactly.

This is the strong-order counterpart of :class:`~probflow.brownian.BrownianNoise`, whose ``BrownianInterval``
answers arbitrary queries but costs about a millisecond per query; a strong-order study only ever queries grid
points, thousands of times.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchsde

from probflow.errors import InvalidArgumentError
from probflow.brownian import BrownianNoise
from probflow.noise import NoiseSource


MAX_BYTES = 4 * 2**30


class GridBrownian(torchsde.BaseBrownian):
    """A Brownian motion of shape ``[batch, *features]`` known at the points of ``taus`` (increasing, float64).

    ``bm(ta, tb)`` returns ``W(tb) - W(ta)``; with ``return_U=True`` also the space-time Levy area (torchsde's
    interface). ``ta`` and ``tb`` must be grid points (to a relative 1e-12), else a ``ValueError`` says so.
    Sampling takes about four float64 tensors of ``len(taus)`` times ``shape``; above ``MAX_BYTES`` it is refused.
    """

    __slots__ = ("_taus", "_shape", "_cumulative_w", "_cumulative_area")

    def __init__(self, taus: torch.Tensor, shape: torch.Size, generator: torch.Generator | None = None):
        taus = torch.as_tensor(taus, dtype=torch.float64)
        steps = taus.diff()
        if taus.ndim != 1 or steps.numel() < 1 or not bool((steps > 0).all()):
            raise InvalidArgumentError("taus must be a strictly increasing 1-D grid of at least two points")
        self._taus = taus.numpy()
        self._shape = torch.Size(shape)
        needed = 4 * 8 * len(self._taus) * self._shape.numel()
        if needed > MAX_BYTES:
            raise InvalidArgumentError(f"a Brownian path on {len(self._taus)} points of shape {tuple(self._shape)} needs about "
                             f"{needed / 2**30:.1f} GiB: use fewer samples or a coarser reference grid")
        widths = steps.reshape(-1, *([1] * len(self._shape)))
        increments = torch.randn((steps.numel(), *self._shape), generator=generator, dtype=torch.float64)
        increments = increments * widths.sqrt()
        areas = torch.randn((steps.numel(), *self._shape), generator=generator, dtype=torch.float64)
        areas = widths * (0.5 * increments + areas * (widths / 12.0).sqrt())
        zero = torch.zeros((1, *self._shape), dtype=torch.float64)
        self._cumulative_w = torch.cat([zero, increments.cumsum(0)])
        # sum_{k<j} (U_k + W_k h_k): U_ij is its difference minus W_i (tau_j - tau_i).
        self._cumulative_area = torch.cat([zero, (areas + self._cumulative_w[:-1] * widths).cumsum(0)])

    def _index(self, tau: float | torch.Tensor) -> int:
        value = float(tau)
        index = int(np.clip(np.searchsorted(self._taus, value), 1, len(self._taus) - 1))
        nearest = index if abs(self._taus[index] - value) < abs(self._taus[index - 1] - value) else index - 1
        if not math.isclose(self._taus[nearest], value, rel_tol=1e-12, abs_tol=1e-300):
            raise InvalidArgumentError(f"tau={value!r} is not a point of the grid the Brownian path was sampled on")
        return nearest

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        if tb is None or return_A:
            raise InvalidArgumentError("GridBrownian answers increments W(tb) - W(ta) (and return_U) between grid points only")
        i, j = self._index(ta), self._index(tb)
        increment = self._cumulative_w[j] - self._cumulative_w[i]
        if not return_U:
            return increment
        area = (self._cumulative_area[j] - self._cumulative_area[i]
                - self._cumulative_w[i] * float(self._taus[j] - self._taus[i]))
        return increment, area

    def __repr__(self) -> str:
        return f"GridBrownian(points={len(self._taus)}, shape={tuple(self._shape)})"

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def shape(self) -> torch.Size:
        return self._shape

    @property
    def levy_area_approximation(self) -> str:
        return "space-time"


class GridBrownianNoise(BrownianNoise):
    """:class:`~probflow.brownian.BrownianNoise` reading a :class:`GridBrownian` on the sigma grid ``sigmas``.

    Hand-written steppers get ``increment(sigma, sigma_next) = (W(-sigma_next) - W(-sigma)) / sqrt(sigma -
    sigma_next)`` (inherited) and :class:`~probflow.solvers.TorchSDE` the path itself, so both read one path on
    every sub-grid of ``sigmas``. ``randn`` (e.g. EDM churn) draws from ``generator``, independently of the path.
    """

    def __init__(self, sigmas: torch.Tensor, shape: torch.Size, generator: torch.Generator | None = None):
        # Only the plain NoiseSource set-up: BrownianNoise's own __init__ would build a BrownianInterval path.
        NoiseSource.__init__(self, generator, torch.Size(shape), torch.float64, torch.device("cpu"))
        flat = torch.Size([self.shape[0], self.shape[1:].numel()])
        taus = -torch.as_tensor(sigmas, dtype=torch.float64)
        self.brownian = GridBrownian(taus, flat, generator)

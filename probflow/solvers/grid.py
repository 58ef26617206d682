"""The sigma grid of one solve, as the steppers read it.

A stepper computes what the grid lets it compute once (coefficients, stage sigmas, noise weights) from
``grid.sigmas``, a float64 tensor, with torch operations, and hands the table to :meth:`Grid.constants`:

* when nothing is differentiated, the constants become compact float64 storage (8 bytes a number, so a long grid
  costs little memory): a one-dimensional table an ``array.array("d")``, whose entries index as Python floats,
  a table of rows a :class:`FloatRows`, whose rows index as lists of Python floats. A step costs only its tensor
  operations on the state (``torch.lerp(D, x, weight)``), no indexing of tensors; a Python float, not a
  ``numpy.float64``, because torch parses the latter about 2 us slower in ``lerp`` (``benchmarks/RESULTS.md``,
  section 2);
* when the solve is differentiable (:func:`probflow.solve` with ``grad=True``, or a state or grid that requires
  grad), they stay tensors in the state's dtype and device, carrying the autograd graph back to the grid, so that
  ``d x_final / d sigmas`` flows through every coefficient and every denoiser call.

Decisions that branch (is this the step into 0? is any noise injected?) read the detached ``values``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import numpy as np
import torch


class FloatRows:
    """A float64 table (a numpy array of two or more dimensions) whose rows index and iterate as lists of Python
    floats: 8 bytes a number in memory, and floats, not ``numpy.float64``, to torch."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray):
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> list:
        return self.values[index].tolist()

    def __iter__(self) -> Iterator[list]:
        return (row.tolist() for row in self.values)


class Grid:
    """A validated sigma grid (float64, descending, only the last value may be 0) bound to a state's dtype/device."""

    def __init__(self, sigmas: torch.Tensor, *, dtype: torch.dtype, device: torch.device, differentiable: bool):
        self.sigmas = sigmas
        self.values: list[float] = sigmas.detach().tolist()
        self.dtype = dtype
        self.device = device
        self.differentiable = differentiable
        self._sigma_tensors = sigmas.to(device=device, dtype=dtype) if differentiable else None

    @property
    def num_steps(self) -> int:
        """The number of intervals, ``len(sigmas) - 1``."""
        return len(self.values) - 1

    @property
    def ends_at_zero(self) -> bool:
        """Whether the last value is 0 (the last step is then the step into sigma = 0)."""
        return self.values[-1] == 0.0

    @property
    def interior_steps(self) -> int:
        """The steps between positive sigmas: all but the step into 0, which the loop (or the solver) takes apart."""
        return self.num_steps - int(self.ends_at_zero)

    @property
    def sigma_from(self) -> torch.Tensor:
        """``sigmas[i]`` of the interior steps (float64, ``[interior_steps]``)."""
        return self.sigmas[:self.interior_steps]

    @property
    def sigma_to(self) -> torch.Tensor:
        """``sigmas[i + 1]`` of the interior steps, all positive: per-step constants are computed from these two, so
        that no ``1/0`` or ``sqrt(0)`` of the step into 0 enters the constants or their gradients."""
        return self.sigmas[1:self.interior_steps + 1]

    def sigma(self, i: int) -> float | torch.Tensor:
        """``sigmas[i]`` as a model call's noise level: a float, or a 0-d tensor of the state's dtype when
        differentiable."""
        return self._sigma_tensors[i] if self._sigma_tensors is not None else self.values[i]

    @staticmethod
    def positive(table: torch.Tensor) -> list[bool]:
        """Which entries of a per-step table are > 0, from its detached values: a branch of the step (is any noise
        injected?) is decided once per grid, never by comparing a tensor inside the loop (a host sync per step when
        the table is a differentiable tensor on a device)."""
        return (table.detach() > 0).tolist()

    def constants(self, table: torch.Tensor) -> array | FloatRows | torch.Tensor:
        """Per-step constants (a float64 tensor computed from ``sigmas``) in the form steps use them (module
        docstring): float64 storage indexed as Python floats (``array.array`` for one dimension, :class:`FloatRows`
        for more), or a tensor in the state's dtype on its device."""
        if self._sigma_tensors is None:
            values = table.detach().numpy()
            return array("d", values.tobytes()) if values.ndim == 1 else FloatRows(values)
        return table.to(device=self.device, dtype=self.dtype)

"""Seeded Brownian motion in ``tau = -sigma``, per sample, for torchsde and the hand-written SDE steppers.

torchsde's ``BrownianInterval`` (Kidger et al. 2021, "Efficient and Accurate Gradients for Neural SDEs")
answers increment queries over any sub-interval consistently with one path, so solutions on nested grids
share their noise: the property a strong-order measurement needs. Here one interval per sample, seeded
from that sample's generator, makes the path of sample ``i`` independent of the batch size and position.
"""

from __future__ import annotations

import torch
import torchsde

from probflow.noise import GeneratorLike, NoiseSource
from probflow.validation import check_sigma_range


def _entropy(generator: torch.Generator | None) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=getattr(generator, "device", "cpu")))


class SeededBrownian(torchsde.BaseBrownian):
    """A Brownian motion on ``[tau0, tau1]`` of shape ``[batch, *features]``, seeded per sample.

    ``generator``: None (global RNG), one generator (one path for the batch) or ``batch`` generators (one
    path per sample). Calling ``bm(ta, tb)`` returns ``W(tb) - W(ta)``, as torchsde expects.
    """

    __slots__ = ("_paths", "_shape", "_dtype", "_device", "_levy")

    def __init__(self, tau0: float, tau1: float, shape: torch.Size, dtype: torch.dtype, device: torch.device,
                 generator: GeneratorLike = None, levy_area_approximation: str = "none"):
        # Validate the generator list exactly as the noise source does.
        source = NoiseSource(generator, shape, dtype, device)
        self._shape = torch.Size(shape)
        self._dtype = dtype
        self._device = torch.device(device)
        self._levy = levy_area_approximation
        if isinstance(source.generators, list):
            sizes = [(1, *self._shape[1:])] * len(source.generators)
            entropies = [_entropy(g) for g in source.generators]
        else:
            sizes = [tuple(self._shape)]
            entropies = [_entropy(source.generators)]
        self._paths = [
            torchsde.BrownianInterval(t0=tau0, t1=tau1, size=size, dtype=dtype, device=self._device, entropy=entropy,
                                      levy_area_approximation=levy_area_approximation)
            for size, entropy in zip(sizes, entropies)
        ]

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        parts = [path(ta, tb, return_U=return_U, return_A=return_A) for path in self._paths]
        if len(parts) == 1:
            return parts[0]
        if isinstance(parts[0], tuple):
            return tuple(torch.cat(items) for items in zip(*parts))
        return torch.cat(parts)

    def __repr__(self) -> str:
        return f"SeededBrownian(shape={tuple(self._shape)}, paths={len(self._paths)})"

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def shape(self) -> torch.Size:
        return self._shape

    @property
    def levy_area_approximation(self) -> str:
        return self._levy


class BrownianNoise(NoiseSource):
    """A :class:`NoiseSource` whose step increments read one Brownian path in ``tau = -sigma``.

    ``increment(sigma, sigma_next) = (W(-sigma_next) - W(-sigma)) / sqrt(sigma - sigma_next)``, so solves on
    nested grids, by hand-written steppers or by :class:`~probflow.solvers.TorchSDE`, see the same path (as a
    strong-order measurement needs). Pass it to :func:`probflow.solve` as ``generator``. Other draws
    (``randn``, e.g. EDM churn) come from a separate stream of the same generator(s).
    """

    def __init__(self, sigma_max: float, sigma_min: float, shape: torch.Size, dtype: torch.dtype = torch.float64,
                 device: torch.device | str = "cpu", generator: GeneratorLike = None,
                 levy_area_approximation: str = "none"):
        sigma_min, sigma_max = check_sigma_range(sigma_min, sigma_max)
        super().__init__(generator, torch.Size(shape), dtype, torch.device(device))
        flat = torch.Size([self.shape[0], self.shape[1:].numel()])
        self.brownian = SeededBrownian(-sigma_max, -sigma_min, flat, dtype, self.device, generator,
                                       levy_area_approximation)

    def increment(self, sigma: float, sigma_next: float) -> torch.Tensor:
        return (self.brownian(-sigma, -sigma_next) / (sigma - sigma_next) ** 0.5).reshape(self.shape)

"""Importable denoisers for the generation tests (``--denoiser tests.test_generation_toys:MIXTURE``); no tests.

``GAUSSIAN`` and ``MIXTURE`` are exact denoisers on 1x4x4 "images", cheap enough for subprocess and multi-process
tests (``Slowed`` adds a pause per call; ``NEVER_CALLED`` fails any test that samples it):

* ``GAUSSIAN`` is elementwise, so each output row is independent of the batch it is in: bitwise
  batch-size and seed-order invariance can be asserted on it;
* ``MIXTURE`` reduces over pixels and components, and torch's CPU reductions may change their summation
  order with the batch size: it checks that resumes and multi-process runs repeat a clean run's batches;
* ``SHIFTED`` is ``GAUSSIAN`` conditioned on a per-sample ``shift`` (a ``model_kwargs`` entry), elementwise too.
"""

from __future__ import annotations

import time

import torch

from probflow.denoisers import Gaussian, GaussianMixture

SHAPE = (1, 4, 4)
_generator = torch.Generator().manual_seed(0)
GAUSSIAN = Gaussian(torch.rand(SHAPE, generator=_generator, dtype=torch.float64) * 2 - 1,
                    0.1 + 0.3 * torch.rand(SHAPE, generator=_generator, dtype=torch.float64))
MIXTURE = GaussianMixture(torch.rand(3, *SHAPE, generator=_generator, dtype=torch.float64) * 2 - 1, 0.2)


class Slowed:
    """A denoiser (``MIXTURE`` by default) with a pause per call, so that a test can kill a run part-way through,
    or two runs on one core take turns."""

    shape = SHAPE

    def __init__(self, seconds: float, denoiser: GaussianMixture | Gaussian = MIXTURE):
        self.seconds = seconds
        self.denoiser = denoiser

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return self.denoiser(x, sigma)


SLOW_MIXTURE = Slowed(0.03)


class Shifted:
    """The exact denoiser of ``GAUSSIAN``'s data moved by a per-sample ``shift`` (``[batch]``, in ``model_kwargs``):
    ``D(x, sigma; shift) = GAUSSIAN(x - shift, sigma) + shift``."""

    shape = SHAPE

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        offset = shift.to(x).reshape(-1, *[1] * len(SHAPE))
        return GAUSSIAN(x - offset, sigma) + offset


SHIFTED = Shifted()


class NeverCalled:
    """A denoiser of 2-D points that fails the test when called: commands must reject their outputs before sampling."""

    shape = (2,)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        raise AssertionError("sampled before the output paths were checked")


NEVER_CALLED = NeverCalled()

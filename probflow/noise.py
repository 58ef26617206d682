"""Gaussian noise for stochastic solvers, seeded per sample.

Following EDM's ``StackedRandomGenerator``, a sequence of generators gives sample ``i`` its own stream:
its draws depend only on generator ``i``, never on the batch size or the sample's position in the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from probflow.errors import GeneratorError

GeneratorLike = torch.Generator | Sequence[torch.Generator] | None


class NoiseSource:
    """Standard normal draws shaped like the solver state.

    * ``generator=None``: torch's global generator;
    * one ``torch.Generator``: one stream for the whole batch (depends on the batch size);
    * a sequence of ``batch`` generators: one stream per sample, batch-size independent.

    ``increment(sigma, sigma_next)`` is the standardised Brownian increment over a step. Here it is a
    fresh draw; :class:`BrownianNoise` overrides it to read one fixed path, so that solutions on nested grids
    share their noise (needed to measure strong order).
    """

    def __init__(self, generator: GeneratorLike, shape: torch.Size, dtype: torch.dtype, device: torch.device):
        self.shape = torch.Size(shape)
        self.dtype = dtype
        self.device = device
        if generator is None or isinstance(generator, torch.Generator):
            self.generators = generator
        else:
            if isinstance(generator, (str, bytes)) or not isinstance(generator, Iterable):
                raise GeneratorError(f"generator must be None, a torch.Generator, one torch.Generator per sample or a "
                                     f"NoiseSource, got {type(generator).__name__}")
            generators = list(generator)
            if len(generators) != self.shape[0]:
                raise GeneratorError(
                    f"got {len(generators)} per-sample generators for a batch of {self.shape[0]} samples"
                )
            if not all(isinstance(g, torch.Generator) for g in generators):
                raise GeneratorError("every per-sample generator must be a torch.Generator")
            self.generators = generators

    def randn(self) -> torch.Tensor:
        """A fresh ``N(0, I)`` draw of the state's shape."""
        if not isinstance(self.generators, list):
            return self._draw(self.shape, self.generators)
        return torch.stack([self._draw(self.shape[1:], g) for g in self.generators])

    def _draw(self, shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        device = self.device if generator is None else generator.device
        return torch.randn(shape, generator=generator, dtype=self.dtype, device=device).to(self.device)

    def increment(self, sigma: float, sigma_next: float) -> torch.Tensor:
        """Standardised Brownian increment ``(W(tau_next) - W(tau)) / sqrt(tau_next - tau)``, ``tau = -sigma``."""
        return self.randn()


def as_noise_source(generator: GeneratorLike | NoiseSource, like: torch.Tensor) -> NoiseSource:
    """``generator`` as a noise source shaped like the solver state ``like`` (a ready one must match its shape)."""
    if isinstance(generator, NoiseSource):
        if generator.shape != like.shape:
            raise GeneratorError(f"the noise source has shape {tuple(generator.shape)}, the state {tuple(like.shape)}")
        return generator
    return NoiseSource(generator, like.shape, like.dtype, like.device)


def seed_generators(seeds: Sequence[int], device: torch.device | str = "cpu") -> list[torch.Generator]:
    """One generator per seed, for per-sample reproducibility (EDM ``generate.py`` style)."""
    return [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]


def per_sample_noise(shape: Sequence[int], seeds: Sequence[int], *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Initial ``N(0, I)`` noise of ``[len(seeds), *shape]`` where row ``i`` depends only on ``seeds[i]``."""
    source = NoiseSource(seed_generators(seeds), torch.Size([len(seeds), *shape]), dtype, torch.device(device))
    return source.randn()

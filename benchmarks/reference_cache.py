"""Reference endpoints kept on disk, so that benchmark reruns skip the dopri8 solves.

A reference is stored under ``benchmarks/.cache/references/`` (git-ignored) in a file named after the problem
and a SHA-256 key of everything it depends on: the noise it starts from, the denoiser's outputs on fixed probe
inputs (so any change to a problem's data or formula misses the cache), the tolerance and the reference
method's constants (``SIGMA_MAX``, ``REFERENCE_SIGMA_END``). A file whose key does not match is never read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from benchmarks.problems import REFERENCE_SIGMA_END, SIGMA_MAX, Problem, reference_endpoint

CACHE_DIR = Path(__file__).parent / ".cache" / "references"
PROBE_SIGMAS = (0.003, 0.1, 1.0, 20.0)


def reference_key(problem: Problem, noise: torch.Tensor, tolerance: float) -> str:
    """SHA-256 over the noise, the denoiser's outputs ``D(sigma * noise[:4], sigma)`` at a few ``sigma``, the
    tolerance and the reference method's constants."""
    digest = hashlib.sha256()
    digest.update(repr((problem.name, tolerance, SIGMA_MAX, REFERENCE_SIGMA_END, tuple(noise.shape))).encode())
    digest.update(noise.contiguous().numpy().tobytes())
    probe = noise[:4]
    for sigma in PROBE_SIGMAS:
        sigmas = torch.full((probe.shape[0],), sigma, dtype=probe.dtype)
        digest.update(problem.denoiser(probe * sigma, sigmas).contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_reference(problem: Problem, noise: torch.Tensor, tolerance: float,
                     cache_dir: Path | None = CACHE_DIR) -> torch.Tensor:
    """:func:`~benchmarks.problems.reference_endpoint` of ``problem`` from ``SIGMA_MAX * noise``, read from
    ``cache_dir`` when a file with the same key is there and written there otherwise (``None``: no cache)."""
    if cache_dir is None:
        return reference_endpoint(problem.denoiser, noise, tolerance=tolerance)
    path = cache_dir / f"{problem.name}-{reference_key(problem, noise, tolerance)[:24]}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    reference = reference_endpoint(problem.denoiser, noise, tolerance=tolerance)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(reference, temporary)
    temporary.replace(path)
    return reference

"""A denoiser's fingerprint: its outputs on fixed probe inputs, so that a schedule used with another model warns.

The probe is ``PROBE_BATCH`` standard-normal states of one sample's shape, drawn from a fixed seed, noised to each
of ``PROBE_SIGMAS``: ``x = y + sigma n`` with ``y`` and ``n`` from the probe's generator (``y`` scaled by 0.5, the
data scale of EDM's ``sigma_data``). The fingerprint keeps, per sigma, the mean and the root mean square of
``D(x, sigma)`` in float64: two denoisers that agree on these six numbers to ``RELATIVE_TOLERANCE`` are taken to be
the same model (a different network, checkpoint or preconditioning moves them by far more; a different machine or
thread count moves them by float32 rounding).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Mapping, Sequence

import torch

from probflow.denoisers.network import network_dtype

PROBE_SIGMAS = (0.05, 0.5, 5.0)
PROBE_BATCH = 4
PROBE_SEED = 20240501
RELATIVE_TOLERANCE = 1e-3


class ScheduleMismatchWarning(UserWarning):
    """A schedule is used with a denoiser whose fingerprint differs from the one it was calibrated for."""


def fingerprint(denoiser, sample_shape: Sequence[int], *, device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """``{"sigmas": [...], "mean": [...], "rms": [...]}`` of ``D`` on the probe (module docstring)."""
    generator = torch.Generator().manual_seed(PROBE_SEED)
    dtype = network_dtype(denoiser) or torch.float32
    dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    clean = 0.5 * torch.randn(PROBE_BATCH, *sample_shape, generator=generator, dtype=torch.float64)
    noise = torch.randn(PROBE_BATCH, *sample_shape, generator=generator, dtype=torch.float64)
    means, rms = [], []
    with torch.no_grad():
        for sigma in PROBE_SIGMAS:
            x = (clean + sigma * noise).to(device=device, dtype=dtype)
            denoised = denoiser(x, torch.full((PROBE_BATCH,), sigma, device=device, dtype=dtype)).double().cpu()
            means.append(float(denoised.mean()))
            rms.append(float(denoised.pow(2).mean().sqrt()))
    return {"sigmas": list(PROBE_SIGMAS), "mean": means, "rms": rms}


def same_model(recorded: Mapping[str, Sequence[float]], current: Mapping[str, Sequence[float]]) -> bool:
    """Whether two fingerprints agree to :data:`RELATIVE_TOLERANCE` (relative to each statistic's RMS scale)."""
    if list(recorded.get("sigmas", [])) != list(current.get("sigmas", [])):
        return False
    for key in ("mean", "rms"):
        for a, b, scale in zip(recorded[key], current[key], current["rms"]):
            if abs(a - b) > RELATIVE_TOLERANCE * max(abs(scale), 1e-12):
                return False
    return True


#: Denoiser -> the recorded fingerprints it was found to match: a denoiser is probed once per schedule, not at
#: every sample() call.
_MATCHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def warn_if_other_model(recorded: Mapping[str, Sequence[float]] | None, denoiser, sample_shape: Sequence[int],
                        device: torch.device | str = "cpu") -> None:
    """Warn (:class:`ScheduleMismatchWarning`) when ``denoiser`` is not the model a schedule was calibrated for.

    The probe costs ``len(PROBE_SIGMAS)`` calls of ``PROBE_BATCH`` samples, the first time a denoiser meets a schedule.
    """
    if not recorded:
        return
    key = repr(sorted((name, tuple(values)) for name, values in recorded.items()))
    try:
        matched = _MATCHED.setdefault(denoiser, set())
    except TypeError:  # not weak-referenceable: probe every time
        matched = set()
    if key in matched:
        return
    if same_model(recorded, fingerprint(denoiser, sample_shape, device=device)):
        matched.add(key)
    else:
        warnings.warn("this schedule was calibrated for another denoiser (its outputs on the probe inputs differ); "
                      "calibrate one for this model with probflow.calibrate", ScheduleMismatchWarning, stacklevel=3)

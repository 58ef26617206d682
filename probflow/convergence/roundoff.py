"""The round-off floor of a float64 solve: below it a level's error is rounding, not truncation."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from probflow.denoisers.network import network_dtype

ROUNDOFF_MARGIN = 10.0


def roundoff_floors(errors: Sequence[float], nfe: Sequence[int], reference: torch.Tensor, denoiser) -> dict[int, str]:
    """The levels whose error is below ``ROUNDOFF_MARGIN * (NFE * eps + eps_D) * max(1, max|x_ref|)``, with reasons.

    ``NFE * eps * |x|`` bounds the rounding of the float64 state accumulated over a solve; ``eps_D * |x|`` is one
    rounding of the denoiser's output in its own dtype (0 extra for a float64 denoiser), which the last steps pass
    to the state with a weight close to 1.
    """
    eps = torch.finfo(torch.float64).eps
    denoiser_eps = torch.finfo(network_dtype(denoiser) or torch.float64).eps
    scale = max(1.0, float(reference.abs().max()))
    floors = {}
    for index, (error, calls) in enumerate(zip(errors, nfe)):
        floor = ROUNDOFF_MARGIN * (calls * eps + denoiser_eps) * scale
        if error < floor:
            floors[index] = f"round-off floor: error {error:.1e} < {floor:.1e}"
    return floors

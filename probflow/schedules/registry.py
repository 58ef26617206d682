"""Name-to-schedule registry for the CLI: every entry is called as ``fn(n, sigma_min, sigma_max, **kwargs)``.

Each entry returns ``n`` sigmas from exactly ``sigma_max`` down to exactly ``sigma_min``, then 0
(``[sigma_max, 0]`` for ``n = 1``; ``append_zero=False`` drops the 0); ``**kwargs`` are the entry's own
keyword parameters (e.g. ``rho``).

- ``karras``, ``exponential``, ``polyexponential``, ``linear``: parameterised by the sigma range already.
- ``piecewise_geometric``: log-uniform steps, denser inside a band of sigmas (``band_low``, ``band_high``,
  ``outer_density`` are required); the grid of :func:`probflow.recommended`.
- ``vp``: :func:`~probflow.schedules.vp.vp_between`, which solves ``beta_d`` and ``beta_min`` so that
  ``sigma(1) = sigma_max`` and ``sigma(eps_s) = sigma_min`` (the EDM reference sampler's VP discretisation).
- ``chen-cosine``, ``chen-sigmoid``, ``chen-linear``: :func:`~probflow.schedules.chen.chen_between`, Chen's
  gamma(t) on the t-interval whose ends map to ``sigma_max`` and ``sigma_min``.

The DDPM grids are left out: they are defined by a training ``alphas_cumprod`` and integer timesteps,
not by a sigma range (use :func:`~probflow.schedules.ddpm.ddpm_sigmas`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from probflow.schedules.chen import chen_between
from probflow.schedules.piecewise import piecewise_geometric
from probflow.schedules.sigma_grids import exponential, karras, linear, polyexponential
from probflow.schedules.vp import vp_between

SCHEDULES: dict[str, Callable[..., torch.Tensor]] = {
    "karras": karras,
    "exponential": exponential,
    "polyexponential": polyexponential,
    "linear": linear,
    "piecewise_geometric": piecewise_geometric,
    "vp": vp_between,
    "chen-cosine": partial(chen_between, kind="cosine"),
    "chen-sigmoid": partial(chen_between, kind="sigmoid"),
    "chen-linear": partial(chen_between, kind="linear"),
}

"""The peers probflow is measured against, driven by the same exact denoiser ``D(x, sigma)`` (VE/EDM convention).

Every sampler here starts from the VE state ``x = SIGMA_MAX * n`` at ``sigma = SIGMA_MAX`` and returns the VE
state at the end of its own grid, so all of them share one reference endpoint (see ``problems``).

* **k-diffusion** (``k_diffusion/sampling.py``, loaded by file path because the package ``__init__`` imports
  torchvision): ``sample_euler``, ``sample_heun``, ``sample_lms``, ``sample_dpm_2`` and ``sample_dpmpp_2m``,
  each on its recommended grid ``get_sigmas_karras(n, 0.002, 80, rho=7)`` (float64, first value pinned), with
  ``n`` the most steps whose calls fit the budget (``n`` calls for one-call samplers, ``2n - 1`` for Heun and
  DPM-2).
* **diffusers**, each at its default configuration and ``set_timesteps(nfe)`` (one call per step):

  - ``EDMDPMSolverMultistepScheduler`` (orders 2 and 3; Karras grid on [0.002, 80], rho = 7). It works on the
    VE state and expects the network output ``F`` of EDM's preconditioning ``D = c_skip x + c_out F``, so the
    driver passes ``F = (D - c_skip x) / c_out`` with the scheduler's own ``c_skip, c_out``. (Its pipelines start
    from ``n * sqrt(sigma_max^2 + 1)``; here it starts from ``n * sigma_max`` like everyone else.)
  - ``UniPCMultistepScheduler`` (orders 2 and 3, ``bh2``), ``DEISMultistepScheduler`` (order 3) and
    ``DPMSolverMultistepScheduler`` (order 3, ``dpmsolver++``) work on the VP state
    ``x_vp = x / sqrt(1 + sigma^2)`` of a discrete schedule and take an epsilon prediction. They get
    ``eps = (x - D(x, sigma)) / sigma`` with ``x = x_vp * sqrt(1 + sigma^2)`` and ``sigma = sqrt((1 - abar_t) /
    abar_t)`` from the scheduler's own ``alphas_cumprod``. The schedule (``VP_BETAS``) is 1000 steps with
    ``abar_t = 1 / (1 + sigma_t^2)`` and ``sigma_t`` geometric from 0.002 to 80: the EDM range, uniform in
    log-SNR, so these schedulers see the same noise levels as the others. Their default timestep spacing
    ("linspace") then starts at ``sigma = 80``. DPM-Solver and UniPC end at sigma = 0; DEIS ends at
    ``sigma_0 = 0.002`` (its design), whose VE state is ``x_vp * sqrt(1 + 0.002^2)``.

Every peer is required: a benchmark that claims to compare against a package refuses to run without it
(:func:`required_peers` raises :class:`MissingPeerError`, whose one-line message says what to install, and
:func:`exit_on_missing_peer` turns it into exit code 2), unless the caller drops it on purpose with
``--skip-peer NAME`` (:func:`add_skip_peer_argument`), which the report then says. diffusers computes its grids
in float32.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import types
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import torch

from benchmarks.errors import MissingPeerError
from benchmarks.problems import SIGMA_MAX

SIGMA_MIN = 0.002
KARRAS_RHO = 7.0
VP_TRAIN_STEPS = 1000

Sampler = Callable[[Callable, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class Method:
    """A sampler under test: ``run(denoiser, noise, nfe)`` returns the VE state at the end of its grid."""

    name: str
    source: str
    run: Sampler


def _append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    return x.reshape(*x.shape, *([1] * (target_dims - x.ndim)))


@cache
def load_k_diffusion_sampling() -> types.ModuleType | None:
    """k-diffusion's ``sampling`` module, or None if k-diffusion is not installed.

    The module needs only ``utils.append_dims`` from its package, so it is loaded under a private package
    name with a stand-in ``utils``; the real package (which imports torchvision) is never imported.
    """
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "sampling.py"
    package_name = "_probflow_benchmark_k_diffusion"
    package = types.ModuleType(package_name)
    package.__path__ = []
    utils = types.ModuleType(f"{package_name}.utils")
    utils.append_dims = _append_dims
    sys.modules[package_name] = package
    sys.modules[utils.__name__] = utils
    module_spec = importlib.util.spec_from_file_location(f"{package_name}.sampling", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


#: k-diffusion sampler -> denoiser calls per step (two-call samplers end with a one-call Euler step into 0).
K_DIFFUSION_SAMPLERS = {"euler": 1, "heun": 2, "lms": 1, "dpm_2": 2, "dpmpp_2m": 1}


def k_diffusion_grid(sampling: types.ModuleType, steps: int) -> torch.Tensor:
    """k-diffusion's Karras grid in float64, its first value pinned to ``SIGMA_MAX`` (float32 gives 79.99998)."""
    sigmas = sampling.get_sigmas_karras(steps, SIGMA_MIN, SIGMA_MAX, rho=KARRAS_RHO).to(torch.float64)
    sigmas[0] = SIGMA_MAX
    return sigmas


def _run_k_diffusion(sampling: types.ModuleType, sampler: str, denoiser: Callable, noise: torch.Tensor,
                     nfe: int) -> torch.Tensor:
    steps = nfe if K_DIFFUSION_SAMPLERS[sampler] == 1 else (nfe + 1) // 2
    sample = getattr(sampling, f"sample_{sampler}")
    return sample(denoiser, noise * SIGMA_MAX, k_diffusion_grid(sampling, steps), disable=True)


def k_diffusion_methods() -> list[Method]:
    """k-diffusion's deterministic samplers on their Karras grid (k-diffusion must be installed)."""
    sampling = load_k_diffusion_sampling()
    return [Method(f"kdiff {name}", "k-diffusion", partial(_run_k_diffusion, sampling, name))
            for name in K_DIFFUSION_SAMPLERS]


def vp_betas() -> list[float]:
    """``beta_t = 1 - abar_t / abar_{t-1}``, ``abar_t = 1/(1 + sigma_t^2)``, ``sigma_t`` geometric in [0.002, 80]."""
    ratio = (SIGMA_MAX / SIGMA_MIN) ** (1.0 / (VP_TRAIN_STEPS - 1))
    alpha_bars = [1.0 / (1.0 + (SIGMA_MIN * ratio**t) ** 2) for t in range(VP_TRAIN_STEPS)]
    previous = [1.0, *alpha_bars[:-1]]
    return [1.0 - current / before for current, before in zip(alpha_bars, previous)]


def _run_diffusers_edm(order: int, denoiser: Callable, noise: torch.Tensor, nfe: int) -> torch.Tensor:
    from diffusers import EDMDPMSolverMultistepScheduler

    scheduler = EDMDPMSolverMultistepScheduler(solver_order=order, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)
    scheduler.set_timesteps(nfe)
    x = noise * SIGMA_MAX
    out_scale_of = partial(scheduler.precondition_outputs, torch.zeros((), dtype=x.dtype),
                           torch.ones((), dtype=x.dtype))
    for timestep in scheduler.timesteps:
        scheduler.scale_model_input(x, timestep)
        sigma = scheduler.sigmas[scheduler.step_index].to(x.dtype)
        denoised = denoiser(x, sigma.expand(x.shape[0]))
        skip = scheduler.precondition_outputs(x, torch.zeros_like(x), sigma)
        network_output = (denoised - skip) / out_scale_of(sigma)
        x = scheduler.step(network_output, timestep, x).prev_sample
    return x


def _run_diffusers_vp(scheduler_name: str, order: int, denoiser: Callable, noise: torch.Tensor,
                      nfe: int) -> torch.Tensor:
    import diffusers

    scheduler = getattr(diffusers, scheduler_name)(trained_betas=vp_betas(), solver_order=order)
    scheduler.set_timesteps(nfe)
    alpha_bars = scheduler.alphas_cumprod.to(torch.float64)
    sigma_of = lambda timestep: math.sqrt((1.0 - alpha_bars[timestep]) / alpha_bars[timestep])  # noqa: E731
    x_vp = noise * SIGMA_MAX / math.sqrt(1.0 + sigma_of(scheduler.timesteps[0]) ** 2)
    for timestep in scheduler.timesteps:
        sigma = sigma_of(timestep)
        x = x_vp * math.sqrt(1.0 + sigma**2)
        eps = (x - denoiser(x, torch.full((x.shape[0],), sigma, dtype=x.dtype))) / sigma
        x_vp = scheduler.step(eps, timestep, x_vp).prev_sample
    final_sigma = float(scheduler.sigmas[-1])
    return x_vp * math.sqrt(1.0 + final_sigma**2)


#: (label, scheduler class, order); the VP ones get the ``VP_BETAS`` schedule.
DIFFUSERS_VP_SCHEDULERS = [
    ("dpmsolver++ 3 (VP)", "DPMSolverMultistepScheduler", 3),
    ("unipc 2 (VP)", "UniPCMultistepScheduler", 2),
    ("unipc 3 (VP)", "UniPCMultistepScheduler", 3),
    ("deis 3 (VP)", "DEISMultistepScheduler", 3),
]


def diffusers_methods() -> list[Method]:
    """diffusers' multistep schedulers (see the module docstring; diffusers must be installed)."""
    methods = [Method(f"diffusers edm dpm++ {order}", "diffusers", partial(_run_diffusers_edm, order))
               for order in (2, 3)]
    methods += [Method(f"diffusers {label}", "diffusers", partial(_run_diffusers_vp, scheduler, order))
                for label, scheduler, order in DIFFUSERS_VP_SCHEDULERS]
    return methods


@dataclass(frozen=True)
class PeerPackage:
    """A package whose samplers a benchmark compares against, and how to install it."""

    name: str
    install: str
    installed: Callable[[], bool]


PEER_PACKAGES = (
    PeerPackage("k-diffusion", "pip install --no-deps k-diffusion", lambda: load_k_diffusion_sampling() is not None),
    PeerPackage("diffusers", "pip install diffusers", lambda: importlib.util.find_spec("diffusers") is not None),
)
PEER_NAMES = tuple(package.name for package in PEER_PACKAGES)


def required_peer_packages(skip: Collection[str] = (), benchmark: str = "this benchmark") -> list[str]:
    """The peer packages to compare against: all of them but ``skip``; raises :class:`MissingPeerError` if one of
    those is not installed, with a one-line message that says what to install."""
    unknown = sorted(set(skip) - set(PEER_NAMES))
    if unknown:
        raise MissingPeerError(f"unknown peer {unknown[0]!r} in --skip-peer; the peers are {', '.join(PEER_NAMES)}")
    for package in PEER_PACKAGES:
        if package.name not in skip and not package.installed():
            raise MissingPeerError(f"{benchmark} compares against {package.name}, which is not installed: "
                                   f"{package.install} (or pass --skip-peer {package.name} to leave it out)")
    return [name for name in PEER_NAMES if name not in skip]


def required_peers(skip: Collection[str] = (), benchmark: str = "this benchmark") -> list[Method]:
    """Every peer sampler of the packages not in ``skip``; see :func:`required_peer_packages`."""
    packages = required_peer_packages(skip, benchmark)
    methods = k_diffusion_methods() if "k-diffusion" in packages else []
    return methods + (diffusers_methods() if "diffusers" in packages else [])


def add_skip_peer_argument(parser: argparse.ArgumentParser) -> None:
    """``--skip-peer NAME`` (repeatable): compare without that peer package, on purpose."""
    parser.add_argument("--skip-peer", action="append", default=[], choices=PEER_NAMES, metavar="NAME",
                        help=f"leave out a peer package on purpose (one of: {', '.join(PEER_NAMES)}); repeatable")


def with_skipped_peers(header: str, skip: Sequence[str]) -> str:
    """``header``, then a line naming the peer packages left out on purpose (``--skip-peer``), if any."""
    return header + (f"\nPeers skipped on purpose (--skip-peer): {', '.join(sorted(set(skip)))}" if skip else "")


def exit_on_missing_peer(main: Callable[[], object]) -> None:
    """Run a benchmark's ``main``; a :class:`MissingPeerError` becomes its one-line message and exit code 2."""
    try:
        main()
    except MissingPeerError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

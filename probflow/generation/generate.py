"""The generation loop: samples for a list of seeds, in batches, split across ranks, into resumable shards.

Sample ``i`` is a function of ``seeds[i]`` alone (EDM ``generate.py``): its own ``torch.Generator`` draws the
initial noise and then every later draw of the solver (ancestral noise, churn, the seed of its Brownian path),
and the solvers never mix samples. So, on one device and dtype:

* the batches are consecutive runs of the requested seeds, fixed before ranks take every ``world_size``-th
  one: any number of processes, and a resumed run, evaluates exactly the batches of one clean run, and is
  bitwise equal to it for any deterministic denoiser;
* a different batch size or seed order gives bitwise equal samples when the denoiser computes each row
  independently of its batch (elementwise maths does; CPU/GPU reductions and convolutions may change their
  summation order with the batch size, moving results by rounding only).

Conditioning (``model_kwargs``: class labels, text embeddings) is given aligned with the seeds, one row per seed
of every per-sample entry, and each seed's row travels with it (:mod:`probflow.generation.conditioning`); its
digest is stored with the sample, so that resuming with other conditioning is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from probflow.calibration import Schedule
from probflow.errors import InvalidArgumentError, SolverConfigError
from probflow.generation.conditioning import SeedConditioning
from probflow.generation.distributed import Ranks, all_gather, barrier, current_ranks, on_main
from probflow.generation.seeds import check_seeds
from probflow.generation.shards import ShardWriter, prepare, read_all_manifests, recorded_conditioning
from probflow.noise import NoiseSource, seed_generators
from probflow.sample import recommended, sample
from probflow.solvers.base import Solver
from probflow.solvers.registry import as_solver

STATE_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class SamplingPlan:
    """Everything that decides a sample besides its seed: ``x_T = sigma_max * n(seed)``, then
    :func:`probflow.sample` integrates to sigma = 0 in at most ``nfe`` denoiser calls: with ``solver=None`` on
    :func:`probflow.recommended` ``(nfe)``'s solver and grid, else with ``solver`` on a Karras grid (EDM eq. 5), or a
    calibrated ``schedule``'s solver on its grid. ``label`` names the denoiser in the output directory's
    ``run.json``."""

    denoiser: Callable
    shape: tuple[int, ...]
    solver: Solver | None
    schedule: Schedule | None
    nfe: int
    sigma_min: float | None
    sigma_max: float
    dtype: torch.dtype
    device: torch.device
    label: str

    @classmethod
    def build(cls, denoiser: Callable, *, nfe: int | None = 20, solver: Solver | str | None = None,
              schedule: Schedule | None = None, shape: Sequence[int] | None = None, sigma_min: float | None = None,
              sigma_max: float = 80.0,
              dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
              label: str | None = None) -> SamplingPlan:
        """Check the settings before anything runs; ``solver=None`` picks :func:`probflow.recommended` ``(nfe)``.

        ``shape`` (one sample's, e.g. ``(C, H, W)``) defaults to ``denoiser.shape``; ``device`` to the device of
        the denoiser's parameters, else the CPU. With a ``schedule``, ``nfe`` is the schedule's (``None`` or equal).
        """
        if not callable(denoiser):
            raise InvalidArgumentError(f"denoiser must be callable as D(x, sigma), got {type(denoiser).__name__}")
        if schedule is not None:
            if solver is not None or nfe not in (None, schedule.nfe):
                raise SolverConfigError(f"a schedule brings its solver and budget (nfe={schedule.nfe}): give no "
                                        f"solver and no other nfe with it")
            nfe = schedule.nfe
        recommended(nfe)  # refuses an nfe that is not a positive integer
        solver = None if solver is None else as_solver(solver)
        if dtype not in STATE_DTYPES:
            raise InvalidArgumentError(f"dtype must be torch.float32 or torch.float64 (the solver state), got {dtype}")
        return cls(
            denoiser=denoiser,
            shape=_sample_shape(denoiser, shape),
            solver=solver,
            schedule=schedule,
            nfe=nfe,
            sigma_min=None if sigma_min is None else float(sigma_min),
            sigma_max=float(sigma_max),
            dtype=dtype,
            device=_default_device(denoiser) if device is None else torch.device(device),
            label=label or _describe(denoiser),
        )

    def sample(self, seeds: Sequence[int], model_kwargs: Mapping[str, object] | None = None) -> torch.Tensor:
        """Samples ``[len(seeds), *shape]`` on ``device``; row ``i`` depends only on ``seeds[i]`` and on its rows of
        ``model_kwargs`` (passed to every denoiser call, tensors moved to ``device``)."""
        generators = seed_generators(seeds, self.device)
        noise = NoiseSource(generators, torch.Size([len(seeds), *self.shape]), self.dtype, self.device).randn()
        if model_kwargs is not None:
            model_kwargs = {key: value.to(self.device) if isinstance(value, torch.Tensor) else value
                            for key, value in model_kwargs.items()}
        if self.schedule is not None:
            return sample(self.denoiser, noise, schedule=self.schedule, generator=generators,
                          model_kwargs=model_kwargs)
        return sample(self.denoiser, noise, nfe=self.nfe, solver=self.solver, sigma_min=self.sigma_min,
                      sigma_max=self.sigma_max, generator=generators, model_kwargs=model_kwargs)

    def config(self) -> dict:
        """The settings as JSON values, recorded in ``run.json`` so a resume cannot mix configurations."""
        return {
            "model": self.label, "solver": _describe_solver(self.solver, self.schedule, self.nfe), "nfe": self.nfe,
            "shape": list(self.shape),
            "sigma_min": self.sigma_min, "sigma_max": self.sigma_max, "dtype": str(self.dtype),
            "device": self.device.type,
        }


def _describe_solver(solver: Solver | None, schedule: Schedule | None, nfe: int) -> dict:
    """The solver's whole configuration (every parameter, callables by qualified name), its grid and the noise levels
    the model is told on it (when shifted): what a resume compares."""
    if schedule is not None:
        told = {} if schedule.model_grid is None else {"model_sigmas": list(schedule.model_grid)}
        return {"schedule": {"solver": schedule.solver.config(), "sigmas": list(schedule.grid), **told}}
    return {"recommended": recommended(nfe).config()} if solver is None else solver.config()


def _sample_shape(denoiser: Callable, shape: Sequence[int] | None) -> tuple[int, ...]:
    shape = getattr(denoiser, "shape", None) if shape is None else shape
    if shape is None:
        raise SolverConfigError("the shape of one sample is unknown: pass shape=(C, H, W) (the denoiser has no .shape)")
    shape = tuple(shape)
    if not shape or not all(isinstance(size, int) and size > 0 for size in shape):
        raise SolverConfigError(f"shape must be positive integers like (1, 8, 8), got {shape!r}")
    return shape


def _describe(denoiser: Callable) -> str:
    return getattr(denoiser, "name", None) or getattr(denoiser, "__qualname__", None) or type(denoiser).__qualname__


def _default_device(denoiser: Callable) -> torch.device:
    if isinstance(denoiser, torch.nn.Module):
        for tensor in (*denoiser.parameters(), *denoiser.buffers()):
            return tensor.device
    return torch.device("cpu")


@dataclass(frozen=True)
class GenerationReport:
    """``requested`` seeds, of which ``skipped`` were already in the output directory and ``generated`` were
    sampled now (by all ranks together)."""

    requested: int
    skipped: int
    generated: int
    out_dir: Path


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SolverConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def plan_batches(seeds: Sequence[int], batch_size: int, done: Collection[int] = ()) -> list[list[int]]:
    """Consecutive runs of ``batch_size`` requested seeds, less the ``done`` ones (emptied batches dropped)."""
    batch_size = _check_batch_size(batch_size)
    batches = (seeds[start : start + batch_size] for start in range(0, len(seeds), batch_size))
    return [todo for batch in batches if (todo := [seed for seed in batch if seed not in done])]


def _sampled_batches(plan: SamplingPlan, batches: Sequence[list[int]], ranks: Ranks, progress: bool,
                     conditioning: SeedConditioning) -> Iterator[tuple[list[int], torch.Tensor]]:
    """This rank's share of ``batches`` (every ``world_size``-th): ``(batch seeds, samples on the CPU)``."""
    for batch in tqdm(ranks.share(batches), disable=not (progress and ranks.is_main), desc="sampling",
                      unit="batch"):
        yield batch, plan.sample(batch, conditioning.for_seeds(batch)).cpu()


def _prepare(out_dir: Path, config: dict, seeds: Sequence[int], conditioning: SeedConditioning) -> set[int]:
    """:func:`~probflow.generation.shards.prepare`, then refuse done seeds that had other conditioning."""
    done = prepare(out_dir, config)
    conditioning.check_recorded(seeds, recorded_conditioning(read_all_manifests(out_dir)))
    return done


def write_shards(plan: SamplingPlan, seeds: Sequence[int], out_dir: str | Path, *, batch_size: int = 64,
                 progress: bool = False, model_kwargs: Mapping[str, object] | None = None) -> GenerationReport:
    """Generate every seed not yet in ``out_dir`` into shards (one per batch), resuming after any crash.

    Under an initialised process group each rank takes every ``world_size``-th batch of :func:`plan_batches`;
    rank 0 first repairs the directory (see :mod:`probflow.generation.shards`). Other runs may write into the
    same directory at the same time: a seed that one of them commits first is not stored twice. Returns on
    every rank after all finish.

    ``model_kwargs`` (the same on every rank) is aligned with ``seeds``: row ``i`` of each per-sample entry
    conditions ``seeds[i]``. Its entry names go into ``run.json`` and each seed's digest into the manifests; a seed
    already done with other conditioning raises :class:`~probflow.errors.OutputDirError`.
    """
    seeds = check_seeds(seeds)
    batch_size = _check_batch_size(batch_size)
    conditioning = SeedConditioning(seeds, model_kwargs)
    ranks = current_ranks()
    out_dir = Path(out_dir)
    config = plan.config() if conditioning.keys is None else {**plan.config(), "conditioning": conditioning.keys}
    done = on_main(lambda: _prepare(out_dir, config, seeds, conditioning), ranks)
    batches = plan_batches(seeds, batch_size, done)
    writer = ShardWriter(out_dir, ranks, config)
    for batch, samples in _sampled_batches(plan, batches, ranks, progress, conditioning):
        writer.write(batch, samples, conditioning.digests(batch))
    barrier(ranks)
    generated = sum(len(batch) for batch in batches)
    return GenerationReport(requested=len(seeds), skipped=len(seeds) - generated, generated=generated,
                            out_dir=out_dir)


def sample_in_memory(plan: SamplingPlan, seeds: Sequence[int], *, batch_size: int = 64, progress: bool = False,
                     model_kwargs: Mapping[str, object] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(seeds, samples)`` sorted by seed, on every rank (gathered with ``all_gather_object``); nothing on disk.
    ``model_kwargs`` is aligned with ``seeds`` as in :func:`write_shards`."""
    seeds = check_seeds(seeds)
    conditioning = SeedConditioning(seeds, model_kwargs)
    ranks = current_ranks()
    local = list(_sampled_batches(plan, plan_batches(seeds, batch_size), ranks, progress, conditioning))
    batches = [batch for rank_batches in all_gather(local, ranks) for batch in rank_batches]
    all_seeds = torch.tensor([seed for batch, _ in batches for seed in batch], dtype=torch.int64)
    samples = torch.cat([samples for _, samples in batches])
    order = torch.argsort(all_seeds, stable=True)
    return all_seeds[order], samples[order]


def generate(denoiser: Callable, seeds: Sequence[int], out_dir: str | Path, *, nfe: int | None = 20,
             solver: Solver | str | None = None, schedule: Schedule | None = None, batch_size: int = 64, shape: Sequence[int] | None = None,
             sigma_min: float | None = None, sigma_max: float = 80.0, dtype: torch.dtype = torch.float32,
             device: torch.device | str | None = None, label: str | None = None,
             progress: bool = False, model_kwargs: Mapping[str, object] | None = None) -> GenerationReport:
    """Sample ``seeds`` from ``denoiser`` into sharded, resumable files in ``out_dir``.

    Shorthand for :func:`write_shards` with :meth:`SamplingPlan.build`; read the result back with
    :func:`~probflow.generation.load_samples`. Rerunning the same call after a crash or kill finishes the
    missing seeds only. ``model_kwargs`` is aligned with ``seeds`` (:func:`write_shards`).
    """
    plan = SamplingPlan.build(denoiser, nfe=nfe, solver=solver, schedule=schedule, shape=shape, sigma_min=sigma_min,
                              sigma_max=sigma_max, dtype=dtype, device=device, label=label)
    return write_shards(plan, seeds, out_dir, batch_size=batch_size, progress=progress, model_kwargs=model_kwargs)

"""``compare``: sample every configuration from the same per-sample noise, then score, time and save each."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from probflow.comparison.config import SamplerConfig
from probflow.errors import InvalidArgumentError, SolverConfigError, UnknownModelError
from probflow.comparison.grids import initial_noise_scale
from probflow.comparison.report import write_rows
from probflow.comparison.scoring import FeatureExtractor, Score, Scorer
from probflow.files import check_output_dir
from probflow.generation import check_seeds, write_grid_png
from probflow.generation.png import GRID_MIN_SIZE
from probflow.noise import NoiseSource, seed_generators
from probflow.solve import solve
from probflow.solvers import Solver
from probflow.terms import ReverseSDE

#: Samples shown in each configuration's PNG grid.
GRID_SAMPLES = 64

#: Columns of :func:`samples_sketch`.
SKETCH_DIM = 16

#: Relative tolerance of :func:`same_samples`: DDIM with eta = 1 and Euler-ancestral, one update written two ways,
#: drew digits 1.5e-6 apart (float32 round-off); different samplers differ by 1e-2 and more.
SAME_SAMPLES_RTOL = 1e-4


@dataclass(frozen=True)
class ComparisonRow:
    """One line of a comparison: FID and KID with their 95% bootstrap intervals ``[*_low, *_high]``
    (:class:`~probflow.comparison.scoring.Scorer`), the sample count, the configured ``steps``, the measured
    denoiser calls per sample ``nfe``, the sampling wall time in seconds (``steps``, ``nfe`` and ``wall_s`` are
    ``None`` for the real-vs-real floor) and ``same_samples_as``, the label of an earlier row of the same
    :func:`compare` whose samples agree with this row's to float32 round-off (:func:`same_samples`), else ``None``.
    """

    label: str
    model: str
    solver: str
    steps: int | None
    nfe: int | None
    fid: float
    fid_low: float
    fid_high: float
    kid: float
    kid_low: float
    kid_high: float
    samples: int
    wall_s: float | None
    same_samples_as: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _scored_row(score: Score, samples: torch.Tensor, **fields: object) -> ComparisonRow:
    return ComparisonRow(fid=score.fid.estimate, fid_low=score.fid.low, fid_high=score.fid.high,
                         kid=score.kid.estimate, kid_low=score.kid.low, kid_high=score.kid.high,
                         samples=samples.shape[0], **fields)


def samples_sketch(samples: torch.Tensor) -> np.ndarray:
    """A fixed random projection ``[n, SKETCH_DIM]`` (float64) of the flattened samples ``x_i``:
    ``s_i = x_i R / sqrt(D)`` with ``R ~ N(0, 1)^(D x SKETCH_DIM)`` drawn from seed 0. Samples that agree to within
    ``e`` have sketches that agree to within a few ``e``; samples that differ have sketches that differ, but for a
    difference orthogonal to all columns of ``R``, which has probability 0."""
    flat = samples.detach().cpu().double().flatten(start_dim=1)
    projection = torch.randn(flat.shape[1], SKETCH_DIM, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64)
    return (flat @ projection / math.sqrt(flat.shape[1])).numpy()


def same_samples(sketch: np.ndarray, other: np.ndarray) -> bool:
    """Whether two :func:`samples_sketch` es agree to within :data:`SAME_SAMPLES_RTOL` of their largest entry: the
    same samples up to float32 round-off (one update computed two ways)."""
    if sketch.shape != other.shape:
        return False
    scale = max(float(np.abs(sketch).max(initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.abs(sketch - other).max(initial=0.0)) <= SAME_SAMPLES_RTOL * scale


def compare(
    denoiser_or_model_name: Callable | str,
    configs: Sequence[SamplerConfig],
    *,
    num_samples: int | None = None,
    seeds: Sequence[int] | None = None,
    feature_extractor: FeatureExtractor | None = None,
    reference: np.ndarray | torch.Tensor | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = 500,
    shape: Sequence[int] | None = None,
    on_row: Callable[[ComparisonRow], None] | None = None,
) -> list[ComparisonRow]:
    """Sample ``configs`` from one denoiser and score each against ``reference``: FID (Heusel et al. 2017, eq. 6)
    and KID (Bińkowski et al. 2018) with bootstrap intervals (:class:`Scorer`), with the denoiser calls per sample
    and the sampling wall time.

    Sample ``i`` of every configuration starts from the same noise ``n_i`` of ``seeds[i]`` (default
    ``0 .. num_samples-1``), drawn by its own generator, which then feeds that sample's solver noise
    (:func:`probflow.seed_generators`, EDM's per-sample seeding); the starting state is ``n_i`` times
    :func:`~probflow.comparison.grids.initial_noise_scale`. Samples are drawn ``batch_size`` at a time in seed
    order, in float32 on the CPU; a denoiser that couples a batch (the lesson's median clamp of ``alpha_bar_hat``)
    depends on it.

    ``denoiser_or_model_name`` is a denoiser ``D(x, sigma)`` or a shipped model name
    (:func:`probflow.pretrained.load`). ``shape`` (one sample's) defaults to the denoiser's ``.shape``.
    ``feature_extractor`` and ``reference`` default to the digits classifier and test split (:class:`Scorer`).
    With ``out_dir``, the rows go to ``rows.csv`` and ``rows.json`` and the first 64 samples of each
    configuration to ``NN-<label>.png`` (enlarged to at least 256 pixels a side); an ``out_dir`` that cannot be
    written raises :class:`~probflow.errors.OutputPathError` before any sampling. ``on_row`` sees each row as soon
    as it is scored.
    """
    if out_dir is not None:
        check_output_dir(out_dir, "comparison folder")
    denoiser, model_label = resolve_denoiser(denoiser_or_model_name)
    configs = _check_configs(configs)
    seeds = _seed_list(num_samples, seeds)
    shape = _sample_shape(denoiser, shape)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SolverConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    scorer = Scorer(feature_extractor, reference, shape=shape)
    solvers = [config.build_solver(_noise_level(denoiser, config)) for config in configs]
    rows, sketches = [], []
    for index, (config, solver) in enumerate(zip(configs, solvers)):
        start = time.perf_counter()
        samples, nfe = _sample(denoiser, solver, config, seeds, shape, batch_size)
        wall_s = time.perf_counter() - start
        sketch = samples_sketch(samples)
        twin = next((row.label for row, other in zip(rows, sketches) if same_samples(sketch, other)), None)
        row = _scored_row(scorer(samples), samples, label=config.label, model=model_label, solver=repr(solver),
                          steps=config.num_steps(), nfe=nfe, wall_s=wall_s, same_samples_as=twin)
        rows.append(row)
        sketches.append(sketch)
        if out_dir is not None:
            write_grid_png(Path(out_dir) / grid_name(index, config.label), samples[:GRID_SAMPLES],
                           min_size=GRID_MIN_SIZE)
        if on_row is not None:
            on_row(row)
    if out_dir is not None:
        write_rows(rows, Path(out_dir) / "rows")
    return rows


def real_vs_real(reals: torch.Tensor, *, feature_extractor: FeatureExtractor | None = None,
                 reference: np.ndarray | torch.Tensor | None = None, label: str = "reals") -> ComparisonRow:
    """The floor of the table: FID and KID of real images ``reals`` ``[n, *shape]`` against the reference.

    A sampler cannot be expected to beat it at the same ``n``: FID is biased upward by roughly ``1/n`` (the
    covariance estimates), so the floor is only comparable with rows of about as many samples.
    """
    if not isinstance(reals, torch.Tensor) or reals.ndim < 2:
        raise TypeError(f"reals must be a tensor [n, *shape], got {type(reals).__name__}")
    score = Scorer(feature_extractor, reference, shape=reals.shape[1:])(reals)
    return _scored_row(score, reals, label=label, model="data", solver="-", steps=None, nfe=None, wall_s=None)


def resolve_denoiser(denoiser_or_model_name: Callable | str) -> tuple[Callable, str]:
    """A denoiser and its label: a shipped model by name (its weights must be on disk), or a callable as given."""
    if isinstance(denoiser_or_model_name, str):
        from probflow import pretrained

        name = denoiser_or_model_name
        if name not in pretrained.available():
            raise UnknownModelError(f"unknown model {name!r}; shipped: {', '.join(pretrained.available())}")
        if not pretrained.weights_path(name).is_file():
            raise FileNotFoundError(f"the weights of {name!r} are missing: {pretrained.weights_path(name)}")
        return pretrained.load(name), name
    if not callable(denoiser_or_model_name):
        raise TypeError(f"expected a denoiser D(x, sigma) or a model name, got {type(denoiser_or_model_name).__name__}")
    denoiser = denoiser_or_model_name
    return denoiser, getattr(denoiser, "name", None) or type(denoiser).__name__


def grid_name(index: int, label: str) -> str:
    """The file name of the sample grid of configuration ``index`` (from 0) labelled ``label``: ``NN-<slug>.png``."""
    return f"{index:02d}-{slug(label)}.png"


def slug(label: str) -> str:
    """``label`` as a file-name part: runs of anything but ASCII letters and digits become ``-``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower() or "config"


def _check_configs(configs: Sequence[SamplerConfig]) -> list[SamplerConfig]:
    configs = list(configs)
    if not configs:
        raise SolverConfigError("no sampler configs to compare")
    for config in configs:
        if not isinstance(config, SamplerConfig):
            raise TypeError(f"configs must be SamplerConfig instances, got {type(config).__name__}")
    labels = [config.label for config in configs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise SolverConfigError(f"config labels must be unique; repeated: {', '.join(repeated)}")
    return configs


def _seed_list(num_samples: int | None, seeds: Sequence[int] | None) -> list[int]:
    if (num_samples is None) == (seeds is None):
        raise SolverConfigError("give exactly one of num_samples and seeds")
    if seeds is None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise SolverConfigError(f"num_samples must be a positive integer, got {num_samples!r}")
        seeds = range(num_samples)
    return check_seeds(seeds)


def _sample_shape(denoiser: Callable, shape: Sequence[int] | None) -> tuple[int, ...]:
    shape = getattr(denoiser, "shape", None) if shape is None else shape
    if shape is None:
        raise InvalidArgumentError("the shape of one sample is unknown: pass shape=(C, H, W) (the denoiser has no .shape)")
    return tuple(shape)


def _noise_level(denoiser: Callable, config: SamplerConfig) -> Callable | None:
    if not config.predicted_alpha_bar:
        return None
    predictor = getattr(denoiser, "noise_level", None)
    if predictor is None:
        raise SolverConfigError(f"{config.label}: predicted_alpha_bar needs a denoiser with a .noise_level predictor")
    return predictor


def _sample(denoiser: Callable, solver: Solver, config: SamplerConfig, seeds: list[int], shape: tuple[int, ...],
            batch_size: int) -> tuple[torch.Tensor, int]:
    """All samples of ``solver`` on ``config``'s grid in seed order, and the denoiser calls per sample."""
    sigmas = config.sigmas()
    scale = initial_noise_scale(config.grid, float(sigmas[0]))
    term = ReverseSDE(denoiser) if solver.term_kind == "sde" else denoiser
    batches, nfe = [], 0
    for start in range(0, len(seeds), batch_size):
        generators = seed_generators(seeds[start : start + batch_size])
        noise = NoiseSource(generators, torch.Size([len(generators), *shape]), torch.float32, torch.device("cpu"))
        solution = solve(term, solver, noise.randn() * scale, sigmas, generator=generators)
        batches.append(solution.x)
        nfe = solution.nfe
    return torch.cat(batches), nfe

"""Reproducible generation at scale: per-sample seeds, batches, ranks under torchrun, resumable shards, FID/KID.

``generate(denoiser, seeds, out_dir, nfe=..., solver=..., batch_size=..., shape=...)`` writes shards that
``load_samples(out_dir)`` reads back sorted by seed; ``evaluate(out_dir)`` scores them. ``probflow sample``
and ``probflow fid`` are the command-line faces of the same functions.
"""

from probflow.generation.distributed import DistributedSetupError, Ranks, current_ranks, process_group
from probflow.generation.evaluate import SampleQuality, evaluate, shard_features
from probflow.generation.generate import (
    GenerationReport, SamplingPlan, generate, sample_in_memory, write_shards,
)
from probflow.generation.png import encode_png, image_grid, write_grid_png
from probflow.generation.seeds import SeedSpecError, check_seeds, parse_seeds
from probflow.generation.shards import OutputDirError, load_samples

__all__ = [
    "DistributedSetupError", "GenerationReport", "OutputDirError", "Ranks", "SampleQuality", "SamplingPlan",
    "SeedSpecError", "check_seeds", "current_ranks", "encode_png", "evaluate", "generate", "image_grid",
    "load_samples", "parse_seeds", "process_group", "sample_in_memory", "shard_features", "write_grid_png",
    "write_shards",
]

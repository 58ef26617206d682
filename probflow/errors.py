"""Exceptions raised by probflow.

Every error names what is wrong, and where it applies the step index and the sigma, so that a bad
input never turns into silent garbage or an opaque traceback from deep inside torch.
"""

from __future__ import annotations

import pickle


class ProbflowError(Exception):
    """Base class of every error that probflow raises on purpose."""


class SigmaGridError(ProbflowError, ValueError):
    """A sigma grid that is not a strictly decreasing, finite, non-negative 1-D sequence."""


class DenoiserOutputError(ProbflowError, ValueError):
    """A denoiser returned a tensor of the wrong shape, dtype or device, or a non-finite value."""


class SolverConfigError(ProbflowError, ValueError):
    """A solver was configured with invalid parameters (e.g. an LMS order below 1)."""


class UnknownSolverError(ProbflowError, KeyError):
    """A solver name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class GeneratorError(ProbflowError, ValueError):
    """A per-sample generator list whose length does not match the batch."""


class SeedSpecError(ProbflowError, ValueError):
    """A seed specification that is malformed, negative, reversed or holds a seed twice."""


class OutputDirError(ProbflowError, ValueError):
    """An output directory whose shards cannot be used: another configuration, duplicates, a missing shard."""


class DistributedSetupError(ProbflowError, RuntimeError):
    """Launched as several processes but without an initialised process group, or with a bad environment."""


class CheckpointError(ProbflowError, ValueError):
    """A checkpoint that cannot be read: unknown suffix, or a corrupt or truncated file."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A pickled checkpoint that needs more than tensors and containers (it could execute code)."""


class ThreadCountError(ProbflowError, ValueError):
    """A thread count (``--threads``, ``PROBFLOW_THREADS``) or work size that is not a usable integer."""

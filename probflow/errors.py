"""Exceptions raised by probflow.

Every error names what is wrong, and where it applies the step index and the sigma, so that a bad
input never turns into silent garbage or an opaque traceback from deep inside torch.
"""

from __future__ import annotations

import pickle


class ProbflowError(Exception):
    """Base class of every error that probflow raises on purpose.

    Each subclass also derives from the built-in exception a caller would expect (``ValueError`` for a bad value,
    ``TypeError`` for a wrong type, ``ImportError`` for a missing package), so ``except ValueError`` keeps working.
    The command line prints a ``ProbflowError`` as one line with exit code 2; any other exception is a bug and keeps
    its traceback.
    """


class InvalidArgumentError(ProbflowError, TypeError, ValueError):
    """An argument of the wrong type or value that no more specific error below describes."""


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


class GeneratorError(ProbflowError, TypeError, ValueError):
    """A ``generator`` that is not None, a ``torch.Generator``, one per sample, or a noise source of the state's shape."""


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


class NonFiniteResultError(ProbflowError, ArithmeticError):
    """A solve produced NaN or Inf that the denoiser did not return: a solver step, or the cast to a narrower dtype."""


class CommandError(ProbflowError, ValueError):
    """A user-facing command-line error: printed as ``probflow: error: <message>`` with exit code 2."""


class MissingDependencyError(ProbflowError, ImportError):
    """An optional package that a feature needs is not installed; the message says what to ``pip install``."""


class OutputPathError(ProbflowError, ValueError):
    """An output path that cannot be written, found before the work starts: a folder where a file is meant to go,
    a file where a folder is needed, a folder without write permission, or a file format that cannot hold the
    output (an unknown image suffix, a grid of samples that are not images)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint given to resume a training run that it does not belong to: another configuration, or a step
    beyond the run's last."""


class MissingFileError(ProbflowError, FileNotFoundError):
    """A file or folder that probflow was asked to read does not exist (a dataset file, weights, a sample folder)."""


class DataFileError(ProbflowError, ValueError):
    """A data file that exists but cannot be read as what it should be (a truncated or mislabelled IDX file)."""


class DenoiserConfigError(ProbflowError, ValueError):
    """A denoiser adapter or analytic denoiser built with invalid parameters (a prediction type, a schedule)."""


class UnknownModelError(ProbflowError, KeyError):
    """A model or recipe name that probflow does not ship."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""
class ThreadCountError(ProbflowError, ValueError):
    """A thread count (``--threads``, ``PROBFLOW_THREADS``) or work size that is not a usable integer."""


class UnsupportedSolverError(SolverConfigError):
    """A solver that an integration cannot run: in a diffusers scheduler, which takes one model call per ``step()``,
    a torchdiffeq/torchsde backend (it calls the model itself) or an adaptive solver (its calls are not known
    beforehand)."""


class SchedulerStateError(ProbflowError, RuntimeError):
    """probflow's diffusers scheduler used outside its protocol: ``step()`` before ``set_timesteps``, at another
    timestep than the next model call's, after the last call, or with a sample that the pipeline changed between
    calls."""

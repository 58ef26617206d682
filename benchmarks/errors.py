"""Exceptions the benchmarks raise on purpose (subclasses of :class:`probflow.errors.ProbflowError`)."""

from __future__ import annotations

from probflow.errors import ProbflowError


class MissingPeerError(ProbflowError, RuntimeError):
    """A benchmark compares against a peer package that is not installed (and was not skipped on purpose)."""


class BudgetExceededError(ProbflowError, RuntimeError):
    """A method spent more denoiser calls than the budget it was given."""

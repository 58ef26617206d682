"""probflow.errors holds every exception probflow raises on purpose, all catchable as ProbflowError."""

from __future__ import annotations

import inspect
import pickle

import pytest

from probflow import errors
from probflow.errors import CheckpointError, OutputDirError, ProbflowError, SeedSpecError, UnsafeCheckpointError
from probflow.generation import parse_seeds
from probflow.loading import load_checkpoint

ERROR_CLASSES = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if cls.__module__ == errors.__name__]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_a_probflow_error_and_a_builtin_kind(cls):
    assert issubclass(cls, ProbflowError)
    if cls is not ProbflowError:
        kinds = (ValueError, TypeError, KeyError, RuntimeError, ImportError, ArithmeticError, OSError)
        assert any(issubclass(cls, kind) for kind in kinds), cls


def test_the_errors_raised_outside_the_solvers_are_the_ones_in_probflow_errors(tmp_path):
    with pytest.raises(SeedSpecError):
        parse_seeds("5-1")
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"")
    with pytest.raises(CheckpointError, match="unknown checkpoint suffix"):
        load_checkpoint(bad)
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError) and issubclass(OutputDirError, ValueError)

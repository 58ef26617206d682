"""Safe checkpoint loading: tensors round-trip, code-carrying pickles are refused before they run."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from probflow.errors import ProbflowError
from probflow.loading import CheckpointError, UnsafeCheckpointError, load_checkpoint


class _CreatesMarker:
    """Unpickling this object calls ``open(marker, "w")``: a stand-in for ``os.system("...")``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"weight": torch.randn(3, 4, generator=generator, dtype=torch.float64), "steps": torch.arange(5)}


def assert_same_tensors(loaded: dict, expected: dict) -> None:
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_torch_checkpoints_round_trip_their_tensors(tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    torch.save(state(), path)
    assert_same_tensors(load_checkpoint(path), state())


def test_nested_plain_containers_load_with_weights_only(tmp_path):
    path = tmp_path / "nested.pt"
    torch.save({"model": state(), "step": 7, "names": ["a", "b"]}, path)
    loaded = load_checkpoint(path)
    assert loaded["step"] == 7 and loaded["names"] == ["a", "b"]
    assert_same_tensors(loaded["model"], state())


def test_safetensors_round_trip_their_tensors(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file(state(), path)
    assert_same_tensors(load_checkpoint(path), state())


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_pickle_that_would_execute_code_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "malicious.pt"
    payload = {"weight": torch.zeros(2), "trap": _CreatesMarker(str(marker))}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(payload, handle, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=r"malicious\.pt: refused to unpickle.*could execute code"):
        load_checkpoint(path)
    assert not marker.exists()
    # The payload is live: an unrestricted load does create the marker, so the refusal is what saved us.
    if writer == "torch.save":
        torch.load(path, weights_only=False)
    else:
        with open(path, "rb") as handle:
            pickle.load(handle)
    assert marker.exists()


def test_unsafe_checkpoint_error_is_both_a_probflow_error_and_an_unpickling_error():
    assert issubclass(UnsafeCheckpointError, ProbflowError)
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)


def test_unknown_suffix_missing_file_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"model\.bin: unknown checkpoint suffix '\.bin'"):
        load_checkpoint(tmp_path / "model.bin")
    with pytest.raises(FileNotFoundError, match=r"absent\.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")
    torch.save(state(), tmp_path / "whole.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "whole.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"truncated\.pt"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises(CheckpointError, match=r"garbage\.safetensors: not a readable safetensors file"):
        load_checkpoint(garbage)

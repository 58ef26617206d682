"""Benchmarks refuse to run without a peer they compare against, unless it is skipped on purpose (issue #15, 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import accuracy, overhead, peers
from benchmarks.errors import MissingPeerError

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def without_k_diffusion(monkeypatch):
    monkeypatch.setattr(peers, "load_k_diffusion_sampling", lambda: None)


@pytest.fixture
def without_diffusers(monkeypatch):
    # find_spec returns None for a name whose sys.modules entry is None, as for a package that is not installed.
    monkeypatch.setitem(sys.modules, "diffusers", None)


def test_a_missing_peer_is_refused_with_what_to_install(without_k_diffusion):
    with pytest.raises(MissingPeerError, match=r"k-diffusion, which is not installed: pip install --no-deps "
                                               r"k-diffusion \(or pass --skip-peer k-diffusion"):
        peers.required_peers(benchmark="benchmarks.accuracy")


def test_diffusers_missing_says_pip_install_diffusers(without_diffusers):
    with pytest.raises(MissingPeerError, match="diffusers, which is not installed: pip install diffusers"):
        peers.required_peer_packages()


def test_skipping_a_missing_peer_drops_exactly_its_samplers(without_diffusers):
    if not peers.PEER_PACKAGES[0].installed():
        pytest.skip("k-diffusion is not installed either")
    methods = peers.required_peers(skip=["diffusers"])
    assert methods and {m.source for m in methods} == {"k-diffusion"}
    assert peers.required_peer_packages(["diffusers"]) == ["k-diffusion"]


def test_an_unknown_peer_name_is_refused():
    with pytest.raises(MissingPeerError, match="unknown peer 'kdiffusion'"):
        peers.required_peer_packages(["kdiffusion"])


def test_accuracy_with_skip_peer_runs_and_says_so(without_k_diffusion):
    with pytest.raises(MissingPeerError):
        accuracy.main(["--smoke", "--problems", "gaussian-16d"])
    if not peers.PEER_PACKAGES[1].installed():
        pytest.skip("diffusers is not installed either")
    report = accuracy.main(["--smoke", "--problems", "gaussian-16d", "--skip-peer", "k-diffusion"])
    assert "Peers skipped on purpose (--skip-peer): k-diffusion" in report
    assert "kdiff" not in report and "diffusers" in report


def test_overhead_refuses_and_skips_the_same_way(without_diffusers):
    with pytest.raises(MissingPeerError, match="benchmarks.overhead compares against diffusers"):
        overhead.main(["--smoke", "--skip-peer", "k-diffusion"])
    report = overhead.main(["--smoke", "--skip-peer", "k-diffusion", "--skip-peer", "diffusers"])
    assert "Peers skipped on purpose (--skip-peer): diffusers, k-diffusion" in report
    assert "k-diffusion sample_" not in report and "diffusers " not in report.split("\n\n", 1)[1]


def test_the_command_line_exits_2_with_one_line_when_k_diffusion_cannot_be_imported():
    # A fresh interpreter in which importing k_diffusion fails, running the module as `python -m` does.
    script = ("import runpy, sys; sys.modules['k_diffusion'] = None; sys.argv = ['accuracy', '--smoke']; "
              "runpy.run_module('benchmarks.accuracy', run_name='__main__', alter_sys=True)")
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY, env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    message = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert message == ["error: benchmarks.accuracy compares against k-diffusion, which is not installed: "
                       "pip install --no-deps k-diffusion (or pass --skip-peer k-diffusion to leave it out)"]

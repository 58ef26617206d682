"""probflow.threads: the thread count by work size, PROBFLOW_THREADS and --threads, always restored afterwards."""

from __future__ import annotations

import pytest
import torch

import probflow.cli.order
from probflow.cli import build_parser, main
from probflow.errors import ThreadCountError
from probflow.threads import ENV_VAR, SMALL_WORK, chosen_threads, threads_for

COMPUTING_COMMANDS = {
    "demo": [], "sample": [], "compare": [], "train": ["digits-edm", "--out", "w.safetensors"], "fid": ["dir"],
    "order": [], "calibrate": ["--nfe", "5", "--out", "schedules"],
}


@pytest.fixture
def caller_threads(monkeypatch):
    """The test runs with 3 intra-op threads and no PROBFLOW_THREADS; torch's count is put back afterwards."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def test_small_work_gets_one_thread_and_large_work_keeps_the_callers_count(caller_threads):
    assert chosen_threads(0) == chosen_threads(SMALL_WORK - 1) == 1
    assert chosen_threads(SMALL_WORK) == chosen_threads(10 * SMALL_WORK) == caller_threads


def test_a_request_beats_the_environment_which_beats_the_work_size(caller_threads, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "2")
    assert chosen_threads(0) == chosen_threads(SMALL_WORK) == 2
    assert chosen_threads(0, requested=5) == 5


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_environment_value_raises_naming_the_variable(caller_threads, monkeypatch, value):
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(ThreadCountError, match=ENV_VAR):
        chosen_threads(10)


@pytest.mark.parametrize(("work_size", "requested"), [(-1, None), (1.5, None), (10, 0), (10, True), (10, 2.0)])
def test_bad_work_sizes_and_requests_raise(caller_threads, work_size, requested):
    with pytest.raises(ThreadCountError, match="positive integer|non-negative integer"):
        chosen_threads(work_size, requested)


def test_threads_for_sets_the_count_inside_and_restores_it_after_an_error(caller_threads):
    with pytest.raises(RuntimeError, match="inside"):
        with threads_for(10) as count:
            assert count == torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("command", sorted(COMPUTING_COMMANDS))
def test_every_computing_command_takes_threads(command):
    args = build_parser().parse_args([command, *COMPUTING_COMMANDS[command], "--threads", "4"])
    assert args.threads == 4
    assert build_parser().parse_args([command, *COMPUTING_COMMANDS[command]]).threads is None
    for bad in ("0", "x"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, *COMPUTING_COMMANDS[command], "--threads", bad])


@pytest.mark.parametrize(("flag", "environment", "expected"), [([], None, 1), (["--threads", "2"], None, 2),
                                                               ([], "2", 2), (["--threads", "4"], "2", 4)])
def test_the_flag_and_the_environment_reach_torch_during_the_command_and_are_restored(
        caller_threads, monkeypatch, capsys, flag, environment, expected):
    if environment is not None:
        monkeypatch.setenv(ENV_VAR, environment)
    seen = []
    measure = probflow.cli.order.estimate_order

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return measure(*args, **kwargs)

    monkeypatch.setattr(probflow.cli.order, "estimate_order", recording)
    assert main(["order", "--problem", "gaussian", "--solvers", "euler", "--steps", "4,8,16", *flag]) == 0
    capsys.readouterr()
    assert seen == [expected]
    assert torch.get_num_threads() == caller_threads

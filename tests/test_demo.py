"""``probflow demo --quick`` (what CI runs): every report file exists, report.md links each, the measured orders
in it agree with the declared ones, and torch's thread count is left as it was."""

from __future__ import annotations

import re

import pytest
import torch

from probflow import pretrained
from probflow.cli import main
from probflow.demo import QUICK, DemoSettings
from probflow.demo.orders import fixed_grid_deterministic_solvers
from probflow.solvers import get_solver


@pytest.mark.skipif(not pretrained.weights_path("digits-edm").is_file(), reason="digits-edm weights not built")
def test_quick_demo_writes_a_report_that_links_every_plot_and_grid(tmp_path, capsys):
    threads = torch.get_num_threads()
    assert main(["demo", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert torch.get_num_threads() == threads
    assert str((tmp_path / "report.md").resolve()) in capsys.readouterr().out
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    expected_grids = len(QUICK.sampling_solvers) * len(QUICK.nfe_budgets)
    assert {"order_loglog.png", "fid_vs_nfe.png", "schedules.png"} <= set(linked)
    assert sum(link.startswith("samples/") for link in linked) == expected_grids
    for link in linked:
        assert (tmp_path / link).read_bytes()[:4] == b"\x89PNG", link
    for name in QUICK.order_solvers:
        row = re.search(rf"^\| {re.escape(name)} \| ([\d.]+) \| ([\d.]+)", report, re.MULTILINE)
        assert row is not None and abs(float(row[2]) - float(row[1])) < 0.15, name
    assert "lesson-karras" in report


def test_default_order_solvers_are_the_deterministic_fixed_grid_ones():
    for name in fixed_grid_deterministic_solvers():
        solver = get_solver(name)
        assert not solver.stochastic and solver.calls_per_step > 0


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_torch_threads_must_be_a_positive_integer(threads):
    with pytest.raises(ValueError, match="torch_threads must be a positive integer"):
        DemoSettings(order_problem="gaussian", order_solvers=(), sampling_solvers=("euler",), nfe_budgets=(4,),
                     num_samples=8, lesson_tables=(), lesson_samples=8, lesson_quick=True, torch_threads=threads)

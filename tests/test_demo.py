"""``probflow demo --quick`` (what CI runs): every report file exists, report.md links each, the grids are at least
256 pixels, the tables carry intervals and n, the measured orders agree with the declared ones, and torch's thread
count is left as it was."""

from __future__ import annotations

import re

import pytest
import torch

from probflow import pretrained
from probflow.cli import main
from probflow.demo import QUICK
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
    image = pytest.importorskip("PIL.Image")
    for link in (link for link in linked if link.startswith("samples/")):
        with image.open(tmp_path / link) as grid:
            assert min(grid.size) >= 256, link
    assert "DemoSettings(" not in report and "| sweep samples n | " in report
    assert "**Findings.** At NFE 4, `" in report
    assert re.search(r"\| euler @ NFE 4 \| digits-edm \| 4 \| 4 \| [\d.]+ \[[\d.]+, [\d.]+\] \| 16 \|", report)
    for name in QUICK.order_solvers:
        row = re.search(rf"^\| {re.escape(name)} \| ([\d.]+) \| ([\d.]+)", report, re.MULTILINE)
        assert row is not None and abs(float(row[2]) - float(row[1])) < 0.15, name
    assert "lesson-karras" in report


def test_default_order_solvers_are_the_deterministic_fixed_grid_ones():
    for name in fixed_grid_deterministic_solvers():
        solver = get_solver(name)
        assert not solver.stochastic and solver.calls_per_step > 0

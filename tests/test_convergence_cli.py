"""``probflow order`` run in-process: the table, the plot, a user denoiser, and one-line errors."""

from __future__ import annotations

import re

import pytest

from probflow.cli import main

USER_MODULE = '''
from probflow.denoisers import Gaussian

_gaussian = Gaussian([0.0, 1.0], [0.5, 0.2])


def denoiser(x, sigma):
    return _gaussian(x, sigma)
'''


def _summary_rows(output: str) -> dict[str, list[str]]:
    table = output[output.rindex("solver  "):].splitlines()[1:]
    return {line.split()[0]: line.split() for line in table if line.strip() and not line.startswith("wrote")}


def _measured(row: list[str]) -> float:
    return float(row[3])


def test_order_prints_a_table_per_solver_and_a_summary_and_writes_the_plot(tmp_path, capsys) -> None:
    plot = tmp_path / "order.png"
    code = main(["order", "--problem", "gaussian", "--solvers", "euler,heun", "--steps", "16,32,64",
                 "--plot", str(plot)])
    output = capsys.readouterr().out
    assert code == 0
    assert "euler (ode order): declared 1, measured" in output and "heun (ode order): declared 2" in output
    assert re.search(r"steps\s+16\s+32\s+64", output) and re.search(r"NFE\s+32\s+64\s+128", output)
    rows = _summary_rows(output)
    assert _measured(rows["euler"]) == pytest.approx(1.0, abs=0.2)
    assert _measured(rows["heun"]) == pytest.approx(2.0, abs=0.2)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_order_runs_a_user_denoiser_given_as_module_attr(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "user_denoiser_module.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["order", "--denoiser", "user_denoiser_module:denoiser", "--shape", "2", "--solvers", "heun",
                 "--steps", "16,32,64", "--sigma-max", "10", "--sigma-min", "0.05", "--batch", "2"])
    assert code == 0
    assert _measured(_summary_rows(capsys.readouterr().out)["heun"]) == pytest.approx(2.0, abs=0.2)


def test_a_named_stochastic_solver_gets_its_strong_order(capsys) -> None:
    code = main(["order", "--problem", "gaussian", "--solvers", "euler_ancestral", "--steps", "8,16",
                 "--sigma-max", "10"])
    assert code == 0
    assert _summary_rows(capsys.readouterr().out)["euler_ancestral"][1] == "strong"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--denoiser", "no_such_module_xyz:denoiser"], "cannot import module 'no_such_module_xyz'"),
    (["--denoiser", "math:no_such_attr"], "math has no attribute 'no_such_attr'"),
    (["--denoiser", "math:pi"], "math:pi is a float, not a denoiser D"),
    (["--denoiser", "math"], "--denoiser must look like module:attr"),
    (["--denoiser", "math:sqrt"], "has no .shape: pass --shape"),
    (["--solvers", "no_such_solver"], "unknown solver 'no_such_solver'"),
    (["--solvers", "torchdiffeq:dopri5"], "adaptive"),
    (["--steps", "32,16"], "strictly increasing"),
    (["--steps", "16,x"], "--steps must be comma-separated integers"),
    (["--problem", "nope"], "unknown problem 'nope'"),
    (["--shape", "2"], "--shape applies only with --denoiser"),
])
def test_bad_arguments_are_one_line_errors(arguments, message, capsys) -> None:
    code = main(["order", *arguments])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("probflow: error: ") and message in error and error.count("\n") == 1

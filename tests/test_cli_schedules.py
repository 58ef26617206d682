"""``probflow schedules``: the printed first and last values are the schedules' own, and --out writes a PNG."""

from __future__ import annotations

import math

from probflow.cli import main
from probflow.cli.schedules import split_specs


def test_specs_split_on_semicolons_or_on_commas_between_bare_names():
    assert split_specs("karras,vp") == ["karras", "vp"]
    assert split_specs("chen:kind=cosine,input_scale=0.5") == ["chen:kind=cosine,input_scale=0.5"]
    assert split_specs("karras:rho=3; vp") == ["karras:rho=3", "vp"]


def test_table_prints_the_requested_sigma_range_and_its_log_snr(capsys, tmp_path):
    out = tmp_path / "schedules.png"
    assert main(["schedules", "--schedules", "karras,vp", "--steps", "6", "--sigma-min", "0.01",
                 "--sigma-max", "20", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ("karras", "vp"):
        cells = next(line for line in lines if line.startswith(name)).split()
        assert float(cells[1]) == 20.0 and float(cells[2]) == 0.01
        assert math.isclose(float(cells[3]), -2 * math.log(20.0), abs_tol=1e-3)
        assert math.isclose(float(cells[4]), -2 * math.log(0.01), abs_tol=1e-3)
    assert out.read_bytes()[:4] == b"\x89PNG"

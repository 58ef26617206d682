"""The README as a new user meets it: its Python blocks run in order in one fresh interpreter, its command-line block
runs line by line in one folder (each command reads what the one before it wrote), and its set-up block names the
commands that ``.ci/run`` runs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced_blocks(language: str) -> list[str]:
    """The README's ```language blocks, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[list[str]]:
    """The shell commands of a block: one per line, comments dropped, ``&&`` chains split."""
    lines = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        while "&&" in words:
            cut = words.index("&&")
            lines.append(words[:cut])
            words = words[cut + 1:]
        if words:
            lines.append(words)
    return lines


def run(arguments: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(arguments, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_set_up_block_is_what_ci_runs():
    set_up = commands(fenced_blocks("bash")[0])
    assert [words[:3] for words in set_up] == [["pip", "install", "torch==2.13.0"], ["pip", "install", "-e"],
                                               ["probflow", "demo"], ["python", "-m", "pytest"]]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet torch==2.13.0" in ci and "pip install --quiet -e \".[dev]\"" in ci
    assert re.search(r"^\s*python -m pytest -q\s*$", ci, flags=re.MULTILINE), "CI must run the README's test command"


def test_python_blocks_run_in_order_in_a_fresh_interpreter(tmp_path):
    blocks = fenced_blocks("python")
    assert len(blocks) >= 6
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    result = run([sys.executable, str(script)], tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "torch.Size([16, 1, 8, 8])" in out
    assert "19 midpoint_log_sigma 19" in out
    assert "declared 2, measured" in out
    assert "(2, 8, 8, 1) 10" in out
    assert (tmp_path / "mixture.nfe8.json").is_file()


def test_command_line_block_runs_in_order_and_writes_what_it_says(tmp_path):
    block = fenced_blocks("bash")[1]
    lines = commands(block)
    assert all(words[0] == "probflow" for words in lines)
    for words in lines:
        result = run([sys.executable, "-m", *words], tmp_path, timeout=300)
        assert result.returncode == 0, f"{shlex.join(words)}\n{result.stderr[-3000:]}"
    written = ["digits.png", "scores.json", "schedules/digits-edm.nfe5.json", "schedules/digits-edm.nfe8.json",
               "calibrated.png", "order.png", "my-edm.safetensors", "mine.npz", "schedules.png"]
    assert [name for name in written if not (tmp_path / name).is_file()] == []
    assert any((tmp_path / "samples").iterdir()) and any((tmp_path / "compare").iterdir())

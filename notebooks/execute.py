"""Execute a notebook top to bottom and store it with a record of the code each output came from.

Every notebook in ``notebooks/`` is stored executed, from a full run (not ``PROBFLOW_FAST``), by this tool::

    python -m notebooks.execute notebooks/04_sampler_comparison.ipynb [more.ipynb ...]
    python -m notebooks.execute --fast notebooks/04_sampler_comparison.ipynb   # CI sizes; checks, stores nothing

Run it from the repository root. It

* runs every cell in order in a fresh ``python3`` kernel (nbclient), whose working directory is a new temporary
  folder (removed afterwards), so files a notebook writes never land in ``notebooks/``; this checkout's
  ``probflow`` comes first on the kernel's ``PYTHONPATH``;
* stops at the first cell that raises, and stores nothing;
* records in each code cell's metadata ``metadata["probflow"]["source_sha256"]``, the SHA-256 of the cell's
  source as it ran (:func:`source_sha256`), and in the notebook's metadata ``metadata["probflow"]["fast"]``;
* checks the figure rule (:func:`missing_figures`) and refuses to store a notebook that breaks it;
* stores every ``image/png`` output as a palette PNG of at most 256 colours when that is smaller
  (:func:`compact_png`: line plots and grey digits lose nothing visible, the files shrink about 3.5 times), which
  keeps the stored notebooks under the size cap of ``tests/test_notebooks.py``;
* drops the per-cell execution timestamps, so that a rerun changes only what the code changed.

``tests/test_notebooks.py`` fails when a stored output no longer belongs to its cell: a code cell whose source
hash is missing or differs from its current source, execution counts that are not 1, 2, 3, ... (a partial or
out-of-order run), a stored notebook from a fast run, or a drawing cell without an image. After editing a cell,
rerun the whole notebook with this tool; do not edit outputs by hand.

**The figure rule.** A code cell *draws* when its source calls matplotlib or a probflow plot function: it matches
:data:`DRAWING_CALL`: a call ``plt.NAME(...)`` (but ``plt.close``, ``plt.rc``, ``plt.ioff``, ``plt.ion``), ``.subplots(``,
``.imshow(``, ``new_figure(``, ``plot_NAME(`` or ``display(fig...``; or it carries the cell tag ``"figure"``. Every drawing cell must store at least one ``image/png`` output. The
library's plot functions return a :class:`matplotlib.figure.Figure` without touching the backend: end the cell
with the figure, or call ``display(figure)``; figures made with ``plt`` show under ``%matplotlib inline``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

#: The environment variable that shrinks a notebook's sizes (CI).
FAST_ENV = "PROBFLOW_FAST"

#: Seconds a single cell may run.
CELL_TIMEOUT = 1800

#: Source patterns that make a code cell a drawing cell (see the module docstring).
DRAWING_CALL = re.compile(r"\bplt\.(?!close\(|rc\(|ioff\(|ion\()\w+\(|\.subplots\(|\.imshow\(|\bnew_figure\(|\bplot_\w+\("
                          r"|\bdisplay\(\s*fig")

#: The cell tag that marks a drawing cell whose source matches no :data:`DRAWING_CALL`.
FIGURE_TAG = "figure"

#: Cell metadata written by nbclient that changes on every run.
_VOLATILE_METADATA = ("execution",)


def source_sha256(source: str) -> str:
    """The SHA-256 hex digest of a cell's source text (UTF-8)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def draws(cell) -> bool:
    """Whether a code cell is a drawing cell (the figure rule of the module docstring)."""
    return FIGURE_TAG in cell.metadata.get("tags", ()) or bool(DRAWING_CALL.search(cell.source))


def has_image(cell) -> bool:
    """Whether a code cell stores an ``image/png`` output."""
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", ()))


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def missing_figures(notebook) -> list[int]:
    """Indices (among all cells) of drawing cells that store no ``image/png`` output."""
    return [index for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and draws(cell) and not has_image(cell)]


def stale_cells(notebook) -> list[int]:
    """Indices (among all cells) of code cells whose recorded source hash is missing or differs from their source."""
    return [index for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code"
            and cell.metadata.get("probflow", {}).get("source_sha256") != source_sha256(cell.source)]


def out_of_order_cells(notebook) -> list[int]:
    """Indices of code cells whose execution count is not their position among the code cells (1, 2, 3, ...).
    Empty code cells are not counted: the kernel never runs them, so they have no execution count."""
    indices = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and cell.source.strip()]
    return [index for count, index in enumerate(indices, start=1)
            if notebook.cells[index].get("execution_count") != count]


def error_outputs(notebook) -> list[int]:
    """Indices of code cells that store an error output."""
    return [index for index, cell in enumerate(notebook.cells)
            if any(output.output_type == "error" for output in cell.get("outputs", ()))]


def compact_png(data: bytes, colours: int = 256) -> bytes:
    """``data`` (a PNG) re-encoded with a palette of at most ``colours`` colours, or ``data`` itself if that is not
    smaller."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    palette = image.convert("RGB").quantize(colors=colours)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(data) else data


def compact_images(notebook) -> None:
    """Replace every stored ``image/png`` output of ``notebook`` by its :func:`compact_png`."""
    for cell in code_cells(notebook):
        for output in cell.get("outputs", ()):
            encoded = output.get("data", {}).get("image/png")
            if encoded:
                compacted = compact_png(base64.b64decode(encoded))
                output["data"]["image/png"] = base64.b64encode(compacted).decode("ascii")


def execute(notebook, *, fast: bool, timeout: int = CELL_TIMEOUT):
    """Run ``notebook`` (an nbformat node, changed in place) top to bottom in a temporary working directory with
    ``PROBFLOW_FAST`` set to ``1`` when ``fast``, and record every code cell's source hash. Raises nbclient's
    ``CellExecutionError`` at the first failing cell."""
    import nbclient

    environment = {FAST_ENV: "1"} if fast else {}
    saved = {name: os.environ.get(name) for name in (FAST_ENV, "PYTHONPATH")}
    os.environ.pop(FAST_ENV, None)
    os.environ.update(environment)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), saved["PYTHONPATH"])))
    try:
        with tempfile.TemporaryDirectory(prefix="probflow-notebook-") as workdir:
            client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                             resources={"metadata": {"path": workdir}})
            client.execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    for cell in code_cells(notebook):
        for key in _VOLATILE_METADATA:
            cell.metadata.pop(key, None)
        cell.metadata.setdefault("probflow", {})["source_sha256"] = source_sha256(cell.source)
    notebook.metadata.setdefault("probflow", {})["fast"] = fast
    return notebook


def problems(notebook) -> list[str]:
    """What is wrong with an executed notebook: errors, stale or out-of-order cells, drawing cells without image."""
    checks = (("error output", error_outputs), ("source changed since it ran", stale_cells),
              ("not run in order from a fresh kernel", out_of_order_cells),
              ("draws but stores no image/png", missing_figures))
    return [f"cell {index}: {what}" for what, check in checks for index in check(notebook)]


def run(path: Path, *, fast: bool) -> list[str]:
    """Execute the notebook at ``path``; store it (full runs only) when :func:`problems` finds nothing, and return
    the problems."""
    notebook = nbformat.read(path, as_version=4)
    execute(notebook, fast=fast)
    found = problems(notebook)
    if not found and not fast:
        compact_images(notebook)
        nbformat.write(notebook, path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notebooks.execute", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="the .ipynb files to run, in order")
    parser.add_argument("--fast", action="store_true",
                        help=f"run with {FAST_ENV}=1 (the CI sizes) and check, without storing")
    arguments = parser.parse_args(argv)
    failed = False
    for path in arguments.notebooks:
        found = run(path, fast=arguments.fast)
        verdict = "problems:\n  " + "\n  ".join(found) if found else ("checked" if arguments.fast else "stored")
        print(f"{path}: {verdict}", flush=True)
        failed |= bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

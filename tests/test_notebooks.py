"""The notebooks: each runs end to end in fast mode (``PROBFLOW_FAST=1``, which the notebooks read to shrink their
sample counts and grids) without writing into notebooks/, and each stored notebook is a full run of its current code
(``notebooks/execute.py``: source hashes, execution order, an image for every drawing cell) under the size cap."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 300_000
FAST_CELL_TIMEOUT = 300


def _load_executor():
    """notebooks/execute.py by path: notebooks/ is not an installed package."""
    spec = importlib.util.spec_from_file_location("probflow_notebooks_execute", NOTEBOOK_DIR / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute = _load_executor()


def _files_in_notebook_dir() -> set[str]:
    return {path.name for path in NOTEBOOK_DIR.iterdir() if path.name != "__pycache__"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_fast_mode_and_writes_nothing_beside_it(path):
    before = _files_in_notebook_dir()
    notebook = nbformat.read(path, as_version=4)
    execute.execute(notebook, fast=True, timeout=FAST_CELL_TIMEOUT)
    assert execute.problems(notebook) == []
    assert _files_in_notebook_dir() == before


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_stored_notebook_is_a_full_run_of_its_current_code(path):
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("probflow", {}).get("fast") is False, (
        f"{path.name} was not stored by a full run: python -m notebooks.execute {path.relative_to(NOTEBOOK_DIR.parent)}")
    assert execute.problems(notebook) == [], (
        f"rerun it: python -m notebooks.execute {path.relative_to(NOTEBOOK_DIR.parent)}")


def test_an_edited_cell_is_stale_until_the_notebook_is_rerun():
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    first_code = next(index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    assert execute.stale_cells(notebook) == []
    notebook.cells[first_code].source += "\n# edited"
    assert execute.stale_cells(notebook) == [first_code]
    del notebook.cells[first_code].metadata["probflow"]
    assert execute.stale_cells(notebook) == [first_code]


def test_execution_counts_must_follow_the_code_cells():
    cells = [nbformat.v4.new_markdown_cell("# title"), *(nbformat.v4.new_code_cell(f"x = {i}") for i in range(3))]
    notebook = nbformat.v4.new_notebook(cells=cells)
    for count, cell in enumerate(notebook.cells[1:], start=1):
        cell.execution_count = count
    assert execute.out_of_order_cells(notebook) == []
    notebook.cells[2].execution_count, notebook.cells[3].execution_count = 3, 2
    assert execute.out_of_order_cells(notebook) == [2, 3]
    notebook.cells[2].execution_count, notebook.cells[3].execution_count = 2, 3
    notebook.cells.insert(2, nbformat.v4.new_code_cell("  \n"))  # empty: nbclient skips it and gives it no count
    assert execute.out_of_order_cells(notebook) == []


@pytest.mark.parametrize(("source", "tags", "drawing"), [
    ("plt.show()", [], True),
    ("figure, axes = plt.subplots(1, 2)", [], True),
    ("axes[0].imshow(grid)", [], True),
    ("plot_estimates(estimates, 'title')", [], True),
    ("display(figure)", [], True),
    ('plt.rcParams["figure.dpi"] = 72', [], False),
    ("plt.close(figure)", [], False),
    ("rows = compare(model, configs)", [], False),
    ("show(result)", ["figure"], True),
])
def test_the_figure_rule(source, tags, drawing):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
    assert execute.draws(cell) is drawing
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert execute.missing_figures(notebook) == ([0] if drawing else [])
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "fig"})]
    assert execute.missing_figures(notebook) == []


def test_compacted_images_keep_their_size_in_pixels():
    pytest.importorskip("PIL")
    matplotlib_figure = pytest.importorskip("matplotlib.figure")
    import io

    from PIL import Image

    figure = matplotlib_figure.Figure(figsize=(4, 3), dpi=72)
    axes = figure.subplots()
    for k in range(5):
        axes.plot([0, 1, 2], [k, k + 1, k * k], label=str(k))
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    original = buffer.getvalue()
    compacted = execute.compact_png(original)
    assert len(compacted) < len(original)
    assert Image.open(io.BytesIO(compacted)).size == Image.open(io.BytesIO(original)).size

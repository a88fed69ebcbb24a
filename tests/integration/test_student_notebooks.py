"""Student notebooks: generated from the instructor ones, they run without error and every check says
"not yet passed" (the inverse of the instructor run, whose checked outputs nbval compares)."""
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dockerlab.student import generate

REPO = Path(__file__).resolve().parents[2]


def outputs_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "".join(texts)


def test_student_notebooks_run_and_every_check_is_not_yet_passed(tmp_path):
    lines = generate(REPO / "notebooks", tmp_path)
    assert any("01-first-image.ipynb" in line for line in lines)
    notebook = nbformat.read(tmp_path / "01-first-image.ipynb", as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "hidden=True" not in sources  # hidden checks removed
    assert 'CMD echo "Hello World!! My first Docker image"' not in sources.split("examples/hello")[-1]
    assert "A new container" not in sources and "named volume it used" not in sources
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")

    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    checks = [cell for cell in notebook.cells if cell.cell_type == "code"
              and ("dockerlab.check(" in cell.source or "dockerlab.quiz(" in cell.source)]
    assert len(checks) == 3
    for cell in checks:
        assert "not yet passed" in outputs_text(cell), cell.source
    assert (tmp_path / "my-first-image" / "Dockerfile").is_file()  # the starter, copied for the learner
    hint = next(cell for cell in notebook.cells if cell.cell_type == "code" and "dockerlab.hint(" in cell.source)
    assert "Hint 1 of 2" in outputs_text(hint)  # opens once the check was tried


def test_regenerating_keeps_a_notebook_the_learner_edited(tmp_path):
    generate(REPO / "notebooks", tmp_path)
    path = tmp_path / "01-first-image.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source += "\nmy notes"
    nbformat.write(notebook, path)
    lines = generate(REPO / "notebooks", tmp_path)
    assert any(line.startswith("kept") and "01-first-image" in line for line in lines)
    assert "my notes" in nbformat.read(path, as_version=4).cells[0].source
    assert any(line.startswith("wrote") and "00-setup" in line for line in lines)  # untouched: refreshed

"""Student versions of lessons 05, 07, 08 and 10: they run without error, and every check and quiz says "not yet passed"
(the solutions and quiz answers are stubbed out, the hidden checks removed)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dockerlab.course.exercises import load_exercise
from dockerlab.course.student import generate

from .test_student import outputs_text

REPO = Path(__file__).resolve().parents[3]
LESSONS = {"05-writable-layer": ["file-in-image", "container-files-fate", "commit-layers", "what-survives-rm"],
           "07-build-cache": ["cache-order", "cache-invalidation"],
           "08-image-size": ["slim-image", "deleted-bytes", "dangling-none"],
           "10-tags-digests": ["version-two", "latest-tag", "retag-id"]}


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    generate(REPO / "notebooks", folder)
    return folder


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_student_lesson_runs_and_every_check_is_not_yet_passed(lesson, student_dir):
    notebook = nbformat.read(student_dir / f"{lesson}.ipynb", as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "hidden=True" not in sources
    for exercise_id in LESSONS[lesson]:
        exercise = load_exercise(exercise_id)
        if exercise.is_quiz:
            assert "answer=" not in sources
        else:
            solution = (exercise.folder / "solution" / "Dockerfile").read_text().splitlines()
            assert not any(line in sources for line in solution if line.startswith(("COPY", "RUN", "CMD")))

    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(student_dir)}}).execute()

    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert errors == []
    checks = [cell for cell in notebook.cells if cell.cell_type == "code"
              and ("dockerlab.check(" in cell.source or "dockerlab.quiz(" in cell.source)]
    assert len(checks) == len(LESSONS[lesson])
    for cell in checks:
        assert "not yet passed" in outputs_text(cell), cell.source

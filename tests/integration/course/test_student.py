"""Student notebooks: generated from the instructor ones, every lesson runs without error and every check
says "not yet passed" (the inverse of the instructor run, whose checked outputs nbval compares)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dockerlab.course.student import SOLUTION_TAG, generate
from dockerlab.engine.connection import connect_engine

from tests.lesson_parts import without_missing_parts

REPO = Path(__file__).resolve().parents[3]
LESSONS = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))


def outputs_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "".join(texts)


def code_cells(notebook, *calls: str) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and (not calls or any(call in cell.source for call in calls))]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """Generates the student versions once; `student(name)` runs one as a learner would (cwd = their folder)."""
    folder = tmp_path_factory.mktemp("student")
    lines = generate(REPO / "notebooks", folder)
    assert sum(line.startswith("wrote") for line in lines) == len(LESSONS)
    executed = {}

    def run(name: str):
        if name not in executed:
            notebook = nbformat.read(folder / name, as_version=4)
            assert all(not cell.outputs for cell in code_cells(notebook)), f"{name}: outputs not cleared"
            without_missing_parts(notebook, connect_engine(), name)
            NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(folder)}}).execute()
            executed[name] = notebook
        return executed[name]

    run.folder = folder
    return run


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_version_runs_without_error_and_every_check_is_not_yet_passed(student, lesson):
    instructor = nbformat.read(REPO / "notebooks" / lesson, as_version=4)
    notebook = student(lesson)
    sources = "\n".join(cell.source for cell in notebook.cells)
    for cell in instructor.cells:
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG in tags or "hidden-check" in tags:
            assert cell.source.strip() not in sources, f"an answer is left in the student version:\n{cell.source}"

    errors = [(cell.source, output.get("ename"), output.get("evalue")) for cell in code_cells(notebook)
              for output in cell.outputs
              if output.output_type == "error" and "raises-exception" not in cell.metadata.get("tags", [])]
    assert errors == []
    assert not [cell.source for cell in code_cells(notebook) if "Traceback" in outputs_text(cell)]
    for cell in code_cells(notebook, "dockerlab.check(", "dockerlab.quiz("):
        assert "not yet passed" in outputs_text(cell), cell.source
    for cell in code_cells(notebook, "dockerlab.hint("):
        assert outputs_text(cell).startswith("Hint 1 of"), cell.source  # opens once the check was tried


def test_student_versions_hide_answers_and_give_starters(student):
    first = student("01-first-image.ipynb")
    sources = "\n".join(cell.source for cell in first.cells)
    assert "hidden=True" not in sources  # hidden checks removed
    assert 'CMD echo "Hello World!! My first Docker image"' not in sources.split("examples/hello")[-1]
    assert "A new container" not in sources
    assert len(code_cells(first, "dockerlab.check(", "dockerlab.quiz(")) == 2
    assert (student.folder / "my-first-image" / "Dockerfile").is_file()  # the starter, copied for the learner

    layers = student("02-layers.ipynb")
    starter = (student.folder / "tidy-download" / "Dockerfile").read_text()
    assert "RUN rm /tmp/tool.tar" in starter  # the learner starts from the wasteful Dockerfile
    check = code_cells(layers, 'dockerlab.check("layers-tidy-download")')[0]
    assert "200.0 kB that nobody can see any more (/tmp/tool.tar)" in outputs_text(check)

    sharing = student("09-sharing.ipynb")
    assert "registry.school.example:5000/sam/partech:2.0" not in "\n".join(cell.source for cell in sharing.cells)
    naming = code_cells(sharing, 'dockerlab.check("sharing-name-for-registry"')[0]
    assert "--answer partech:2.0" in outputs_text(naming)  # the stub's answer, checked and not yet right

    commands = student("04-commands.ipynb")
    assert (student.folder / "my-echo" / "Dockerfile").is_file()
    tool = outputs_text(code_cells(commands, 'dockerlab.check("entrypoint-cmd")')[0])
    assert "base image's CMD (sh)" in tool and "ENTRYPOINT is echo" in tool  # the starter, checked as it is

    swarm = student("11-swarm.ipynb")
    assert "docker service scale web=5" not in "\n".join(cell.source for cell in swarm.cells)
    scale = outputs_text(code_cells(swarm, 'dockerlab.check("swarm-scale-command"')[0])
    assert "--answer 'docker service'" in scale


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

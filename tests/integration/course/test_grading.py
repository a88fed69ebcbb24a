"""`dockerlab grade`: one right, one wrong and one malicious submission (and one notebook), in the sandbox."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from ..bad_inputs import GREETING, TIMEOUT
from dockerlab.engine.connection import connect_engine
from dockerlab.model.labels import SESSION_LABEL

DOCKERLAB = str(Path(sys.executable).with_name("dockerlab"))
RIGHT_ANSWERS = {"image-or-container": "A new container",
                 "what-survives-rm": ["The image it was made from", "A named volume it used"],
                 "list-stopped-containers": "docker ps -a"}
GRADED = ["first-image", "image-or-container", "list-stopped-containers", "what-survives-rm"]  # not the lessons' later ones


def submit(folder: Path, dockerfile: str, answers: dict) -> None:
    (folder / "my-first-image").mkdir(parents=True)
    (folder / "my-first-image" / "Dockerfile").write_text(dockerfile)
    (folder / "answers.json").write_text(json.dumps(answers))


def notebook_submission(path: Path) -> None:
    """A student notebook: the Dockerfile written with %%writefile, a quiz answered in code."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f'%%writefile my-first-image/Dockerfile\nFROM dockerlab/busybox\nCMD echo "{GREETING}"\n'),
        nbformat.v4.new_code_cell('import dockerlab\ndockerlab.quiz("image-or-container", answer="A new image")'),
        nbformat.v4.new_code_cell('import os\nos.system("rm -rf /")  # never run: grading reads notebooks, it does not execute them'),
    ])
    nbformat.write(notebook, path)


def test_grade_writes_the_expected_table_and_leaves_nothing(tmp_path):
    submissions = tmp_path / "submissions"
    submit(submissions / "alice", f'FROM dockerlab/busybox\nCMD echo "{GREETING}"\n', RIGHT_ANSWERS)
    submit(submissions / "bob", 'FROM dockerlab/busybox\nCMD echo "Hello World! My first Docker image"\n',
           {"image-or-container": "A new image", "what-survives-rm": ["The image it was made from"]})
    submit(submissions / "mallory", "FROM dockerlab/busybox\nCMD bomb(){ bomb | bomb & }; bomb; sleep 60\n",
           {"image-or-container": 3, "what-survives-rm": "everything", "list-stopped-containers": ["x"]})
    notebook_submission(submissions / "dave.ipynb")
    out = tmp_path / "grades.csv"

    only = [word for exercise in GRADED for word in ("--exercise", exercise)]
    grader = subprocess.Popen([DOCKERLAB, "grade", str(submissions), "--out", str(out), "--timeout", str(TIMEOUT), *only],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = grader.communicate()

    assert grader.returncode == 0, stderr
    assert "Graded 4 submission(s)" in stdout
    rows = list(csv.DictReader(out.open()))
    table = {(row["student"], row["exercise"]): row["verdict"] for row in rows}
    assert table == {
        ("alice", "first-image"): "passed", ("alice", "image-or-container"): "passed",
        ("alice", "list-stopped-containers"): "passed", ("alice", "what-survives-rm"): "passed",
        ("bob", "first-image"): "failed", ("bob", "image-or-container"): "failed",
        ("bob", "list-stopped-containers"): "failed", ("bob", "what-survives-rm"): "failed",
        ("dave", "first-image"): "passed", ("dave", "image-or-container"): "failed",
        ("dave", "list-stopped-containers"): "failed", ("dave", "what-survives-rm"): "failed",
        ("mallory", "first-image"): "pids-limit", ("mallory", "image-or-container"): "error",
        ("mallory", "list-stopped-containers"): "error", ("mallory", "what-survives-rm"): "error",
    }
    by_key = {(row["student"], row["exercise"]): row for row in rows}
    assert (by_key["alice", "first-image"]["checks_passed"], by_key["alice", "first-image"]["checks_total"]) == ("6", "6")
    assert "first differ" in by_key["bob", "first-image"]["feedback"]
    assert "No answer submitted" in by_key["bob", "list-stopped-containers"]["feedback"]
    report = (tmp_path / "grades.md").read_text()
    assert "| alice | passed | passed | passed | passed | 4/4 |" in report
    assert "| mallory | pids-limit | error | error | error | 0/4 |" in report
    assert left_by(grader.pid) == []


def left_by(pid: int) -> list[str]:
    """Containers and images still labelled with a session of process `pid` (sessions are named PID-...)."""
    api = connect_engine().api
    labelled = api.containers(all=True, filters={"label": SESSION_LABEL})
    labelled += api.images(all=True, filters={"label": SESSION_LABEL})
    return [item["Id"] for item in labelled if item["Labels"][SESSION_LABEL].startswith(f"{pid}-")]


def test_grade_refuses_a_missing_folder(tmp_path):
    done = subprocess.run([DOCKERLAB, "grade", str(tmp_path / "nothing"), "--out", str(tmp_path / "g.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "There is no folder" in done.stderr

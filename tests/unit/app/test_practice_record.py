"""The learner API keeps each attempt in the working folder: progress.json (for `dockerlab classroom status`)
and a quiz's answer in answers.json (what `grade` takes). Quizzes are checked without an engine."""
from __future__ import annotations

import json

import dockerlab
from dockerlab.course.grading import find_submissions


def test_quiz_attempts_are_kept_in_the_folder_as_grade_reads_them(tmp_path, monkeypatch):
    folder = tmp_path / "collected" / "ann"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    assert not dockerlab.check("image-or-container", answer="A new image").passed
    assert dockerlab.check("image-or-container", answer="A new container").passed
    dockerlab.check("list-stopped-containers")  # no answer yet: nothing to keep
    progress = json.loads((folder / "progress.json").read_text())
    assert progress == {"image-or-container": {"attempts": 2, "passed": True, "checks_passed": 1, "checks_total": 1}}
    assert json.loads((folder / "answers.json").read_text()) == {"image-or-container": "A new container"}
    # `grade` of the collected folders takes the kept answer.
    (submission,) = find_submissions(tmp_path / "collected", tmp_path)
    assert submission.student == "ann" and submission.answers == {"image-or-container": "A new container"}


def test_a_wrong_answer_after_a_right_one_is_the_answer_graded_and_passed_stays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dockerlab.check("image-or-container", answer="A new container")
    dockerlab.check("image-or-container", answer="A new image")
    progress = json.loads((tmp_path / "progress.json").read_text())["image-or-container"]
    assert (progress["attempts"], progress["passed"], progress["checks_passed"]) == (2, True, 0)
    assert json.loads((tmp_path / "answers.json").read_text()) == {"image-or-container": "A new image"}


def test_another_notebooks_record_is_merged_and_a_broken_file_is_started_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answers.json").write_text('{"what-survives-rm": ["The image it was made from"]}')
    (tmp_path / "progress.json").write_text("{not json")
    dockerlab.check("list-stopped-containers", answer="docker ps -a")
    assert json.loads((tmp_path / "answers.json").read_text()) == {
        "what-survives-rm": ["The image it was made from"], "list-stopped-containers": "docker ps -a"}
    assert list(json.loads((tmp_path / "progress.json").read_text())) == ["list-stopped-containers"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["answers.json", "progress.json"]


def test_a_folder_that_cannot_be_written_keeps_nothing_and_the_check_still_answers(tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "progress.json").mkdir()  # a name that cannot be replaced by a file (root ignores chmod)
    monkeypatch.chdir(folder)
    assert dockerlab.check("image-or-container", answer="A new container").passed
    assert sorted(path.name for path in folder.iterdir()) == ["progress.json"]

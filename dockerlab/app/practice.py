"""The learner's side of exercises, as a notebook calls it: `exercise`, `check`, `quiz`, `hint`, `solution`."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..course.exercises import all_exercise_ids, load_exercise
from ..course.feedback import CheckResult, Progress, Text
from ..course.grading import ANSWERS_FILE, PROGRESS_FILE, check_submission
from ..view.quiz import QuizView
from . import notebook
from .lab import connect

_progress = Progress()


def progress() -> Progress:
    """This kernel's progress: attempts and hints seen, per exercise."""
    return _progress


def _quiz_ids() -> set[str]:
    return {exercise_id for exercise_id in all_exercise_ids() if load_exercise(exercise_id).is_quiz}


def _engine():
    return connect().engine


def exercise(exercise_id: str) -> Text:
    """Show the statement; for an image exercise, copy the starter files into its folder (never overwriting)."""
    notebook.install_error_display()
    found = load_exercise(exercise_id)
    lines = [f"Exercise '{found.id}': {found.title}", "", found.statement]
    if not found.is_quiz:
        found.copy_starter(Path(found.submission))
        lines += ["", f"Your folder: {found.submission}/ (starter files are copied in only where missing; "
                      "your own files are never overwritten).",
                  f"When you are done: dockerlab.check({found.id!r})"]
    return Text("\n".join(lines))


def check(exercise_id: str, context: str | Path | None = None, answer=None, hidden: bool = False) -> CheckResult:
    """Check your answer: an image exercise builds and runs your folder in the sandbox; a quiz compares `answer`.

    The result says passed, or what is not right yet and a hint. Hints and the solution open after it.
    """
    notebook.install_error_display()
    result = check_submission(_engine, exercise_id, context=context, answer=answer, hidden=hidden)
    is_quiz = exercise_id in _quiz_ids()
    if result.verdict != "error" and not (is_quiz and answer in (None, "", [])):  # a quiz not answered yet
        progress().record_attempt(result)
        keep_attempt(result, answer if is_quiz else None)
    return result


def keep_attempt(result: CheckResult, answer) -> None:
    """Keep the attempt in the working folder: its checks in progress.json (what `dockerlab classroom status`
    shows), a quiz's answer in answers.json (what `grade` takes, after `dockerlab classroom collect`).
    Read and merged at each attempt, so several notebooks of one folder add to the same record; a folder
    that cannot be written keeps nothing and the check goes on."""
    def attempt(record: dict) -> None:
        before = record.get(result.exercise) if isinstance(record.get(result.exercise), dict) else {}
        record[result.exercise] = {
            "attempts": int(before.get("attempts", 0)) + 1, "passed": bool(before.get("passed")) or result.passed,
            "checks_passed": result.checks_passed, "checks_total": result.checks_total,
        }

    try:
        update_json(Path(PROGRESS_FILE), attempt)
        if answer is not None:
            update_json(Path(ANSWERS_FILE), lambda answers: answers.update({result.exercise: answer}))
    except (OSError, TypeError, ValueError):
        pass


def update_json(path: Path, change) -> None:
    """Apply `change` to the JSON object in `path` (a new one when missing or unreadable); replaced whole, so a
    reader never sees half a file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    change(data)
    text = json.dumps(data, indent=1, ensure_ascii=False, default=list) + "\n"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def hint(exercise_id: str) -> Text:
    """The next hint, once you have tried the exercise's check."""
    notebook.install_error_display()
    return Text(progress().next_hint(load_exercise(exercise_id)))


def solution(exercise_id: str) -> Text:
    """The solution, once you have tried the check and looked at a hint."""
    notebook.install_error_display()
    return Text(progress().solution(load_exercise(exercise_id)))


def quiz(exercise_id: str, answer=None):
    """A quiz as a widget (pick, then Check); with `answer`, that answer is filled in and checked."""
    notebook.install_error_display()
    return QuizView(load_exercise(exercise_id), answer, on_check=lambda ex, ans: check(ex, answer=ans))

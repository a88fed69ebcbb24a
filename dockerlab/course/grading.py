"""Checking one submission (`check_submission`) and grading a folder of them (`grade`).

Each check runs in a Session of its own, cleaned in a `finally`: whatever happens (a build error, a
timeout, Ctrl-C), nothing the check created outlives it. Submissions are never executed outside the
sandbox: a notebook submission is read, not run (files written with `%%writefile` and literal quiz
answers are taken from it).
"""
from __future__ import annotations

import ast
import csv
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.build import BASE_IMAGE
from ..engine.connection import Engine
from ..engine.containers import file_in_image
from ..engine.images import inspect_image, load_image_layers
from ..engine.sandbox import LimitReached, ensure_limits_bite, sandboxed_build, sandboxed_run
from ..engine.session import Session
from ..errors import BuildFailed, DockerlabError, ImageNotFound, Interrupted
from ..model.limits import Limits, RunOutcome
from .exercises import (Exercise, Finding, all_exercise_ids, answer_is_right, evaluate, load_exercise,
                        validate_answer)
from .feedback import CheckResult, build_hint, check_command, limit_sentence

# A student's folder, as `grade` takes it and the learner API keeps it: one folder per image exercise, the
# quizzes' answers in ANSWERS_FILE, and the record of their checks (for `dockerlab classroom status`).
ANSWERS_FILE = "answers.json"
PROGRESS_FILE = "progress.json"

NETWORK_NOTE = ("Checks run containers without any network (its output says so), so the answer must work "
                "offline: printing a line needs no network.")


class ImageUnderCheck:
    """The learner's built image, as checks see it: its config, layers, files and (limited) runs."""

    def __init__(self, session: Session, image_id: str, limits: Limits, context: Path | None = None) -> None:
        self.session = session
        self.context = context  # the folder it was built from (for checks that edit and rebuild)
        self.image_id = image_id
        self.limits = limits
        self.attrs = inspect_image(session.engine, image_id)
        self.config = self.attrs.get("Config") or {}
        self._runs: dict[str, RunOutcome] = {}

    def run(self, command: list[str] | None) -> RunOutcome:
        key = json.dumps(command)
        if key not in self._runs:
            self._runs[key] = sandboxed_run(self.session, self.image_id, command, self.limits)
        return self._runs[key]

    @property
    def layers(self) -> list[str]:
        return self.attrs["RootFS"].get("Layers") or []

    def layers_added(self) -> int:
        return len(self.layers) - len(inspect_image(self.session.engine, BASE_IMAGE)["RootFS"]["Layers"])

    def starts_from(self, image: str) -> bool:
        try:
            base = inspect_image(self.session.engine, image)["RootFS"]["Layers"]
        except ImageNotFound:
            return False
        return self.layers[:len(base)] == base

    def history(self) -> list[str]:
        return [step.created_by for step in load_image_layers(self.session.engine, self.image_id).steps]

    def wasted(self) -> tuple[int, list[str]]:
        """Bytes the image's own layers hold that nobody can see, and whose files they were (read from `docker save`)."""
        model = load_image_layers(self.session.engine, self.image_id, files=True)
        if model.wasted_own is None:  # a layer's files could not be read: never pass on a guess
            raise DockerlabError("The check could not read every layer of the image from `docker save`, so it "
                                 "cannot count wasted bytes; run `dockerlab doctor` and check again.")
        return model.wasted_own, model.wasted_paths()

    def layer_with(self, path: str) -> str | None:
        """The digest (diff_id) of the topmost layer that adds or changes `path` (read from `docker save`)."""
        model = load_image_layers(self.session.engine, self.image_id, files=True)
        wanted = path.strip("/")
        found = [layer.diff_id for layer in model.layers
                 if any(change.path == wanted and change.change != "deleted" for change in layer.changes or [])]
        return found[-1] if found else None

    def after_edit(self, path: str, append: str) -> "ImageUnderCheck | None":
        """The same context with `append` added to the file `path`, built again in this session (the build cache
        decides what is reused); None when the context has no such file. `{nonce}` in `append` becomes this
        session's id, so an edit made by an earlier check can never come from the cache."""
        if self.context is None or not (self.context / path).is_file():
            return None
        with tempfile.TemporaryDirectory(prefix="dockerlab-edit-") as folder:
            copy = Path(folder) / "context"
            shutil.copytree(self.context, copy, symlinks=True)
            with (copy / path).open("a") as handle:
                handle.write(append.replace("{nonce}", self.session.id))
            image_id = sandboxed_build(self.session, copy, self.limits)
        return ImageUnderCheck(self.session, image_id, self.limits)

    def has_file(self, path: str) -> bool:
        """Looks inside the image without running it (a created container is never started)."""
        return file_in_image(self.session, self.image_id, path)


def findings_result(exercise: Exercise, findings: list[Finding], command: str) -> CheckResult:
    """Fold the findings into a verdict and feedback lines (what passed, what did not and a hint)."""
    limited = next((finding for finding in findings if finding.limit), None)
    if limited is not None:
        return CheckResult(exercise.id, limited.limit, [limit_sentence(limited.limit, exercise.limits)], command)
    lines = []
    for finding in findings:
        if finding.ok:
            lines.append(f"✓ {finding.says}")
            continue
        lines.append(f"✗ {finding.says}: {finding.problem}")
        if finding.run is not None and finding.run.tried_network and NETWORK_NOTE not in lines:
            lines.append(NETWORK_NOTE)
        if finding.hint:
            lines.append(f"Hint: {finding.hint}")
    passed = sum(finding.ok for finding in findings)
    verdict = "passed" if passed == len(findings) else "failed"
    return CheckResult(exercise.id, verdict, lines, command, passed, len(findings))


def check_quiz(exercise: Exercise, answer, command: str) -> CheckResult:
    if answer is None or answer == [] or answer == "":
        how = "pick an answer and press Check" if exercise.kind != "short" else "type an answer and press Check"
        return CheckResult(exercise.id, "failed", [f"No answer yet: {how}."], command, 0, 1)
    answer = validate_answer(exercise, answer)
    if answer_is_right(exercise, answer):
        return CheckResult(exercise.id, "passed", ["✓ That is right."], command, 1, 1)
    tip = "Not quite: think again, or ask for a hint (dockerlab.hint(...))."
    return CheckResult(exercise.id, "failed", [tip], command, 0, 1)


def check_image(engine: Engine, exercise: Exercise, context: Path, hidden: bool, command: str) -> CheckResult:
    """Build and run the learner's context in a session of its own, removed whatever happens."""
    session = Session(engine)
    try:
        ensure_limits_bite(session)
        image_id = sandboxed_build(session, context, exercise.limits)
        subject = ImageUnderCheck(session, image_id, exercise.limits, context)
        findings = []
        for check in exercise.checks(hidden):
            findings.append(evaluate(check, subject))
            if findings[-1].limit:
                break
        return findings_result(exercise, findings, command)
    except KeyboardInterrupt:
        raise Interrupted("Interrupted: the check was stopped and everything it made was removed.") from None
    except LimitReached as limit:
        return CheckResult(exercise.id, limit.verdict, [limit.sentence], command)
    except BuildFailed as failure:
        lines = [failure.explanation] + [line.strip() for line in failure.log_tail[-3:]]
        hint = build_hint(str(failure))
        return CheckResult(exercise.id, "build-error", lines + ([hint] if hint else []), command)
    finally:
        session.clean()


def check_submission(engine_factory, exercise_id: str, context: str | Path | None = None, answer=None,
                     hidden: bool = False, limits: dict | None = None) -> CheckResult:
    """Check one answer; every failure becomes a verdict with sentences, never an exception.

    `engine_factory` is called only for exercises that need the engine (quizzes do not).
    """
    started = time.monotonic()
    command = ""
    exercise_name = exercise_id
    try:
        exercise = load_exercise(exercise_id)
        if limits:
            exercise.limits = exercise.limits.replace(**limits)
        if exercise.is_quiz:
            command = check_command(exercise, answer=answer)
            result = check_quiz(exercise, answer, command)
        else:
            folder = Path(context if context is not None else exercise.submission)
            command = check_command(exercise, str(context if context is not None else exercise.submission), hidden=hidden)
            result = check_image(engine_factory(), exercise, folder, hidden, command)
    except Interrupted:
        raise
    except DockerlabError as error:  # bad input, refused context, engine down, unknown exercise
        result = CheckResult(exercise_name, "error", [error.explanation], command)
    result.seconds = time.monotonic() - started
    return result


# --- grading a folder of submissions -----------------------------------------------------------------

@dataclass
class Submission:
    """One student's answers: a folder of contexts (and answers.json), or a notebook read statically."""

    student: str
    folder: Path
    answers: dict = field(default_factory=dict)

    def context_for(self, exercise: Exercise) -> Path | None:
        for name in (exercise.submission, exercise.id):
            if (self.folder / name).is_dir():
                return self.folder / name
        return None


def notebook_submission(path: Path, workdir: Path) -> Submission:
    """Rebuild a notebook's files (`%%writefile` cells) and literal quiz answers, without running it."""
    import nbformat  # here: its import takes seconds (jsonschema) that the `dockerlab` CLI need not pay

    notebook = nbformat.read(path, as_version=4)
    folder = workdir / path.stem
    folder.mkdir(parents=True)
    answers = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        first, _, body = cell.source.partition("\n")
        if first.startswith("%%writefile "):
            target = (folder / first.split(maxsplit=1)[1].strip()).resolve()
            if folder.resolve() in target.parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body)
            continue
        answers.update(literal_answers(cell.source))
    return Submission(path.stem, folder, answers)


def literal_answers(source: str) -> dict:
    """`dockerlab.quiz("id", answer=...)` / `dockerlab.check("id", answer=...)` calls with literal answers."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("quiz", "check") and node.args:
            answer = next((kw.value for kw in node.keywords if kw.arg == "answer"), None)
            try:
                found[ast.literal_eval(node.args[0])] = ast.literal_eval(answer) if answer is not None else None
            except ValueError:
                continue
    return found


def find_submissions(submissions_dir: Path, workdir: Path) -> list[Submission]:
    found = []
    for path in sorted(submissions_dir.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            answers_file = path / ANSWERS_FILE
            answers = json.loads(answers_file.read_text()) if answers_file.is_file() else {}
            found.append(Submission(path.name, path, answers))
        elif path.suffix == ".ipynb":
            found.append(notebook_submission(path, workdir))
    return found


GRADE_COLUMNS = ["student", "exercise", "verdict", "checks_passed", "checks_total", "seconds", "feedback"]


def grade(engine_factory, submissions_dir: str | Path, out: str | Path, report: str | Path | None = None,
          exercise_ids: list[str] | None = None, limits: dict | None = None) -> list[dict]:
    """Run public + hidden checks on every submission; write the CSV (and a Markdown report)."""
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise DockerlabError(f"There is no folder '{submissions_dir}' of submissions to grade.")
    engine = engine_factory()
    probe = Session(engine)
    try:
        ensure_limits_bite(probe)  # refuse before grading anyone
    finally:
        probe.clean()
    ids = exercise_ids or all_exercise_ids()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dockerlab-grade-") as workdir:
        for submission in find_submissions(submissions_dir, Path(workdir)):
            for exercise_id in ids:
                exercise = load_exercise(exercise_id)
                result = grade_one(engine, exercise, submission, limits)
                rows.append({
                    "student": submission.student, "exercise": exercise_id, "verdict": result.verdict,
                    "checks_passed": result.checks_passed, "checks_total": result.checks_total,
                    "seconds": f"{result.seconds:.1f}", "feedback": " | ".join(result.feedback),
                })
    write_csv(rows, Path(out))
    write_report(rows, Path(report) if report else Path(out).with_suffix(".md"))
    return rows


def grade_one(engine: Engine, exercise: Exercise, submission: Submission, limits: dict | None) -> CheckResult:
    if exercise.is_quiz:
        if exercise.id not in submission.answers:
            return CheckResult(exercise.id, "failed", ["No answer submitted."], "", 0, 1)
        return check_submission(lambda: engine, exercise.id, answer=submission.answers[exercise.id], limits=limits)
    context = submission.context_for(exercise)
    if context is None:
        return CheckResult(exercise.id, "failed", [f"No folder '{exercise.submission}' submitted."], "",
                           0, len(exercise.checks(hidden=True)))
    return check_submission(lambda: engine, exercise.id, context=context, hidden=True, limits=limits)


def write_csv(rows: list[dict], out: Path) -> None:
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GRADE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def write_report(rows: list[dict], out: Path) -> None:
    """A Markdown report: one line per student (a verdict per exercise), then the feedback."""
    students = list(dict.fromkeys(row["student"] for row in rows))
    exercises = list(dict.fromkeys(row["exercise"] for row in rows))
    by_key = {(row["student"], row["exercise"]): row for row in rows}
    lines = ["# Grades", "", "| student | " + " | ".join(exercises) + " | passed |",
             "| --- |" + " --- |" * (len(exercises) + 1)]
    for student in students:
        cells = [by_key[(student, ex)]["verdict"] for ex in exercises]
        passed = sum(cell == "passed" for cell in cells)
        lines.append(f"| {student} | " + " | ".join(cells) + f" | {passed}/{len(exercises)} |")
    lines += ["", "## Feedback", ""]
    for row in rows:
        if row["verdict"] != "passed":
            problems = [line for line in row["feedback"].split(" | ") if not line.startswith("✓")]
            lines.append(f"- **{row['student']}**, {row['exercise']} ({row['verdict']}): " + " ".join(problems))
    out.write_text("\n".join(lines) + "\n")

"""Exercise definitions (`exercises/<id>/`) and the checks they declare, evaluated without I/O.

A folder holds `exercise.json` (title, kind, hints, limits, and for quizzes the question, options and
hashed answers), `statement.md`, `starter/` (files the learner starts from), `checks.json` (public
checks), `hidden/checks.json` (used only when grading) and the solution (`solution/`, `solution.md`).

A check is data, not code: `{"kind": "output", "equals": "...", "says": "...", "hint": "..."}`. It
inspects meaningful properties of the learner's image (config `Cmd`/`Entrypoint`, layers added,
`created_by`, files, bytes its layers hold that nobody can see, what a run prints and its exit code,
whether an edit keeps a layer's digest), never ids or image sizes. Quiz answers are compared as salted
SHA-256 digests, so neither the notebook nor the definition spells them out.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import BadAnswer, ExerciseNotFound
from ..model.limits import Limits, RunOutcome
from ..model.text import human_size

REPO = Path(__file__).resolve().parents[2]
QUIZ_KINDS = ("choice", "multiple", "short")


def exercises_dir() -> Path:
    """Where the definitions live: `$DOCKERLAB_EXERCISES`, else the kit's `exercises/`."""
    return Path(os.environ.get("DOCKERLAB_EXERCISES", REPO / "exercises"))


@dataclass
class Exercise:
    """One exercise as its folder defines it."""

    id: str
    folder: Path
    title: str
    kind: str  # "image" or a quiz kind: "choice", "multiple", "short"
    statement: str
    hints: list[str]
    spec: dict = field(repr=False)
    limits: Limits = field(default_factory=Limits)

    @property
    def is_quiz(self) -> bool:
        return self.kind in QUIZ_KINDS

    @property
    def submission(self) -> str:
        """The folder a learner works in (image exercises), relative to their notebook."""
        return self.spec.get("submission", self.id)

    @property
    def question(self) -> str:
        return self.spec.get("question", self.statement)

    @property
    def options(self) -> list[str]:
        return list(self.spec.get("options", []))

    def checks(self, hidden: bool = False) -> list[dict]:
        """The public checks, then (with `hidden`) the hidden ones."""
        found = _read_json(self.folder / "checks.json", [])
        if hidden:
            found += _read_json(self.folder / "hidden" / "checks.json", [])
        return found

    def solution(self) -> str:
        """The explanation and, for image exercises, the solution's files."""
        parts = []
        explanation = self.folder / "solution.md"
        if explanation.is_file():
            parts.append(explanation.read_text().strip())
        solution_dir = self.folder / "solution"
        if solution_dir.is_dir():
            for path in sorted(p for p in solution_dir.rglob("*") if p.is_file()):
                name = f"{self.submission}/{path.relative_to(solution_dir).as_posix()}"
                parts.append(f"{name}:\n{path.read_text().rstrip()}")
        return "\n\n".join(parts)

    def copy_starter(self, destination: Path) -> list[str]:
        """Copy the starter files into `destination`, never overwriting one; the names copied."""
        starter = self.folder / "starter"
        copied = []
        destination.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in starter.rglob("*") if p.is_file()) if starter.is_dir() else []:
            target = destination / path.relative_to(starter)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                copied.append(path.relative_to(starter).as_posix())
        return copied


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.is_file() else default


def load_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; `ExerciseNotFound` names the ones that exist."""
    folder = exercises_dir() / exercise_id
    if not exercise_id or "/" in exercise_id or not (folder / "exercise.json").is_file():
        known = ", ".join(all_exercise_ids()) or "none"
        raise ExerciseNotFound(f"There is no exercise '{exercise_id}'; the exercises are: {known}.")
    spec = json.loads((folder / "exercise.json").read_text())
    statement_file = folder / "statement.md"
    return Exercise(
        id=exercise_id,
        folder=folder,
        title=spec.get("title", exercise_id),
        kind=spec.get("kind", "image"),
        statement=statement_file.read_text().strip() if statement_file.is_file() else spec.get("question", ""),
        hints=list(spec.get("hints", [])),
        spec=spec,
        limits=Limits().replace(**spec.get("limits", {})),
    )


def all_exercise_ids() -> list[str]:
    root = exercises_dir()
    return sorted(p.parent.name for p in root.glob("*/exercise.json")) if root.is_dir() else []


# --- quizzes ----------------------------------------------------------------------------------------

def normalize(text: str) -> str:
    """Case, surrounding spaces, repeated spaces and a final full stop do not matter."""
    return " ".join(text.lower().split()).rstrip(".")


def answer_digest(exercise_id: str, answer: str | list[str]) -> str:
    """The salted digest stored in `exercise.json` for an answer (a list: the set of choices)."""
    if isinstance(answer, str):
        text = normalize(answer)
    else:
        text = "\n".join(sorted(normalize(choice) for choice in answer))
    return hashlib.sha256(f"dockerlab:{exercise_id}:{text}".encode()).hexdigest()


def _describe(value: Any) -> str:
    return {int: "a number", float: "a number", bool: "True/False", dict: "a dict",
            list: "a list", tuple: "a tuple", set: "a set"}.get(type(value), type(value).__name__)


def validate_answer(exercise: Exercise, answer: Any) -> str | list[str]:
    """The answer in the shape the quiz expects, or `BadAnswer` saying which shape that is."""
    options = {normalize(option): option for option in exercise.options}
    example = exercise.options[0] if exercise.options else "your answer"
    if exercise.kind in ("choice", "short"):
        if not isinstance(answer, str):
            what = "one of the options, as text" if exercise.kind == "choice" else "text"
            raise BadAnswer(
                f"The answer to '{exercise.id}' must be {what} (for example {example!r}), "
                f"not {_describe(answer)}."
            )
        if exercise.kind == "choice" and normalize(answer) not in options:
            raise BadAnswer(f"{answer!r} is not one of the options of '{exercise.id}': "
                            f"{', '.join(repr(o) for o in exercise.options)}.")
        return answer
    if isinstance(answer, str) or not isinstance(answer, (list, tuple, set)) or \
            not all(isinstance(choice, str) for choice in answer):
        raise BadAnswer(
            f"The answer to '{exercise.id}' must be a list of the options you pick "
            f"(for example [{example!r}]), not {_describe(answer)}."
        )
    unknown = [choice for choice in answer if normalize(choice) not in options]
    if unknown:
        raise BadAnswer(f"{unknown[0]!r} is not one of the options of '{exercise.id}': "
                        f"{', '.join(repr(o) for o in exercise.options)}.")
    return list(answer)


def answer_is_right(exercise: Exercise, answer: str | list[str]) -> bool:
    return answer_digest(exercise.id, answer) in exercise.spec.get("answers_sha256", [])


# --- checks on an image -----------------------------------------------------------------------------

class ImageSubject(Protocol):
    """What a check may ask of the learner's image (`grading.ImageUnderCheck` answers it for real)."""

    config: dict
    def run(self, command: list[str] | None) -> RunOutcome: ...
    def layers_added(self) -> int: ...
    def history(self) -> list[str]: ...
    def has_file(self, path: str) -> bool: ...
    def starts_from(self, image: str) -> bool: ...
    def wasted(self) -> tuple[int, list[str]]: ...
    def layer_with(self, path: str) -> str | None: ...
    def after_edit(self, path: str, append: str) -> "ImageSubject | None": ...


@dataclass
class Finding:
    """One check's result: `ok`, what it checks (`says`), and when not ok what is wrong and a hint."""

    ok: bool
    says: str
    problem: str = ""
    hint: str = ""
    limit: str | None = None  # a run hit a sandbox limit: the verdict is that limit
    run: RunOutcome | None = None


def evaluate(check: dict, subject: ImageSubject) -> Finding:
    """Apply one declared check to the learner's image."""
    kind = check["kind"]
    says = check.get("says", kind)
    hint = check.get("hint", "")
    if kind in ("output", "exit_code"):
        run = subject.run(check.get("command"))
        if run.limit:
            return Finding(False, says, limit=run.limit, run=run)
        if kind == "output":
            problem = explain_output_difference(run.stdout, check["equals"], run, subject.config)
        else:
            problem = "" if run.exit_code == check["equals"] else (
                f"The container exited with code {run.exit_code}, not {check['equals']}"
                + (f"; it printed: {_quote(run.output)}." if run.output.strip() else "."))
        return Finding(not problem, says, problem, hint, run=run)
    if kind == "config":
        value = subject.config.get(check["field"]) or None
        wanted = check["one_of"] if "one_of" in check else [check.get("equals")]
        ok = value in wanted
        expected = " or ".join(json.dumps(choice) for choice in wanted)
        return Finding(ok, says, "" if ok else f"The image's {check['field']} is {json.dumps(value)}, "
                                              f"not {expected}.", hint)
    if kind == "layers":
        added = subject.layers_added()
        ok = added <= check["added_at_most"]
        return Finding(ok, says, "" if ok else f"The image adds {added} layers to its base; at most "
                                              f"{check['added_at_most']} are needed.", hint)
    if kind == "history":
        steps = subject.history()
        ok = any(check["contains"] in step for step in steps)
        return Finding(ok, says, "" if ok else f"No build step contains {check['contains']!r}.", hint)
    if kind == "base":
        ok = subject.starts_from(check["image"])
        return Finding(ok, says, "" if ok else f"The image is not built on {check['image']}.", hint)
    if kind == "file":
        present = subject.has_file(check["path"])
        ok = present == check.get("exists", True)
        return Finding(ok, says, "" if ok else f"{check['path']} is {'missing from' if not present else 'in'} the image.", hint)
    if kind == "wasted":
        wasted, paths = subject.wasted()
        ok = wasted <= check["at_most"]
        named = f" ({', '.join('/' + path for path in paths[:3])}{', …' if len(paths) > 3 else ''})" if paths else ""
        return Finding(ok, says, "" if ok else (
            f"The image's own layers store {human_size(wasted)} that nobody can see any more{named}: a later "
            "step deleted or overwrote those files, but the layer that made them still holds their bytes."), hint)
    if kind == "layer_kept":
        return layer_kept(check, subject, says, hint)
    raise ValueError(f"unknown check kind {kind!r} in an exercise definition")


def layer_kept(check: dict, subject: ImageSubject, says: str, hint: str) -> Finding:
    """Edit one file of the context (`edit`, `append`), rebuild, and compare the digest (diff_id) of the
    layer holding `layer_with` before and after: the same digest means the build cache kept that layer.
    With `"kept": false` the layer must be built again instead (the edit must reach it)."""
    path, edited_file, want_kept = check["layer_with"], check["edit"], check.get("kept", True)
    before = subject.layer_with(path)
    if before is None:
        return Finding(False, says, f"No layer of the image adds or changes {path}.", hint)
    edited = subject.after_edit(edited_file, check.get("append", "\n"))
    if edited is None:
        return Finding(False, says, f"The folder has no file {edited_file} to edit; keep the starter's files.", hint)
    kept = edited.layer_with(path) == before
    if kept == want_kept:
        return Finding(True, says)
    if want_kept:
        problem = (f"After an edit to {edited_file}, the layer holding {path} was built again (its digest "
                   f"changed), so a step before it depends on {edited_file}.")
    else:
        problem = (f"After an edit to {edited_file}, the layer holding {path} came from the cache unchanged, "
                   f"so the step that makes it never sees {edited_file}.")
    return Finding(False, says, problem, hint)


def _quote(text: str, limit: int = 120) -> str:
    text = text.rstrip("\n")
    return repr(text if len(text) <= limit else text[:limit] + "…")


def explain_output_difference(got: str, want: str, run: RunOutcome, config: dict) -> str:
    """'' when `got` is exactly `want` (one final newline allowed), else what differs, kindly."""
    text = got[:-1] if got.endswith("\n") else got
    if text == want:
        return ""
    if not text.strip():
        cmd = config.get("Cmd") or []
        if run.command is None and cmd in (["sh"], ["/bin/sh"]):
            return ("The container printed nothing: the image still has its base image's CMD (sh), "
                    "so `docker run` without arguments starts a shell that exits at once. Add a CMD.")
        said = f" (on stderr: {_quote(run.stderr)})" if run.stderr.strip() else ""
        return f"The container printed nothing{said}; it should print exactly {want!r}."
    if text.strip() == want:
        return f"It printed the right words with extra spaces or blank lines around them: {_quote(got)}."
    if text.strip().strip("'\"") == want:
        return f"It printed the quotes too ({_quote(got)}): quotes in a shell-form CMD must be balanced."
    if normalize(text) == normalize(want):
        return f"It printed {_quote(got)}: the letters' case or the spacing differs from {want!r}."
    at = next((i for i, (a, b) in enumerate(zip(text, want)) if a != b), min(len(text), len(want)))
    return (f"It printed {_quote(got)} but should print exactly {want!r}; they first differ at "
            f"character {at + 1}.")

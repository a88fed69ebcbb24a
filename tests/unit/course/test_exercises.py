"""Exercise definitions, quizzes, feedback wording, contexts and student notebooks: pure logic, no engine."""
import json
from pathlib import Path

import nbformat
import requests
import pytest

from dockerlab.errors import BadAnswer, BuildFailed, CheckRefused, ExerciseNotFound, NotYetTried
from dockerlab.course.exercises import all_exercise_ids, answer_digest, answer_is_right, evaluate, explain_output_difference, load_exercise, validate_answer
from dockerlab.course.feedback import CheckResult, Progress
from dockerlab.course.grading import check_submission, literal_answers
from dockerlab.engine.sandbox import logged_output, measure_context, start_failure_code, start_failure_reason
from dockerlab.model.limits import Limits, RunOutcome
from dockerlab.course.student import student_version

GREETING = "Hello World!! My first Docker image"
CHECK_KINDS = {"output", "exit_code", "config", "layers", "history", "base", "file", "wasted", "layer_kept"}


def test_every_exercise_loads_with_known_check_kinds_and_a_solution():
    assert {"first-image", "image-or-container", "what-survives-rm"} <= set(all_exercise_ids())
    for exercise_id in all_exercise_ids():
        exercise = load_exercise(exercise_id)
        assert exercise.hints and exercise.solution()
        assert {check["kind"] for check in exercise.checks(hidden=True)} <= CHECK_KINDS
        if exercise.is_quiz:
            assert exercise.spec["answers_sha256"]


def test_quiz_definitions_do_not_spell_out_their_answers():
    text = (load_exercise("image-or-container").folder / "exercise.json").read_text()
    assert "answers_sha256" in text and "correct" not in text.lower()
    exercise = load_exercise("image-or-container")
    right = [option for option in exercise.options if answer_is_right(exercise, option)]
    assert right == ["A new container"]


def test_answers_match_whatever_the_case_spacing_or_order():
    survives = load_exercise("what-survives-rm")
    assert answer_is_right(survives, ["a named volume it used ", "THE IMAGE IT WAS MADE FROM"])
    assert not answer_is_right(survives, ["The image it was made from"])
    assert answer_is_right(load_exercise("list-stopped-containers"), "  docker   ps --all. ")
    assert answer_digest("x", ["b", "a"]) == answer_digest("x", ["a", "b"])


@pytest.mark.parametrize("exercise_id, answer, phrase", [
    ("image-or-container", 2, "not a number"),
    ("image-or-container", ["A new container"], "not a list"),
    ("image-or-container", "a banana", "is not one of the options"),
    ("what-survives-rm", "The image it was made from", "must be a list"),
    ("what-survives-rm", ["The image it was made from", 7], "must be a list"),
    ("list-stopped-containers", {"cmd": "docker ps -a"}, "not a dict"),
])
def test_a_wrong_kind_of_answer_is_refused_with_the_expected_shape(exercise_id, answer, phrase):
    with pytest.raises(BadAnswer, match=phrase):
        validate_answer(load_exercise(exercise_id), answer)


def test_no_answer_yet_is_not_yet_passed_and_a_bad_one_could_not_check():
    assert check_submission(None, "image-or-container").verdict == "failed"
    bad = check_submission(None, "image-or-container", answer=True)
    assert (bad.verdict, bad.exit_code) == ("error", 2)
    assert check_submission(None, "no-such").feedback == [
        "There is no exercise 'no-such'; the exercises are: " + ", ".join(all_exercise_ids()) + "."]


@pytest.mark.parametrize("printed, phrase", [
    (GREETING + "\n", ""),
    (GREETING, ""),
    ("", "printed nothing"),
    (f'"{GREETING}"\n', "quotes too"),
    (f"  {GREETING}\n\n", "extra spaces"),
    (GREETING.lower() + "\n", "case"),
    ("Hello World! My first Docker image\n", "character 13"),
])
def test_output_differences_are_named(printed, phrase):
    problem = explain_output_difference(printed, GREETING, RunOutcome(None, stdout=printed), {"Cmd": ["echo"]})
    assert (phrase in problem) if phrase else problem == ""


def test_an_image_still_running_the_base_cmd_is_told_to_add_a_cmd():
    problem = explain_output_difference("", GREETING, RunOutcome(None), {"Cmd": ["sh"]})
    assert "base image's CMD (sh)" in problem


class FakeImage:
    config = {"Cmd": ["/bin/sh", "-c", "echo hi"], "Entrypoint": None}

    def __init__(self, run):
        self._run = run

    def run(self, command):
        return self._run

    def layers_added(self):
        return 0


def test_a_run_that_hits_a_limit_makes_the_finding_carry_it():
    finding = evaluate({"kind": "output", "equals": "hi"}, FakeImage(RunOutcome(None, limit="timeout")))
    assert (finding.ok, finding.limit) == (False, "timeout")
    assert evaluate({"kind": "config", "field": "Entrypoint", "equals": None}, FakeImage(None)).ok
    assert evaluate({"kind": "layers", "added_at_most": 0}, FakeImage(None)).ok


class ArgumentsImage:
    """An image whose runs print the arguments they were given (like ENTRYPOINT ["echo"]), or its CMD."""

    def __init__(self, entrypoint, cmd):
        self.config = {"Entrypoint": entrypoint, "Cmd": cmd}
        self.commands = []

    def run(self, command):
        self.commands.append(command)
        words = command if command is not None else self.config["Cmd"]
        return RunOutcome(command, exit_code=0, stdout=" ".join(words) + "\n")


def test_an_output_check_can_run_the_image_with_arguments_after_its_name():
    check = {"kind": "output", "command": ["other", "words"], "equals": "other words"}
    image = ArgumentsImage(["echo"], ["Containers are made from images"])
    assert evaluate(check, image).ok and image.commands == [["other", "words"]]
    assert evaluate({"kind": "output", "command": None, "equals": "Containers are made from images"}, image).ok
    assert image.commands[-1] is None
    wrong = evaluate(dict(check, equals="Containers are made from images"), image)
    assert not wrong.ok and "'other words'" in wrong.problem


def test_a_config_check_accepts_any_of_several_values_and_names_them_when_wrong():
    check = {"kind": "config", "field": "Entrypoint", "one_of": [["echo"], ["/bin/echo"]]}
    assert evaluate(check, ArgumentsImage(["/bin/echo"], None)).ok
    shell_form = evaluate(check, ArgumentsImage(["/bin/sh", "-c", "echo"], None))
    assert not shell_form.ok
    assert shell_form.problem == 'The image\'s Entrypoint is ["/bin/sh", "-c", "echo"], not ["echo"] or ["/bin/echo"].'
    assert not evaluate({"kind": "config", "field": "Entrypoint", "equals": ["echo"]}, ArgumentsImage(None, None)).ok


class LoggedApi:
    def __init__(self, out=b"", err=b"", fails=False):
        self.out, self.err, self.fails = out, err, fails

    def logs(self, container_id, stdout, stderr):
        if self.fails:
            raise requests.exceptions.ConnectionError("engine gone")
        return self.out if stdout else self.err


class LoggedSession:
    def __init__(self, api):
        self.engine = type("Engine", (), {"api": api})()


def test_a_run_s_output_comes_from_the_log_so_a_line_is_never_counted_twice():
    doubled = b"hi\nhi\n"
    assert logged_output(LoggedSession(LoggedApi(b"hi\n", b"oops\n")), "c", doubled, b"oops\n") == (b"hi\n", b"oops\n")
    assert logged_output(LoggedSession(LoggedApi(fails=True)), "c", doubled, b"") == (doubled, b"")
    assert logged_output(LoggedSession(LoggedApi(b"x" * 10)), "c", b"x" * 4, b"") == (b"x" * 4, b"")  # the stream's cap stays


class WastefulImage:
    """An image whose first RUN made files that a later RUN deleted."""

    def __init__(self, wasted, paths):
        self._wasted = (wasted, paths)

    def wasted(self):
        return self._wasted


def test_wasted_check_names_the_hidden_files_and_their_bytes():
    check = {"kind": "wasted", "at_most": 0, "says": "no hidden bytes", "hint": "same RUN"}
    assert evaluate(check, WastefulImage(0, [])).ok
    finding = evaluate(check, WastefulImage(200000, ["tmp/tool.tar"]))
    assert not finding.ok and finding.hint == "same RUN"
    assert "200.0 kB that nobody can see any more (/tmp/tool.tar)" in finding.problem
    many = evaluate(check, WastefulImage(5, ["a", "b", "c", "d"])).problem
    assert "(/a, /b, /c, …)" in many
    assert evaluate({"kind": "wasted", "at_most": 10}, WastefulImage(5, ["a"])).ok


def test_result_json_and_exit_codes():
    assert CheckResult("x", "passed").exit_code == 0
    assert CheckResult("x", "timeout").exit_code == 1
    assert CheckResult("x", "error").exit_code == 2
    assert set(CheckResult("x", "failed", ["a"]).to_json()) == {"exercise", "passed", "verdict", "feedback"}


def test_hints_open_after_a_try_and_the_solution_after_a_hint():
    progress, exercise = Progress(), load_exercise("first-image")
    with pytest.raises(NotYetTried, match="hints open after a first attempt"):
        progress.next_hint(exercise)
    progress.record_attempt(CheckResult("first-image", "failed"))
    with pytest.raises(NotYetTried, match="Look at a hint first"):
        progress.solution(exercise)
    assert progress.next_hint(exercise).startswith("Hint 1 of 2")
    assert progress.next_hint(exercise).startswith("Hint 2 of 2")
    assert "CMD echo" in progress.solution(exercise)
    with pytest.raises(ExerciseNotFound):
        load_exercise("../etc")


def test_contexts_are_measured_and_refused_before_packing(tmp_path):
    limits = Limits(context_bytes=1000, context_files=3)
    (tmp_path / "Dockerfile").write_text("FROM dockerlab/busybox\n")
    assert measure_context(tmp_path, limits).files == 1
    (tmp_path / "inside").symlink_to("Dockerfile")
    measure_context(tmp_path, limits)  # a link inside the folder is fine
    (tmp_path / ".dockerignore").write_text("big\n")
    (tmp_path / "big").write_text("x" * 5000)
    assert "big" in measure_context(tmp_path, limits).skipped
    (tmp_path / "big2").write_text("x" * 5000)
    with pytest.raises(CheckRefused, match="too much to send"):
        measure_context(tmp_path, limits)
    (tmp_path / "big2").unlink()
    (tmp_path / "out").symlink_to("/etc/passwd")
    with pytest.raises(BuildFailed, match="outside the build context"):
        measure_context(tmp_path, limits)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BuildFailed, match="is empty"):
        measure_context(empty, limits)


def test_limits_take_an_exercise_s_overrides_and_ignore_unknown_keys():
    limits = Limits().replace(timeout=5, memory="32m", colour="red")
    assert (limits.timeout, limits.memory, limits.pids) == (5, "32m", 64)


def test_literal_quiz_answers_are_read_from_a_notebook_without_running_it():
    source = ('import dockerlab\ndockerlab.quiz("a", answer="x")\ndockerlab.check("b", answer=["y", "z"])\n'
              'dockerlab.quiz("c", answer=open("/etc/passwd").read())\n')
    assert literal_answers(source) == {"a": "x", "b": ["y", "z"]}
    assert literal_answers("this is not python (") == {}


def test_student_version_stubs_solutions_drops_hidden_checks_and_clears_outputs():
    cells = [
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\n    y = 2\n### END SOLUTION\nprint(x)", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["hidden-check"]}),
        nbformat.v4.new_code_cell("q()", metadata={"tags": ["solution"], "dockerlab": {"stub": "# Your turn\nq(None)"}}),
        nbformat.v4.new_code_cell("shown()", outputs=[nbformat.v4.new_output("stream", text="out")], execution_count=3),
    ]
    student = student_version(nbformat.v4.new_notebook(cells=cells))
    sources = [cell.source for cell in student.cells]
    assert sources[0].startswith("# Your turn") and "42" not in sources[0]
    assert sources[1] == "x = 1\n# Your turn: write your answer here, then run the check below.\nprint(x)"
    assert sources[2] == "# Your turn\nq(None)" and len(sources) == 4
    assert student.cells[3].outputs == [] and student.cells[3].execution_count is None
    assert cells[0].source == "answer = 42"  # the instructor notebook is not changed
    assert json.loads(nbformat.writes(student))["metadata"]["dockerlab"]["student_version"] is True


def test_every_answer_in_the_lessons_is_a_right_literal_so_a_notebook_can_be_graded():
    """`dockerlab grade` reads answers from notebooks without running them: only literals count."""
    notebooks = sorted((Path(__file__).resolve().parents[3] / "notebooks").glob("*.ipynb"))
    answered = set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "answer=" not in cell.source:
                continue
            answers = literal_answers(cell.source)
            assert answers, f"{path.name}: the answer is not a literal in:\n{cell.source}"
            for exercise_id, answer in answers.items():
                assert answer_is_right(load_exercise(exercise_id), answer), f"{path.name}: {exercise_id}"
            answered |= set(answers)
    assert {"sharing-name-for-registry", "layers-delete-later", "sharing-tag-or-digest"} <= answered


class EditableImage:
    """A fake image whose layer digests after an edit are given: the `layer_kept` check's subject."""

    def __init__(self, layers, after=None, has_file=True):
        self.layers, self.after, self.has_file_to_edit = layers, after, has_file
        self.edits = []

    def layer_with(self, path):
        return self.layers.get(path)

    def after_edit(self, path, append):
        self.edits.append((path, append))
        return EditableImage(self.after) if self.has_file_to_edit else None


LAYER_KEPT = {"kind": "layer_kept", "layer_with": "/deps/installed.txt", "edit": "app.sh", "append": "# x\n",
              "says": "the dependency layer is kept"}


def test_layer_kept_passes_only_when_the_layer_digest_survives_the_edit():
    kept = EditableImage({"/deps/installed.txt": "sha256:aaa"}, {"/deps/installed.txt": "sha256:aaa"})
    assert evaluate(LAYER_KEPT, kept).ok
    assert kept.edits == [("app.sh", "# x\n")]
    rebuilt = evaluate(LAYER_KEPT, EditableImage({"/deps/installed.txt": "sha256:aaa"}, {"/deps/installed.txt": "sha256:bbb"}))
    assert not rebuilt.ok and "was built again (its digest changed)" in rebuilt.problem
    wanted_rebuilt = {**LAYER_KEPT, "kept": False}
    assert evaluate(wanted_rebuilt, EditableImage({"/deps/installed.txt": "sha256:aaa"}, {"/deps/installed.txt": "sha256:bbb"})).ok
    cached = evaluate(wanted_rebuilt, kept)
    assert not cached.ok and "never sees app.sh" in cached.problem


def test_layer_kept_names_a_missing_layer_or_a_missing_file_to_edit():
    assert "No layer of the image adds or changes /deps/installed.txt" in evaluate(LAYER_KEPT, EditableImage({})).problem
    missing = evaluate(LAYER_KEPT, EditableImage({"/deps/installed.txt": "sha256:aaa"}, has_file=False))
    assert "no file app.sh to edit" in missing.problem
def test_a_command_that_cannot_start_gets_the_exit_code_docker_run_gives():
    not_found = 'OCI runtime create failed: exec: "other": executable file not found in $PATH: unknown'
    assert start_failure_code(Exception(not_found)) == 127
    assert start_failure_code(Exception("exec: /data/run.sh: permission denied")) == 126
    assert start_failure_code(Exception("driver failed programming external connectivity")) is None


def test_a_command_that_cannot_start_is_told_as_docker_run_tells_it_on_every_engine():
    docker_says = 'OCI runtime create failed: exec: "other": executable file not found in $PATH: unknown'
    podman_says = ('preparing container c6c38dad9a02 for attach: runc: runc create failed: unable to start container '
                   'process: exec: "other": executable file not found in $PATH: OCI runtime attempted to invoke a '
                   'command that was not found')  # Podman 5.4, recorded
    for said in (docker_says, podman_says):
        assert start_failure_code(Exception(said)) == 127
        assert start_failure_reason(Exception(said)) == 'exec: "other": executable file not found in $PATH'

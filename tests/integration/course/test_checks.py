"""`dockerlab check` against the real engine: every bad input gets its verdict, a sentence, and leaves nothing."""
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..bad_inputs import CASES, GREETING, QUIZ_CASES, RUN_CASES, TIMEOUT, make_context, run_case_expected, run_steps_capped
from dockerlab.engine import sandbox
from dockerlab.engine.buildx import uses_buildkit
from dockerlab.errors import Interrupted
from dockerlab.course.grading import check_submission
from dockerlab.model.labels import SESSION_LABEL

DOCKERLAB = str(Path(sys.executable).with_name("dockerlab"))
LIMITS = {"timeout": TIMEOUT}


def ours(engine) -> set[str]:
    """Containers and images of sessions this test process made (other helpers' sessions are ignored)."""
    prefix = f"{os.getpid()}-"
    listed = [("container", c) for c in engine.api.containers(all=True, filters={"label": SESSION_LABEL})]
    listed += [("image", i) for i in engine.api.images(all=True, filters={"label": SESSION_LABEL})]
    found = {f"{kind} {item['Id']}" for kind, item in listed if item["Labels"][SESSION_LABEL].startswith(prefix)}
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_first_image_answer_gets_its_verdict_and_leaves_nothing(case, engine, tmp_path):
    files, verdict, phrase = CASES[case]
    context = make_context(tmp_path / "context", files)
    before = ours(engine)
    result = check_submission(lambda: engine, "first-image", context=context, limits=LIMITS)
    assert result.verdict == verdict, repr(result)
    assert phrase in "\n".join(result.feedback), repr(result)
    assert "Traceback" not in repr(result)
    assert ours(engine) <= before


def cgroup_folders(cgroup: str) -> list[Path]:
    """The folders of a cgroup (one per v1 controller, or the v2 one) that exist on this machine."""
    return [folder for folder in [*Path("/sys/fs/cgroup").glob(f"*/{cgroup.strip('/')}"), Path("/sys/fs/cgroup") / cgroup.strip("/")]
            if folder.is_dir()]


def test_run_steps_are_capped_where_the_builder_takes_a_cgroup_parent(engine):
    """Both Docker builders (classic and BuildKit) take one and it bites; Buildah (Podman) gets none from the kit."""
    assert run_steps_capped(engine) == (engine.default_builder != "Buildah")


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_answer_with_run_steps_gets_the_verdict_of_this_builder(case, engine, tmp_path):
    verdict, phrase = run_case_expected(case, run_steps_capped(engine), uses_buildkit(engine))
    context = make_context(tmp_path / "context", RUN_CASES[case][0])
    before, cgroups_before = ours(engine), set(sandbox._build_cgroups.items())
    result = check_submission(lambda: engine, "first-image", context=context, limits={**LIMITS, "build_timeout": 10})
    assert result.verdict == verdict, repr(result)
    assert phrase in "\n".join(result.feedback), repr(result)
    assert ours(engine) <= before
    made = [cgroup for _, cgroup in set(sandbox._build_cgroups.items()) - cgroups_before if cgroup]
    assert [folder for cgroup in made for folder in cgroup_folders(cgroup)] == []  # the RUN steps' cgroups too


@pytest.mark.parametrize("case", list(QUIZ_CASES))
def test_quiz_answer_gets_its_verdict(case):
    exercise, answer, verdict, phrase = QUIZ_CASES[case]
    result = check_submission(None, exercise, answer=answer)  # a quiz never needs the engine
    assert result.verdict == verdict
    assert phrase in "\n".join(result.feedback)


def test_the_solution_passes_the_hidden_checks_too(engine):
    result = check_submission(lambda: engine, "first-image", hidden=True, limits=LIMITS,
                              context=Path(__file__).parents[3] / "exercises" / "first-image" / "solution")
    assert result.passed, repr(result)
    assert result.checks_passed == result.checks_total == 6


def test_an_entrypoint_answer_fails_only_hidden_checks(engine, tmp_path):
    context = make_context(tmp_path / "c", {"Dockerfile": f'FROM dockerlab/busybox\nENTRYPOINT ["echo", "{GREETING}"]\n'})
    assert check_submission(lambda: engine, "first-image", context=context, limits=LIMITS).passed
    hidden = check_submission(lambda: engine, "first-image", context=context, hidden=True, limits=LIMITS)
    assert hidden.verdict == "failed"
    assert any("ENTRYPOINT" in line for line in hidden.feedback)


def test_cli_exit_codes_and_json(tmp_path):
    right = make_context(tmp_path / "right", CASES["right answer"][0])
    wrong = make_context(tmp_path / "wrong", CASES["wrong text"][0])
    for context, code, verdict in ((right, 0, "passed"), (wrong, 1, "failed"), (tmp_path / "absent", 1, "build-error")):
        done = subprocess.run([DOCKERLAB, "check", "first-image", "--context", str(context), "--json"],
                              capture_output=True, text=True)
        answer = json.loads(done.stdout)
        assert (done.returncode, answer["verdict"]) == (code, verdict)
        assert set(answer) == {"exercise", "passed", "verdict", "feedback"}
    unknown = subprocess.run([DOCKERLAB, "check", "no-such-exercise"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert "There is no exercise 'no-such-exercise'" in unknown.stdout


def test_engine_down_is_could_not_check(tmp_path):
    context = make_context(tmp_path / "c", CASES["right answer"][0])
    done = subprocess.run([DOCKERLAB, "check", "first-image", "--context", str(context)], capture_output=True,
                          text=True, env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert done.returncode == 2
    assert "Could not reach the Docker engine" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_ctrl_c_during_a_run_removes_everything_the_check_made(engine, tmp_path):
    context = make_context(tmp_path / "loop", CASES["CMD loops forever"][0])
    before = ours(engine)
    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(Interrupted):
            check_submission(lambda: engine, "first-image", context=context, limits={"timeout": 30})
    finally:
        timer.cancel()
    assert ours(engine) <= before


def test_checks_refuse_where_limits_do_not_bite(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_limits_bite", {engine.host: False})
    context = make_context(tmp_path / "c", CASES["right answer"][0])
    result = check_submission(lambda: engine, "first-image", context=context, limits=LIMITS)
    assert result.verdict == "error"
    assert "will not run untrusted code" in result.feedback[0]


def test_file_and_history_checks_look_inside_the_image_without_running_it(engine, tmp_path, monkeypatch):
    exercise = tmp_path / "exercises" / "copy-a-file"
    (exercise / "hidden").mkdir(parents=True)
    (exercise / "exercise.json").write_text(json.dumps({"title": "Copy a file", "hints": ["COPY it."]}))
    (exercise / "checks.json").write_text(json.dumps([
        {"kind": "file", "path": "/srv/index.html", "says": "the image holds /srv/index.html"},
        {"kind": "file", "path": "/srv/secret", "exists": False, "says": "no secret in the image"},
        {"kind": "history", "contains": "COPY", "says": "a COPY step made it"},
        {"kind": "layers", "added_at_most": 1, "says": "one layer added"},
    ]))
    monkeypatch.setenv("DOCKERLAB_EXERCISES", str(tmp_path / "exercises"))
    context = make_context(tmp_path / "c", {"Dockerfile": "FROM dockerlab/busybox\nCOPY index.html secret /srv/\n",
                                            "index.html": "<h1>hi</h1>\n", "secret": "s3cret\n"})
    before = ours(engine)
    result = check_submission(lambda: engine, "copy-a-file", context=context, limits=LIMITS)
    assert result.verdict == "failed"
    assert result.feedback[:2] == ["✓ the image holds /srv/index.html",
                                   "✗ no secret in the image: /srv/secret is in the image."]
    assert result.checks_passed == 3
    assert ours(engine) <= before


def test_deleting_in_a_later_run_fails_the_wasted_check_and_one_run_passes(engine):
    exercise = Path(__file__).parents[3] / "exercises" / "layers-tidy-download"
    before = ours(engine)
    starter = check_submission(lambda: engine, "layers-tidy-download", context=exercise / "starter", limits=LIMITS)
    assert starter.verdict == "failed" and starter.checks_passed == 2, repr(starter)
    assert any("200.0 kB that nobody can see any more (/tmp/tool.tar)" in line for line in starter.feedback)
    solution = check_submission(lambda: engine, "layers-tidy-download", context=exercise / "solution",
                                hidden=True, limits=LIMITS)
    assert solution.passed and solution.checks_total == 5, repr(solution)
    assert ours(engine) <= before


def test_layers_that_cannot_be_read_are_could_not_check_never_a_pass(engine, monkeypatch):
    from dockerlab.course import grading
    from dockerlab.model.layers import build_image_layers

    unread = build_image_layers("x", ["sha256:a"], [{"created_by": "RUN x"}])  # no files read
    monkeypatch.setattr(grading, "load_image_layers", lambda *args, **kwargs: unread)
    before = ours(engine)
    result = check_submission(lambda: engine, "layers-tidy-download", limits=LIMITS,
                              context=Path(__file__).parents[3] / "exercises" / "layers-tidy-download" / "solution")
    assert result.verdict == "error", repr(result)
    assert "cannot count wasted bytes" in result.feedback[0]
    assert ours(engine) <= before


DEFAULT = "Containers are made from images"
ENTRYPOINT_CASES = {
    "exec-form entrypoint and cmd": ('ENTRYPOINT ["echo"]\nCMD ["Containers are made from images"]\n', []),
    "cmd only": (f'CMD echo "{DEFAULT}"\n', ["other words", "ENTRYPOINT is echo"]),
    "shell-form entrypoint": (f'ENTRYPOINT echo "{DEFAULT}"\n', ["other words", "ENTRYPOINT is echo"]),
}


@pytest.mark.parametrize("case", list(ENTRYPOINT_CASES))
def test_the_entrypoint_exercise_runs_the_image_with_and_without_arguments(case, engine, tmp_path):
    lines, failing = ENTRYPOINT_CASES[case]
    context = make_context(tmp_path / "c", {"Dockerfile": "FROM dockerlab/busybox\n" + lines})
    before = ours(engine)
    result = check_submission(lambda: engine, "entrypoint-cmd", context=context, limits=LIMITS, hidden=not failing)
    assert result.passed == (not failing), repr(result)
    wrong = [line for line in result.feedback if line.startswith("✗")]
    assert len(wrong) == len(failing) and all(what in line for what, line in zip(failing, wrong)), repr(result)
    assert ours(engine) <= before

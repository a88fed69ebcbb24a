"""Lesson 06's exercise `dockerignore-secrets` on the real engine: the builder honours the learner's
.dockerignore (either builder), and only leaving the files out of the build passes."""
import shutil
from pathlib import Path

import pytest

from dockerlab.course.grading import check_submission

from .test_checks import LIMITS, ours

EXERCISE = Path(__file__).parents[3] / "exercises" / "dockerignore-secrets"


@pytest.fixture
def answer(tmp_path):
    """A copy of the starter folder, for one answer."""
    folder = tmp_path / "my-dockerignore"
    shutil.copytree(EXERCISE / "starter", folder)
    return folder


def test_the_starter_fails_naming_the_secret_in_the_image(engine, answer):
    before = ours(engine)
    result = check_submission(lambda: engine, "dockerignore-secrets", context=answer, limits=LIMITS)
    assert result.verdict == "failed", repr(result)
    assert "✗ the image does not hold /app/secret.env: /app/secret.env is in the image." in result.feedback
    assert ours(engine) <= before


def test_the_solution_passes_the_hidden_checks_too(engine):
    result = check_submission(lambda: engine, "dockerignore-secrets", context=EXERCISE / "solution", hidden=True,
                              limits=LIMITS)
    assert result.passed and result.checks_total == 5, repr(result)


def test_deleting_the_secret_in_a_later_step_fails_the_hidden_checks(engine, answer):
    (answer / ".dockerignore").write_text("notes/\n")
    (answer / "Dockerfile").write_text("FROM dockerlab/busybox\nCOPY . /app\nRUN rm /app/secret.env\n")
    limits = {**LIMITS, "allow_run": True}
    public = check_submission(lambda: engine, "dockerignore-secrets", context=answer, limits=limits)
    hidden = check_submission(lambda: engine, "dockerignore-secrets", context=answer, hidden=True, limits=limits)
    assert public.passed, repr(public)
    assert hidden.verdict == "failed" and any("one layer (the COPY)" in line for line in hidden.feedback), repr(hidden)


def test_ignoring_everything_loses_the_app(engine, answer):
    (answer / ".dockerignore").write_text("*\n!Dockerfile\n")
    result = check_submission(lambda: engine, "dockerignore-secrets", context=answer, limits=LIMITS)
    assert result.verdict == "failed"
    assert any(line.startswith("✗ the image still holds /app/app.sh") for line in result.feedback), repr(result)

"""`lab.build` against the real engine: progress, cache, and every way a build can fail."""
import secrets
import time

import pytest

from dockerlab.engine.build import stream_build
from dockerlab.engine.connection import connect_engine
from dockerlab.errors import BuildFailed, EngineUnavailable

from ..conftest import HELLO, snapshot, write_context
from ..proxy import CuttableProxy


def containers_running(engine, marker: str) -> list:
    """Containers (intermediate build containers included) whose command mentions `marker`."""
    return [c for c in engine.client.containers.list(all=True)
            if marker in " ".join(c.attrs["Config"].get("Cmd") or [])]


def test_build_streams_steps_and_labels_the_image(lab):
    result = lab.build(HELLO, tag="dockerlab-test-hello")
    assert [s.instruction.split()[0] for s in result.steps] == ["FROM", "CMD", "LABEL"]
    image = lab.client.images.get("dockerlab-test-hello")
    assert image.labels["dockerlab.session"] == lab.session.id
    assert repr(result) == f"$ docker build -t dockerlab-test-hello {HELLO}\nBuilt dockerlab-test-hello in 3 steps."


def test_build_with_a_learner_label_labels_the_image_and_says_so(lab):
    result = lab.build(HELLO, tag="dockerlab-test-hello-labelled", labels={"lesson.topic": "build"})
    image = lab.client.images.get("dockerlab-test-hello-labelled")
    assert image.labels["lesson.topic"] == "build" and image.labels["dockerlab.session"] == lab.session.id
    assert result.command == f"$ docker build -t dockerlab-test-hello-labelled --label lesson.topic=build {HELLO}"


def test_rebuild_takes_unchanged_steps_from_the_cache(lab, tmp_path):
    context = write_context(tmp_path / "ctx", f"""
        FROM dockerlab/busybox
        RUN echo {secrets.token_hex(4)} > /stamp
        CMD cat /stamp
    """)
    first = lab.build(context, tag="dockerlab-test-cache")
    second = lab.build(context, tag="dockerlab-test-cache")
    assert [s.cached for s in first.steps][1] is False
    assert [s.cached for s in second.steps][:2] == [False, True]  # FROM is never "from the cache"
    assert second.image_id == first.image_id


def test_syntax_error_is_one_sentence_and_leaves_files_alone(lab, tmp_path):
    context = write_context(tmp_path / "ctx", "FORM dockerlab/busybox\n")
    before = snapshot(context)
    with pytest.raises(BuildFailed) as caught:
        lab.build(context, tag="dockerlab-test-bad")
    # The engine's own words differ by version ("line 1" on 20.10; "on line 1", "(did you mean FROM?)" on 26);
    # Buildah reads a line only when its step comes, so it finds no FROM at all.
    sentence = caught.value.explanation
    if lab.engine.backend == "podman":
        assert sentence == ("The Dockerfile could not be read: no FROM statement found. "
                            "Check the spelling of the first instruction: a Dockerfile starts with FROM.")
    else:
        assert sentence.startswith("The Dockerfile could not be read: dockerfile parse error")
        assert "unknown instruction: FORM" in sentence
        assert sentence.endswith(". Check the spelling of that line's instruction.")
    assert "\n" not in sentence
    assert snapshot(context) == before


def test_misspelt_instruction_after_from_is_named_on_every_engine(lab, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM dockerlab/busybox\nCPOY a /a\n")
    with pytest.raises(BuildFailed) as caught:
        lab.build(context, tag="dockerlab-test-bad")
    sentence = caught.value.explanation
    assert sentence.startswith("The Dockerfile could not be read: ") and "unknown instruction: CPOY" in sentence
    assert sentence.endswith(". Check the spelling of that line's instruction.") and "\n" not in sentence


def test_failing_run_names_the_step_shows_its_output_and_leaves_no_container(lab, tmp_path):
    marker = f"marker-{secrets.token_hex(4)}"
    context = write_context(tmp_path / "ctx", f"""
        FROM dockerlab/busybox
        RUN echo "{marker} is about to fail" && exit 3
    """)
    with pytest.raises(BuildFailed) as caught:
        lab.build(context, tag="dockerlab-test-fail")
    error = caught.value
    assert "step 2/3 (RUN echo" in error.explanation and "exited with code 3" in error.explanation
    assert error.log_tail == [f"{marker} is about to fail"]
    assert containers_running(lab.engine, marker) == []


def test_missing_dockerfile_is_refused_before_building(lab, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildFailed, match="There is no 'Dockerfile' in"):
        lab.build(tmp_path / "empty")


def test_unknown_base_image_says_no_registry_answers(lab, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM nosuch/image:1\nCMD true\n")
    with pytest.raises(BuildFailed) as caught:
        lab.build(context)
    assert "the image 'nosuch/image:1' is not on this engine and no registry answers" in caught.value.explanation


def test_engine_going_down_mid_build_is_one_sentence_and_leaves_nothing(engine, tmp_path, monkeypatch):
    marker = f"marker-{secrets.token_hex(4)}"
    context = write_context(tmp_path / "ctx", f"""
        FROM dockerlab/busybox
        RUN echo {marker} && sleep 4
        CMD true
    """)
    before = snapshot(context)
    proxy = CuttableProxy()
    monkeypatch.setenv("DOCKER_HOST", proxy.docker_host)
    proxied = connect_engine()

    def cut_when_running(progress, event):
        if progress.current and progress.current.number == 2 and marker in "".join(progress.current.log):
            proxy.cut()

    with pytest.raises(EngineUnavailable, match="stopped answering while trying to build"):
        stream_build(proxied, context, None, {"dockerlab.session": "test-cut"}, on_progress=cut_when_running)
    assert snapshot(context) == before
    deadline = time.monotonic() + 30  # the engine cancels the build and removes its container
    while containers_running(engine, marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert containers_running(engine, marker) == []
    assert engine.client.images.list(filters={"label": "dockerlab.session=test-cut"}) == []

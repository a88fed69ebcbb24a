"""`lab.build` against the real engine: progress, cache, and every way a build can fail."""
import secrets
import time

import pytest

from dockerlab.engine.build import stream_build
from dockerlab.engine.buildx import buildx_missing, uses_buildkit
from dockerlab.engine.connection import connect_engine
from dockerlab.errors import BuildFailed, EngineUnavailable

from ..conftest import HELLO, snapshot, write_context
from ..proxy import CuttableProxy


def containers_running(engine, marker: str) -> list:
    """Containers (intermediate build containers included) whose command mentions `marker`: one listing, so a
    container the builder removes meanwhile is no error."""
    return [c["Id"] for c in engine.api.containers(all=True) if marker in (c.get("Command") or "")]


def test_build_streams_steps_and_labels_the_image(lab):
    result = lab.build(HELLO, tag="dockerlab-test-hello")
    assert [s.instruction.split()[0] for s in result.steps] == ["FROM", "CMD"]  # the kit's label is no step
    image = lab.client.images.get("dockerlab-test-hello")
    assert image.labels["dockerlab.session"] == lab.session.id
    assert repr(result) == f"$ docker build -t dockerlab-test-hello {HELLO}\nBuilt dockerlab-test-hello in 2 steps."


def test_the_engines_default_builder_builds(lab):
    """BuildKit (through buildx) where the engine's default builder is BuildKit, the classic builder elsewhere."""
    assert uses_buildkit(lab.engine) == (lab.engine.default_builder == "BuildKit")
    result = lab.build(HELLO, tag="dockerlab-test-default-builder")
    assert result.builder == lab.engine.default_builder  # what the lessons print next to `docker build`'s builder


def test_without_the_docker_command_the_kit_falls_back_to_the_classic_builder(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    buildx_missing.cache_clear()
    try:
        assert not uses_buildkit(lab.engine)
        result = lab.build(HELLO, tag="dockerlab-test-classic")
    finally:
        buildx_missing.cache_clear()
    assert [s.instruction.split()[0] for s in result.steps] == ["FROM", "CMD"]
    assert result.builder == ("Buildah" if lab.engine.default_builder == "Buildah" else "classic")
    assert lab.client.images.get("dockerlab-test-classic").labels["dockerlab.session"] == lab.session.id


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
    assert "step 2/2 (RUN echo" in error.explanation and "exited with code 3" in error.explanation
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


BUILDKIT_ONLY = {
    "heredoc": "FROM dockerlab/busybox\nRUN <<EOF\necho from a heredoc > /said\nEOF\nCMD cat /said\n",
    "cache mount": "FROM dockerlab/busybox\nRUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /said\n"
                   "CMD cat /said\n",
}


@pytest.mark.parametrize("case", list(BUILDKIT_ONLY))
def test_buildkit_only_dockerfile_builds_where_buildkit_is_the_builder(lab, tmp_path, case):
    context = write_context(tmp_path / "ctx", BUILDKIT_ONLY[case])
    if not uses_buildkit(lab.engine):
        with pytest.raises(BuildFailed, match="BuildKit-only syntax .* classic builder"):
            lab.build(context, tag="dockerlab-test-buildkit-only")
        return
    result = lab.build(context, tag="dockerlab-test-buildkit-only")
    assert [step.instruction.split()[0] for step in result.steps] == ["FROM", "RUN", "CMD"]
    said = lab.run("dockerlab-test-buildkit-only", name="said")
    assert said.output.strip() in ("from a heredoc", "cached")


def test_cache_hits_and_step_output_are_reported_on_every_builder(lab, tmp_path):
    marker = f"marker-{secrets.token_hex(4)}"
    context = write_context(tmp_path / "ctx", f"""
        FROM dockerlab/busybox
        RUN echo {marker}
        ENV WHO=me
        CMD echo $WHO
    """)
    first = lab.build(context, tag="dockerlab-test-steps")
    assert [(s.instruction, s.cached) for s in first.steps][1:] == [
        (f"RUN echo {marker}", False), ("ENV WHO=me", False), ("CMD echo $WHO", False)]
    assert marker in first.steps[1].log
    second = lab.build(context, tag="dockerlab-test-steps")
    assert [s.cached for s in second.steps][1:] == [True, True, True]
    assert second.cache().rows == [["1/4", "FROM dockerlab/busybox", "-"],
                                   ["2/4", f"RUN echo {marker}", "reused (cache)"],
                                   ["3/4", "ENV WHO=me", "reused (cache)"], ["4/4", "CMD echo $WHO", "reused (cache)"]]


def test_multi_stage_build_keeps_only_the_last_stage_and_leaves_no_stage_behind(lab, tmp_path):
    context = write_context(tmp_path / "ctx", """
        FROM dockerlab/busybox AS build
        RUN echo built-in-stage-one > /made.txt
        FROM dockerlab/busybox
        COPY --from=build /made.txt /made.txt
        CMD cat /made.txt
    """)
    result = lab.build(context, tag="dockerlab-test-multistage")
    assert [s.instruction.split()[0] for s in result.steps] == ["FROM", "RUN", "FROM", "COPY", "CMD"]
    assert lab.run("dockerlab-test-multistage", name="multi").output.strip() == "built-in-stage-one"
    lab.clean()
    assert lab.dangling().rows == []


def test_rebuild_leaves_the_old_image_dangling_and_prune_removes_it(lab, tmp_path):
    context = write_context(tmp_path / "ctx", f"FROM dockerlab/busybox\nRUN echo {secrets.token_hex(4)} > /x\n")
    first = lab.build(context, tag="dockerlab-test-dangling")
    write_context(tmp_path / "ctx", f"FROM dockerlab/busybox\nRUN echo {secrets.token_hex(4)} > /x\n")
    second = lab.build(context, tag="dockerlab-test-dangling")
    assert second.image_id != first.image_id
    if first.image_id not in {item["Id"] for item in lab.engine.api.images(filters={"dangling": True})}:
        assert lab.dangling().rows == []  # this engine removed the old image when its name moved
        return
    assert [row[2] for row in lab.dangling().rows] == [first.image_id.removeprefix("sha256:")[:12]]
    assert "Removed 1 dangling image(s)" in str(lab.prune())
    assert lab.dangling().rows == []


def test_history_shows_missing_where_the_engine_keeps_no_image_for_a_step(lab, tmp_path):
    context = write_context(tmp_path / "ctx", f"FROM dockerlab/busybox\nRUN echo {secrets.token_hex(4)} > /x\nCMD cat /x\n")
    result = lab.build(context, tag="dockerlab-test-history")
    rows = lab.history("dockerlab-test-history").rows
    assert rows[0][0] == result.image_id.removeprefix("sha256:")[:12]  # the top row is the image itself
    assert [row[1].split()[0] for row in rows[:2]] == ["CMD", "RUN"]  # the kit's label is no step
    if uses_buildkit(lab.engine):  # BuildKit keeps no image per step: only the top one has an id
        assert {row[0] for row in rows[1:]} == {"<missing>"}
    elif lab.engine.backend == "podman":  # an id where an image here has the same layers, on its newest step only
        here = {item["Id"].removeprefix("sha256:")[:12] for item in lab.engine.api.images(all=True)}
        assert rows[1][0] == "<missing>"  # the RUN step's layer is the top one's
        assert all(row[0] in here | {"<missing>"} for row in rows)
    else:  # the classic builder keeps one per step
        assert all(len(row[0]) == 12 for row in rows)


def test_commit_of_a_container_from_a_built_image_adds_one_layer(lab, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM dockerlab/busybox\nRUN echo base > /base.txt\n")
    lab.build(context, tag="dockerlab-test-commit-base")
    lab.run("dockerlab-test-commit-base", ["sh", "-c", "echo more > /more.txt"], name="to-commit")
    said = lab.commit("to-commit", "dockerlab-test-committed")
    assert "+ 1 new layer" in str(said)
    assert lab.run("dockerlab-test-committed", ["cat", "/base.txt", "/more.txt"], name="committed").output.split() == [
        "base", "more"]

"""BuildKit's rawjson build stream folded into `BuildProgress`: recorded from `docker buildx build` 0.13."""
from pathlib import Path

from dockerlab.engine.buildx import RawJsonReader
from dockerlab.model.buildkit import BuildKitProgress, dockerfile_instructions

RECORDED = Path(__file__).with_name("recorded")
MULTISTAGE = (RECORDED / "multistage.Dockerfile").read_text()


def fold(recording: str, dockerfile: str, chunk: int = 700) -> tuple[BuildKitProgress, RawJsonReader]:
    """Feed a recorded stderr in pieces (events arrive split across reads), as `buildx_build` does."""
    text = (RECORDED / recording).read_text()
    progress, reader = BuildKitProgress(instructions=dockerfile_instructions(dockerfile)), RawJsonReader()
    for start in range(0, len(text), chunk):
        for event in reader.feed(text[start:start + chunk]):
            progress.apply(event)
    reader.close()
    return progress, reader


def test_instructions_join_continuations_skip_comments_and_heredoc_bodies_and_know_their_stage():
    found = dockerfile_instructions(
        "# syntax=docker/dockerfile:1\nARG BASE=dockerlab/busybox\nFROM $BASE AS build\n"
        "RUN echo a && \\\n    # a comment inside\n    echo b\n"
        "RUN <<EOF\necho in a heredoc\nEOF\n\nfrom dockerlab/busybox\nCOPY --from=build /a /a\n")
    assert [(i.number, i.text, i.stage, i.stage_name) for i in found] == [
        (1, "FROM $BASE AS build", 0, "build"), (2, "RUN echo a && echo b", 0, "build"),
        (3, "RUN <<EOF", 0, "build"), (4, "from dockerlab/busybox", 1, "stage-1"),
        (5, "COPY --from=build /a /a", 1, "stage-1")]


def test_an_escape_directive_changes_the_continuation_character():
    assert [i.text for i in dockerfile_instructions("# escape=`\nFROM x\nRUN a `\n  b\n")] == ["FROM x", "RUN a b"]


def test_first_build_of_a_multi_stage_dockerfile_has_every_instruction_as_a_step_with_its_output():
    progress, reader = fold("buildx-multistage-first.rawjson", MULTISTAGE)
    assert reader.error == "" and progress.error == ""
    progress.finish()
    assert [(s.number, s.instruction, s.cached) for s in progress.steps] == [
        (1, "FROM dockerlab/busybox AS build", False), (2, "RUN echo made-in-stage-one > /made.txt", False),
        (3, "FROM dockerlab/busybox", False), (4, "COPY --from=build /made.txt /made.txt", False),
        (5, "ENV WHO=me", False), (6, 'RUN echo "hello $WHO" && cat /made.txt', False), (7, "CMD cat /made.txt", False)]
    assert progress.total_steps == 7
    assert progress.steps[5].log == ["hello me", "made-in-stage-one"]


def test_rebuild_marks_cache_hits_and_metadata_steps_follow_the_step_before_them():
    progress, _ = fold("buildx-multistage-cached.rawjson", MULTISTAGE, chunk=97)
    progress.finish()
    assert [s.cached for s in progress.steps] == [False, True, False, True, True, True, True]
    assert "CACHED [stage-1 3/3] RUN echo \"hello me\" &&     cat /made.txt" in progress.log


def test_failing_run_is_the_current_step_with_its_output_and_the_exit_code_in_the_error():
    progress, reader = fold("buildx-run-fails.rawjson", "FROM dockerlab/busybox\nRUN echo about to fail && exit 3\n")
    assert (progress.current.number, progress.current.instruction) == (2, "RUN echo about to fail && exit 3")
    assert progress.current.log == ["about to fail"]
    assert reader.error == 'process "/bin/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3'
    assert reader.text[0] == "Dockerfile:2"


def test_a_base_image_that_cannot_be_resolved_fails_at_its_from_step():
    progress, reader = fold("buildx-no-base.rawjson", "FROM nosuch/image:1\nCMD true\n")
    assert progress.current.instruction == "FROM nosuch/image:1"
    assert reader.error.startswith("nosuch/image:1: failed to resolve source metadata for docker.io/nosuch/image:1")

"""Folding Buildah's build stream (Podman 5.4's `docker build`) into steps: pure logic on recorded streams."""
import pytest

from dockerlab.engine.build import build_failure
from dockerlab.model.buildah import BuildahProgress
from dockerlab.model.labels import without_kit_label_value
from dockerlab.model.layers import display_instruction, without_builder_mount_points
from dockerlab.model.unionfs import Entry, LayerFiles

# Recorded from Podman 5.4.2's compat API building the same Dockerfile twice: the second run hit the cache.
COLD_BUILD = [
    {"stream": "STEP 1/4: FROM dockerlab/busybox\n"},
    {"stream": "STEP 2/4: RUN echo hi > /a\n"},
    {"stream": "--> c069ae6e5728\n"},
    {"stream": 'STEP 3/4: CMD ["sh"]\n'},
    {"stream": "--> 295b7df28e1d\n"},
    {"stream": 'STEP 4/4: LABEL "dockerlab.session"="x1"\n'},
    {"stream": "COMMIT docker.io/library/t1\n"},
    {"stream": "--> a593e2e04b75\n"},
    {"stream": "Successfully tagged docker.io/library/t1:latest\n"},
    {"stream": "a593e2e04b75fcf66b6c1d1e31cf5b41a98da92a4379ed617920e9cfbf1b7a94\n"},
    {"aux": {"ID": "sha256:a593e2e04b75fcf66b6c1d1e31cf5b41a98da92a4379ed617920e9cfbf1b7a94"}},
    {"stream": "Successfully built a593e2e04b75\n"},
    {"stream": "Successfully tagged t1\n"},
]
WARM_BUILD = [
    {"stream": "STEP 1/4: FROM dockerlab/busybox\n"},
    {"stream": "STEP 2/4: RUN echo hi > /a\n"},
    {"stream": "--> Using cache c069ae6e57285a17fd37cb1d6f33cba64b77d7b89e46602a5ea95b3c122a4ab9\n"},
    {"stream": "--> c069ae6e5728\n"},
    {"stream": 'STEP 3/4: CMD ["sh"]\n'},
    {"stream": "--> Using cache 295b7df28e1dc4547c0dccb332288e8e8c190cfaac075ac821cb80da20095022\n"},
    {"stream": "--> 295b7df28e1d\n"},
    {"stream": 'STEP 4/4: LABEL "dockerlab.session"="x1"\n'},
    {"stream": "--> Using cache a593e2e04b75fcf66b6c1d1e31cf5b41a98da92a4379ed617920e9cfbf1b7a94\n"},
    {"stream": "COMMIT docker.io/library/t1:latest\n"},
    {"stream": "--> a593e2e04b75\n"},
    {"aux": {"ID": "sha256:a593e2e04b75fcf66b6c1d1e31cf5b41a98da92a4379ed617920e9cfbf1b7a94"}},
    {"stream": "Successfully built a593e2e04b75\n"},
]
MULTI_STAGE = [
    {"stream": "[1/2] STEP 1/2: FROM dockerlab/busybox AS a\n"},
    {"stream": "[1/2] STEP 2/2: RUN echo a > /a\n"},
    {"stream": "--> b2fbddc73f12\n"},
    {"stream": "[2/2] STEP 1/3: FROM dockerlab/busybox\n"},
    {"stream": "[2/2] STEP 2/3: COPY --from=a /a /a\n"},
    {"stream": "--> 51c1e8e69b98\n"},
    {"stream": '[2/2] STEP 3/3: LABEL "dockerlab.session"="x1"\n'},
    {"stream": "[2/2] COMMIT\n"},
    {"stream": "--> 190b3a88d93b\n"},
    {"aux": {"ID": "sha256:190b3a88d93b02d9afd1931b48d04037fa8aa5f8993d7a128f1d7ad4a8a32113"}},
]
FAILING_RUN = [
    {"stream": "STEP 1/3: FROM dockerlab/busybox\n"},
    {"stream": "STEP 2/3: RUN echo out; echo err >&2; exit 3\n"},
    {"stream": "out\n"},
    {"stream": "err\n"},
]
FAILING_RUN_ERROR = 'building at STEP "RUN echo out; echo err >&2; exit 3": while running runtime: exit status 3\n'
UNKNOWN_INSTRUCTION = [
    {"stream": "STEP 1/3: FROM dockerlab/busybox\n"},
    {"stream": "STEP 2/3: BOGUS x\n"},
    {"stream": 'time="2026-12-02T01:09:12Z" level=error msg="+(UNHANDLED LOGLEVEL) &imagebuilder.Step{Command:\\"bogus\\"}"\n'},
]
UNKNOWN_INSTRUCTION_ERROR = (
    'building at STEP "BOGUS ": Build error: Unknown instruction: "BOGUS" &imagebuilder.Step{Env:[]string{'
    '"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Command:"bogus", Args:[]string{""}, '
    'Original:"BOGUS x"}\n'
)


def fold(events, label_steps: int = 1) -> BuildahProgress:
    """Buildah's progress after the recorded events of a build with labels (the kit's, at least)."""
    progress = BuildahProgress(label_steps=label_steps)
    for event in events:
        progress.apply(event)
    return progress


def test_steps_are_numbered_with_their_instruction_and_total():
    progress = fold(COLD_BUILD)
    assert progress.total_steps == 3
    assert [(s.number, s.instruction) for s in progress.steps] == [
        (1, "FROM dockerlab/busybox"), (2, "RUN echo hi > /a"), (3, 'CMD ["sh"]'),
    ]
    assert progress.image_id.startswith("sha256:a593e2e04b75")


def test_steps_from_the_build_cache_are_marked():
    assert [s.cached for s in fold(COLD_BUILD).steps] == [False] * 3
    assert [s.cached for s in fold(WARM_BUILD).steps] == [False, True, True]


def test_stages_are_numbered_on_from_one_stage_to_the_next_as_the_classic_builder_does():
    progress = fold(MULTI_STAGE)
    assert [s.number for s in progress.steps] == [1, 2, 3, 4] and progress.total_steps == 4
    assert progress.steps[3].instruction == "COPY --from=a /a /a"


@pytest.mark.parametrize("events", [COLD_BUILD, WARM_BUILD, MULTI_STAGE])
def test_the_build_s_label_step_is_no_dockerfile_step_and_logs_into_none(events):
    progress = fold(events)
    assert not any(step.instruction.startswith("LABEL") for step in progress.steps)
    assert progress.steps[-1].log == []
    assert any("COMMIT" in line for line in progress.log)


def test_without_labels_every_step_is_the_dockerfile_s():
    progress = fold(COLD_BUILD, label_steps=0)
    assert progress.total_steps == 4 and progress.steps[-1].instruction == 'LABEL "dockerlab.session"="x1"'
    assert without_kit_label_value(progress.steps[-1].instruction) == "LABEL dockerlab.session=… (the kit's label)"


def test_a_failing_run_names_its_step_exit_code_and_output():
    error = build_failure(fold(FAILING_RUN), FAILING_RUN_ERROR)
    assert "step 2/2 (RUN echo out; echo err >&2; exit 3)" in error.explanation  # the label step is no step
    assert "exited with code 3" in error.explanation
    assert error.log_tail == ["out", "err"]


def test_an_unknown_instruction_is_a_spelling_mistake_without_go_structs():
    error = build_failure(fold(UNKNOWN_INSTRUCTION), UNKNOWN_INSTRUCTION_ERROR)
    assert error.explanation == ("The Dockerfile could not be read: unknown instruction: BOGUS. "
                                 "Check the spelling of that line's instruction.")


def test_a_misspelt_from_says_a_dockerfile_starts_with_from():
    error = build_failure(BuildahProgress(), "no FROM statement found\n")
    assert error.explanation == ("The Dockerfile could not be read: no FROM statement found. "
                                 "Check the spelling of the first instruction: a Dockerfile starts with FROM.")


# Recorded from `podman history --no-trunc` (Buildah) and `docker history --no-trunc` (Engine 20.10's classic
# builder) of the same Dockerfile: Buildah keeps the line as written, the kit shows Docker's form for both.
HISTORY_PAIRS = [
    ('/bin/sh -c #(nop) CMD echo "hi there"', '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo \\"hi there\\""]'),
    ('/bin/sh -c #(nop) ENTRYPOINT ["echo", "a b"]', '/bin/sh -c #(nop)  ENTRYPOINT ["echo" "a b"]'),
    ('/bin/sh -c #(nop) LABEL note="metadata only" x=y', "/bin/sh -c #(nop)  LABEL note=metadata only x=y"),
    ("/bin/sh -c #(nop) ENV C hello world", "/bin/sh -c #(nop)  ENV C=hello world"),
    ('/bin/sh -c #(nop) ENV A=1 B="two words"', "/bin/sh -c #(nop)  ENV A=1 B=two words"),
    ("/bin/sh -c #(nop) WORKDIR /data", "/bin/sh -c #(nop) WORKDIR /data"),
    ('/bin/sh -c #(nop) CMD ["sh"]', '/bin/sh -c #(nop)  CMD ["sh"]'),
]


@pytest.mark.parametrize("buildah, classic", HISTORY_PAIRS)
def test_history_steps_read_the_same_from_either_builder(buildah, classic):
    assert display_instruction(buildah) == display_instruction(classic) == classic.split("#(nop)")[1].strip()


def test_buildah_s_empty_mount_points_in_a_run_layer_are_not_the_dockerfile_s_files():
    layer = LayerFiles([Entry("app", "dir"), Entry("app/hello.txt", "file", 19), Entry("etc", "dir"),
                        Entry("etc/hostname", "file"), Entry("etc/hosts", "file"), Entry("etc/resolv.conf", "file")])
    assert [e.path for e in without_builder_mount_points(layer).entries] == ["app", "app/hello.txt", "etc"]
    written = LayerFiles([Entry("etc/hosts", "file", 27)])  # a Dockerfile that writes /etc/hosts keeps it
    assert without_builder_mount_points(written) is written

"""Folding the classic builder's event stream into steps: pure logic on recorded streams."""
import pytest

from dockerlab.engine.build import BUILDKIT_ONLY, build_failure
from dockerlab.model.progress import BuildProgress

# Recorded from Engine 20.10 building examples/hello twice: the second run hit the cache for step 2.
WARM_BUILD = [
    {"stream": "Step 1/3 : FROM dockerlab/busybox"}, {"stream": "\n"},
    {"stream": " ---> da40464229e7\n"},
    {"stream": 'Step 2/3 : CMD echo "Hello World!! My first Docker image"'}, {"stream": "\n"},
    {"stream": " ---> Using cache\n"}, {"stream": " ---> 9afc80d5b6ef\n"},
    {"stream": "Step 3/3 : LABEL dockerlab.session=1-2-ab@vm"}, {"stream": "\n"},
    {"stream": " ---> Running in 26b677769a9e\n"},
    {"stream": "Removing intermediate container 26b677769a9e\n"}, {"stream": " ---> 64d30ea7a65e\n"},
    {"aux": {"ID": "sha256:64d30ea7a65e79d70d087c8c987e2e280e4f8e8339c1aea36ea6aed00bae94ba"}},
    {"stream": "Successfully built 64d30ea7a65e\n"}, {"stream": "Successfully tagged partech:latest\n"},
]

FAILING_RUN = [
    {"stream": "Step 1/3 : FROM dockerlab/busybox"}, {"stream": "\n"}, {"stream": " ---> da40464229e7\n"},
    {"stream": "Step 2/3 : RUN echo preparing && false"}, {"stream": "\n"},
    {"stream": " ---> Running in 0f9b2d7c1a11\n"}, {"stream": "preparing\n"},
    {"error": "The command '/bin/sh -c echo preparing && false' returned a non-zero code: 1",
     "errorDetail": {"code": 1, "message": "The command '/bin/sh -c echo preparing && false' returned a non-zero code: 1"}},
]


def fold(events):
    progress = BuildProgress()
    for event in events:
        progress.apply(event)
    return progress


def test_steps_are_numbered_with_their_instruction_and_total():
    progress = fold(WARM_BUILD)
    assert progress.total_steps == 3
    assert [(s.number, s.instruction) for s in progress.steps] == [
        (1, "FROM dockerlab/busybox"),
        (2, 'CMD echo "Hello World!! My first Docker image"'),
        (3, "LABEL dockerlab.session=1-2-ab@vm"),
    ]


def test_steps_from_the_build_cache_are_marked():
    assert [s.cached for s in fold(WARM_BUILD).steps] == [False, True, False]


def test_image_id_comes_from_the_aux_event():
    assert fold(WARM_BUILD).image_id.startswith("sha256:64d30ea7a65e")


def test_failure_names_the_failing_step_and_its_output():
    progress = fold(FAILING_RUN[:-1])
    error = build_failure(progress, FAILING_RUN[-1]["error"])
    assert "step 2/3 (RUN echo preparing && false)" in error.explanation
    assert "exited with code 1" in error.explanation
    assert error.log_tail == ["preparing"]


def test_failure_before_any_step_says_so():
    error = build_failure(BuildProgress(), "dockerfile parse error line 2: unknown instruction: FORM")
    assert error.explanation.startswith("The Dockerfile could not be read: dockerfile parse error line 2")
    assert "spelling" in error.explanation


@pytest.mark.parametrize("dockerfile", [
    "FROM x\nRUN <<EOF\necho hi\nEOF\n",
    "FROM x\nRUN --mount=type=cache,target=/root/.cache pip install foo\n",
    "FROM x\nCOPY --link a /a\n",
])
def test_buildkit_only_syntax_is_recognised(dockerfile):
    assert BUILDKIT_ONLY.search(dockerfile)


@pytest.mark.parametrize("dockerfile", [
    "FROM x\nRUN echo $((1<<2))\n",
    'FROM x\nCMD echo "Hello World!! My first Docker image"\n',
])
def test_classic_syntax_is_not_mistaken_for_buildkit(dockerfile):
    assert not BUILDKIT_ONLY.search(dockerfile)

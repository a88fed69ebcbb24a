"""The one owner of the kit's label namespace, `dockerlab.*`, and of the text forms built from it.

Every container, network, volume, image and service a session creates carries one label,
`dockerlab.session=<id>`; kit-wide things (the base image, the engine-test containers) carry
`dockerlab.kit=<what>`. One label, not several: the classic builder turns each build label into a step
of its own. Learners' labels are welcome, but never inside the namespace (they would confuse cleanup).
"""
from __future__ import annotations

import re

from ..errors import DockerlabError

LABEL_PREFIX = "dockerlab."
SESSION_LABEL = "dockerlab.session"
KIT_LABEL = "dockerlab.kit"  # kit-wide resources (the base image): not owned by any session
GWBRIDGE_LABEL = "dockerlab.made-gwbridge"  # on a swarm: its init made docker_gwbridge
REGISTRY_USERS_LABEL = "dockerlab.registry-users"  # on a registry's container: who may log in (names only)
INPUTS_LABEL = "dockerlab.inputs"  # on a kit image built from files (the student image): their digest
CLASSROOM_KIT = "classroom"  # `dockerlab.kit=classroom`: the classroom's servers, network and volumes
CLASSROOM_STUDENT_LABEL = "dockerlab.classroom.student"  # on a student's server and volumes: whose
KIT_LABEL_STEP = re.compile(r'^LABEL "?(dockerlab\.(?:session|kit))"?=\S*$')  # Buildah quotes key and value


def session_labels(session_id: str) -> dict[str, str]:
    """The labels every resource of a session carries."""
    return {SESSION_LABEL: session_id}


def session_filter(session_id: str) -> str:
    """The engine's label filter for one session's resources (`label=dockerlab.session=<id>`)."""
    return f"{SESSION_LABEL}={session_id}"


def classroom_labels(student: str | None = None) -> dict[str, str]:
    """The labels of what `dockerlab classroom` makes: kit-wide (no session owns a class), and whose."""
    labels = {KIT_LABEL: CLASSROOM_KIT}
    if student:
        labels[CLASSROOM_STUDENT_LABEL] = student
    return labels


def session_of(labels: dict | None) -> str | None:
    """The session id in a resource's labels, or None when the kit's sessions did not make it."""
    return (labels or {}).get(SESSION_LABEL)


def kit_label_key(instruction: str) -> str | None:
    """The key of the label step the kit adds to every image it builds (`dockerlab.session`, or
    `dockerlab.kit` on its base image), None for any other instruction."""
    match = KIT_LABEL_STEP.match(instruction)
    return match.group(1) if match else None


def is_kit_label(instruction: str) -> bool:
    """The label step the kit adds to every image it builds (its session id: not worth showing)."""
    return kit_label_key(instruction) is not None


def is_session_label(instruction: str) -> bool:
    """The step the classic builder adds for the session's label (BuildKit adds none): never shown, so a
    build looks the same on both builders."""
    return kit_label_key(instruction) == SESSION_LABEL


def without_kit_label_value(instruction: str) -> str:
    """An instruction as shown to learners: the kit's label step keeps its key, not the id."""
    key = kit_label_key(instruction)
    return instruction if key is None else f"LABEL {key}=… (the kit's label)"


def check_user_labels(labels: dict | None) -> dict[str, str]:
    """Learner labels, refused inside the kit's namespace; returned as a new dict."""
    labels = {str(key): str(value) for key, value in (labels or {}).items()}
    taken = sorted(key for key in labels if key.startswith(LABEL_PREFIX))
    if taken:
        raise DockerlabError(
            f"Labels starting with '{LABEL_PREFIX}' belong to the kit ({', '.join(taken)}); "
            "choose another prefix, such as 'lesson.'."
        )
    return labels

"""Sessions: who created what on the engine, so re-runs replace and cleanup never overreaches.

One session per process (a notebook kernel, a CLI run). Every container, network, volume and image
the kit creates carries one label, `dockerlab.session=<id>`, whose id names the owning process
(`PID-STARTTICKS-RANDOM@HOST`), so a later sweep can tell a session whose process is gone (stale: swept)
from a live one (never touched, whoever sweeps). One label, not several: the classic builder turns each
build label into a step of its own. This module owns the `dockerlab.` label namespace and refuses user
labels inside it.
"""
from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

import docker

from .engine import Engine, pid_is_running
from .errors import DockerlabError, NameTaken

LABEL_PREFIX = "dockerlab."
SESSION_LABEL = "dockerlab.session"
KIT_LABEL = "dockerlab.kit"  # kit-wide resources (the base image): not owned by any session


def process_start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc is not available).

    Together with the pid it names one process for good: a recycled pid has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def new_session_id(pid: int) -> str:
    """`PID-STARTTICKS-RANDOM@HOST`: names the owning process for good, unique within it."""
    return f"{pid}-{process_start_ticks(pid) or 0}-{secrets.token_hex(2)}@{socket.gethostname()}"


def owner_is_alive(session_id: str) -> bool:
    """True unless we can prove the owning process is gone; other hosts' sessions count as alive."""
    owner, _, host = session_id.partition("@")
    if host != socket.gethostname():
        return True
    try:
        pid_text, started, _ = owner.split("-")
        pid = int(pid_text)
    except ValueError:
        return True  # not an id this kit made: leave it alone
    if not pid_is_running(pid):
        return False
    return started == "0" or process_start_ticks(pid) in ("", started)


def check_user_labels(labels: dict | None) -> dict:
    """Refuse learner labels inside the kit's namespace (they would confuse cleanup)."""
    labels = dict(labels or {})
    taken = sorted(key for key in labels if key.startswith(LABEL_PREFIX))
    if taken:
        raise DockerlabError(
            f"Labels starting with '{LABEL_PREFIX}' belong to the kit ({', '.join(taken)}); "
            "choose another prefix, such as 'lesson.'."
        )
    return labels


@dataclass
class Session:
    """The labels and scoped cleanup of one process's work on the engine."""

    engine: Engine
    pid: int = field(default_factory=os.getpid)
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or new_session_id(self.pid)

    @property
    def labels(self) -> dict[str, str]:
        """The label every resource of this session carries."""
        return {SESSION_LABEL: self.id}

    def labels_with(self, user_labels: dict | None = None) -> dict[str, str]:
        return {**check_user_labels(user_labels), **self.labels}

    def owns(self, labels: dict | None) -> bool:
        return (labels or {}).get(SESSION_LABEL) == self.id

    def claim_container_name(self, name: str) -> None:
        """Make `name` free for a new container: remove ours, refuse anyone else's."""
        try:
            existing = self.engine.client.containers.get(name)
        except docker.errors.NotFound:
            return
        labels = existing.labels
        if self.owns(labels):
            existing.remove(force=True)
            return
        if SESSION_LABEL in labels:
            whose = f"another dockerlab session ({labels[SESSION_LABEL]}), which is still running"
        else:
            whose = "a container the kit did not create"
        raise NameTaken(
            f"The name '{name}' is already used by {whose}; the kit will not delete it. "
            f"Pick another name, or remove it yourself with `docker rm -f {name}` if it is yours."
        )

    def claim_name(self, kind: str, name: str) -> None:
        """Same as `claim_container_name` for networks and volumes."""
        collection = getattr(self.engine.client, kind)
        found = [item for item in collection.list(filters={"name": name}) if item.name == name]
        for item in found:
            if not self.owns(item.attrs.get("Labels")):
                raise NameTaken(
                    f"The {kind[:-1]} name '{name}' is already used by something this session did not "
                    f"create; the kit will not delete it. Pick another name."
                )
            item.remove()

    def clean(self) -> dict[str, int]:
        """Remove everything this session created; returns how many of each kind went."""
        return remove_labelled(self.engine, f"{SESSION_LABEL}={self.id}")


def labelled_resources(engine: Engine, label_filter: str) -> dict[str, list[dict]]:
    """The engine's list answers (ids and labels, no per-item inspect) for resources carrying a label.

    Listing without inspecting each item keeps this safe while other sessions remove their things.
    """
    api, selector = engine.api, {"label": label_filter}
    return {
        "containers": api.containers(all=True, filters=selector),
        "networks": api.networks(filters=selector),
        "volumes": api.volumes(filters=selector).get("Volumes") or [],
        "images": api.images(all=True, filters=selector),
    }


def remove_labelled(engine: Engine, label_filter: str) -> dict[str, int]:
    """Remove services, containers, then networks, volumes and images carrying `label_filter`; count what
    went. Last, the swarm: left if this label's session started it and nobody else's services run there.
    """
    from .swarm import release_swarm, remove_services  # imported here: swarm -> results -> build -> session

    api = engine.api
    services = remove_services(engine, label_filter)
    found = labelled_resources(engine, label_filter)
    removers = {
        "containers": lambda item: api.remove_container(item["Id"], force=True, v=True),
        "networks": lambda item: api.remove_network(item["Id"]),
        "volumes": lambda item: api.remove_volume(item["Name"]),
        # force: untag every name the session gave it; the engine still refuses (409) while a
        # child image of another session needs it, and that image is left for its own session.
        "images": lambda item: api.remove_image(item["Id"], force=True),
    }
    removed = {}
    for kind, remove in removers.items():
        items = found[kind]
        if kind == "images":  # newest first, so an image built FROM another of the session goes first
            items = sorted(items, key=lambda item: item.get("Created", 0), reverse=True)
        removed[kind] = 0
        while items:  # again while a pass made progress: images created in the same second sort either way
            refused = []
            for item in items:
                try:
                    remove(item)
                    removed[kind] += 1
                except docker.errors.NotFound:
                    pass  # already gone (removed with its parent, or by its own session meanwhile)
                except docker.errors.APIError as error:
                    if error.status_code != 409:  # 409: already being removed, or still needed by another's image
                        raise
                    refused.append(item)
            items = refused if len(refused) < len(items) else []
    if services:
        removed["services"] = services
    if release_swarm(engine, label_filter.partition("=")[2]):
        removed["swarm"] = 1
    return removed


def labelled_sessions(engine: Engine) -> set[str]:
    """Every session id that has resources on the engine (the swarm and its services included)."""
    from .swarm import swarm_sessions  # imported here: swarm -> results -> build -> session

    found = labelled_resources(engine, SESSION_LABEL)
    return {(item.get("Labels") or {})[SESSION_LABEL] for items in found.values() for item in items} | swarm_sessions(engine)


def sweep_stale_sessions(engine: Engine, keep: str = "") -> list[str]:
    """Remove the resources of sessions whose process is gone; live sessions are never touched."""
    swept = []
    for session_id in sorted(labelled_sessions(engine)):
        if session_id != keep and not owner_is_alive(session_id):
            remove_labelled(engine, f"{SESSION_LABEL}={session_id}")
            swept.append(session_id)
    return swept

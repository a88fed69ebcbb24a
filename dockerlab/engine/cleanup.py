"""What sessions leave on the engine: list it, remove one session's, sweep the finished sessions'.

Services, containers, networks, volumes and images carry the session label; so does a swarm the kit
started (in its spec). The swarm is engine-wide, so it is left only by the session that started it, and
only when no other session's services run there (otherwise it is handed over). Listing uses the engine's
list answers only (no per-item inspect), which keeps a sweep safe while other sessions remove their things.
"""
from __future__ import annotations

import time

from ..model.labels import GWBRIDGE_LABEL, SESSION_LABEL, session_filter, session_of
from .connection import Engine
from .processes import owner_is_alive
from .translate import ENGINE_ERRORS, removed

GWBRIDGE = "docker_gwbridge"


def labelled_resources(engine: Engine, label_filter: str) -> dict[str, list[dict]]:
    """The engine's list answers (ids and labels) for containers, networks, volumes and images carrying a label."""
    api, selector = engine.api, {"label": label_filter}
    return {
        "containers": api.containers(all=True, filters=selector),
        "networks": api.networks(filters=selector),
        "volumes": api.volumes(filters=selector).get("Volumes") or [],
        "images": api.images(all=True, filters=selector),
    }


def remove_labelled(engine: Engine, session_id: str) -> dict[str, int]:
    """Remove a session's services, containers, then networks, volumes and images; count what went.
    Last, the swarm: left if this session started it and nobody else's services run there."""
    api = engine.api
    services = remove_services(engine, session_id)
    found = labelled_resources(engine, session_filter(session_id))
    removers = {
        "containers": lambda item: api.remove_container(item["Id"], force=True, v=True),
        "networks": lambda item: api.remove_network(item["Id"]),
        "volumes": lambda item: api.remove_volume(item["Name"]),
        # force: untag every name the session gave it; the engine still refuses (409) while a
        # child image of another session needs it, and that image is left for its own session.
        "images": lambda item: api.remove_image(item["Id"], force=True),
    }
    counts = {}
    for kind, remove in removers.items():
        items = found[kind]
        if kind == "images":  # newest first, so an image built FROM another of the session goes first
            items = sorted(items, key=lambda item: item.get("Created", 0), reverse=True)
        counts[kind] = 0
        while items:  # again while a pass made progress: images created in the same second sort either way
            refused = []
            for item in items:
                outcome = removed(lambda: remove(item))
                counts[kind] += outcome is True
                if outcome is False:  # already being removed, or still needed by another's image
                    refused.append(item)
            items = refused if len(refused) < len(items) else []
    if services:
        counts["services"] = services
    if release_swarm(engine, session_id):
        counts["swarm"] = 1
    return counts


def labelled_sessions(engine: Engine) -> set[str]:
    """Every session id that has resources on the engine (the swarm and its services included)."""
    found = labelled_resources(engine, SESSION_LABEL)
    return {session_of(item.get("Labels")) for items in found.values() for item in items} | swarm_sessions(engine)


def sweep_stale_sessions(engine: Engine, keep: str = "") -> list[str]:
    """Remove the resources of sessions whose process is gone; live sessions are never touched."""
    swept = []
    for session_id in sorted(labelled_sessions(engine)):
        if session_id != keep and not owner_is_alive(session_id):
            remove_labelled(engine, session_id)
            swept.append(session_id)
    return swept


# --- the swarm, engine-wide -------------------------------------------------------------------------

def swarm_is_active(engine: Engine) -> bool:
    """True when this engine is a manager of an active swarm (only then can services be listed)."""
    swarm = engine.client.info().get("Swarm", {})
    return swarm.get("LocalNodeState") == "active" and bool(swarm.get("ControlAvailable"))


def swarm_labels(engine: Engine) -> dict[str, str]:
    return engine.api.inspect_swarm().get("Spec", {}).get("Labels") or {}


def swarm_sessions(engine: Engine) -> set[str]:
    """Sessions with something in the swarm: the one that started it and those with services."""
    if not swarm_is_active(engine):
        return set()
    owners = {session_of(service["Spec"].get("Labels")) for service in engine.api.services()}
    owners.add(session_of(swarm_labels(engine)))
    return owners - {None}


def remove_services(engine: Engine, session_id: str) -> int:
    """Remove a session's services, then wait (briefly) for their containers to go."""
    if not swarm_is_active(engine):
        return 0
    services = engine.api.services(filters={"label": session_filter(session_id)})
    for service in services:
        removed(lambda: engine.api.remove_service(service["ID"]))
    for service in services:
        wait_for_no_containers(engine, service["Spec"]["Name"])
    return len(services)


def wait_for_no_containers(engine: Engine, service_name: str, seconds: float = 30) -> None:
    """The engine removes a removed service's containers in the background; wait until it has."""
    deadline = time.monotonic() + seconds
    filters = {"label": f"com.docker.swarm.service.name={service_name}"}
    while engine.api.containers(all=True, filters=filters) and time.monotonic() < deadline:
        time.sleep(0.3)


def release_swarm(engine: Engine, session_id: str) -> bool:
    """Leave the swarm if `session_id` started it and nobody else's services run there; True if left.

    When other kit sessions still have services, the swarm is handed over to one of them (its label
    changes), so the last one out leaves; a swarm with services the kit did not create is not left.
    """
    if not swarm_is_active(engine):
        return False
    labels = swarm_labels(engine)
    if session_of(labels) != session_id:
        return False
    owners = [session_of(service["Spec"].get("Labels")) for service in engine.api.services()]
    others = sorted({owner for owner in owners if owner != session_id}, key=lambda owner: owner or "")
    if others:
        if others[-1] is not None:  # only kit sessions left: hand the swarm over to one of them
            swarm = engine.client.swarm
            swarm.reload()
            swarm.update(labels={**labels, SESSION_LABEL: others[-1]})
        return False
    engine.api.leave_swarm(force=True)
    if labels.get(GWBRIDGE_LABEL):
        remove_unused_network(engine, GWBRIDGE)
    return True


def remove_unused_network(engine: Engine, name: str) -> None:
    """Remove a network the kit caused to exist, unless a container is attached to it."""
    try:
        network = engine.api.inspect_network(name)
        if not network.get("Containers"):
            engine.api.remove_network(network["Id"])
    except ENGINE_ERRORS:
        pass  # gone already, or in use after all: leave it

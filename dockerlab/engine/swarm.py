"""Swarm mode on the local engine, for the last lesson: init, a replicated service, scale, remove, leave.

The swarm is an engine-wide state shared by everyone on the engine, so the kit is careful with it:
the swarm it starts carries the session label (in the swarm's spec), services and their containers
carry it too, one notebook at a time holds it (`init` waits while another live notebook does, and
takes over a swarm whose notebook is gone), and a session leaves the swarm only if it started it and
no other session's services still run there (otherwise it hands the swarm over). `release_swarm` and `remove_services` are what the
session's cleanup (`cleanup`) calls.
"""
from __future__ import annotations

import time
from typing import Sequence

import docker
from docker.types import ContainerSpec, ServiceMode, TaskTemplate

from ..errors import NameTaken, SwarmError
from ..model.labels import GWBRIDGE_LABEL, session_filter, session_of
from ..model.results import Output, Table
from ..model.text import docker_command
from .cleanup import GWBRIDGE, release_swarm, remove_services, swarm_is_active, swarm_labels, wait_for_no_containers
from .connection import Engine
from .processes import owner_is_alive
from .session import Session
from .translate import found_or_none, translated

NO_SWARM = ("Podman has no Swarm mode (`docker swarm` and `docker service` exist on Docker engines only), so "
            "this part of the lesson needs Docker; the rest of the lesson works here.")
CONVERGE_SECONDS = 90
ENDED_TASK = " \\_ "  # how `docker service ps` marks an older task of the same slot
SWARM_WAIT_SECONDS = 600  # how long `init` waits for another notebook to be done with the swarm


def has_swarm(engine: Engine) -> bool:
    """Whether the engine has Swarm mode at all (Docker's engines do, Podman does not)."""
    return engine.backend != "podman"


def check_has_swarm(engine: Engine) -> None:
    """`SwarmError` with one sentence on an engine without Swarm mode."""
    if not has_swarm(engine):
        raise SwarmError(NO_SWARM)


def wait_until_swarm_is_free(engine: Engine, session_id: str, seconds: float = SWARM_WAIT_SECONDS) -> str:
    """Wait until this engine is in no swarm, or in one `session_id` may use; say which.

    Returns "free" (no swarm), "ours" (started by `session_id`), "foreign" (a swarm the kit did not
    start: use it, never leave it) or "busy" (another live notebook still held it after `seconds`).
    A swarm whose notebook is gone is taken back (its services removed, the swarm left) on the way.
    """
    deadline = time.monotonic() + seconds
    while swarm_is_active(engine):
        owner = session_of(swarm_labels(engine))
        if owner == session_id:
            return "ours"
        if owner is None:
            return "foreign"
        if not owner_is_alive(owner):
            remove_services(engine, owner)
            release_swarm(engine, owner)
            continue
        if time.monotonic() > deadline:
            return "busy"
        time.sleep(1)
    return "free"


class Swarm:
    """`docker swarm` and `docker service` for one session: what it starts carries its label."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.engine = session.engine

    @property
    def api(self) -> docker.APIClient:
        return self.engine.api

    def init(self, advertise_addr: str = "127.0.0.1", wait_seconds: float = SWARM_WAIT_SECONDS) -> Output:
        """`docker swarm init`: make this engine a one-node swarm (its manager), unless it is one already.

        Another notebook using the engine's swarm right now is waited for (it leaves at its end).
        """
        check_has_swarm(self.engine)
        command = docker_command("swarm", "init", "--advertise-addr", advertise_addr)
        while True:
            state = wait_until_swarm_is_free(self.engine, self.session.id, wait_seconds)
            if state == "ours":
                return Output(command, "This engine is already a swarm manager: this notebook started the swarm.")
            if state == "foreign":
                return Output(command, "This engine is already in a swarm that this notebook did not start; "
                                       "the lesson uses it and will not leave it.")
            if state == "busy":
                raise SwarmError(
                    "Another notebook is using this engine's swarm and did not finish within "
                    f"{wait_seconds:.0f} s; run this cell again when it is done (it leaves the swarm at its end)."
                )
            labels = dict(self.session.labels)
            if not self.api.networks(names=[GWBRIDGE]):
                labels[GWBRIDGE_LABEL] = "yes"
            try:
                self.api.init_swarm(advertise_addr=advertise_addr, listen_addr=f"{advertise_addr}:2377",
                                    swarm_spec=self.api.create_swarm_spec(labels=labels))
            except docker.errors.APIError as error:
                if swarm_is_active(self.engine):
                    continue  # another notebook started one at the same moment: wait for it as above
                raise SwarmError(
                    f"`docker swarm init` failed: {error.explanation}. Check `docker info` (Swarm:) and try again."
                ) from None
            return Output(command, "Swarm initialized: this engine is now a manager (a swarm of one node).")

    def nodes(self) -> Table:
        """`docker node ls`: the machines (engines) in the swarm; here, just this one."""
        self._check_active()
        rows = []
        for node in self.api.nodes():
            manager = node.get("ManagerStatus") or {}
            role = "Leader" if manager.get("Leader") else ("Reachable" if manager else "")
            rows.append([node["Description"]["Hostname"], node["Status"]["State"].capitalize(),
                         node["Spec"]["Availability"].capitalize(), role])
        return Table(docker_command("node", "ls"), ["HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS"], rows)

    def create_service(self, name: str, image: str, replicas: int = 1,
                       command: Sequence[str] | None = None) -> Output:
        """`docker service create --replicas N`: N containers from `image`, kept running by the swarm.

        The image is used by its local name: no registry is asked for its digest (`--no-resolve-image`).
        Waits until all replicas run, as `docker service create` does.
        """
        self._check_active()
        with translated(f"find the image '{image}'", image=image):
            self.api.inspect_image(image)
        self._claim_service_name(name)
        spec = ContainerSpec(image, command=list(command) if command else None, labels=self.session.labels)
        self.api.create_service(TaskTemplate(spec), name=name, labels=self.session.labels,
                                mode=ServiceMode("replicated", replicas=replicas))
        self._wait_converged(name, replicas)
        words = ["service", "create", "--name", name, "--replicas", str(replicas), "--no-resolve-image", image]
        return Output(docker_command(*words, *(command or [])), f"{name}: {replicas}/{replicas} replicas running")

    def scale(self, name: str, replicas: int) -> Output:
        """`docker service scale NAME=N`: the swarm starts or stops containers until N run."""
        service = self._own_service(name, "scale")
        spec = service.attrs["Spec"]
        # The service's own spec with only the replica count changed: anything else would make the
        # swarm replace the running containers one by one (a rolling update), as the SDK's scale() does.
        self.api.update_service(service.id, service.version, task_template=spec["TaskTemplate"], name=spec["Name"],
                                labels=spec.get("Labels"), mode=ServiceMode("replicated", replicas=replicas),
                                endpoint_spec=spec.get("EndpointSpec"))
        self._wait_converged(name, replicas)
        return Output(docker_command("service", "scale", f"{name}={replicas}"), f"{name}: {replicas}/{replicas} replicas running")

    def services(self) -> Table:
        """`docker service ls`, limited to this notebook's services."""
        self._check_active()
        rows = []
        for service in sorted(self.api.services(filters={"label": self._label_filter}), key=lambda s: s["Spec"]["Name"]):
            name = service["Spec"]["Name"]
            desired = service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 0)
            rows.append([name, "replicated", f"{len(self._running_tasks(name))}/{desired}",
                         service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]])
        return Table(docker_command("service", "ls"), ["NAME", "MODE", "REPLICAS", "IMAGE"], rows)

    def tasks(self, name: str, wait: bool = False, all: bool = False) -> Table:
        """`docker service ps NAME`: the service's replicas (tasks) that should be running, by slot; with
        `all`, also the tasks that ended, each under its slot's newer task as `\\_ NAME` (as `docker service
        ps` without a filter lists them: a replaced replica stays listed).

        With `wait`, first wait until the swarm has all the replicas running again (after a failure).
        """
        service = self._own_service(name, "list")
        if wait:
            self._wait_converged(name, service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"])
        filters = {"service": name} if all else {"service": name, "desired-state": "running"}
        newest_first = sorted(self.api.tasks(filters=filters), key=lambda task: task["CreatedAt"], reverse=True)
        rows, seen = [], set()
        for task in sorted(newest_first, key=lambda task: (task["Slot"], task["DesiredState"] != "running")):
            slot = f"{name}.{task['Slot']}"
            rows.append([(ENDED_TASK if slot in seen else "") + slot, task["Spec"]["ContainerSpec"]["Image"],
                         task["DesiredState"].capitalize(), task["Status"]["State"].capitalize()])
            seen.add(slot)
        command = docker_command("service", "ps", name) if all else docker_command(
            "service", "ps", "--filter", "desired-state=running", name)
        return Table(command, ["NAME", "IMAGE", "DESIRED STATE", "CURRENT STATE"], rows)

    def remove_service(self, name: str) -> Output:
        """`docker service rm NAME`: the service and all its containers go."""
        service = self._own_service(name, "remove")
        service.remove()
        wait_for_no_containers(self.engine, name)
        return Output(docker_command("service", "rm", name), f"{name}: removed, with its containers")

    def leave(self) -> Output:
        """`docker swarm leave --force`: this session's services go, then the engine leaves the swarm it started."""
        check_has_swarm(self.engine)
        command = docker_command("swarm", "leave", "--force")
        if not swarm_is_active(self.engine):
            return Output(command, "This engine is not in a swarm: nothing to leave.")
        remove_services(self.engine, self.session.id)
        if release_swarm(self.engine, self.session.id):
            return Output(command, "Node left the swarm.")
        return Output(command, "Not leaving: this notebook did not start the swarm (or other notebooks still "
                               "use it); its services are removed.")

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def _label_filter(self) -> str:
        return session_filter(self.session.id)

    def _check_active(self) -> None:
        check_has_swarm(self.engine)
        if not swarm_is_active(self.engine):
            raise SwarmError("This engine is not a swarm manager yet; start a swarm first with "
                             "lab.swarm.init() (`docker swarm init`).")

    def _find_service(self, name: str) -> docker.models.services.Service | None:
        found = [s for s in self.engine.client.services.list(filters={"name": name}) if s.name == name]
        return found[0] if found else None

    def _own_service(self, name: str, verb: str) -> docker.models.services.Service:
        self._check_active()
        service = self._find_service(name)
        if service is None:
            raise SwarmError(f"There is no service named '{name}'; list them with lab.swarm.services().")
        if not self.session.owns(service.attrs["Spec"].get("Labels")):
            raise NameTaken(f"The service '{name}' was not created by this notebook, so the kit will not {verb} it.")
        return service

    def _claim_service_name(self, name: str) -> None:
        """Re-running a cell replaces this notebook's service of that name; anyone else's is refused."""
        if self._find_service(name) is not None:
            self._own_service(name, "replace").remove()
            wait_for_no_containers(self.engine, name)

    def _running_tasks(self, name: str) -> list[dict]:
        """The service's tasks that run, with a container that really runs (the swarm learns of a
        crashed container a moment after it happened)."""
        tasks = self.api.tasks(filters={"service": name, "desired-state": "running"})
        return [task for task in tasks if task["Status"]["State"] == "running" and self._container_runs(task)]

    def _container_runs(self, task: dict) -> bool:
        container_id = task["Status"].get("ContainerStatus", {}).get("ContainerID")
        found = found_or_none(lambda: self.api.inspect_container(container_id), "look at a task's container") \
            if container_id else None
        return found is not None and found["State"]["Running"]

    def _wait_converged(self, name: str, replicas: int) -> None:
        """Wait until exactly `replicas` tasks run, as the CLI's "verify: Service converged" does."""
        deadline = time.monotonic() + CONVERGE_SECONDS
        while True:
            tasks = self.api.tasks(filters={"service": name, "desired-state": "running"})
            if len(self._running_tasks(name)) == replicas == len(tasks):
                return
            if time.monotonic() > deadline:
                errors = sorted({task["Status"].get("Err", "") for task in tasks} - {""})
                why = f" (the engine says: {errors[0]})" if errors else ""
                raise SwarmError(
                    f"The service '{name}' did not reach {replicas} running replicas within "
                    f"{CONVERGE_SECONDS} s{why}; look at lab.swarm.tasks('{name}')."
                )
            time.sleep(0.3)

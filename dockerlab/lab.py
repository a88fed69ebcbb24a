"""`Lab`: the notebook's handle on the engine, one per kernel, returned by `dockerlab.connect()`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import docker

from . import notebook
from .build import BuildProgress, ensure_base_image, stream_build
from .containers import Container, RunResult, inspect_container, run_container
from .engine import Engine, connect_engine
from .errors import BuildFailed, DockerlabError, ImageInUse, ImageNotFound, Interrupted, NotOwned
from .results import Action, BuildResult, Output, Table, docker_command
from .session import Session, sweep_stale_sessions
from .swarm import Swarm


class Lab:
    """Builds, runs and cleans up on behalf of one notebook; everything it makes carries its label."""

    def __init__(self, engine: Engine, session: Session | None = None) -> None:
        self.engine = engine
        self.session = session or Session(engine)

    @property
    def client(self) -> docker.DockerClient:
        return self.engine.client

    def build(self, path: str | Path, tag: str | None = None, dockerfile: str = "Dockerfile",
              show: bool | None = None) -> BuildResult:
        """`docker build -t TAG PATH`, with live progress in a notebook; raises `BuildFailed`."""
        view = None
        if show if show is not None else notebook.in_notebook():
            from .widgets import BuildView

            view = BuildView(f"docker build -t {tag} {path}" if tag else f"docker build {path}")
        progress_seen: list[BuildProgress] = []

        def on_progress(progress: BuildProgress, event: dict) -> None:
            progress_seen[:] = [progress]
            if view:
                view.update(progress, event)

        try:
            progress = stream_build(self.engine, path, tag, self.session.labels, dockerfile, on_progress)
        except KeyboardInterrupt:
            if view and progress_seen:
                view.finish(progress_seen[0], failed=True)
            raise Interrupted("Interrupted: the build was stopped; the builder removes its temporary containers.") from None
        except BuildFailed:
            if view and progress_seen:
                view.finish(progress_seen[0], failed=True)
            raise
        if view:
            view.finish(progress, failed=False)
        flags = ["-f", dockerfile] if dockerfile != "Dockerfile" else []
        command = docker_command("build", *(["-t", tag] if tag else []), *flags, str(path))
        return BuildResult(tag, progress.image_id, progress.steps, command)

    def run(self, image: str, command: Sequence[str] | str | None = None, name: str | None = None,
            detach: bool = False, **options) -> RunResult:
        """`docker run [-d] [--name NAME] IMAGE [COMMAND]`; a re-run replaces this session's `name`."""
        return run_container(self.session, image, command, name, detach, **options)

    def container(self, name: str) -> Container:
        """The container called `name` (or with that id)."""
        return Container(self.session, inspect_container(self.session, name), name)

    def logs(self, name: str) -> Output:
        """`docker logs NAME`: everything the container printed so far."""
        return self.container(name).logs()

    def ps(self, all: bool = False) -> Table:
        """`docker ps [-a]`, limited to this notebook's containers so the view stays readable."""
        containers = self.client.containers.list(all=all, filters={"label": f"dockerlab.session={self.session.id}"})
        rows = []
        for item in sorted(containers, key=lambda c: c.attrs["Created"]):
            state = item.attrs["State"]
            status = "Up" if state["Running"] else (
                "Created" if state["Status"] == "created" else f"Exited ({state['ExitCode']})")
            config = item.attrs["Config"]
            command = " ".join((config.get("Entrypoint") or []) + (config.get("Cmd") or []))
            rows.append([item.name, item.attrs["Config"]["Image"], command, status])
        return Table(docker_command("ps", "-a" if all else None), ["NAMES", "IMAGE", "COMMAND", "STATUS"], rows)

    def images(self) -> Table:
        """`docker images`: every tagged image on the engine, with its short id and size."""
        rows = []
        for image in self.client.images.list():
            for ref in image.tags:
                repository, _, tag = ref.rpartition(":")
                rows.append([repository, tag, image.short_id.removeprefix("sha256:"), f"{image.attrs['Size'] / 1e6:.1f}MB"])
        return Table(docker_command("images"), ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"], sorted(rows))

    def remove(self, name: str) -> str:
        """`docker rm -f NAME` for a container of this session."""
        container = self.container(name)
        if not self.session.owns(container.attrs["Config"].get("Labels")):
            self.session.claim_container_name(name)  # raises NameTaken: not ours
        self.engine.api.remove_container(container.id, force=True, v=True)
        return docker_command("rm", "-f", name)

    def start(self, name: str) -> Action:
        """`docker start NAME`: run a stopped container's command again, in the same container."""
        return self.container(name).start()

    def stop(self, name: str, timeout: int = 10) -> Action:
        """`docker stop NAME`: ask the main process to end (TERM), kill it after `timeout` seconds."""
        return self.container(name).stop(timeout)

    def restart(self, name: str, timeout: int = 10) -> Action:
        """`docker restart NAME`: stop, then start again."""
        return self.container(name).restart(timeout)

    def rmi(self, image: str) -> Action:
        """`docker rmi IMAGE` for an image this notebook built; refused while any container uses it."""
        try:
            attrs = self.engine.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            raise ImageNotFound(f"There is no image '{image}' on this engine; check the name with lab.images().") from None
        if not self.session.owns(attrs["Config"].get("Labels")):
            raise NotOwned(
                f"The image '{image}' was not built by this notebook, so the kit will not remove it; "
                f"use `docker rmi {image}` in a terminal if it is yours."
            )
        try:
            answer = self.engine.api.remove_image(image)
        except docker.errors.APIError as error:
            users = self.containers_using(attrs["Id"])
            if error.status_code != 409 or not users:
                raise DockerlabError(f"The engine refused to remove the image '{image}': {error.explanation}.") from None
            raise ImageInUse(
                f"The image '{image}' cannot be removed: {len(users)} container(s) made from it still exist "
                f"(stopped ones count too); remove them first (`docker ps -a --filter ancestor={image}` lists them, "
                f"`docker rm NAME` removes one), then try again.",
                containers=users, detail=f"The engine said: {error.explanation}",
            ) from None
        lines = [f"{key}: {value}" for item in answer for key, value in item.items()]
        return Action(docker_command("rmi", image), "\n".join(lines))

    def containers_using(self, image: str) -> list[str]:
        """Names of the containers (running or stopped) made from exactly this image (name or id)."""
        try:
            image_id = self.engine.api.inspect_image(image)["Id"]
        except docker.errors.ImageNotFound:
            return []
        found = self.engine.api.containers(all=True, filters={"ancestor": image_id})
        return sorted(item["Names"][0].lstrip("/") for item in found if item["ImageID"] == image_id)

    @property
    def swarm(self) -> Swarm:
        """`docker swarm` / `docker service` for this notebook (lesson 09)."""
        return Swarm(self.session)

    def clean(self) -> dict[str, int]:
        """Remove every service, container, network, volume and image this session created, and nothing
        else; leave the swarm if this session started it."""
        return self.session.clean()

    def __repr__(self) -> str:
        return f"Lab connected to Docker {self.engine.version} (API {self.engine.api_version})"


_lab: Lab | None = None


def connect() -> Lab:
    """The notebook's `Lab`: connects once per process, sweeps stale sessions, makes the base image."""
    global _lab
    notebook.install_error_display()
    if _lab is None or _lab.session.pid != os.getpid():
        _lab = Lab(connect_engine())
    sweep_stale_sessions(_lab.engine, keep=_lab.session.id)
    ensure_base_image(_lab.engine)
    return _lab

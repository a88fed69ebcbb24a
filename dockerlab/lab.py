"""`Lab`: the notebook's handle on the engine, one per kernel, returned by `dockerlab.connect()`."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import docker

from . import notebook
from .build import BASE_IMAGE, BuildProgress, BuildStep, ensure_base_image, stream_build
from .containers import Container, RunResult, inspect_container, run_container
from .engine import Engine, connect_engine
from .errors import BuildFailed, ContainerNotFound, DockerlabError, Interrupted
from .layers import ContainerLayer, ImageLayers, build_image_layers
from .results import BuildResult, Output, Table, docker_command
from .session import Session, sweep_stale_sessions


class Lab:
    """Builds, runs and cleans up on behalf of one notebook; everything it makes carries its label."""

    def __init__(self, engine: Engine, session: Session | None = None) -> None:
        self.engine = engine
        self.session = session or Session(engine)
        self._built: dict[str, list[BuildStep]] = {}  # image id -> the build's steps (cache hits)

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
        self._built[progress.image_id] = progress.steps
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
            command = " ".join((item.attrs["Config"].get("Cmd") or []))
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

    def layers(self, image: str, files: bool = False) -> ImageLayers:
        """`docker history IMAGE` as a model; with `files`, what each layer adds, modifies and deletes."""
        return load_image_layers(self.engine, image, files, self._built)

    def diff(self, container: str) -> ContainerLayer:
        """`docker diff CONTAINER`: its writable layer (A added, C changed, D deleted) and its size."""
        return load_container_layer(self.engine, container)

    def diagram(self, *images: str | ImageLayers, containers: Sequence[str] = (), files: bool = False):
        """A picture of the images' layer stacks (as one tree), with `containers` dashed on top."""
        from .diagram import Diagram

        return Diagram(stack_models(self.engine, images, containers, files, self._built))

    def explore(self, image: str | ImageLayers):
        """A layer explorer: pick a layer, see the files it added, modified and deleted."""
        from .widgets import LayerExplorer

        model = image if isinstance(image, ImageLayers) else self.layers(image, files=True)
        return LayerExplorer(model)

    def clean(self) -> dict[str, int]:
        """Remove every container, network, volume and image this session created, and nothing else."""
        return self.session.clean()

    def __repr__(self) -> str:
        return f"Lab connected to Docker {self.engine.version} (API {self.engine.api_version})"


def load_image_layers(engine: Engine, image: str, files: bool = False,
                      built: dict[str, list[BuildStep]] | None = None, on_progress=None) -> ImageLayers:
    """The model of an image on the engine: history and layers; with `files`, read from `docker save`."""
    from .archive import inspect_image, read_engine_image

    attrs = inspect_image(engine, image)
    base_ids, base_length = base_image_layers(engine, attrs)
    common = dict(base_diff_ids=base_ids, base_image=BASE_IMAGE.removesuffix(":latest"),
                  build_steps=(built or {}).get(attrs["Id"]), base_history_length=base_length, image_id=attrs["Id"])
    diff_ids = attrs.get("RootFS", {}).get("Layers") or []
    if files:
        archive = read_engine_image(engine, image, on_progress=on_progress)
        return build_image_layers(image, archive.diff_ids, archive.history, layer_files=archive.layers, **common)
    history = list(reversed(engine.api.history(attrs["Id"])))
    return build_image_layers(image, diff_ids, history, engine_history=True, **common)


def base_image_layers(engine: Engine, attrs: dict | None = None) -> tuple[list[str], int | None]:
    """The kit's base image's diff_ids and history length ([] and None when it is not there)."""
    try:
        base = engine.api.inspect_image(BASE_IMAGE)
    except docker.errors.APIError:
        return [], None
    if attrs is not None and attrs["Id"] == base["Id"]:
        return base["RootFS"]["Layers"], None
    return base["RootFS"]["Layers"], len(engine.api.history(base["Id"]))


def load_container_layer(engine: Engine, name: str) -> ContainerLayer:
    """A container's writable layer from the engine's changes API, with its `SizeRw`."""
    try:
        attrs = engine.api.inspect_container(name)
        changes = engine.api.diff(attrs["Id"])
        listed = engine.api.containers(all=True, size=True, filters={"id": attrs["Id"]})
    except docker.errors.NotFound:
        raise ContainerNotFound(f"There is no container '{name}'; `lab.ps(all=True)` lists this notebook's containers.") from None
    except docker.errors.APIError as error:
        raise DockerlabError(f"The engine could not list the changes of container '{name}': {error.explanation or error}.") from None
    size_rw = listed[0].get("SizeRw", 0) if listed else None  # the engine leaves out a zero SizeRw
    layer = ContainerLayer.from_engine(attrs["Name"].lstrip("/"), attrs["Config"].get("Image", ""), changes, size_rw)
    layer.image_id = attrs["Image"]
    return layer


def stack_models(engine: Engine, images, containers: Sequence[str] = (), files: bool = False,
                 built: dict[str, list[BuildStep]] | None = None) -> list[ImageLayers]:
    """Models of `images` (names or models) with each container stacked on the image it came from."""
    models = [replace(item, containers=list(item.containers)) if isinstance(item, ImageLayers)
              else load_image_layers(engine, item, files, built) for item in images]
    for name in containers:
        layer = load_container_layer(engine, name)
        owner = next((model for model in models if model.id == layer.image_id), None)
        if owner is None:
            owner = load_image_layers(engine, layer.image_id, files, built)
            owner.image = layer.image
            models.append(owner)
        owner.containers.append(layer)
    return models


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

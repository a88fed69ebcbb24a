"""`Lab`: the notebook's handle on the engine, one per kernel, returned by `dockerlab.connect()`."""
from __future__ import annotations

import atexit
import json
import os
from pathlib import Path
from typing import Sequence

from ..engine.base_image import ensure_base_image
from ..engine.build import builder_used, stream_build
from ..engine.cleanup import sweep_stale_sessions
from ..engine.connection import Engine, connect_engine
from ..engine.containers import Container, RunResult, image_as_given, inspect_container, run_container
from ..engine.images import (containers_using, inspect_image, list_images, load_container_layer, load_image_layers,
                             remove_image, remove_unused_images, stack_models, stage_images, untag_if_unchanged)
from ..engine.registry import Registry, sweep_stale_registries
from ..engine.registry_container import RegistryContainer, registry_where_the_engine_is
from ..engine.session import Session
from ..engine.swarm import Swarm
from ..engine.volumes import create_volume, remove_volume, session_volumes
from ..engine.transfer import check_login, keep_digest_reference, transfer
from ..engine.translate import found_or_none, translated
from ..errors import BuildFailed, ContainerNotFound, Interrupted, NotOwned, TransferFailed
from ..model.labels import check_user_labels, session_filter
from ..model.layers import ContainerLayer, ImageLayers, Step
from ..model.progress import BuildProgress, BuildStep, TransferProgress
from ..model.references import DOCKER_HUB, Reference, familiar_name, parse_reference, registry_address
from ..model.results import BuildResult, Output, Table, TransferResult
from ..model.text import docker_command, human_size, inspect_fields, shorten
from ..model.usage import COLUMNS as DISK_USAGE_COLUMNS, disk_usage_rows
from ..view.diagram import Diagram
from ..view.widgets import BuildView, LayerExplorer, TransferView
from . import notebook


class Lab:
    """Builds, runs and cleans up on behalf of one notebook; everything it makes carries its label."""

    def __init__(self, engine: Engine, session: Session | None = None) -> None:
        self.engine = engine
        self.session = session or Session(engine)
        self._credentials: dict[str, dict[str, str]] = {}  # registry -> username/password, in memory only
        self._made_refs: dict[str, str] = {}  # image names this session tagged or pulled -> their image id
        self._registries: list[Registry | RegistryContainer] = []
        self._stops_registries_at_exit = False
        self._built: dict[str, list[BuildStep]] = {}  # image id -> the build's steps (cache hits)
        self._stage_images: set[str] = set()  # unlabelled `<none>` results of earlier stages of multi-stage builds

    @property
    def client(self):
        """The Docker SDK's client, for what the kit does not wrap (`lab.client.containers.list()`)."""
        return self.engine.client

    def build(self, path: str | Path, tag: str | None = None, dockerfile: str = "Dockerfile",
              show: bool | None = None, labels: dict[str, str] | None = None) -> BuildResult:
        """`docker build -t TAG [--label K=V] PATH`, with live progress in a notebook; raises `BuildFailed`."""
        user_labels = check_user_labels(labels)
        view = None
        if show if show is not None else notebook.in_notebook():
            view = BuildView(f"docker build -t {tag} {path}" if tag else f"docker build {path}")
        progress_seen: list[BuildProgress] = []

        def on_progress(progress: BuildProgress, event: dict) -> None:
            progress_seen[:] = [progress]
            if view:
                view.update(progress, event)

        try:
            progress = stream_build(self.engine, path, tag, {**user_labels, **self.session.labels}, dockerfile,
                                    on_progress)
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
        self._stage_images |= stage_images(self.engine, progress)
        flags = ["-f", dockerfile] if dockerfile != "Dockerfile" else []
        flags += [word for key, value in user_labels.items() for word in ("--label", f"{key}={value}")]
        command = docker_command("build", *(["-t", tag] if tag else []), *flags, str(path))
        return BuildResult(tag, progress.image_id, progress.steps, command, builder_used(self.engine))

    def _remove_stage_images(self) -> int:
        """Remove the remembered stage images that are still there and used by nothing."""
        count, self._stage_images = remove_unused_images(self.engine, self._stage_images)
        return count

    def run(self, image: str, command: Sequence[str] | str | None = None, name: str | None = None,
            detach: bool = False, **options) -> RunResult:
        """`docker run [-d] [--name NAME] [--label K=V] IMAGE [COMMAND]`; a re-run replaces this session's `name`.
        `rm=True` is `--rm`, `publish=[80]` is `-p` (a free host port: see `port` and `fetch`),
        `volumes={"notes": "/data", "./folder": "/shared"}` is `-v` (a name is a volume, a path a folder of
        this host), `platform="linux/arm64"` is `--platform`. Other `options` are `docker run`'s host
        options (`mem_limit`, `network_mode`, ...)."""
        return run_container(self.session, image, command, name, detach, **options)

    def exec(self, name: str, command: Sequence[str] | str) -> Output:
        """`docker exec NAME COMMAND`: one more process in a running container (a string runs through `sh -c`).
        At a terminal, `docker exec -it NAME sh` opens a shell there; a notebook has no terminal, so run one
        command at a time."""
        return self.container(name).exec(command)

    def port(self, name: str, container_port: int | str) -> Output:
        """`docker port NAME PORT`: where the engine publishes the container's port."""
        host, port = self.container(name).port(container_port)
        return Output(docker_command("port", name, str(container_port)), f"{host}:{port}")

    def fetch(self, name: str, container_port: int | str, path: str = "/") -> Output:
        """`curl http://ADDRESS:PORT/PATH`: the page a container serves on a published port, fetched from this
        notebook (at the address where this host reaches the engine's published ports)."""
        url, page = self.container(name).fetch(container_port, path)
        return Output(f"$ curl {url}", page)

    def inspect(self, name: str, *fields: str) -> Output:
        """`docker inspect [--format '{{.A.B}}'] NAME`: a container of that name (else an image), the whole
        answer as JSON or only the dotted `fields` ("State.Status", "Config.Image", "Mounts")."""
        api = self.engine.api
        attrs = found_or_none(lambda: api.inspect_container(name), f"inspect '{name}'") or \
            found_or_none(lambda: api.inspect_image(name), f"inspect '{name}'")
        if attrs is None:
            raise ContainerNotFound(f"There is no container or image named '{name}'; list them with "
                                    "lab.ps(all=True) and lab.images().")
        if not fields:
            return Output(docker_command("inspect", name), json.dumps(attrs, indent=1, sort_keys=True))
        template, text = inspect_fields(attrs, fields)
        return Output(docker_command("inspect", "--format", template, name), text)

    def volume(self, name: str) -> Output:
        """`docker volume create NAME`: a named volume, kept by the engine until `docker volume rm` (or
        `clean()`), whatever happens to the containers that mount it."""
        create_volume(self.session, name)
        return Output(docker_command("volume", "create", name), name)

    def volumes(self) -> Table:
        """`docker volume ls`, limited to this notebook's volumes."""
        rows = [[item.get("Driver", ""), item["Name"]] for item in session_volumes(self.session)]
        return Table(docker_command("volume", "ls"), ["DRIVER", "VOLUME NAME"], rows)

    def remove_volume(self, name: str) -> Output:
        """`docker volume rm NAME` for a volume of this notebook (refused while a container mounts it)."""
        remove_volume(self.session, name)
        return Output(docker_command("volume", "rm", name), name)

    def disk_usage(self) -> Table:
        """`docker system df`: the space images, containers, local volumes and the build cache take on the
        whole engine (not only this notebook's), and what pruning unused ones would free (RECLAIMABLE)."""
        with translated("read the engine's disk usage"):
            df = self.engine.api.df()
        return Table(docker_command("system", "df"), DISK_USAGE_COLUMNS, disk_usage_rows(df))

    def container(self, name: str) -> Container:
        """The container called `name` (or with that id)."""
        return Container(self.session, inspect_container(self.session, name), name)

    def logs(self, name: str) -> Output:
        """`docker logs NAME`: everything the container printed so far."""
        return self.container(name).logs()

    def ps(self, all: bool = False, size: bool = False) -> Table:
        """`docker ps [-a] [-s]`, limited to this notebook's containers so the view stays readable; `size` adds
        SIZE: the container's writable layer (and, as "virtual", with its image's layers)."""
        selector = {"label": session_filter(self.session.id)}
        with translated("list the containers"):
            # ignore_removed: a `--rm` container may be removed between the list and its inspect
            containers = self.engine.client.containers.list(all=all, filters=selector, ignore_removed=True)
            sizes = {item["Id"]: item for item in self.engine.api.containers(all=all, size=True, filters=selector)} \
                if size else {}
        rows = []
        for item in sorted(containers, key=lambda c: c.attrs["Created"]):
            state = item.attrs["State"]
            status = "Up" if state["Running"] else (
                "Created" if state["Status"] == "created" else f"Exited ({state['ExitCode']})")
            config = item.attrs["Config"]
            command = " ".join((config.get("Entrypoint") or []) + (config.get("Cmd") or []))
            row = [item.name, image_as_given(self.engine, item.attrs), command, status]
            if size:
                listed = sizes.get(item.id, {})
                row.append(f"{human_size(listed.get('SizeRw') or 0)} (virtual {human_size(listed.get('SizeRootFs'))})")
            rows.append(row)
        columns = ["NAMES", "IMAGE", "COMMAND", "STATUS"] + (["SIZE"] if size else [])
        return Table(docker_command("ps", "-a" if all else None, "-s" if size else None), columns, rows)

    def images(self, repository: str | None = None) -> Table:
        """`docker images [REPOSITORY]`: every tagged image on the engine (or of one repository), with its short
        id and size."""
        rows = []
        for image in list_images(self.engine, repository):
            for ref in image.get("RepoTags") or []:
                name, _, tag = familiar_name(ref).rpartition(":")
                if repository is None or name == familiar_name(repository):
                    rows.append([name, tag, image["Id"].removeprefix("sha256:")[:12], f"{image['Size'] / 1e6:.1f}MB"])
        return Table(docker_command("images", repository), ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"], sorted(rows))

    def image_id(self, image: str) -> str:
        """`docker image inspect --format '{{.Id}}' IMAGE`: the image's id, the sha256 digest of its configuration
        (which names every layer by its digest): the same content always has the same id."""
        return inspect_image(self.engine, image)["Id"]

    def remove(self, name: str, force: bool = False) -> Output:
        """`docker rm [-f] NAME` for a container of this session (a running one needs `force`)."""
        return self.container(name).remove(force)

    def start(self, name: str) -> Output:
        """`docker start NAME`: run a stopped container's command again, in the same container."""
        return self.container(name).start()

    def stop(self, name: str, timeout: int = 10) -> Output:
        """`docker stop NAME`: ask the main process to end (TERM), kill it after `timeout` seconds."""
        return self.container(name).stop(timeout)

    def restart(self, name: str, timeout: int = 10) -> Output:
        """`docker restart NAME`: stop, then start again."""
        return self.container(name).restart(timeout)

    def containers_using(self, image: str) -> list[str]:
        """Names of the containers (running or stopped) made from exactly this image (a name or an id)."""
        return containers_using(self.engine, inspect_image(self.engine, image)["Id"])

    def commit(self, container: str, repository: str, tag: str = "latest") -> Output:
        """`docker commit CONTAINER REPOSITORY:TAG`: a new image, the container's image plus one layer holding
        its writable layer (labelled with this session, so `clean()` removes it)."""
        reference = parse_reference(f"{repository}:{tag}")
        attrs = inspect_container(self.session, container)
        before = len(inspect_image(self.engine, attrs["Image"])["RootFS"].get("Layers") or [])
        label = [f"LABEL {key}={value}" for key, value in self.session.labels.items()]
        with translated(f"commit the container '{container}'", container=container):
            answer = self.engine.api.commit(attrs["Id"], repository=reference.repository, tag=reference.tag,
                                            changes=label)
        after = len(inspect_image(self.engine, answer["Id"])["RootFS"].get("Layers") or [])
        name = f"{repository}:{tag}"
        return Output(docker_command("commit", container, name),
                      f"Saved the container {attrs['Name'].lstrip('/')} as the image {name}: "
                      f"{before} layer(s) of its image + {after - before} new layer (its writable layer).")

    def history(self, image: str) -> Table:
        """`docker history IMAGE`, rows as the CLI shows them (the kit's session label step left out): the IMAGE
        column is `<missing>` for a step that has no image of its own on this engine (pulled or loaded images,
        and every step but the last of a BuildKit build), else that step's short id. The top row is the image
        itself on every engine (Podman finds ids by layers and may name another image with the same layers)."""
        attrs = self._inspect_image(image)
        rows = []
        with translated(f"read the history of '{image}'", image=image):
            history = self.engine.api.history(attrs["Id"])
        merged_id = None  # the classic builder's label step is shown merged into the step below, as BuildKit builds it
        for item in history:
            step = Step(item.get("CreatedBy", ""), not item.get("Size"), None)
            if step.session_label:
                merged_id = item["Id"]
                continue
            image_id, merged_id = merged_id or item["Id"], None
            shown = image_id if image_id == "<missing>" else image_id.removeprefix("sha256:")[:12]
            step = step.text
            rows.append([shown, shorten(step, 50), human_size(item.get("Size", 0))])
        if rows:
            rows[0][0] = attrs["Id"].removeprefix("sha256:")[:12]
        return Table(docker_command("history", image), ["IMAGE", "CREATED BY", "SIZE"], rows)

    def dangling(self) -> Table:
        """`docker images --filter dangling=true`, limited to this notebook's images: the `<none>` ones a rebuild
        left behind when it moved their name to a new image (and the stages of its multi-stage builds)."""
        with translated("list the dangling images"):
            found = self.engine.api.images(filters={"dangling": True, "label": session_filter(self.session.id)})
            found += [item for item in self.engine.api.images(filters={"dangling": True})
                      if item["Id"] in self._stage_images]
        rows = [["<none>", "<none>", item["Id"].removeprefix("sha256:")[:12], human_size(item.get("Size", 0))]
                for item in sorted(found, key=lambda item: item["Created"])]
        return Table(docker_command("images", "--filter", "dangling=true"), ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"], rows)

    def prune(self) -> Output:
        """`docker image prune --filter label=dockerlab.session=<this notebook>`: remove this notebook's dangling
        images (never anyone else's)."""
        selector = session_filter(self.session.id)
        dangling = len(self.dangling())
        with translated("prune this notebook's dangling images"):
            self.engine.api.prune_images(filters={"dangling": True, "label": selector})
        self._remove_stage_images()
        return Output(docker_command("image", "prune", "--force", "--filter", f"label={selector}"),
                      f"Removed {dangling} dangling image(s) made by this notebook; nothing else was touched.")

    @property
    def swarm(self) -> Swarm:
        """`docker swarm` / `docker service` for this notebook (lesson 11)."""
        return Swarm(self.session)

    def layers(self, image: str, files: bool = False) -> ImageLayers:
        """`docker history IMAGE` as a model; with `files`, what each layer adds, modifies and deletes."""
        return load_image_layers(self.engine, image, files, self._built)

    def diff(self, container: str) -> ContainerLayer:
        """`docker diff CONTAINER`: its writable layer (A added, C changed, D deleted) and its size."""
        return load_container_layer(self.engine, container)

    def diagram(self, *images: str | ImageLayers, containers: Sequence[str] = (), files: bool = False):
        """A picture of the images' layer stacks (as one tree), with `containers` dashed on top."""
        return Diagram(stack_models(self.engine, images, containers, files, self._built))

    def explore(self, image: str | ImageLayers):
        """A layer explorer: pick a layer, see the files it added, modified and deleted."""
        model = image if isinstance(image, ImageLayers) else self.layers(image, files=True)
        return LayerExplorer(model)

    def clean(self) -> dict[str, int]:
        """Remove every service, container, network, volume, image and image name this session created,
        forget its logins, stop its registries, leave the swarm if it started it; nothing else is touched."""
        tags = self._remove_made_refs()
        logins = len(self._credentials)
        self._credentials.clear()
        registries = self.stop_registries()
        cleaned = self.session.clean()
        cleaned["images"] = cleaned.get("images", 0) + self._remove_stage_images()
        return {**cleaned, "tags": tags, "logins": logins, "registries": registries}

    # --- sharing images: a registry of our own, login, tag, push, pull ---------------------------

    def start_registry(self, port: int | None = None, users: dict[str, str] | None = None,
                       storage: str | Path | None = None) -> Registry | RegistryContainer:
        """A real registry at the engine's 127.0.0.1 for this notebook (stopped by `clean()` or when the kernel
        exits): a process on this host, or a container on the engine when the engine is elsewhere.

        `users` maps user names to passwords (htpasswd, bcrypt); `storage` is a folder or a name whose
        images survive restarts (default: temporary storage, removed on stop)."""
        registry = registry_where_the_engine_is(self.engine, port, users, storage, owner=self.session.id)
        if not self._stops_registries_at_exit:
            atexit.register(self.stop_registries)
            self._stops_registries_at_exit = True
        self._registries.append(registry)
        return registry

    def stop_registries(self) -> int:
        """Stop the registries this notebook started; returns how many were still running."""
        started, self._registries = self._registries, []
        running = [registry for registry in started if registry.is_running()]
        for registry in started:
            registry.stop()  # a stopped one only has its folder tidied
        return len(running)

    def login(self, registry: str | Registry | RegistryContainer, username: str, password: str) -> Output:
        """`docker login REGISTRY`: checked by the engine now, kept in this kernel's memory only (never on
        disk, never shown), used by `push` and `pull`, forgotten by `logout` and `clean()`."""
        address = registry_address(str(registry))
        check_login(self.engine, address, username, password)
        self._credentials[address] = {"username": username, "password": password}
        where = None if address == DOCKER_HUB else address
        return Output(docker_command("login", where, "--username", username, "--password-stdin"), "Login Succeeded")

    def logout(self, registry: str | Registry | RegistryContainer) -> Output:
        """`docker logout REGISTRY`: forget this notebook's login there."""
        address = registry_address(str(registry))
        known = self._credentials.pop(address, None) is not None
        text = f"Removing login credentials for {address}" if known else f"Not logged in to {address}"
        return Output(docker_command("logout", None if address == DOCKER_HUB else address), text)

    def tag(self, image: str, repository: str, tag: str = "latest") -> Output:
        """`docker tag IMAGE REPOSITORY:TAG`: one more name for the same image (`clean()` removes it)."""
        parse_reference(repository)  # a bad name is reported as the learner wrote it
        reference = parse_reference(f"{repository}:{tag}")
        source = self._inspect_image(image)
        # The name spelt out: Podman takes a short `partech:1.0` as already there when `x/ruud/partech:1.0` is.
        with translated(f"tag the image '{image}'", image=image):
            self.engine.api.tag(image, f"{reference.registry}/{reference.path}", reference.tag)
        self._made_refs[_ref_key(reference)] = source["Id"]
        new_name = f"{repository}:{tag}"
        return Output(docker_command("tag", image, new_name), f"{image} is now also called {new_name}.")

    def push(self, ref: str, show: bool | None = None) -> TransferResult:
        """`docker push REF` with a progress bar per layer; `TransferFailed` unless the registry has it all."""
        reference = parse_reference(ref)
        progress = self._transfer("push", reference, ref, show)
        image_id = inspect_image(self.engine, ref)["Id"]
        self._keep_digest_reference(reference, progress, image_id)
        return self._transfer_result("push", reference, ref, progress, image_id)

    def pull(self, ref: str, show: bool | None = None) -> TransferResult:
        """`docker pull REF` with a progress bar per layer; `clean()` removes the name it made."""
        reference = parse_reference(ref)
        progress = self._transfer("pull", reference, ref, show)
        image_id = inspect_image(self.engine, ref)["Id"]
        self._made_refs[_ref_key(reference)] = image_id
        self._keep_digest_reference(reference, progress, image_id)
        return self._transfer_result("pull", reference, ref, progress, image_id)

    def rmi(self, ref: str) -> Output:
        """`docker rmi REF` for an image this notebook built, tagged or pulled (others are refused); refused
        with the names of the containers (stopped ones too) that still use it."""
        attrs = self._inspect_image(ref)
        key = _ref_key(parse_reference(ref)) if ref != attrs["Id"] else ""
        if not (self.session.owns(attrs["Config"].get("Labels")) or self._made_refs.get(key) == attrs["Id"]):
            raise NotOwned(f"The image {ref} was not made by this notebook, so the kit will not remove it; "
                            f"remove it yourself with `docker rmi {ref}` if it is yours.")
        answer = remove_image(self.engine, ref, attrs)
        self._made_refs.pop(key, None)
        lines = [f"Untagged: {familiar_name(item['Untagged'])}" for item in answer if "Untagged" in item]
        # Only the image itself: how many parent steps go with it depends on what else shares them.
        lines += [f"Deleted: {attrs['Id']}" for item in answer  # Podman leaves out the sha256: prefix
                  if f"sha256:{item.get('Deleted', '').removeprefix('sha256:')}" == attrs["Id"]]
        return Output(docker_command("rmi", ref), "\n".join(lines))

    def _inspect_image(self, ref: str) -> dict:
        parse_reference(ref)  # an image id parses too: a bad name is refused before the engine is asked
        return inspect_image(self.engine, ref)

    def _keep_digest_reference(self, reference: Reference, progress: TransferProgress, image_id: str) -> None:
        """`NAME@DIGEST` names the image as on Docker (Podman: made here, so `clean()` removes it)."""
        kept = keep_digest_reference(self.engine, reference, progress.digest, self._credentials.get(reference.registry))
        if kept is not None:
            self._made_refs[kept] = image_id

    def _transfer(self, action: str, reference: Reference, shown: str, show: bool | None) -> TransferProgress:
        view = None
        if show if show is not None else notebook.in_notebook():
            view = TransferView(action, shown)
        try:
            progress = transfer(self.engine, action, reference, shown, self._credentials.get(reference.registry),
                                view.update if view else None)
        except KeyboardInterrupt:
            if view:
                view.finish(None, failed=True)
            raise Interrupted(f"Interrupted: the {action} of {shown} was stopped before it finished; "
                              f"run it again to {action} it whole.") from None
        except TransferFailed:
            if view:
                view.finish(None, failed=True)
            raise
        if view:
            view.finish(progress, failed=False)
        return progress

    @staticmethod
    def _transfer_result(action: str, reference: Reference, shown: str, progress: TransferProgress,
                         image_id: str) -> TransferResult:
        layers = {layer.id: layer.status for layer in progress.layers.values()}
        return TransferResult(docker_command(action, shown), action, reference.repository, reference.tag,
                              progress.digest, progress.header, layers, progress.outcome, image_id)

    def _remove_made_refs(self) -> int:
        """Untag the names this session made that still name the image it made them for."""
        count = untag_if_unchanged(self.engine, self._made_refs)
        self._made_refs.clear()
        return count

    def __repr__(self) -> str:
        return f"Lab connected to {self.engine.backend.capitalize()} {self.engine.version} (API {self.engine.api_version})"


def _ref_key(reference: Reference) -> str:
    """How the engine names a tag or digest reference (`ubuntu:latest`, `127.0.0.1:5000/x/y@sha256:...`)."""
    return f"{reference.repository}@{reference.digest}" if reference.digest else f"{reference.repository}:{reference.tag}"


_lab: Lab | None = None


def connect() -> Lab:
    """The notebook's `Lab`: connects once per process, sweeps stale sessions, makes the base image."""
    global _lab
    notebook.install_error_display()
    if _lab is None or _lab.session.pid != os.getpid():
        _lab = Lab(connect_engine())
    sweep_stale_sessions(_lab.engine, keep=_lab.session.id)
    sweep_stale_registries()
    ensure_base_image(_lab.engine)
    return _lab

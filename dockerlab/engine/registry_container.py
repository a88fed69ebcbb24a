"""The registry as a container on the engine, for an engine that is not on this host (Docker Desktop, a
remote DOCKER_HOST): a process started here would not be at the engine's 127.0.0.1.

The image is `registry:2` (another with `$DOCKERLAB_REGISTRY_IMAGE`), pulled when it is missing and a
registry answers. Its port 5000 is published on the engine's 127.0.0.1 (on all its addresses when this
host reaches it elsewhere: see `Engine.address`), so image names stay `127.0.0.1:PORT/...`, which the
engine pushes to over plain HTTP. Users go in as an htpasswd file copied into the container; storage is
the container's own (gone with it) or a named volume that survives. A notebook's registry carries its
session label (its `clean()` and the sweep of finished sessions remove it); the one `dockerlab registry start`
runs carries `dockerlab.kit=registry` instead and stays until `dockerlab registry stop`.
"""
from __future__ import annotations

import io
import os
import secrets
import tarfile
import time
from dataclasses import dataclass, field

from ..errors import RegistryUnavailable
from ..model.labels import KIT_LABEL, REGISTRY_USERS_LABEL, session_labels
from .connection import Engine, is_loopback
from .registry import (CLI_OWNER, HOST, START_SECONDS, Registry, RegistryText, answers, check_port_number,
                       cli_registry, htpasswd_text, port_taken_error, start_registry)
from .translate import ENGINE_ERRORS, explanation, found_or_none, removed, translated

IMAGE = "registry:2"
IMAGE_SETTING = "DOCKERLAB_REGISTRY_IMAGE"
PORT = "5000/tcp"
STORAGE_PATH = "/var/lib/registry"
HTPASSWD_PATH = "/auth/htpasswd"
VOLUME_PREFIX = "dockerlab-registry-"
CLI_LABELS = {KIT_LABEL: "registry"}


@dataclass(repr=False)
class RegistryContainer(RegistryText):
    """A registry running as a container on the engine; `address` is how the engine reaches it."""

    engine: Engine = field(compare=False)
    container_id: str
    port: int
    users: list[str]
    volume: str | None  # the named volume holding its images, or None: the container's own storage
    host: str = HOST

    @property
    def temporary(self) -> bool:
        return self.volume is None

    @property
    def url(self) -> str:
        """Where this host reaches it: the engine's address for published ports."""
        return f"http://{self.engine.address}:{self.port}"

    def is_running(self) -> bool:
        state = found_or_none(lambda: self.engine.api.inspect_container(self.container_id), "look for the registry")
        return bool(state and state["State"]["Running"])

    def stop(self) -> None:
        """Remove the container (and its own storage); a named volume stays."""
        with translated("remove the registry's container"):
            removed(lambda: self.engine.api.remove_container(self.container_id, force=True, v=True))

    def describe(self) -> str:
        kept = "temporary storage" if self.temporary else f"storage kept in the volume {self.volume}"
        return (f"Registry running at {self.address} (container {self.container_id[:12]} on the engine; "
                f"{self._who}; {kept}).")


def registry_image(engine: Engine) -> str:
    """The registry's image on the engine, pulled when it is not there yet."""
    image = os.environ.get(IMAGE_SETTING) or IMAGE
    if found_or_none(lambda: engine.api.inspect_image(image), f"look for the image {image}") is not None:
        return image
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    try:
        engine.api.pull(repository, tag=tag)
    except ENGINE_ERRORS as error:
        raise RegistryUnavailable(
            f"The registry's image {image} is not on the engine and could not be pulled "
            f"({explanation(error).rstrip('.')}); pull it once where a registry answers (`docker pull {image}`) "
            "and start the registry again.") from None
    return image


def volume_name(storage: str) -> str:
    """A named storage on the engine: the volume `dockerlab-registry-NAME` (a folder here is not there)."""
    if "/" in storage:
        raise RegistryUnavailable(
            f"The registry runs on the engine, which is not on this host, so it cannot keep its images in the "
            f"folder '{storage}' here; give a bare name instead, such as 'class' (kept in a volume on the engine).")
    return f"{VOLUME_PREFIX}{storage}"


def registry_environment(users: dict[str, str] | None) -> dict[str, str]:
    """The Distribution registry's settings as environment variables (they override its config file)."""
    environment = {"REGISTRY_HTTP_SECRET": secrets.token_hex(16), "REGISTRY_STORAGE_DELETE_ENABLED": "true",
                   "REGISTRY_LOG_LEVEL": "info", "REGISTRY_LOG_ACCESSLOG_DISABLED": "true"}
    if users:
        environment.update(REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_REALM="dockerlab",
                           REGISTRY_AUTH_HTPASSWD_PATH=HTPASSWD_PATH)
    return environment


def htpasswd_archive(users: dict[str, str]) -> bytes:
    """A tar holding the htpasswd file at its path in the container (copied in before it starts)."""
    data = htpasswd_text(users).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(os.path.dirname(HTPASSWD_PATH).lstrip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        entry = tarfile.TarInfo(HTPASSWD_PATH.lstrip("/"))
        entry.size, entry.mode = len(data), 0o644
        tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def registry_where_the_engine_is(engine: Engine | None, port: int | None, users: dict[str, str] | None,
                                 storage: str | os.PathLike | None, owner: str) -> Registry | RegistryContainer:
    """A registry at the engine's 127.0.0.1: a process here when the engine runs on this host (or none answers
    yet), else a container on the engine. `owner` is a session id, or `cli` for `dockerlab registry start`'s."""
    if engine is None or engine.local:
        return start_registry(port, users, storage, owner=owner)
    labels = CLI_LABELS if owner == CLI_OWNER else session_labels(owner)
    return start_registry_container(engine, labels, port, users, None if storage is None else str(storage))


def cli_registry_where_the_engine_is(engine: Engine | None) -> Registry | RegistryContainer | None:
    """The registry `dockerlab registry start` left running for this engine (None: none answers), if any."""
    if engine is None or engine.local:
        return cli_registry()
    selector = "=".join(next(iter(CLI_LABELS.items())))
    with translated("look for the registry `dockerlab registry start` started"):
        found = engine.api.containers(filters={"label": selector})
    return registry_of_container(engine, found[0]) if found else None


def registry_of_container(engine: Engine, listed: dict) -> RegistryContainer:
    """A registry container as the engine lists it (`docker ps`)."""
    port = next(item["PublicPort"] for item in listed["Ports"] if item.get("PrivatePort") == 5000 and "PublicPort" in item)
    users = [name for name in (listed["Labels"].get(REGISTRY_USERS_LABEL) or "").split(",") if name]
    volume = next((mount["Name"] for mount in listed.get("Mounts") or []
                   if mount.get("Type") == "volume" and mount.get("Name", "").startswith(VOLUME_PREFIX)), None)
    return RegistryContainer(engine, listed["Id"], port, users, volume)


def start_registry_container(engine: Engine, labels: dict[str, str], port: int | None = None,
                             users: dict[str, str] | None = None, storage: str | None = None) -> RegistryContainer:
    """Run the registry on the engine, published on `port` (a free one when None), and wait until this host
    reaches it; `labels` name its owner (a session's label, or the kit's for the CLI's)."""
    if port is not None:
        check_port_number(port)
    image = registry_image(engine)
    volume = volume_name(str(storage)) if storage else None
    api = engine.api
    bind_ip = HOST if is_loopback(engine.address) else "0.0.0.0"
    with translated("create the registry's container"):
        host_config = api.create_host_config(port_bindings={PORT: (bind_ip, port)},
                                             binds={volume: {"bind": STORAGE_PATH, "mode": "rw"}} if volume else None)
        created = api.create_container(image, environment=registry_environment(users), ports=[PORT],
                                       labels={**labels, REGISTRY_USERS_LABEL: ",".join(sorted(users or {}))},
                                       host_config=host_config)
    registry = RegistryContainer(engine, created["Id"], port or 0, sorted(users or {}), volume)
    try:
        with translated("copy the registry's users into its container"):
            if users:
                api.put_archive(created["Id"], "/", htpasswd_archive(users))
        try:
            api.start(created["Id"])
        except ENGINE_ERRORS as error:
            if port and any(word in explanation(error) for word in ("already allocated", "already in use")):
                raise port_taken_error(port) from None
            raise RegistryUnavailable(f"The registry's container did not start: {explanation(error)}") from None
        with translated("read the registry's published port"):
            bound = api.inspect_container(created["Id"])["NetworkSettings"]["Ports"][PORT][0]
        registry.port = int(bound["HostPort"])
        wait_until_answering(registry)
    except BaseException:
        registry.stop()  # a failed start leaves nothing behind
        raise
    return registry


def wait_until_answering(registry: RegistryContainer) -> None:
    """Wait until this host reaches the registry; one sentence when it stopped or cannot be reached."""
    deadline = time.monotonic() + START_SECONDS
    while not answers(registry.url):
        if not registry.is_running():
            with translated("read the registry's log"):
                logs = registry.engine.api.logs(registry.container_id, tail=1).decode(errors="replace").strip()
            raise RegistryUnavailable(f"The registry's container stopped at once ({logs[-200:] or 'nothing logged'}).")
        if time.monotonic() > deadline:
            raise RegistryUnavailable(
                f"The registry runs on the engine but this host cannot reach it at {registry.url}; if the engine "
                f"publishes ports at another address, set DOCKERLAB_ENGINE_ADDRESS to it and start the registry again.")
        time.sleep(0.05)


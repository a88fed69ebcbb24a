"""Running containers the way `docker run` does, without ever leaving a half-made one behind."""
from __future__ import annotations

import http.client
import shlex
import time
import urllib.error
import urllib.request
from typing import Sequence

import docker

from ..errors import ContainerRunning, Interrupted, NotOwned, RunFailed
from ..model.labels import check_user_labels
from ..model.references import familiar_name
from ..model.results import Model, Output
from ..model.text import docker_command
from .connection import Engine, is_loopback
from .session import Session
from .translate import ENGINE_ERRORS, explain, explanation, removed, translated
from .volumes import mounts


PODMAN_STATES = {"stopped": "exited", "configured": "created"}  # Podman's own words, Docker's


class Container(Model):
    """One container: the engine's inspect answer plus what a learner asks of it."""

    def __init__(self, session: Session, attrs: dict, given_name: str | None = None) -> None:
        super().__init__(attrs)
        self.session = session
        self.given_name = given_name  # the name the learner chose; None when the engine made one up

    @property
    def name(self) -> str:
        return self.attrs.get("Name", "").lstrip("/")

    @property
    def image(self) -> str:
        return image_as_given(self.session.engine, self.attrs)

    @property
    def status(self) -> str:
        """Docker's word for the state (Podman says `stopped` for a while before `exited`)."""
        status = self.attrs.get("State", {}).get("Status", "")
        return PODMAN_STATES.get(status, status)

    @property
    def exit_code(self) -> int | None:
        state = self.attrs.get("State", {})
        return None if state.get("Running") or self.status == "created" else state.get("ExitCode")

    @property
    def ref(self) -> str:
        """How the CLI lines refer to this container: its chosen name, else a stable placeholder."""
        return self.given_name or "<container>"

    def reload(self) -> "Container":
        self.attrs = inspect_container(self.session, self.id)
        return self

    def logs(self) -> Output:
        raw = self.session.engine.api.logs(self.id, stdout=True, stderr=True)
        return Output(docker_command("logs", self.ref), raw.decode(errors="replace"))

    def wait(self, timeout: float | None = None) -> int:
        return self.session.engine.api.wait(self.id, timeout=timeout)["StatusCode"]

    def exec(self, command: Sequence[str] | str) -> Output:
        """`docker exec NAME COMMAND`: run one more process inside the running container and wait for it
        (a string runs through `sh -c`); a non-zero exit code is said under its output."""
        self._check_owned("exec")
        cmd = ["sh", "-c", command] if isinstance(command, str) else list(command)
        api = self.session.engine.api
        with translated(f"run a command in the container '{self.ref}'", container=self.ref):
            if self.reload().status != "running":
                raise ContainerRunning(
                    f"The container '{self.ref}' is {self.state}, and `docker exec` runs a command only in a "
                    f"running container; start it first (`docker start {self.ref}`, lab.start(...)).")
            exec_id = api.exec_create(self.id, cmd)["Id"]
            output = api.exec_start(exec_id).decode(errors="replace")
            code = api.exec_inspect(exec_id)["ExitCode"]
        text = output.rstrip("\n") + (f"\n(the command exited with code {code})" if code else "")
        return Output(docker_command("exec", self.ref, *cmd), text.lstrip("\n"))

    def port(self, container_port: int | str) -> tuple[str, int]:
        """`docker port NAME PORT`: the host address and port the engine publishes the container's port on."""
        key = port_key(container_port)
        bindings = (self.reload().attrs.get("NetworkSettings", {}).get("Ports") or {}).get(key)
        if not bindings and self.status != "running":
            raise ContainerRunning(f"The container '{self.ref}' is {self.state}: only a running container's "
                                   f"ports are published; read why it ended with lab.logs('{self.ref}').")
        if not bindings:
            raise RunFailed(f"The container '{self.ref}' does not publish its port {key}; run it with "
                            f"publish=[{key.split('/')[0]}] (`docker run -p`) to reach it from outside.")
        return bindings[0].get("HostIp") or "0.0.0.0", int(bindings[0]["HostPort"])

    def fetch(self, container_port: int | str, path: str = "/", wait_seconds: float = 10) -> tuple[str, str]:
        """The page the container serves on a published port, fetched from this host as a browser would
        (at the engine's address for published ports); the URL and the page. A server that is still
        starting is given `wait_seconds` to answer."""
        url = f"http://{self.session.engine.address}:{self.port(container_port)[1]}{path}"
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                with urllib.request.urlopen(url, timeout=wait_seconds) as answer:
                    return url, answer.read().decode(errors="replace")
            except urllib.error.HTTPError as error:  # the server answered: its error page is the answer
                return url, f"HTTP {error.code} {error.reason}\n{error.read().decode(errors='replace')}"
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError) as error:
                if time.monotonic() > deadline or self.reload().status != "running":
                    raise RunFailed(
                        f"Nothing answered at {url} ({getattr(error, 'reason', error)}): is the server in "
                        f"'{self.ref}' listening on port {port_key(container_port).split('/')[0]}? Read its "
                        f"output with lab.logs('{self.ref}').") from None
                time.sleep(0.2)

    @property
    def command(self) -> str:
        """The process the container runs (ENTRYPOINT + CMD after overrides), as a shell would write it."""
        return shlex.join([self.attrs.get("Path", ""), *self.attrs.get("Args", [])])

    @property
    def state(self) -> str:
        """`running`, `created`, or `exited (exit code N)`."""
        return self.status if self.exit_code is None else f"{self.status} (exit code {self.exit_code})"

    def start(self) -> Output:
        """`docker start NAME`: run the container's command again, in the same container."""
        return self._act(lambda api: api.start(self.id), "start")

    def stop(self, timeout: int = 10) -> Output:
        """`docker stop NAME`: send TERM, and KILL after `timeout` seconds if it is still running."""
        flags = ["-t", str(timeout)] if timeout != 10 else []
        return self._act(lambda api: api.stop(self.id, timeout=timeout), "stop", *flags)

    def restart(self, timeout: int = 10) -> Output:
        """`docker restart NAME`: stop (as `stop` does), then start again."""
        flags = ["-t", str(timeout)] if timeout != 10 else []
        return self._act(lambda api: api.restart(self.id, timeout=timeout), "restart", *flags)

    def remove(self, force: bool = False) -> Output:
        """`docker rm [-f] NAME`; without `force` a running container is refused, as the CLI does."""
        self._check_owned("remove")
        command = docker_command("rm", "-f" if force else None, self.ref)
        if not force and self.reload().status in ("running", "restarting"):
            raise ContainerRunning(
                f"The container '{self.ref}' is still running, so `docker rm {self.ref}` refuses to remove it; "
                f"stop it first (`docker stop {self.ref}`) or force it (`docker rm -f {self.ref}`, remove(force=True))."
            )
        with translated(f"remove the container '{self.ref}'", container=self.ref):
            self.session.engine.api.remove_container(self.id, force=force, v=True)
        return Output(command, f"{self.ref}: removed")

    def _act(self, call, verb: str, *flags: str) -> Output:
        self._check_owned(verb)
        with translated(f"{verb} the container '{self.ref}'", container=self.ref):
            call(self.session.engine.api)
        return Output(docker_command(verb, *flags, self.ref), f"{self.ref}: {self.reload().state}")

    def _check_owned(self, verb: str) -> None:
        if not self.session.owns(self.attrs.get("Config", {}).get("Labels")):
            raise NotOwned(
                f"The container '{self.ref}' was not created by this notebook, so the kit will not {verb} it; "
                f"use `docker {verb} {self.ref}` in a terminal if it is yours."
            )

    def __repr__(self) -> str:
        self.reload()
        return f"{docker_command('ps', '-a', '--filter', f'name={self.ref}')}\n{self.ref}: {self.image}, {self.state}"


def image_as_given(engine: Engine, attrs: dict) -> str:
    """The image a container was made from, as `docker ps` shows it: Docker keeps the name as it was given;
    Podman keeps the name it resolved (`docker.io/library/settings:latest`), shown as `settings`."""
    image = attrs.get("Config", {}).get("Image", "")
    return familiar_name(image).removesuffix(":latest") if engine.backend == "podman" else image


class RunResult:
    """What `docker run` showed: for an attached run the output and exit code, else the container."""

    def __init__(self, container: Container, command: str, output: str | None) -> None:
        self.container = container
        self.command = command
        self.output = output

    @property
    def exit_code(self) -> int | None:
        return self.container.exit_code

    def __repr__(self) -> str:
        if self.output is None:
            how = f"lab.logs({self.container.ref!r})" if self.container.given_name else "its .logs()"
            return f"{self.command}\n(started in the background; read what it prints with {how})"
        lines = [self.command, self.output.rstrip("\n")] if self.output.strip() else [self.command]
        if self.exit_code:
            lines.append(f"(the container exited with code {self.exit_code})")
        return "\n".join(lines)


def inspect_container(session: Session, name_or_id: str) -> dict:
    with translated(f"inspect the container '{name_or_id}'", container=name_or_id):
        return session.engine.api.inspect_container(name_or_id)


def port_key(port: int | str) -> str:
    """`80` -> `80/tcp`, as the engine names a container's port."""
    return str(port) if "/" in str(port) else f"{port}/tcp"


def run_command_line(image: str, command: Sequence[str] | str | None, name: str | None, detach: bool,
                     entrypoint: Sequence[str] | str | None = None, labels: dict[str, str] | None = None,
                     flags: Sequence[str] = ()) -> str:
    """The `docker run` line that does what `run_container` does (`flags`: `--rm`, `-p`, `-v`, ... as given)."""
    words: list[str | None] = ["run", "-d" if detach else None, *flags]
    if name:
        words += ["--name", name]
    for key, value in (labels or {}).items():
        words += ["--label", f"{key}={value}"]
    if entrypoint is not None:
        words += ["--entrypoint", entrypoint if isinstance(entrypoint, str) else " ".join(entrypoint)]
    words.append(image)
    if isinstance(command, str):
        words += ["sh", "-c", command]
    elif command:
        words += list(command)
    return docker_command(*words)


def run_container(session: Session, image: str, command: Sequence[str] | str | None = None,
                  name: str | None = None, detach: bool = False,
                  entrypoint: Sequence[str] | str | None = None, labels: dict[str, str] | None = None,
                  rm: bool = False, publish: Sequence[int | str] = (), volumes: dict | None = None,
                  platform: str | None = None, **host_options) -> RunResult:
    """Create, start and (unless detached) wait for a container, as `docker run` does.

    A string `command` runs through `sh -c` (shell form); a list runs as is (exec form). `labels` are the
    learner's own (`--label`), never inside the kit's namespace. `rm` removes the container when its main
    process ends (`--rm`); `publish` lists container ports the engine publishes on a free host port (`-p`:
    on 127.0.0.1 when this host reaches the engine there); `volumes` maps a volume name or a host folder to a
    path in the container (`-v`, see `volumes.mounts`); `platform` asks for one platform's variant of the
    image (`--platform`). Whatever goes wrong, Ctrl-C included, the container is removed before the error
    reaches the learner.
    """
    api = session.engine.api
    user_labels = check_user_labels(labels)
    with translated(f"find the image '{image}'", image=image):
        api.inspect_image(image)
    flags = ["--rm"] if rm else []
    if platform:
        flags += ["--platform", platform]
    ports = [port_key(port) for port in publish]
    if ports:
        bind_ip = "127.0.0.1" if is_loopback(session.engine.address) else "0.0.0.0"
        host_options["port_bindings"] = {port: (bind_ip, None) for port in ports}
        for port in ports:
            number = port.removesuffix("/tcp")
            flags += ["-p", f"127.0.0.1::{number}" if bind_ip == "127.0.0.1" else number]
    if volumes:
        host_options["binds"], words = mounts(session, volumes)
        flags += words
    if rm and detach:
        host_options["auto_remove"] = True  # attached, the kit reads the logs first, then removes it
    if name:
        session.claim_container_name(name)
    cmd = ["sh", "-c", command] if isinstance(command, str) else (list(command) if command else None)
    created = None
    try:
        created = api.create_container(
            image, command=cmd, name=name, labels={**user_labels, **session.labels}, entrypoint=entrypoint,
            ports=[tuple(port.split("/")) for port in ports] or None, platform=platform,
            host_config=api.create_host_config(**host_options),
        )
        api.start(created["Id"])
        output = None
        if not detach:
            api.wait(created["Id"])
            output = api.logs(created["Id"], stdout=True, stderr=True).decode(errors="replace")
        container = Container(session, api.inspect_container(created["Id"]), name)
        if rm and not detach:
            _remove_quietly(session, created)
    except KeyboardInterrupt:
        _remove_quietly(session, created)
        raise Interrupted("Interrupted: the container was stopped and removed.") from None
    except docker.errors.APIError as error:
        _remove_quietly(session, created)
        if platform and created is None and error.status_code == 404:
            raise RunFailed(
                f"The engine has '{image}' only for another platform, not {platform}: `--platform` picks one "
                f"variant of an image, and an image built here exists only for the platform it was built for "
                f"(the docker CLI would now try to pull that variant from a registry). "
                f"The engine said: {explanation(error).rstrip('.')}.") from None
        raise RunFailed(f"The engine could not run '{image}': {explanation(error)}.") from None
    except BaseException:
        _remove_quietly(session, created)
        raise
    command_line = run_command_line(image, command, name, detach, entrypoint, user_labels, flags)
    return RunResult(container, command_line, output)


def _remove_quietly(session: Session, created: dict | None) -> None:
    if created is None:
        return
    try:
        removed(lambda: session.engine.api.remove_container(created["Id"], force=True, v=True))
    except ENGINE_ERRORS:
        pass  # the engine is gone, or the container is being removed already: the session's cleanup tries again


def file_in_image(session: Session, image: str, path: str) -> bool:
    """Whether `path` exists in the image, looked up without running it (a created container is never started)."""
    api = session.engine.api
    with translated(f"look inside the image '{image}'", image=image):
        created = api.create_container(image, labels=session.labels, network_disabled=True)
    try:
        api.get_archive(created["Id"], path)[0].close()
        return True
    except docker.errors.NotFound:
        return False
    except ENGINE_ERRORS as error:
        raise explain(error, f"look inside the image '{image}'") from None
    finally:
        _remove_quietly(session, created)

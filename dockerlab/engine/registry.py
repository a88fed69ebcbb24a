"""A real registry for the lessons, offline: start, find and stop one (login, push and pull: `transfer`).

The registry is the Distribution registry (Debian's `docker-registry`, the code of the `registry:2` image)
run as a host process: `docker-registry serve CONFIG` on a free port of 127.0.0.1 (the engine allows plain
HTTP to 127.0.0.0/8), storage in a temporary folder or a named one that survives restarts, and htpasswd
users (bcrypt) when asked. Each running registry has a small state file (no passwords) naming its owner:
a session id (stopped by that session's `clean()`, or swept once its process is gone) or `cli` (started by
`dockerlab registry start`, stopped only by `dockerlab registry stop`).
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from ..errors import PortTaken, RegistryUnavailable
from .processes import owner_is_alive, process_alive, process_start_ticks

HOST = "127.0.0.1"
BINARY = "docker-registry"
BINARY_SETTING = "DOCKERLAB_REGISTRY_BINARY"  # another program name or path (tests point it nowhere)
STATE_SETTING = "DOCKERLAB_STATE_DIR"  # where state files and named storage live
CLI_OWNER = "cli"
BCRYPT_ROUNDS = 5  # `htpasswd -B`'s default: the registry checks the hash on every request (~2 ms here)
START_SECONDS = 20
STOP_SECONDS = 10
PORT_ATTEMPTS = 3  # a free port can be taken by another program before the registry binds it


# --- the registry process ------------------------------------------------------------------------

def state_root() -> Path:
    """`$DOCKERLAB_STATE_DIR`, else `$XDG_STATE_HOME/dockerlab`, else `~/.local/state/dockerlab`."""
    if os.environ.get(STATE_SETTING):
        return Path(os.environ[STATE_SETTING])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "dockerlab"


class RegistryText:
    """What any registry of the kit shows: its address (what image names and `docker login` use) and who
    may log in. Subclasses have `host`, `port`, `users` and `temporary`."""

    host: str
    port: int
    users: list[str]
    temporary: bool

    @property
    def address(self) -> str:
        """What goes in front of image names and after `docker login`: `127.0.0.1:PORT`."""
        return f"{self.host}:{self.port}"

    @property
    def _who(self) -> str:
        return f"users: {', '.join(self.users)}" if self.users else "no login needed"

    def __str__(self) -> str:
        return self.address

    def __repr__(self) -> str:
        kept = "temporary storage" if self.temporary else "storage kept across restarts"
        return f"Registry at {self.address} ({self._who}; {kept})"


@dataclass(repr=False)
class Registry(RegistryText):
    """A running registry: where it listens, where it keeps images, who may log in (names only)."""

    port: int
    pid: int
    started: str  # the process's start ticks: with the pid, names the process for good
    run_dir: Path  # config.yml, htpasswd and registry.log; removed on stop
    storage: Path
    temporary: bool  # storage lives in run_dir and goes with it
    users: list[str]
    owner: str
    host: str = HOST
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "registry.log"

    @property
    def state_file(self) -> Path:
        return state_root() / "registries" / f"{self.port}.json"

    def is_running(self) -> bool:
        return process_alive(self.pid, self.started)

    def stop(self) -> None:
        """Stop the process (TERM, then KILL), remove its config, log and temporary storage, and its state."""
        if self.is_running():
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS
            while self.is_running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.is_running():
                os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()  # reap our child, so no zombie is left either
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def to_state(self) -> dict:
        return {"port": self.port, "pid": self.pid, "started": self.started, "run_dir": str(self.run_dir),
                "storage": str(self.storage), "temporary": self.temporary, "users": self.users,
                "owner": self.owner, "host": self.host}

    @classmethod
    def from_state(cls, state: dict) -> Registry:
        return cls(**{**state, "run_dir": Path(state["run_dir"]), "storage": Path(state["storage"])})

    def describe(self) -> str:
        """One line for `dockerlab registry status` (with the pid and the storage folder)."""
        kept = "temporary storage" if self.temporary else f"storage kept in {self.storage}"
        return f"Registry running at {self.address} (pid {self.pid}; {self._who}; {kept})."


def registry_binary(name: str | None = None) -> str:
    """The registry program's path; `RegistryUnavailable` saying how to install it when it is missing."""
    wanted = name or os.environ.get(BINARY_SETTING) or BINARY
    found = shutil.which(wanted)
    if not found:
        raise RegistryUnavailable(
            f"The registry program '{wanted}' was not found on this machine; install it with `make setup` "
            "(or `sudo apt-get install docker-registry`) and start the registry again.")
    return found


def free_port(ip: str = HOST) -> int:
    """A port nothing listens on at `ip`, picked by the system."""
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def bind_error(ip: str, port: int) -> OSError | None:
    """Why nothing could listen on `ip:port` now; None when something could (TIME_WAIT is no owner)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as error:
            return error
    return None


def port_taken_error(port: int) -> PortTaken:
    return PortTaken(
        f"Port {port} on {HOST} is already in use by another program, so the registry cannot listen there; "
        "choose another port (--port N), or leave the port out to have a free one picked.")


def check_port_number(port: int) -> None:
    if not 0 < port < 65536:
        raise RegistryUnavailable(f"Port {port} is not a port number; choose one between 1024 and 65535.")


def check_port_free(port: int) -> int:
    """`port` when nothing listens on it; the port-taken sentence otherwise."""
    check_port_number(port)
    error = bind_error(HOST, port)
    if error is not None and error.errno == errno.EADDRINUSE:
        raise port_taken_error(port)
    if error is not None:
        raise RegistryUnavailable(f"The registry cannot listen on {HOST}:{port} ({error.strerror}); "
                                  "choose another port (--port N).")
    return port


def storage_folder(storage: str | Path) -> Path:
    """A bare name (`class`) is kept under the kit's state folder; anything with a '/' is a path."""
    text = str(storage)
    return (state_root() / "storage" / text) if os.sep not in text else Path(text).expanduser().resolve()


def htpasswd_text(users: dict[str, str]) -> str:
    """`htpasswd -B`: one `user:bcrypt-hash` line per user; the passwords themselves are never written."""
    lines = []
    for user, password in users.items():
        if not user or ":" in user or not password:
            raise RegistryUnavailable("Each registry user needs a name without ':' and a non-empty password.")
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()
        lines.append(f"{user}:{hashed}\n")
    return "".join(lines)


def write_htpasswd(path: Path, users: dict[str, str]) -> None:
    path.write_text(htpasswd_text(users))
    path.chmod(0o600)


def registry_config(port: int, storage: Path, htpasswd: Path | None) -> dict:
    """The registry's config.yml (JSON is valid YAML): local storage, deletes allowed, no access log."""
    config = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}, "fields": {"service": "dockerlab-registry"}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"{HOST}:{port}", "secret": secrets.token_hex(16)},
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "dockerlab", "path": str(htpasswd)}}
    return config


def answers(url: str) -> bool:
    """The registry's API root answers (200 without auth, 401 with it)."""
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=2):
            return True
    except urllib.error.HTTPError as error:
        return error.code == 401
    except OSError:
        return False


def _last_log_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.exists() else []
    return lines[-1] if lines else "(nothing logged)"


def start_registry(port: int | None = None, users: dict[str, str] | None = None, storage: str | Path | None = None,
                   owner: str = CLI_OWNER, binary: str | None = None) -> Registry:
    """Start `docker-registry serve` on 127.0.0.1 and wait until it answers; raise `RegistryUnavailable`.

    Without a `port`, a free one is picked (and another, should some other program take it first)."""
    program = registry_binary(binary)
    if port:
        return _launch(program, check_port_free(port), users, storage, owner)
    for attempt in range(PORT_ATTEMPTS):
        try:
            return _launch(program, free_port(), users, storage, owner)
        except PortTaken:
            if attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("not reached")


def _launch(program: str, port: int, users: dict[str, str] | None, storage: str | Path | None,
            owner: str) -> Registry:
    run_dir = Path(tempfile.mkdtemp(prefix="dockerlab-registry-"))
    try:
        storage_path = run_dir / "storage" if storage is None else storage_folder(storage)
        storage_path.mkdir(parents=True, exist_ok=True)
        htpasswd = run_dir / "htpasswd" if users else None
        if htpasswd is not None:
            write_htpasswd(htpasswd, users)
        config = run_dir / "config.yml"
        config.write_text(json.dumps(registry_config(port, storage_path, htpasswd), indent=2))
        with (run_dir / "registry.log").open("ab") as log:
            process = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    registry = Registry(port, process.pid, process_start_ticks(process.pid), run_dir, storage_path,
                        storage is None, sorted(users or {}), owner, process=process)
    deadline = time.monotonic() + START_SECONDS
    while not (answers(registry.url) and process.poll() is None):
        if process.poll() is not None or time.monotonic() > deadline:
            last = _last_log_line(registry.log_path)
            registry.stop()
            if "address already in use" in last:
                raise port_taken_error(port)
            raise RegistryUnavailable(
                f"The registry on {registry.address} did not start ({last[-200:]}); "
                f"check that `{program} serve` works on this machine, or run `make setup` again.")
        time.sleep(0.05)
    registry.state_file.parent.mkdir(parents=True, exist_ok=True)
    registry.state_file.write_text(json.dumps(registry.to_state(), indent=2))
    return registry


def recorded_registries() -> list[Registry]:
    """Registries whose state file names a live process; the leftovers of dead ones are tidied away."""
    found = []
    for path in sorted((state_root() / "registries").glob("*.json")):
        try:
            registry = Registry.from_state(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            path.unlink(missing_ok=True)
            continue
        if registry.is_running():
            found.append(registry)
        else:
            registry.stop()  # only tidies: the process is gone
    return found


def cli_registry() -> Registry | None:
    """The registry `dockerlab registry start` left running, if any."""
    return next((registry for registry in recorded_registries() if registry.owner == CLI_OWNER), None)


def sweep_stale_registries() -> list[str]:
    """Stop registries whose owning session's process is gone; the CLI's and live sessions' stay."""
    swept = []
    for registry in recorded_registries():
        if registry.owner != CLI_OWNER and not owner_is_alive(registry.owner):
            registry.stop()
            swept.append(registry.address)
    return swept

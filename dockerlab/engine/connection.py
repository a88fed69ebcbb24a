"""Connecting to the engine: find it, negotiate the API version, detect what it is, start it when allowed.

`connect_engine()` looks in this order: DOCKER_HOST, the Docker CLI's current context, Docker's socket,
Podman's rootful then rootless socket. It never pins an API version, and turns every way a connection
can fail into an `EngineUnavailable` carrying one sentence that names what was tried and what to do.
It also learns whether the engine runs on this host (see `engine_is_local`) and where this host reaches
the ports it publishes (see `published_address`).
"""
from __future__ import annotations

import atexit
import ipaddress
import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from docker.context import ContextAPI
from docker.transport.unixconn import UnixHTTPConnection

from ..errors import EngineUnavailable
from .processes import pid_is_running

MIN_API_VERSION = "1.40"  # Docker 19.03: the oldest engine the lessons were written against
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
PODMAN_SOCKET = "unix:///run/podman/podman.sock"  # rootful; rootless: $XDG_RUNTIME_DIR/podman/podman.sock
DOCKERD_PIDFILE = Path("/var/run/docker.pid")
DOCKERD_LOG = Path("/var/log/dockerlab-dockerd.log")
ADDRESS_SETTING = "DOCKERLAB_ENGINE_ADDRESS"  # where this host reaches the engine's published ports
LOOPBACK = "127.0.0.1"

WHAT_TO_DO = (
    "Start Docker (Docker Desktop on macOS/Windows, `sudo systemctl start docker` on Linux), "
    "or run `make setup` as root to have the kit start it."
)


@dataclass
class Engine:
    """A connected engine: the SDK client plus what was learned while connecting."""

    client: docker.DockerClient
    host: str
    api_version: str
    version: str
    backend: str  # "docker" or "podman"
    info: dict = field(repr=False, default_factory=dict)
    local: bool = True  # the engine runs on this host: it shares our 127.0.0.1 (see `engine_is_local`)
    address: str = LOOPBACK  # where this host reaches the ports the engine publishes

    @property
    def where(self) -> str:
        """Where the engine runs, for `dockerlab doctor`."""
        if self.local:
            return "on this host"
        return f"not on this host ({self.info.get('Name', '?')}); its published ports are reached at {self.address}"

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    @property
    def image_store(self) -> str:
        """Where images live: "containerd" (the containerd image store: ids are manifest digests), the
        storage driver's name (overlay2: ids are config digests), or Podman's "containers/storage"."""
        if self.backend == "podman":
            return f"containers/storage ({self.info.get('Driver', '?')})"
        status = dict(tuple(pair) for pair in self.info.get("DriverStatus") or [] if len(pair) == 2)
        if "containerd" in status.get("driver-type", "") or "snapshotter" in status.get("driver-type", ""):
            return "containerd"
        return self.info.get("Driver", "?")

    @property
    def history_sizes_are_file_bytes(self) -> bool:
        """Whether the history API sizes a layer by its files' bytes, as overlay2 does (the containerd store
        gives its snapshots' disk usage, Podman the layer tar's bytes, a header per file included)."""
        return self.backend == "docker" and self.image_store != "containerd"

    @property
    def default_builder(self) -> str:
        """What `docker build` uses on this engine: BuildKit since Engine 23, the classic builder before,
        Buildah on Podman."""
        if self.backend == "podman":
            return "Buildah"
        major = int(self.version.split(".")[0]) if self.version.split(".")[0].isdigit() else 0
        return "BuildKit" if major >= 23 else "classic"


def docker_host() -> str:
    """The address the SDK will use: DOCKER_HOST, else the current docker context, else the first socket
    that exists of Docker's, Podman's rootful and Podman's rootless (Docker's when none does)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    try:
        context = ContextAPI.get_current_context()
        if context is not None and context.Host:
            return context.Host
    except Exception:  # a broken ~/.docker/config.json must not stop the default socket from working
        pass
    sockets = [DEFAULT_SOCKET, PODMAN_SOCKET]
    if os.environ.get("XDG_RUNTIME_DIR"):
        sockets.append(f"unix://{os.environ['XDG_RUNTIME_DIR']}/podman/podman.sock")
    return next((socket for socket in sockets if Path(socket.removeprefix("unix://")).exists()), DEFAULT_SOCKET)


def engine_is_local(info: dict) -> bool:
    """The engine runs on this host when it reports this host's name and kernel (an engine in a container
    here shares the kernel, not the name; Docker Desktop's VM, `docker-desktop`, shares neither)."""
    same_name = str(info.get("Name", "")).split(".")[0].lower() == socket.gethostname().split(".")[0].lower()
    return same_name and info.get("KernelVersion") == platform.release()


def published_address(host: str, local: bool) -> str:
    """Where this host reaches the engine's published ports: `$DOCKERLAB_ENGINE_ADDRESS`, else 127.0.0.1
    for an engine on this host or behind a socket (Docker Desktop and its kind forward published ports
    to 127.0.0.1), else the host of a tcp:// or ssh:// DOCKER_HOST."""
    if os.environ.get(ADDRESS_SETTING):
        return os.environ[ADDRESS_SETTING]
    parsed = urllib.parse.urlparse(host)
    if local or parsed.scheme not in ("tcp", "ssh", "http", "https") or not parsed.hostname:
        return LOOPBACK
    return parsed.hostname


def is_loopback(address: str) -> bool:
    """127.0.0.1, ::1 or localhost: the address only this machine reaches."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address.lower() == "localhost"


def _api_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def explain_connection_failure(host: str, error: BaseException) -> str:
    """One sentence for a failed connection: what was tried, what went wrong, what to do."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, PermissionError) or "Permission denied" in text:
        return (
            f"Could not reach the Docker engine at {host}: permission denied on its socket. "
            "Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log out and in) "
            "or run as root."
        )
    if "Invalid bind address" in text or "URLSchemeUnknown" in text or "Not supported URL scheme" in text:
        return (
            f"DOCKER_HOST={host} is not an address the Docker client understands. "
            "Unset DOCKER_HOST or set it to something like unix:///var/run/docker.sock."
        )
    if "FileNotFoundError" in text or "No such file or directory" in text:
        reason = "there is no socket there (the engine is not running or not installed)"
    elif "Connection refused" in text or "ConnectionRefused" in text:
        reason = "nothing answers there (the engine is down)"
    elif "timed out" in text.lower():
        reason = "it did not answer in time"
    else:
        reason = f"the connection failed ({type(error).__name__})"
    return f"Could not reach the Docker engine at {host}: {reason}. {WHAT_TO_DO}"


ENGINE_TIMING_ENV = "DOCKERLAB_ENGINE_TIMING"  # a folder: each process writes <pid>.json there


class _EngineWaitClock:
    """Seconds this process spent blocked on the engine's socket (for bench/course.py only)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{os.getpid()}.json"
        self.seconds = 0.0
        self.calls = 0
        self._written = 0.0

    def add(self, seconds: float) -> None:
        self.seconds += seconds
        self.calls += 1
        if time.monotonic() - self._written > 1:
            self.write()

    def write(self) -> None:
        self._written = time.monotonic()
        self.path.write_text(f'{{"engine_wait_seconds": {self.seconds}, "socket_reads": {self.calls}}}')


def install_engine_timing(folder: str) -> None:
    """Time every read and write on the engine's unix socket: the time the kit waits on the engine.

    Enabled only by the DOCKERLAB_ENGINE_TIMING environment variable (bench/course.py sets it for the
    kernels nbval starts). Blocking reads cover the engine's work too: a build step or `wait` for a
    container is time spent waiting for the engine's next bytes.
    """
    if getattr(UnixHTTPConnection, "_dockerlab_timed", False):
        return
    clock = _EngineWaitClock(Path(folder))
    atexit.register(clock.write)

    class TimedSocket(socket.socket):
        __slots__ = ()

        def recv_into(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().recv_into(*args, **kwargs)
            finally:
                clock.add(time.perf_counter() - started)

        def sendall(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super().sendall(*args, **kwargs)
            finally:
                clock.add(time.perf_counter() - started)

    connect = UnixHTTPConnection.connect

    def timed_connect(self):
        connect(self)
        self.sock.__class__ = TimedSocket  # same layout (no new slots): only the methods change

    UnixHTTPConnection.connect = timed_connect
    UnixHTTPConnection._dockerlab_timed = True


def connect_engine(timeout: int = 60) -> Engine:
    """Connect to the engine the environment names, negotiating the API version with it."""
    host = docker_host()
    if os.environ.get(ENGINE_TIMING_ENV):
        install_engine_timing(os.environ[ENGINE_TIMING_ENV])
    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=timeout)
        version = client.version()
        info = client.info()
    except docker.errors.DockerException as error:
        raise EngineUnavailable(explain_connection_failure(host, error.__context__ or error)) from None
    except (requests.exceptions.RequestException, OSError) as error:
        raise EngineUnavailable(explain_connection_failure(host, error)) from None
    api_version = client.api.api_version
    engine_api = version.get("ApiVersion", api_version)
    if _api_tuple(engine_api) < _api_tuple(MIN_API_VERSION):
        client.close()
        raise EngineUnavailable(
            f"The Docker engine at {host} speaks API {engine_api}, older than the {MIN_API_VERSION} "
            "the lessons need. Upgrade Docker (Engine 19.03 or newer)."
        )
    components = " ".join(c.get("Name", "") for c in version.get("Components", []))
    backend = "podman" if "podman" in (components + version.get("Platform", {}).get("Name", "")).lower() else "docker"
    local = engine_is_local(info)
    return Engine(client, host, api_version, version.get("Version", "?"), backend, info, local,
                  published_address(host, local))


def remove_stale_pidfile(pidfile: Path = DOCKERD_PIDFILE) -> bool:
    """Remove dockerd's pid file when its process is gone (a killed session leaves it behind)."""
    try:
        pid = int(pidfile.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    if pid and pid_is_running(pid):
        return False
    pidfile.unlink(missing_ok=True)
    return True


def can_start_daemon() -> bool:
    """We may start dockerd ourselves: root, dockerd installed, and the default socket in use."""
    return os.geteuid() == 0 and shutil.which("dockerd") is not None and docker_host() == DEFAULT_SOCKET


def start_daemon(wait_seconds: int = 90) -> Engine:
    """Start the local engine (systemd if it runs, else dockerd in the background) and wait for it."""
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        subprocess.run(["systemctl", "start", "docker"], check=False)
    else:
        remove_stale_pidfile()
        with DOCKERD_LOG.open("ab") as log:
            subprocess.Popen(
                ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect_engine()
        except EngineUnavailable:
            if time.monotonic() > deadline:
                tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-3:] if DOCKERD_LOG.exists() else []
                raise EngineUnavailable(
                    f"Started dockerd but it did not answer within {wait_seconds} s; "
                    f"see {DOCKERD_LOG} (last lines: {' | '.join(tail)})."
                ) from None
            time.sleep(0.5)


def ensure_engine() -> Engine:
    """Connect, starting the local engine first when it is down and we are allowed to."""
    try:
        return connect_engine()
    except EngineUnavailable:
        if not can_start_daemon():
            raise
    return start_daemon()

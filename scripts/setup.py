#!/usr/bin/env python3
"""`make setup`: everything the lessons need, installed and started; safe to run again and again.

Standard library only (it runs before the virtual environment exists). Steps:
1. system parts (the engine, graphviz, a static busybox, the registry, chromium, skopeo, node and npm): checked, and
   installed with apt when we are root on Debian/Ubuntu; otherwise the missing ones are named;
   the engine is Docker (`docker.io`, plus `docker-cli` and `docker-buildx` where apt has them, as on
   Debian 13), or Podman with `DOCKERLAB_ENGINE=podman` or when Podman is there and Docker is not;
2. Podman only: the loopback registries marked as plain HTTP (a drop-in of its own, as Docker allows
   127.0.0.0/8 by itself), then its Docker-compatible API service, started as root when its socket does not answer;
3. `.venv` with the kit installed (editable, with its `test` extra), reinstalled only when pyproject.toml changed;
4. the classroom's proxy (`configurable-http-proxy`, from npm on Debian's node) when root and missing;
5. the engine: `dockerlab doctor --fix` starts Docker when allowed, builds the base image, and reports.
"""
from __future__ import annotations

import ctypes.util
import http.client
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
STAMP = VENV / ".dockerlab-installed"
DOCKER_SOCKET = Path("/var/run/docker.sock")
PODMAN_SOCKET = Path("/run/podman/podman.sock")
PODMAN_LOG = Path("/var/log/dockerlab-podman.log")
PODMAN_PLAIN_HTTP = Path("/etc/containers/registries.conf.d/50-dockerlab-loopback.conf")
PLAIN_HTTP_CONF = """\
# Written by dockerlab's `make setup`: the lessons' registry listens on 127.0.0.1 over plain HTTP. Docker
# allows plain HTTP to 127.0.0.0/8 by itself; Podman needs to be told. Only loopback addresses are named;
# delete this file (then restart Podman's service) to undo.
[[registry]]
location = "127.0.0.1"
insecure = true

[[registry]]
location = "localhost"
insecure = true
"""
BUILDX_PLUGIN_DIRS = ["/usr/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins",
                      "/usr/local/lib/docker/cli-plugins", str(Path.home() / ".docker" / "cli-plugins")]

# (what we need, how to tell it is there, the Debian package that brings it)
SYSTEM_PARTS = [
    ("graphviz (dot)", lambda: shutil.which("dot"), "graphviz"),
    ("a static busybox", lambda: static_busybox(), "busybox-static"),
    ("the Distribution registry", lambda: shutil.which("docker-registry"), "docker-registry"),
    ("chromium", lambda: system_chromium() or on_ubuntu(), "chromium"),  # Ubuntu: see install_browser
    ("skopeo", lambda: shutil.which("skopeo"), "skopeo"),
    # Playwright's bundled node (the browser test's driver) links against libatomic.
    ("libatomic (for Playwright's driver)", lambda: ctypes.util.find_library("atomic"), "libatomic1"),
    # the classroom's proxy (configurable-http-proxy, from npm) runs on Debian's node
    ("node", lambda: shutil.which("node"), "nodejs"),
    ("npm", lambda: shutil.which("npm"), "npm"),
]
PROXY = "configurable-http-proxy"


def system_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def on_ubuntu() -> bool:
    """Ubuntu's `chromium` package is a stub that installs a snap (no snapd on CI runners, in containers)."""
    try:
        return "ID=ubuntu" in Path("/etc/os-release").read_text().split()
    except OSError:
        return False


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def engine_socket_exists() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return bool(host) or DOCKER_SOCKET.exists()


def socket_answers(path: Path) -> bool:
    """True when an engine API on this unix socket answers GET /_ping."""
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(str(path))

    connection = UnixConnection("localhost", timeout=3)
    try:
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def apt_knows(package: str) -> bool:
    """True when apt has a candidate for this package (Debian 13 has docker-cli; Debian 12 does not)."""
    if not shutil.which("apt-cache"):
        return False
    done = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    return "Candidate:" in done.stdout and "Candidate: (none)" not in done.stdout


def wants_podman() -> bool:
    """Podman when asked (DOCKERLAB_ENGINE=podman), or when it is there and no Docker engine is."""
    choice = os.environ.get("DOCKERLAB_ENGINE", "").lower()
    if choice in ("podman", "docker"):
        return choice == "podman"
    docker_there = shutil.which("dockerd") or socket_answers(DOCKER_SOCKET)
    return not docker_there and shutil.which("podman") is not None


def has_buildx() -> bool:
    return any(Path(folder, "docker-buildx").exists() for folder in BUILDX_PLUGIN_DIRS)


def engine_parts(podman: bool) -> list[tuple[str, object, str]]:
    """The engine's parts, like SYSTEM_PARTS: Podman and runc, or Docker; the docker CLI either way.

    Debian 13 ships the `docker` CLI (docker-cli) and BuildKit's client (docker-buildx) apart from the
    engine (docker.io); Debian 12 has docker.io only, with the CLI inside and no buildx package.
    """
    split_cli = apt_knows("docker-cli")
    cli = ("the docker command", lambda: shutil.which("docker"), "docker-cli" if split_cli else "docker.io")
    if podman:
        return [("Podman", lambda: shutil.which("podman"), "podman"),
                ("runc (Podman's runtime here)", lambda: shutil.which("runc"), "runc"),
                # netavark (Podman's bridge network) sets up its firewall with `nft`, only recommended
                ("nft (for Podman's bridge network)", lambda: shutil.which("nft"), "nftables"),
                *([cli] if split_cli else [])]
    parts = [("the Docker engine", lambda: shutil.which("dockerd") or engine_socket_exists(), "docker.io"), cli]
    if apt_knows("docker-buildx"):
        parts.append(("docker buildx (BuildKit)", has_buildx, "docker-buildx"))
    return parts


def static_busybox() -> bool:
    """Debian's busybox-static package, or (elsewhere) any busybox: `dockerlab doctor` checks it is static."""
    if shutil.which("dpkg-query"):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "busybox-static"], capture_output=True, text=True)
        return "install ok installed" in done.stdout
    return shutil.which("busybox") is not None


def install_system_parts(podman: bool) -> None:
    def missing_parts() -> list[tuple[str, str]]:
        return [(what, package) for what, present, package in [*engine_parts(podman), *SYSTEM_PARTS]
                if not present()]

    missing = missing_parts()
    if not missing:
        say("system parts: all present")
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        missing = missing_parts()  # now apt knows which packages this release has (docker-cli, docker-buildx)
        packages = list(dict.fromkeys(package for _, package in missing))
        say(f"installing with apt: {' '.join(packages)}")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)
        return
    for what, package in missing:
        say(f"missing {what}: install it, e.g. `sudo apt-get install {package}`")


def mark_loopback_registries_plain_http() -> None:
    """Podman speaks plain HTTP to a registry only where registries.conf says so, read when its service
    starts: a drop-in of the kit's own (the learner's registries.conf untouched), the service reloaded."""
    if PODMAN_PLAIN_HTTP.exists() and PODMAN_PLAIN_HTTP.read_text() == PLAIN_HTTP_CONF:
        return
    if os.geteuid() != 0:
        say(f"Podman: the lessons' registry (127.0.0.1, plain HTTP) needs {PODMAN_PLAIN_HTTP}; run `make setup` "
            "as root once to write it")
        return
    PODMAN_PLAIN_HTTP.parent.mkdir(parents=True, exist_ok=True)
    PODMAN_PLAIN_HTTP.write_text(PLAIN_HTTP_CONF)
    say(f"Podman: loopback registries marked as plain HTTP in {PODMAN_PLAIN_HTTP}")
    pid = socket_owner(PODMAN_SOCKET)
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # Podman's service reloads its configuration on SIGHUP
        say(f"Podman's API service (pid {pid}) reloaded its configuration")


def socket_owner(path: Path) -> int | None:
    """The pid of the Podman process serving this unix socket, or None (no answer, or not Podman's own)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        pid = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    finally:
        probe.close()
    return pid if command == "podman" else None


def start_podman_service(wait_seconds: int = 60) -> None:
    """Podman's Docker-compatible API on its rootful socket, started in the background as root."""
    if socket_answers(PODMAN_SOCKET):
        say(f"Podman's API answers at unix://{PODMAN_SOCKET}")
        return
    if os.geteuid() != 0 or not shutil.which("podman"):
        say(f"Podman's API does not answer at unix://{PODMAN_SOCKET}: start it as root "
            "(`sudo systemctl enable --now podman.socket`), or for yourself "
            "(`systemctl --user enable --now podman.socket`)")
        return
    say(f"starting Podman's API service at unix://{PODMAN_SOCKET} (log: {PODMAN_LOG})")
    PODMAN_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    with PODMAN_LOG.open("ab") as log:
        subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{PODMAN_SOCKET}"],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait_seconds
    while not socket_answers(PODMAN_SOCKET):
        if time.monotonic() > deadline:
            tail = PODMAN_LOG.read_text(errors="replace").splitlines()[-3:]
            sys.exit(f"setup: Podman's API service did not answer within {wait_seconds} s; see {PODMAN_LOG} "
                     f"(last lines: {' | '.join(tail)}).")
        time.sleep(0.5)


def install_venv() -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        say("creating .venv")
        done = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if done.returncode != 0:
            sys.exit("setup: could not create a virtual environment: install python3-venv "
                     "(`sudo apt-get install python3-venv`) and run `make setup` again.")
    pyproject = REPO / "pyproject.toml"
    if STAMP.exists() and STAMP.stat().st_mtime >= pyproject.stat().st_mtime:
        say(".venv: up to date")
        return
    say("installing the kit and its packages into .venv (a few minutes the first time)")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{REPO}[test]"], check=True)
    STAMP.touch()


def install_browser() -> None:
    """Where apt gives no real chromium (Ubuntu), the browser test uses Playwright's own download."""
    if system_chromium() or not on_ubuntu():
        return
    say("no chromium on PATH: downloading Playwright's chromium for the browser test")
    done = subprocess.run([str(VENV / "bin" / "python"), "-m", "playwright", "install", "chromium"])
    if done.returncode != 0:
        say("Playwright could not download chromium (offline?): the browser test will say it is skipped")


def install_proxy() -> None:
    """JupyterHub's proxy for `dockerlab classroom`, from npm (installed globally, once)."""
    if shutil.which(PROXY):
        return
    if not shutil.which("npm") or os.geteuid() != 0:
        say(f"missing {PROXY} (the classroom's proxy): install it with `sudo npm install -g {PROXY}`")
        return
    say(f"installing {PROXY} with npm (the classroom's proxy)")
    if subprocess.run(["npm", "install", "-g", "--silent", PROXY]).returncode != 0:
        say(f"npm could not install {PROXY}: `dockerlab classroom up` will say so")


def start_engine() -> None:
    done = subprocess.run([str(VENV / "bin" / "dockerlab"), "doctor", "--fix"])
    if done.returncode != 0:
        sys.exit("setup: the lessons cannot run yet; the lines above say what to do.")


def main() -> None:
    podman = wants_podman()
    install_system_parts(podman)
    if podman:
        mark_loopback_registries_plain_http()
        start_podman_service()
    install_venv()
    install_browser()
    install_proxy()
    start_engine()
    say("ready")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""`make setup`: everything the lessons need, installed and started; safe to run again and again.

Standard library only (it runs before the virtual environment exists). Steps:
1. system parts (the engine, graphviz, a static busybox, the registry, chromium, skopeo): checked, and
   installed with apt when we are root on Debian/Ubuntu; otherwise the missing ones are named;
2. `.venv` with the kit installed (editable, with its `test` extra), reinstalled only when pyproject.toml changed;
3. the engine: `dockerlab doctor --fix` starts it when allowed, builds the base image, and reports.
"""
from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
STAMP = VENV / ".dockerlab-installed"

# (what we need, how to tell it is there, the Debian package that brings it)
SYSTEM_PARTS = [
    ("the Docker engine and CLI", lambda: shutil.which("docker") and (shutil.which("dockerd") or engine_socket_exists()),
     "docker.io"),
    ("graphviz (dot)", lambda: shutil.which("dot"), "graphviz"),
    ("a static busybox", lambda: static_busybox(), "busybox-static"),
    ("the Distribution registry", lambda: shutil.which("docker-registry"), "docker-registry"),
    ("chromium", lambda: shutil.which("chromium") or shutil.which("chromium-browser"), "chromium"),
    ("skopeo", lambda: shutil.which("skopeo"), "skopeo"),
    # Playwright's bundled node (the browser test's driver) links against libatomic.
    ("libatomic (for Playwright's driver)", lambda: ctypes.util.find_library("atomic"), "libatomic1"),
]


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def engine_socket_exists() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return bool(host) or Path("/var/run/docker.sock").exists()


def static_busybox() -> bool:
    """Debian's busybox-static package, or (elsewhere) any busybox: `dockerlab doctor` checks it is static."""
    if shutil.which("dpkg-query"):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "busybox-static"], capture_output=True, text=True)
        return "install ok installed" in done.stdout
    return shutil.which("busybox") is not None


def install_system_parts() -> None:
    missing = [(what, package) for what, present, package in SYSTEM_PARTS if not present()]
    if not missing:
        say("system parts: all present")
        return
    packages = [package for _, package in missing]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"installing with apt: {' '.join(packages)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)
        return
    for what, package in missing:
        say(f"missing {what}: install it, e.g. `sudo apt-get install {package}`")


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


def start_engine() -> None:
    done = subprocess.run([str(VENV / "bin" / "dockerlab"), "doctor", "--fix"])
    if done.returncode != 0:
        sys.exit("setup: the lessons cannot run yet; the lines above say what to do.")


def main() -> None:
    install_system_parts()
    install_venv()
    start_engine()
    say("ready")


if __name__ == "__main__":
    main()

"""Connecting, the doctor, and what a learner sees when no engine answers."""
import os
import subprocess
import sys
from pathlib import Path

from dockerlab.engine.buildx import uses_buildkit
from dockerlab.engine.connection import MIN_API_VERSION

DOCKERLAB = [str(Path(sys.executable).with_name("dockerlab"))]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(DOCKERLAB + list(args), capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_connect_negotiates_an_api_version_the_lessons_can_use(engine):
    major, minor = map(int, engine.api_version.split("."))
    assert (major, minor) >= tuple(map(int, MIN_API_VERSION.split(".")))
    assert engine.backend == ("podman" if "podman" in engine.host else "docker")  # the engine behind the socket


def test_doctor_passes_on_this_machine(engine):
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("engine", "engine location", "API version", "image store", "default builder", "cgroup version", "resource limits",
                 "graphviz dot", "base image"):
        assert f"[ok  ] {name}:" in done.stdout
    if engine.default_builder == "BuildKit":  # the kit builds with it through the docker CLI's buildx
        assert "[ok  ] buildx: the kit builds with BuildKit through `docker buildx build`" in done.stdout
    else:
        assert "buildx" not in done.stdout
    assert "The lessons can run here." in done.stdout


def test_doctor_says_when_buildx_is_missing_and_the_kit_falls_back_to_classic(engine, tmp_path):
    if engine.default_builder != "BuildKit":
        assert not uses_buildkit(engine)  # nothing to miss: the engine's own builder is used
        return
    done = run_cli("doctor", env={"PATH": str(tmp_path)})  # no `docker` command on the PATH
    assert "[warn] buildx: the `docker` command is not installed" in done.stdout
    assert "the kit builds with the classic builder instead" in done.stdout


def test_bogus_docker_host_gives_one_clear_line_and_exit_1():
    done = run_cli("clean", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("dockerlab: Could not reach the Docker engine at tcp://127.0.0.1:9")
    assert "Traceback" not in done.stderr


def test_doctor_with_bogus_docker_host_fails_without_traceback():
    done = run_cli("doctor", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert done.returncode == 1
    assert "[FAIL] engine: Could not reach the Docker engine" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_missing_socket_is_explained():
    done = run_cli("clean", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert done.returncode == 1
    assert "no socket there" in done.stderr and "Traceback" not in done.stderr

"""Integration tests run against the real engine `make setup` started."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockerlab.engine.base_image import ensure_base_image
from dockerlab.engine.connection import connect_engine
from dockerlab.app.lab import Lab
from dockerlab.engine.session import Session
from dockerlab.model.labels import SESSION_LABEL

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "notebooks" / "examples" / "hello"
GREETING = "Hello World!! My first Docker image"


@pytest.fixture(scope="session")
def engine():
    engine = connect_engine()
    ensure_base_image(engine)
    return engine


def labelled(engine, session_id: str) -> dict[str, int]:
    """How many containers, networks, volumes and images still carry this session's label."""
    selector = {"label": f"{SESSION_LABEL}={session_id}"}
    client = engine.client
    return {
        "containers": len(client.containers.list(all=True, filters=selector)),
        "networks": len(client.networks.list(filters=selector)),
        "volumes": len(client.volumes.list(filters=selector)),
        "images": len(client.images.list(all=True, filters=selector)),
    }


NOTHING = {"containers": 0, "networks": 0, "volumes": 0, "images": 0}


@pytest.fixture
def lab(engine):
    """A fresh session for one test; afterwards it is cleaned and must have left nothing behind."""
    lab = Lab(engine, Session(engine))
    yield lab
    lab.clean()
    assert labelled(engine, lab.session.id) == NOTHING


def write_context(folder: Path, dockerfile: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: to prove the learner's files were not touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def start_child_session(script: str) -> subprocess.Popen:
    """A separate process (another notebook kernel, in effect) that opens a session and runs `script`.

    It prints its session id on the first line, then READY once `script` has run, then sleeps.
    """
    code = textwrap.dedent(
        """
        import sys, time, dockerlab
        lab = dockerlab.connect()
        print(lab.session.id, flush=True)
        {script}
        print("READY", flush=True)
        time.sleep(600)
        """
    ).format(script=textwrap.indent(textwrap.dedent(script), "").strip())
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def wait_ready(child: subprocess.Popen) -> str:
    session_id = child.stdout.readline().strip()
    assert child.stdout.readline().strip() == "READY"
    return session_id

"""The idle culler for real: a classroom of one whose server idles past `--idle-minutes` has it stopped by the
hub (jupyterhub-idle-culler), and the student's work stays on their disk. Its own classroom, after the main
classroom module's is down (one classroom per engine)."""
from __future__ import annotations

import os
import time

import pytest

from dockerlab.engine.connection import connect_engine
from dockerlab.engine.registry import free_port

from .test_classroom import CLASSROOM, dockerlab, hub, pytestmark  # noqa: F401 -- the harness skip applies here too

IDLE_MINUTES = 0.5
ENOUGH_SECONDS = 600  # the culler looks every IDLE_MINUTES/2: only a culler that never acts takes this long


def test_an_idle_server_is_stopped_and_its_work_stays(tmp_path):
    engine = connect_engine()
    if engine.api.containers(all=True, filters=CLASSROOM) or engine.api.networks(filters=CLASSROOM):
        pytest.skip("a classroom is already running on this engine; its servers are never touched by tests")
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state")}
    roster = tmp_path / "roster.csv"
    roster.write_text("username\ndan\n")
    up = dockerlab("classroom", "up", "--roster", str(roster), "--port", str(free_port()), "--trust-students",
                   "--start-all", "--disk", "1G", "--idle-minutes", str(IDLE_MINUTES), env=env, check=False)
    try:
        assert up.returncode == 0, up.stderr
        classroom = {"env": env, "url": up.stdout.splitlines()[0]}
        kept = dockerlab("classroom", "exec", "dan", "--", "sh", "-c", "echo kept > note.txt", env=env)
        assert kept.returncode == 0
        asked = time.monotonic()
        while (hub(classroom, "GET", "/users/dan")["servers"] or {}).get(""):
            assert time.monotonic() - asked < ENOUGH_SECONDS, "the idle culler never stopped dan's idle server"
            time.sleep(1)
        assert engine.api.containers(all=True, filters={"name": "dockerlab-classroom-dan"}) == []
        work = tmp_path / "state" / "classroom" / "disks" / "dan" / "home" / "work"
        assert (work / "note.txt").read_text() == "kept\n"
    finally:
        dockerlab("classroom", "down", "--delete-work", env=env, check=False)

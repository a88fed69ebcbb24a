"""Lesson 11 against the real engine: a swarm the session starts is left, and nothing stays behind.

The engine is shared: each test holds the swarm only while it runs, and a finalizer leaves any swarm a
test session started, whatever happened.
"""
import socket
from pathlib import Path

import pytest

from dockerlab.engine.base_image import ensure_base_image
from dockerlab.engine.connection import connect_engine
from dockerlab.errors import SwarmError
from dockerlab.app.lab import Lab
from dockerlab.engine.cleanup import sweep_stale_sessions
from dockerlab.engine.session import Session
from dockerlab.engine.cleanup import GWBRIDGE, release_swarm, swarm_is_active, swarm_labels
from dockerlab.engine.swarm import ENDED_TASK, NO_SWARM, has_swarm, wait_until_swarm_is_free

EXAMPLES = Path(__file__).resolve().parents[3] / "notebooks" / "examples"


@pytest.fixture
def engine():
    engine = connect_engine()
    if not has_swarm(engine):
        pytest.skip(NO_SWARM)  # the Swarm part only; see the test below for what the kit says there
    ensure_base_image(engine)
    state = wait_until_swarm_is_free(engine, session_id="")  # another notebook's lesson 11 may hold it
    if state != "free":
        pytest.skip(f"the shared engine's swarm is {state} (not ours to use); these tests need it free")
    gwbridge_before = bool(engine.api.networks(names=[GWBRIDGE]))
    sessions: list[Session] = []
    yield engine, sessions
    for session in sessions:
        release_swarm(engine, session.id)  # never leave the shared engine in a swarm
        session.clean()
    ids = {session.id for session in sessions}
    assert not (swarm_is_active(engine) and swarm_labels(engine).get("dockerlab.session") in ids)
    if not swarm_is_active(engine):  # (someone else's swarm may have made it again meanwhile)
        assert bool(engine.api.networks(names=[GWBRIDGE])) == gwbridge_before
    for session in sessions:
        assert session_leftovers(engine, session.id) == []


def session_leftovers(engine, session_id: str) -> list:
    label = {"label": f"dockerlab.session={session_id}"}
    client = engine.client
    found = client.containers.list(all=True, filters=label) + client.images.list(all=True, filters=label)
    if swarm_is_active(engine):
        found += engine.api.services(filters=label)
    return found


def new_lab(engine, sessions, session=None) -> Lab:
    lab = Lab(engine, session)
    sessions.append(lab.session)
    return lab


def test_service_runs_scales_and_clean_leaves_the_swarm(engine):
    engine, sessions = engine
    lab = new_lab(engine, sessions)
    lab.build(EXAMPLES / "hello-loop", tag="swarmtest-hello", show=False)
    with pytest.raises(SwarmError, match="not a swarm manager"):
        lab.swarm.create_service("swarmtest", "swarmtest-hello", replicas=3)
    assert repr(lab.swarm.init()) == (
        "$ docker swarm init --advertise-addr 127.0.0.1\n"
        "Swarm initialized: this engine is now a manager (a swarm of one node)."
    )
    assert swarm_labels(engine)["dockerlab.session"] == lab.session.id
    created = lab.swarm.create_service("swarmtest", "swarmtest-hello", replicas=3)
    assert repr(created) == ("$ docker service create --name swarmtest --replicas 3 --no-resolve-image "
                             "swarmtest-hello\nswarmtest: 3/3 replicas running")
    assert len(lab.ps()) == 3  # each replica is a container of this session
    assert [row[0] for row in lab.swarm.tasks("swarmtest").rows] == ["swarmtest.1", "swarmtest.2", "swarmtest.3"]
    crashed = lab.ps().rows[0][0]  # swarmtest.SLOT.TASK-ID
    lab.container(crashed).remove(force=True)
    assert len(lab.swarm.tasks("swarmtest", wait=True)) == 3  # the swarm replaced the lost replica
    history = lab.swarm.tasks("swarmtest", all=True)  # and the lost one stays listed under its replacement
    slot = ".".join(crashed.split(".")[:2])
    assert history.command == "$ docker service ps swarmtest" and len(history) == 4
    assert [row[0] for row in history.rows].count(ENDED_TASK + slot) == 1
    assert {row[2] for row in history.rows if row[0] == ENDED_TASK + slot} == {"Shutdown"}
    assert repr(lab.swarm.scale("swarmtest", 1)).endswith("swarmtest: 1/1 replicas running")
    assert lab.swarm.services().rows == [["swarmtest", "replicated", "1/1", "swarmtest-hello"]]
    removed = lab.clean()
    assert removed["services"] == 1 and removed["swarm"] == 1
    assert not swarm_is_active(engine)


def test_leave_keeps_a_swarm_this_session_did_not_start(engine):
    engine, sessions = engine
    starter, guest = new_lab(engine, sessions), new_lab(engine, sessions)
    guest.build(EXAMPLES / "hello-loop", tag="swarmtest-guest", show=False)
    starter.swarm.init()
    with pytest.raises(SwarmError, match="Another notebook is using this engine's swarm"):
        guest.swarm.init(wait_seconds=1)  # one notebook at a time holds the swarm
    guest.swarm.create_service("swarmtest-guest", "swarmtest-guest", replicas=1)
    assert "Not leaving" in repr(guest.swarm.leave())  # its service goes, the swarm stays
    assert swarm_is_active(engine) and guest.swarm.services().rows == []
    assert repr(starter.swarm.leave()) == "$ docker swarm leave --force\nNode left the swarm."


def test_the_starter_hands_the_swarm_over_while_another_session_still_uses_it(engine):
    engine, sessions = engine
    starter, guest = new_lab(engine, sessions), new_lab(engine, sessions)
    guest.build(EXAMPLES / "hello-loop", tag="swarmtest-guest", show=False)
    starter.swarm.init()
    guest.swarm.create_service("swarmtest-guest", "swarmtest-guest", replicas=1)
    starter.clean()
    assert swarm_is_active(engine) and swarm_labels(engine)["dockerlab.session"] == guest.session.id
    assert guest.clean()["swarm"] == 1
    assert not swarm_is_active(engine)


def test_init_takes_over_a_swarm_whose_notebook_is_gone(engine):
    engine, sessions = engine
    gone = new_lab(engine, sessions, Session(engine, pid=999_999, id=f"999999-0-dead@{socket.gethostname()}"))
    gone.swarm.init()
    lab = new_lab(engine, sessions)
    assert repr(lab.swarm.init()).endswith("Swarm initialized: this engine is now a manager (a swarm of one node).")
    assert swarm_labels(engine)["dockerlab.session"] == lab.session.id


def test_a_finished_sessions_swarm_is_swept(engine):
    engine, sessions = engine
    gone = Session(engine, pid=999_999, id=f"999999-0-dead@{socket.gethostname()}")  # no such process
    lab = new_lab(engine, sessions, gone)
    lab.build(EXAMPLES / "hello-loop", tag="swarmtest-gone", show=False)
    lab.swarm.init()
    lab.swarm.create_service("swarmtest-gone", "swarmtest-gone", replicas=2)
    assert gone.id in sweep_stale_sessions(engine)
    assert not swarm_is_active(engine)
    assert session_leftovers(engine, gone.id) == []


def test_every_swarm_helper_answers_one_sentence_without_a_swarm():
    """On Podman (no Swarm mode) each helper says so; on Docker, outside a swarm, each asks for `init` first."""
    engine = connect_engine()
    if has_swarm(engine) and swarm_is_active(engine):
        pytest.skip("the shared engine is in a swarm right now (another notebook's lesson 11)")
    lab = Lab(engine)
    calls = [lab.swarm.nodes, lab.swarm.services, lambda: lab.swarm.tasks("hello"),
             lambda: lab.swarm.scale("hello", 2), lambda: lab.swarm.remove_service("hello")]
    expected = "This engine is not a swarm manager yet;"
    if not has_swarm(engine):
        calls += [lab.swarm.init, lab.swarm.leave, lambda: lab.swarm.create_service("hello", "dockerlab/busybox")]
        expected = NO_SWARM
    try:
        for call in calls:
            with pytest.raises(SwarmError) as said:
                call()
            assert str(said.value).startswith(expected)
    finally:
        lab.clean()  # cleaning up works there too

"""Sessions: cleanup is scoped, stale sessions are swept, live ones are never touched."""
import signal
import subprocess
import sys
from pathlib import Path

import dockerlab
from dockerlab.engine.cleanup import sweep_stale_sessions

from ..conftest import labelled, start_child_session, wait_ready

SLEEPER = 'lab.run("dockerlab/busybox", "sleep 300", name=None, detach=True)'


def test_clean_removes_only_this_sessions_things(lab):
    child = start_child_session(SLEEPER)
    try:
        theirs = wait_ready(child)
        lab.run("dockerlab/busybox", "sleep 300", detach=True)
        lab.run("dockerlab/busybox", "true")
        assert labelled(lab.engine, lab.session.id)["containers"] == 2
        lab.clean()
        assert labelled(lab.engine, lab.session.id)["containers"] == 0
        assert labelled(lab.engine, theirs)["containers"] == 1
    finally:
        child.kill()
        child.wait()
    sweep_stale_sessions(lab.engine)
    assert labelled(lab.engine, theirs)["containers"] == 0


def test_two_live_sessions_do_not_touch_each_other():
    first, second = start_child_session(SLEEPER), start_child_session(SLEEPER)
    try:
        first_id, second_id = wait_ready(first), wait_ready(second)
        lab = dockerlab.connect()  # sweeps stale sessions: both children are alive
        assert labelled(lab.engine, first_id)["containers"] == 1
        assert labelled(lab.engine, second_id)["containers"] == 1
        done = subprocess.run([str(Path(sys.executable).with_name("dockerlab")), "clean"], capture_output=True, text=True)
        assert done.returncode == 0
        assert labelled(lab.engine, first_id)["containers"] == 1
        assert labelled(lab.engine, second_id)["containers"] == 1
    finally:
        for child in (first, second):
            child.kill()
            child.wait()
    dockerlab.connect()
    assert labelled(lab.engine, first_id)["containers"] == 0


def test_stale_session_is_swept_by_the_next_connect_after_sigkill(engine):
    child = start_child_session(SLEEPER + '\nlab.build("' + str(Path(__file__).parents[3] / "notebooks/examples/hello") + '", tag="dockerlab-test-stale")')
    session_id = wait_ready(child)
    assert labelled(engine, session_id)["containers"] == 1
    assert labelled(engine, session_id)["images"] == 1
    child.send_signal(signal.SIGKILL)
    child.wait()
    dockerlab.connect()
    assert labelled(engine, session_id) == {"containers": 0, "networks": 0, "volumes": 0, "images": 0}


def test_stale_session_is_swept_by_dockerlab_clean(engine):
    child = start_child_session(SLEEPER)
    session_id = wait_ready(child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = subprocess.run([str(Path(sys.executable).with_name("dockerlab")), "clean"], capture_output=True, text=True)
    assert done.returncode == 0 and "Removed what" in done.stdout
    assert labelled(engine, session_id)["containers"] == 0

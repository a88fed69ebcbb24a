"""Owners named for good: a session or registry whose process is gone (or a zombie) is stale, a live one is not."""
import os
import subprocess
import sys
import time

from dockerlab.engine.processes import new_session_id, owner_is_alive, process_alive, process_start_ticks


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_session_of_this_process_is_alive_and_of_a_dead_one_is_not():
    assert owner_is_alive(new_session_id(os.getpid()))
    assert not owner_is_alive(new_session_id(dead_pid()))


def test_sessions_of_other_hosts_are_never_judged_stale():
    assert owner_is_alive("1-1-abcd@some-other-host")


def test_a_recycled_pid_is_not_the_process_that_was_started():
    assert process_alive(os.getpid(), process_start_ticks(os.getpid()))
    assert not process_alive(os.getpid(), "1")  # this pid, but another start time


def test_a_zombie_counts_as_gone_for_sessions_and_registries_alike():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_ticks(child.pid)
    session_id = new_session_id(child.pid)
    try:
        deadline = time.monotonic() + 30
        while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.05)
        assert not process_alive(child.pid, started)
        assert not owner_is_alive(session_id)
    finally:
        child.wait()

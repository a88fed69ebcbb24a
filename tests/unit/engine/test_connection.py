"""Connection failures become one sentence; dockerd's stale pid file is recognised."""
from dockerlab.engine.connection import explain_connection_failure, remove_stale_pidfile

from .test_processes import dead_pid


def test_missing_socket_explains_what_to_do():
    text = explain_connection_failure("unix:///var/run/docker.sock", FileNotFoundError(2, "No such file or directory"))
    assert "no socket there" in text and "systemctl start docker" in text and "\n" not in text


def test_permission_denied_points_at_the_docker_group():
    text = explain_connection_failure("unix:///var/run/docker.sock", PermissionError(13, "Permission denied"))
    assert "docker group" in text


def test_refused_connection_says_the_engine_is_down():
    assert "engine is down" in explain_connection_failure("tcp://127.0.0.1:1", ConnectionRefusedError(111, "Connection refused"))


def test_pidfile_of_a_dead_process_is_removed(tmp_path):
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text(str(dead_pid()))
    assert remove_stale_pidfile(pidfile) is True
    assert not pidfile.exists()


def test_pidfile_of_a_live_process_is_kept(tmp_path):
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text("1")
    assert remove_stale_pidfile(pidfile) is False
    assert pidfile.exists()

"""Connection failures become one sentence; dockerd's stale pid file is recognised; where the engine runs."""
import platform
import socket

from dockerlab.engine.connection import (ADDRESS_SETTING, engine_is_local, explain_connection_failure, is_loopback,
                                         published_address, remove_stale_pidfile)

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


# --- where the engine runs: recorded `docker info` answers ------------------------------------------

HERE = {"Name": socket.gethostname(), "KernelVersion": platform.release()}
# Docker Desktop 4.x on macOS: its engine runs in a Linux VM of its own.
DOCKER_DESKTOP = {"Name": "docker-desktop", "KernelVersion": "6.10.14-linuxkit", "OperatingSystem": "Docker Desktop"}


def test_an_engine_with_this_hosts_name_and_kernel_is_on_this_host():
    assert engine_is_local(HERE)
    assert engine_is_local({**HERE, "Name": HERE["Name"].upper() + ".example.org"})


def test_docker_desktop_and_an_engine_in_a_container_here_are_elsewhere():
    assert not engine_is_local(DOCKER_DESKTOP)
    assert not engine_is_local({**HERE, "Name": "3a3e6294faf9"})  # same kernel, another host name: a container
    assert not engine_is_local({**HERE, "KernelVersion": "6.1.0-other"})  # same name, another kernel: a VM


def test_published_ports_are_reached_where_the_engine_runs(monkeypatch):
    monkeypatch.delenv(ADDRESS_SETTING, raising=False)
    assert published_address("unix:///var/run/docker.sock", True) == "127.0.0.1"
    assert published_address("unix:///Users/sam/.docker/run/docker.sock", False) == "127.0.0.1"  # Desktop forwards
    assert published_address("tcp://192.0.2.7:2376", False) == "192.0.2.7"
    assert published_address("ssh://sam@build.example.org", False) == "build.example.org"
    assert published_address("tcp://127.0.0.1:2375", True) == "127.0.0.1"
    monkeypatch.setenv(ADDRESS_SETTING, "172.17.0.6")
    assert published_address("unix:///run/remote/docker.sock", False) == "172.17.0.6"


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("172.17.0.6") and not is_loopback("build.example.org")

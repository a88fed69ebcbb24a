"""Sharing images against a real Distribution registry process and the real engine.

Every test runs in its own notebook-like session and its own state folder, names its images uniquely
(the engine is shared), and checks that what it started is gone afterwards.
"""
from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import docker
import pytest

from dockerlab.errors import InvalidReference, LoginFailed, NotOwned, RegistryUnavailable, TransferFailed
from dockerlab.app.lab import Lab
from dockerlab.engine.connection import connect_engine
from dockerlab.engine.registry import cli_registry, start_registry, sweep_stale_registries
from dockerlab.engine.transfer import checked_address

REPO = Path(__file__).resolve().parents[3]
HELLO = REPO / "notebooks" / "examples" / "hello"
DOCKERLAB = Path(sys.executable).with_name("dockerlab")
PASSWORD = "pw-" + secrets.token_hex(6)


@pytest.fixture(autouse=True, scope="module")
def state_dir(tmp_path_factory):
    """Registry state files of these tests live apart from the learner's."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("state")
        patch.setenv("DOCKERLAB_STATE_DIR", str(folder))
        yield folder


@pytest.fixture
def lab(engine):
    lab = Lab(engine)
    yield lab
    lab.clean()
    label = f"dockerlab.session={lab.session.id}"
    assert engine.client.images.list(all=True, filters={"label": label}) == []


@pytest.fixture
def registry(lab):
    return lab.start_registry(users={"ruud": PASSWORD})


@pytest.fixture
def image(lab):
    """The lesson-01 image under a name of this test's own."""
    tag = f"regtest-{secrets.token_hex(3)}"
    lab.build(HELLO, tag=tag, show=False)
    return tag


def layer_statuses(engine, on_docker: set[str]) -> set[str]:
    """What a push reports per layer: Docker one status per layer, Podman's compatible API none at all."""
    return set() if engine.backend == "podman" else on_docker


def registry_digest(registry, path: str, tag: str) -> str:
    """The manifest digest the registry itself serves for PATH:TAG (asked over HTTP, not through the engine)."""
    request = urllib.request.Request(f"{registry.url}/v2/{path}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        "Authorization": "Basic " + base64.b64encode(f"ruud:{PASSWORD}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"]


def live_processes_serving(run_dir: Path) -> list[int]:
    """Live processes whose command line names this registry's folder (zombies have none)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(run_dir).encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def test_round_trip_keeps_the_digest(lab, registry, image):
    ref = f"{registry}/ruud/partech:1.0"
    lab.login(registry, "ruud", PASSWORD)
    lab.tag(image, f"{registry}/ruud/partech", "1.0")
    pushed = lab.push(ref, show=False)
    assert set(pushed.layers.values()) == layer_statuses(lab.engine, {"Pushed"})
    assert registry_digest(registry, "ruud/partech", "1.0") == pushed.digest
    lab.rmi(ref)
    removed = lab.rmi(image)  # its last tag: the image goes, its name@digest with it (Podman keeps that alone)
    assert repr(removed).endswith(f"\nDeleted: {pushed.image_id}")
    with pytest.raises(docker.errors.ImageNotFound):
        lab.engine.api.inspect_image(pushed.image_id)
    pulled = lab.pull(ref, show=False)
    assert pulled.digest == pushed.digest and pulled.digest.startswith("sha256:")
    assert pulled.image_id == pushed.image_id  # same config, so the very same image
    assert lab.engine.api.inspect_image(ref)["Config"]["Labels"]["dockerlab.session"] == lab.session.id


def test_second_push_reuses_the_layers(lab, registry, image):
    ref = f"{registry}/ruud/reuse:1.0"
    lab.login(registry, "ruud", PASSWORD)
    lab.tag(image, f"{registry}/ruud/reuse", "1.0")
    first, second = lab.push(ref, show=False), lab.push(ref, show=False)
    assert set(first.layers.values()) == layer_statuses(lab.engine, {"Pushed"})
    assert set(second.layers.values()) == layer_statuses(lab.engine, {"Layer already exists"})
    assert first.digest == second.digest


def test_wrong_password_is_refused_and_the_right_one_accepted(lab, registry):
    with pytest.raises(LoginFailed) as refused:
        lab.login(registry, "ruud", "not-the-password")
    assert str(refused.value) == (f"Login to {registry} failed: the registry refused user 'ruud' with that "
                                  "password. Check both (they are case-sensitive) and log in again.")
    assert repr(lab.login(registry, "ruud", PASSWORD)) == (
        f"$ docker login {registry} --username ruud --password-stdin\nLogin Succeeded")


def test_password_appears_in_no_output_log_or_file(lab, registry, image, tmp_path):
    shown = [repr(lab.login(registry, "ruud", PASSWORD)), repr(lab.tag(image, f"{registry}/ruud/secret", "1"))]
    shown.append(repr(lab.push(f"{registry}/ruud/secret:1", show=False)))
    with pytest.raises(LoginFailed) as refused:
        lab.login(registry, "ruud", PASSWORD + "x")
    shown.append(str(refused.value))
    files = [path for folder in (registry.run_dir, Path(os.environ["DOCKERLAB_STATE_DIR"]))
             for path in folder.rglob("*") if path.is_file()]
    assert registry.log_path in files
    assert not any(PASSWORD in text for text in shown)
    assert not any(PASSWORD.encode() in path.read_bytes() for path in files)
    docker_config = Path.home() / ".docker" / "config.json"
    assert not docker_config.exists() or PASSWORD.encode() not in docker_config.read_bytes()
    assert registry.address not in (lab.engine.api._auth_configs or {}).get("auths", {})  # not kept by the SDK


def test_push_without_login_fails_and_nothing_is_reported_pushed(lab, registry, image):
    lab.tag(image, f"{registry}/ruud/nologin", "1.0")
    with pytest.raises(TransferFailed, match="wants a login first"):
        lab.push(f"{registry}/ruud/nologin:1.0", show=False)
    lab.login(registry, "ruud", PASSWORD)
    lab.logout(registry)
    with pytest.raises(TransferFailed, match="wants a login first"):
        lab.pull(f"{registry}/ruud/nologin:1.0", show=False)


def test_push_without_host_and_user_goes_to_docker_hub_library(lab, image):
    with pytest.raises(TransferFailed, match=r"means pushing to docker\.io/library/regtest"):
        lab.push(image, show=False)


def test_pull_of_a_missing_tag_says_so(lab, registry, image):
    lab.login(registry, "ruud", PASSWORD)
    lab.tag(image, f"{registry}/ruud/partech", "1.0")
    lab.push(f"{registry}/ruud/partech:1.0", show=False)
    with pytest.raises(TransferFailed) as missing:
        lab.pull(f"{registry}/ruud/partech:2.0", show=False)
    assert str(missing.value).startswith(f"There is no {registry}/ruud/partech:2.0 in the registry at {registry}")


def test_push_to_a_stopped_registry_fails_in_one_sentence(lab, image):
    registry = lab.start_registry()
    lab.tag(image, f"{registry}/ruud/down", "1.0")
    lab.stop_registries()
    with pytest.raises(TransferFailed) as down:
        lab.push(f"{registry}/ruud/down:1.0", show=False)
    assert str(down.value) == (f"Pushing {registry}/ruud/down:1.0 failed: nothing answers at {registry} (is the "
                               "registry stopped?). Start it (`dockerlab registry start`, or lab.start_registry()) "
                               "and try again.")
    with pytest.raises(LoginFailed, match="nothing answers"):
        lab.login(registry, "ruud", PASSWORD)


def test_invalid_names_are_refused_before_the_engine_is_asked(lab, image):
    with pytest.raises(InvalidReference, match="must be lowercase"):
        lab.tag(image, "UPPER/case")
    with pytest.raises(InvalidReference, match="more than one ':tag'"):
        lab.pull("a:b:c", show=False)
    with pytest.raises(InvalidReference):
        lab.push("a:b:c", show=False)


def test_a_taken_port_is_refused():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(RegistryUnavailable) as taken:
            start_registry(port=port)
    assert str(taken.value).startswith(f"Port {port} on 127.0.0.1 is already in use by another program")
    assert list(Path(os.environ["DOCKERLAB_STATE_DIR"]).glob("registries/*.json")) == []


def test_a_picked_port_taken_before_the_registry_binds_it_is_replaced(monkeypatch):
    import dockerlab.engine.registry as registry_module

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = iter([taken, registry_module.free_port()])
        monkeypatch.setattr(registry_module, "free_port", lambda: next(ports))
        registry = start_registry()
        try:
            assert registry.port != taken and registry.is_running()
        finally:
            registry.stop()


def test_a_missing_registry_program_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RegistryUnavailable, match="'docker-registry' was not found.*make setup"):
        start_registry()
    monkeypatch.undo()
    monkeypatch.setenv("DOCKERLAB_REGISTRY_BINARY", "no-such-registry")
    with pytest.raises(RegistryUnavailable, match="'no-such-registry' was not found"):
        start_registry()


def test_clean_stops_the_registry_untags_and_forgets_logins(engine, image):
    lab = Lab(engine)
    registry = lab.start_registry(users={"ruud": PASSWORD})
    lab.login(registry, "ruud", PASSWORD)
    base = "dockerlab/busybox:latest"  # not this session's: only the name it made may go
    lab.tag(base, f"{registry}/ruud/base", "1")
    lab.push(f"{registry}/ruud/base:1", show=False)
    lab.rmi(f"{registry}/ruud/base:1")
    lab.pull(f"{registry}/ruud/base:1", show=False)
    removed = lab.clean()
    # Podman: also the NAME@DIGEST the kit made (Docker keeps that name itself, and drops it with the tag).
    names = 2 if engine.backend == "podman" else 1
    assert (removed["registries"], removed["logins"], removed["tags"]) == (1, 1, names)
    assert not registry.is_running() and not registry.run_dir.exists() and not registry.state_file.exists()
    assert not Path(f"/proc/{registry.pid}").exists()  # stopped and reaped: not even a zombie
    assert live_processes_serving(registry.run_dir) == []
    assert engine.api.inspect_image(base)  # the kit's base image stays
    with pytest.raises(docker.errors.ImageNotFound):
        engine.api.inspect_image(f"{registry}/ruud/base:1")
    with pytest.raises(TransferFailed):  # logged out, and the registry is gone
        lab.pull(f"{registry}/ruud/base:1", show=False)


def test_named_storage_survives_a_restart(lab, image, tmp_path):
    storage = tmp_path / "kept"
    first = lab.start_registry(storage=storage)
    lab.tag(image, f"{first}/ruud/kept", "1.0")
    pushed = lab.push(f"{first}/ruud/kept:1.0", show=False)
    lab.stop_registries()
    assert storage.is_dir()
    second = lab.start_registry(port=first.port, storage=storage)
    lab.rmi(f"{second}/ruud/kept:1.0")
    assert lab.pull(f"{second}/ruud/kept:1.0", show=False).digest == pushed.digest


def test_a_finished_sessions_registry_is_swept_and_a_live_ones_kept(lab):
    live = lab.start_registry()
    orphan = start_registry(owner=f"999999999-1-dead@{socket.gethostname()}")
    assert sweep_stale_registries() == [orphan.address]
    assert not orphan.is_running() and live.is_running()
    assert live_processes_serving(orphan.run_dir) == []


def run_cli(*words, **env):
    return subprocess.run([str(DOCKERLAB), "registry", *words], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_cli_start_login_status_stop(tmp_path):
    started = run_cli("start", "--user", "ruud", "--password", PASSWORD)
    assert started.returncode == 0, started.stderr
    address = started.stdout.splitlines()[0]
    running = cli_registry()
    try:
        assert running is not None and running.address == address
        assert run_cli("status").stdout.startswith(f"Registry running at {address}")
        again = run_cli("start")
        assert again.returncode == 1 and "already running" in again.stderr
        config = {"DOCKER_CONFIG": str(tmp_path)}  # the docker CLI writes its login there, not in ~/.docker
        checked = checked_address(connect_engine(), address)  # Podman checks plain HTTP as localhost:PORT only
        wrong = subprocess.run(["docker", "login", checked, "-u", "ruud", "--password-stdin"], input="wrong",
                               capture_output=True, text=True, env={**os.environ, **config})
        right = subprocess.run(["docker", "login", checked, "-u", "ruud", "--password-stdin"], input=PASSWORD,
                               capture_output=True, text=True, env={**os.environ, **config})
        assert wrong.returncode != 0 and "401 Unauthorized" in wrong.stderr
        assert right.returncode == 0 and "Login Succeeded" in right.stdout
    finally:
        stopped = run_cli("stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == f"Stopped the registry at {address}."
    assert live_processes_serving(running.run_dir) == [] and not running.is_running()
    status = run_cli("status")
    assert status.returncode == 3 and status.stdout.startswith("No registry")


def test_cli_reports_a_taken_port_in_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_cli("start", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"dockerlab: Port {port} on 127.0.0.1 is already in use by another program, so the registry cannot "
        "listen there; choose another port (--port N), or leave the port out to have a free one picked."]


START_AND_EXIT = """
import os, signal, sys
import dockerlab
lab = dockerlab.connect()
registry = lab.start_registry()
print(registry.run_dir, flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_notebook_that_exits_without_clean_stops_its_registry():
    done = subprocess.run([sys.executable, "-c", START_AND_EXIT, "exits"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert live_processes_serving(Path(done.stdout.strip())) == []


def test_a_killed_notebooks_registry_is_swept_by_the_next_session():
    done = subprocess.run([sys.executable, "-c", START_AND_EXIT, "killed"], capture_output=True, text=True)
    run_dir = Path(done.stdout.strip())
    assert done.returncode == -9 and live_processes_serving(run_dir) != []
    assert len(sweep_stale_registries()) == 1
    assert live_processes_serving(run_dir) == [] and not run_dir.exists()


def test_removing_an_image_this_notebook_did_not_make_is_refused(lab):
    with pytest.raises(NotOwned, match="was not made by this notebook"):
        lab.rmi("dockerlab/busybox")
    assert lab.engine.api.inspect_image("dockerlab/busybox:latest")

"""The registry of an engine that is not on this host: a `registry:2` container on the engine.

On such an engine (the docker-26-remote harness) these tests use it as it is. On an engine on this host
they use it as if it were elsewhere (a copy of the engine marked so), with a registry image made from
this host's docker-registry the way the harness makes `registry:2` (scripts/engines/registry-image.sh).
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import subprocess

import docker
import pytest

from dockerlab.app.lab import Lab
from dockerlab.engine.cleanup import sweep_stale_sessions
from dockerlab.engine.registry import CLI_OWNER
from dockerlab.engine.registry_container import (IMAGE_SETTING, RegistryContainer, cli_registry_where_the_engine_is,
                                                 registry_where_the_engine_is, start_registry_container)
from dockerlab.errors import LoginFailed, PortTaken, RegistryUnavailable
from dockerlab.model.labels import session_labels

from ..conftest import HELLO, NOTHING, REPO, labelled
from .test_registry import layer_statuses

PASSWORD = "pw-" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def elsewhere(engine):
    """The engine as the kit sees one that is not on this host, with a registry image there."""
    if not engine.local:
        yield engine
        return
    image = f"dockerlab-test/registry:{secrets.token_hex(3)}"
    made = subprocess.run(["bash", str(REPO / "scripts" / "engines" / "registry-image.sh"), image,
                           "dockerlab.kit=test-registry"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(IMAGE_SETTING, image)
        yield dataclasses.replace(engine, local=False)
    engine.api.remove_image(image, force=True)


@pytest.fixture
def lab(elsewhere):
    lab = Lab(elsewhere)
    yield lab
    lab.clean()
    assert labelled(elsewhere, lab.session.id) == NOTHING


@pytest.fixture
def image(lab):
    tag = f"remotetest-{secrets.token_hex(3)}"
    lab.build(HELLO, tag=tag, show=False)
    return tag


def registry_containers(engine, session_id: str) -> list[dict]:
    return engine.api.containers(all=True, filters={"label": f"dockerlab.session={session_id}",
                                                    "ancestor": os.environ.get(IMAGE_SETTING) or "registry:2"})


def test_the_registry_is_a_container_labelled_with_the_session_and_clean_removes_it(lab):
    registry = lab.start_registry(users={"ruud": PASSWORD})
    assert isinstance(registry, RegistryContainer) and registry.is_running()
    assert repr(registry) == f"Registry at 127.0.0.1:{registry.port} (users: ruud; temporary storage)"
    [container] = registry_containers(lab.engine, lab.session.id)
    assert container["Id"] == registry.container_id
    assert container["Labels"]["dockerlab.session"] == lab.session.id
    volumes = [mount["Name"] for mount in container["Mounts"] if mount["Type"] == "volume"]
    assert lab.clean()["registries"] == 1
    assert registry_containers(lab.engine, lab.session.id) == [] and not registry.is_running()
    for volume in volumes:  # its storage went with it
        with pytest.raises(docker.errors.NotFound):
            lab.engine.api.inspect_volume(volume)


def test_login_push_and_pull_through_it_keep_the_digest(lab, image):
    registry = lab.start_registry(users={"ruud": PASSWORD})
    with pytest.raises(LoginFailed, match="refused user 'ruud'"):
        lab.login(registry, "ruud", "not-the-password")
    lab.login(registry, "ruud", PASSWORD)
    ref = f"{registry}/ruud/partech:1.0"
    lab.tag(image, f"{registry}/ruud/partech", "1.0")
    pushed = lab.push(ref, show=False)
    assert set(pushed.layers.values()) == layer_statuses(lab.engine, {"Pushed"})
    assert set(lab.push(ref, show=False).layers.values()) == layer_statuses(lab.engine, {"Layer already exists"})
    lab.rmi(ref)
    lab.rmi(image)
    pulled = lab.pull(ref, show=False)
    assert pulled.digest == pushed.digest and pulled.image_id == pushed.image_id


def test_a_finished_sessions_registry_container_is_swept(elsewhere):
    dead = f"999999999-1-dead@{socket.gethostname()}"
    orphan = start_registry_container(elsewhere, session_labels(dead))
    assert orphan.is_running()
    assert dead in sweep_stale_sessions(elsewhere)
    assert not orphan.is_running() and registry_containers(elsewhere, dead) == []


def test_named_storage_is_a_volume_on_the_engine_that_survives_a_restart(lab, image):
    name = f"test-{secrets.token_hex(3)}"
    first = lab.start_registry(storage=name)
    try:
        assert repr(first).endswith("(no login needed; storage kept across restarts)")
        lab.tag(image, f"{first}/ruud/kept", "1.0")
        pushed = lab.push(f"{first}/ruud/kept:1.0", show=False)
        lab.stop_registries()
        second = lab.start_registry(port=first.port, storage=name)
        lab.rmi(f"{second}/ruud/kept:1.0")
        assert lab.pull(f"{second}/ruud/kept:1.0", show=False).digest == pushed.digest
    finally:
        lab.stop_registries()
        lab.engine.api.remove_volume(f"dockerlab-registry-{name}")
    with pytest.raises(RegistryUnavailable, match="cannot keep its images in the folder '/tmp/kept' here"):
        lab.start_registry(storage="/tmp/kept")


def test_a_taken_port_is_refused_in_one_sentence(lab):
    first = lab.start_registry()
    with pytest.raises(PortTaken) as taken:
        lab.start_registry(port=first.port)
    assert str(taken.value).startswith(f"Port {first.port} on 127.0.0.1 is already in use by another program")
    assert len(registry_containers(lab.engine, lab.session.id)) == 1  # the refused one left nothing behind


def test_the_clis_registry_is_the_kits_container_found_again_until_stopped(lab):
    started = registry_where_the_engine_is(lab.engine, None, {"ruud": PASSWORD}, None, CLI_OWNER)
    try:
        found = cli_registry_where_the_engine_is(lab.engine)
        assert found is not None and (found.container_id, found.port, found.users) == (
            started.container_id, started.port, ["ruud"])
        assert found.describe() == (f"Registry running at {started} (container {started.container_id[:12]} on the "
                                    "engine; users: ruud; temporary storage).")
        labels = lab.engine.api.inspect_container(started.container_id)["Config"]["Labels"]
        assert labels["dockerlab.kit"] == "registry" and "dockerlab.session" not in labels  # no session sweeps it
        assert repr(lab.login(started, "ruud", PASSWORD)).endswith("Login Succeeded")
    finally:
        started.stop()
    assert cli_registry_where_the_engine_is(lab.engine) is None

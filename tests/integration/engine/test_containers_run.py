"""`lab.run` mirrors `docker run`; names are replaced for this session and refused for anyone else."""
import signal
import subprocess
import sys
import textwrap

import docker
import pytest

from dockerlab.errors import DockerlabError, ImageNotFound, NameTaken
from dockerlab.model.labels import SESSION_LABEL

from ..conftest import GREETING, HELLO, labelled, start_child_session, wait_ready


@pytest.fixture
def hello(lab):
    lab.build(HELLO, tag="dockerlab-test-partech")
    return "dockerlab-test-partech"


def test_attached_run_prints_the_greeting(lab, hello):
    result = lab.run(hello)
    assert result.output == GREETING + "\n"
    assert result.exit_code == 0
    assert repr(result) == f"$ docker run {hello}\n{GREETING}"


def test_detached_run_prints_nothing_and_logs_keep_the_greeting(lab, hello):
    result = lab.run(hello, name="dockerlab-test-mycontainer", detach=True)
    assert result.output is None
    assert "started in the background" in repr(result)
    assert lab.container("dockerlab-test-mycontainer").wait() == 0
    assert str(lab.logs("dockerlab-test-mycontainer")) == GREETING + "\n"
    assert lab.container("dockerlab-test-mycontainer").status == "exited"


def test_rerun_replaces_container_of_same_session(lab, hello):
    first = lab.run(hello, name="dockerlab-test-rerun", detach=True).container
    second = lab.run(hello, name="dockerlab-test-rerun", detach=True).container
    assert first.id != second.id
    with pytest.raises(docker.errors.NotFound):
        lab.client.containers.get(first.id)
    assert len(lab.client.containers.list(all=True, filters={"name": "dockerlab-test-rerun"})) == 1


def test_name_of_a_container_the_kit_did_not_create_is_refused_not_deleted(lab, hello):
    foreign = lab.client.containers.create("dockerlab/busybox", ["true"], name="dockerlab-test-foreign")
    try:
        with pytest.raises(NameTaken, match="a container the kit did not create; the kit will not delete it"):
            lab.run(hello, name="dockerlab-test-foreign")
        assert lab.client.containers.get("dockerlab-test-foreign").id == foreign.id
    finally:
        foreign.remove(force=True)


def test_name_of_another_live_session_is_refused(lab, hello):
    child = start_child_session('lab.run("dockerlab/busybox", "sleep 300", name="dockerlab-test-theirs", detach=True)')
    try:
        wait_ready(child)
        with pytest.raises(NameTaken, match="another dockerlab session"):
            lab.run(hello, name="dockerlab-test-theirs")
        assert lab.client.containers.get("dockerlab-test-theirs").status == "running"
    finally:
        child.kill()
        child.wait()
        lab.client.containers.get("dockerlab-test-theirs").remove(force=True)


def test_learner_labels_are_applied_and_shown_on_the_command_line(lab, hello):
    result = lab.run(hello, name="dockerlab-test-labelled", labels={"lesson.topic": "labels"})
    labels = lab.client.containers.get("dockerlab-test-labelled").labels
    assert labels["lesson.topic"] == "labels" and labels[SESSION_LABEL] == lab.session.id
    assert result.command == "$ docker run --name dockerlab-test-labelled --label lesson.topic=labels " + hello


def test_learner_labels_inside_the_kits_namespace_are_refused_before_anything_runs(lab, hello):
    with pytest.raises(DockerlabError, match="Labels starting with 'dockerlab.' belong to the kit"):
        lab.run(hello, labels={SESSION_LABEL: "someone-else"})
    with pytest.raises(DockerlabError, match="belong to the kit"):
        lab.build(HELLO, tag="dockerlab-test-labelled", labels={"dockerlab.kit": "base"})
    assert labelled(lab.engine, lab.session.id)["containers"] == 0


def test_unknown_image_is_one_sentence(lab):
    with pytest.raises(ImageNotFound, match="There is no image 'nosuch/image' on this engine"):
        lab.run("nosuch/image")
    assert labelled(lab.engine, lab.session.id)["containers"] == 0


def test_ctrl_c_during_an_attached_run_leaves_nothing_behind(engine):
    script = textwrap.dedent("""
        import dockerlab
        from dockerlab.errors import Interrupted
        lab = dockerlab.connect()
        print(lab.session.id, flush=True)
        try:
            lab.run("dockerlab/busybox", "echo started; sleep 300")
        except Interrupted as error:
            print("INTERRUPTED", error, flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    session_id = child.stdout.readline().strip()
    selector = {"label": f"{SESSION_LABEL}={session_id}", "status": "running"}
    while not engine.client.containers.list(filters=selector):
        assert child.poll() is None, "the child ended before its container ran"
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate()
    assert "INTERRUPTED Interrupted: the container was stopped and removed." in out
    assert labelled(engine, session_id)["containers"] == 0

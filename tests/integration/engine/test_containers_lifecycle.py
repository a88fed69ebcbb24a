"""Lessons 03 and 04 against the real engine: runs, ps, detached, stop/start/rm (03); CMD/ENTRYPOINT, exit codes, rmi (04)."""
import time
from pathlib import Path

import pytest

from dockerlab.engine.base_image import ensure_base_image
from dockerlab.engine.containers import run_container
from dockerlab.engine.connection import connect_engine
from dockerlab.errors import ContainerRunning, ImageInUse, NotOwned
from dockerlab.app.lab import Lab
from dockerlab.engine.session import Session

from ..conftest import NOTHING, labelled

EXAMPLES = Path(__file__).resolve().parents[3] / "notebooks" / "examples"


@pytest.fixture(scope="module")
def lab():
    engine = connect_engine()
    ensure_base_image(engine)
    lab = Lab(engine)
    for folder in ("hello", "ticker", "greeter", "greeter-shell"):
        lab.build(EXAMPLES / folder, tag=f"lifecycle-{folder}", show=False)
    yield lab
    lab.clean()
    assert labelled(lab.engine, lab.session.id) == NOTHING


def test_every_run_makes_a_new_container(lab):
    first = lab.run("lifecycle-hello")
    second = lab.run("lifecycle-hello")
    assert first.container.id != second.container.id
    assert first.output == second.output == "Hello World!! My first Docker image\n"
    assert {first.container.name, second.container.name} <= {row[0] for row in lab.ps(all=True).rows}
    assert first.container.name not in {row[0] for row in lab.ps().rows}  # exited: only in ps -a


def test_detached_run_gives_a_64_hex_id_and_keeps_running(lab):
    started = lab.run("lifecycle-ticker", name="lc-ticker", detach=True)
    assert len(started.container.id) == 64 and set(started.container.id) <= set("0123456789abcdef")
    assert repr(started).startswith("$ docker run -d --name lc-ticker lifecycle-ticker\n")
    assert [row[3] for row in lab.ps().rows if row[0] == "lc-ticker"] == ["Up"]
    lab.container("lc-ticker").remove(force=True)


def test_container_stops_when_its_main_process_ends(lab):
    lab.run("lifecycle-ticker", "echo once", name="lc-once", detach=True)
    container = lab.container("lc-once")
    assert container.wait() == 0
    assert container.reload().state == "exited (exit code 0)"


def test_stop_start_restart_keep_the_same_container(lab):
    started = lab.run("lifecycle-ticker", name="lc-cycle", detach=True)
    assert "tick 1" in str(wait_for_log(lab, "lc-cycle", "tick 1"))
    stopped = lab.stop("lc-cycle")
    assert repr(stopped) == "$ docker stop lc-cycle\nlc-cycle: exited (exit code 0)"
    assert str(lab.logs("lc-cycle")).splitlines()[-1] == "stopping"
    assert repr(lab.start("lc-cycle")) == "$ docker start lc-cycle\nlc-cycle: running"
    assert repr(lab.restart("lc-cycle")) == "$ docker restart lc-cycle\nlc-cycle: running"
    assert lab.container("lc-cycle").id == started.container.id


def test_rm_refuses_a_running_container_unless_forced(lab):
    lab.run("lifecycle-ticker", name="lc-running", detach=True)
    with pytest.raises(ContainerRunning, match="still running"):
        lab.container("lc-running").remove()
    assert repr(lab.container("lc-running").remove(force=True)) == "$ docker rm -f lc-running\nlc-running: removed"
    assert "lc-running" not in {row[0] for row in lab.ps(all=True).rows}


def test_stop_kills_a_process_that_ignores_term_with_137(lab):
    lab.run("lifecycle-hello", ["sleep", "60"], name="lc-sleepy", detach=True)
    assert repr(lab.stop("lc-sleepy", timeout=1)) == "$ docker stop -t 1 lc-sleepy\nlc-sleepy: exited (exit code 137)"


def test_exit_codes_come_back(lab):
    assert lab.run("lifecycle-hello", "exit 3").exit_code == 3
    missing = lab.run("lifecycle-hello", "no-such-program")
    assert missing.exit_code == 127 and "not found" in missing.output


def test_arguments_replace_cmd_for_exec_form_entrypoint_and_vanish_for_shell_form(lab):
    assert lab.run("lifecycle-greeter").output == "Hello World\n"
    exec_form = lab.run("lifecycle-greeter", ["Moby"])
    assert exec_form.output == "Hello Moby\n" and exec_form.container.command == "echo Hello Moby"
    shell_form = lab.run("lifecycle-greeter-shell", ["Moby"])
    assert shell_form.output == "Hello\n" and shell_form.container.command == "/bin/sh -c 'echo Hello' Moby"
    assert lab.run("lifecycle-greeter", ["Bye"], entrypoint="echo").output == "Bye\n"
    assert lab.run("lifecycle-hello", ["echo", "$HOME"]).output == "$HOME\n"
    assert lab.run("lifecycle-hello", "echo $HOME").output == "/root\n"


def test_ps_shows_entrypoint_and_cmd_like_the_cli(lab):
    lab.run("lifecycle-greeter", ["Moby"], name="lc-greet")
    row = next(row for row in lab.ps(all=True).rows if row[0] == "lc-greet")
    assert row[2:] == ["echo Hello Moby", "Exited (0)"]


def test_rmi_is_refused_while_a_stopped_container_uses_the_image(lab, tmp_path):
    (tmp_path / "Dockerfile").write_text('FROM dockerlab/busybox\nCMD ["echo", "doomed"]\n')
    lab.build(tmp_path, tag="lifecycle-doomed", show=False)  # an image of its own: no other tag keeps it
    lab.run("lifecycle-doomed", name="lc-user")
    with pytest.raises(ImageInUse) as refused:
        lab.rmi("lifecycle-doomed")
    assert refused.value.containers == ["lc-user"]
    assert "stopped ones count too" in refused.value.explanation
    words = "image is in use by a container" if lab.engine.backend == "podman" else "is using its referenced image"
    assert words in refused.value.detail  # the engine's own words
    lab.container("lc-user").remove()
    removed = lab.rmi("lifecycle-doomed")
    assert repr(removed).startswith("$ docker rmi lifecycle-doomed\nUntagged: lifecycle-doomed:latest")


def test_rmi_of_a_short_name_removes_that_name_not_a_longer_one_ending_alike(lab):
    lab.tag("lifecycle-hello", "127.0.0.1:5999/ruud/lc-twice", "1.0")
    lab.tag("lifecycle-hello", "lc-twice", "1.0")
    removed = lab.rmi("lc-twice:1.0")
    assert repr(removed) == "$ docker rmi lc-twice:1.0\nUntagged: lc-twice:1.0"
    kept = lab.engine.api.inspect_image("127.0.0.1:5999/ruud/lc-twice:1.0")["RepoTags"]
    assert "127.0.0.1:5999/ruud/lc-twice:1.0" in kept and not any(name.endswith("/lc-twice:1.0") for name in kept
                                                                  if not name.startswith("127.0.0.1:"))
    removed = lab.rmi("127.0.0.1:5999/ruud/lc-twice:1.0")
    assert repr(removed) == "$ docker rmi 127.0.0.1:5999/ruud/lc-twice:1.0\nUntagged: 127.0.0.1:5999/ruud/lc-twice:1.0"


def test_the_kit_refuses_to_touch_what_another_session_made(lab):
    other = Session(lab.engine)
    try:
        run_container(other, "lifecycle-ticker", name="lc-not-mine", detach=True)
        with pytest.raises(NotOwned):
            lab.stop("lc-not-mine")
        with pytest.raises(NotOwned):
            lab.container("lc-not-mine").remove(force=True)
        with pytest.raises(NotOwned):
            lab.rmi("dockerlab/busybox")  # the kit's base image belongs to no session
        assert lab.container("lc-not-mine").status == "running"
    finally:
        other.clean()


def wait_for_log(lab: Lab, name: str, text: str):
    """The ticker's first line shows its TERM handler is in place (it is set before the loop)."""
    while text not in str(lab.logs(name)):
        time.sleep(0.1)
    return lab.logs(name)

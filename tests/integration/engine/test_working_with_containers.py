"""Lesson 06's kit on the real engine: published ports, exec, --rm, volumes and bind mounts, inspect,
ps -s, system df, --platform."""
import json
import time

import pytest

from dockerlab.errors import ContainerRunning, NameTaken, NotOwned, RunFailed
from dockerlab.model.labels import SESSION_LABEL

from ..conftest import snapshot

BASE = "dockerlab/busybox"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<h1>Hello from a container</h1>\n")
    return tmp_path / "www"


def serve(lab, site, name="dockerlab-test-web"):
    return lab.run(BASE, ["httpd", "-f", "-p", "80", "-h", "/www"], name=name, detach=True, publish=[80],
                   volumes={site: "/www:ro"})


def test_published_port_serves_the_page_to_this_host(lab, site):
    result = serve(lab, site)
    assert "-p 127.0.0.1::80" in result.command or "-p 80 " in result.command
    host, port = lab.container("dockerlab-test-web").port(80)
    assert port > 0
    assert repr(lab.port("dockerlab-test-web", 80)) == f"$ docker port dockerlab-test-web 80\n{host}:{port}"
    page = lab.fetch("dockerlab-test-web", 80)
    assert str(page) == "<h1>Hello from a container</h1>\n"
    assert page.command == f"$ curl http://{lab.engine.address}:{port}/"
    assert "404 Not Found" in str(lab.fetch("dockerlab-test-web", 80, "/missing.html"))


def test_a_port_that_is_not_published_is_named(lab):
    lab.run(BASE, "sleep 60", name="dockerlab-test-quiet", detach=True)
    with pytest.raises(RunFailed, match="does not publish its port 80/tcp; run it with publish=\\[80\\]"):
        lab.fetch("dockerlab-test-quiet", 80)


def test_exec_runs_a_second_process_beside_the_main_one(lab, site):
    serve(lab, site)
    listing = lab.exec("dockerlab-test-web", "ps -o pid,args")
    assert listing.command == "$ docker exec dockerlab-test-web sh -c 'ps -o pid,args'"
    lines = str(listing).splitlines()
    assert lines[1].split(None, 1) == ["1", "httpd -f -p 80 -h /www"]
    assert any("ps -o pid,args" in line for line in lines[2:])


def test_exec_says_a_failing_command_exit_code(lab, site):
    serve(lab, site)
    failed = lab.exec("dockerlab-test-web", ["cat", "/nope"])
    assert repr(failed).startswith("$ docker exec dockerlab-test-web cat /nope\n")
    assert repr(failed).endswith("\n(the command exited with code 1)")
    if lab.engine.backend == "docker":  # Podman 5's compatible API leaves an exec's stderr out of its output
        assert "cat: can't open '/nope': No such file or directory" in str(failed)


def test_exec_in_a_stopped_container_is_refused_with_a_way_out(lab):
    lab.run(BASE, "true", name="dockerlab-test-done")
    with pytest.raises(ContainerRunning, match="runs a command only in a running container; start it first"):
        lab.exec("dockerlab-test-done", "ls")


def test_exec_in_a_container_the_kit_did_not_create_is_refused(lab):
    foreign = lab.client.containers.run(BASE, ["sleep", "60"], name="dockerlab-test-foreign-exec", detach=True)
    try:
        with pytest.raises(NotOwned, match="was not created by this notebook, so the kit will not exec it"):
            lab.exec("dockerlab-test-foreign-exec", "touch /made-by-the-kit")
        assert foreign.diff() is None or "/made-by-the-kit" not in str(foreign.diff())
    finally:
        foreign.remove(force=True)


def test_rm_leaves_no_container_attached_or_detached(lab):
    result = lab.run(BASE, "echo bye", rm=True, name="dockerlab-test-once")
    assert repr(result) == "$ docker run --rm --name dockerlab-test-once dockerlab/busybox sh -c 'echo bye'\nbye"
    detached = lab.run(BASE, "true", rm=True, name="dockerlab-test-once-bg", detach=True)
    detached.container.wait()
    names = [row[0] for row in lab.ps(all=True).rows]
    assert "dockerlab-test-once" not in names
    for _ in range(50):  # the engine removes an auto-removed container just after its process ends
        if "dockerlab-test-once-bg" not in [row[0] for row in lab.ps(all=True).rows]:
            break
        time.sleep(0.1)
    assert "dockerlab-test-once-bg" not in [row[0] for row in lab.ps(all=True).rows]


def test_named_volume_outlives_the_container_and_is_labelled(lab):
    write = "echo kept >> /data/log && cat /data/log"
    first = lab.run(BASE, write, name="dockerlab-test-writer", volumes={"dockerlab-test-notes": "/data"})
    assert first.command.startswith("$ docker run -v dockerlab-test-notes:/data --name dockerlab-test-writer ")
    lab.remove("dockerlab-test-writer")
    second = lab.run(BASE, write, name="dockerlab-test-writer", volumes={"dockerlab-test-notes": "/data"})
    assert second.output == "kept\nkept\n"
    volume = lab.client.volumes.get("dockerlab-test-notes")
    assert volume.attrs["Labels"][SESSION_LABEL] == lab.session.id
    assert lab.volumes().rows == [["local", "dockerlab-test-notes"]]
    with pytest.raises(RunFailed, match="still mounted by the container\\(s\\) dockerlab-test-writer"):
        lab.remove_volume("dockerlab-test-notes")
    lab.remove("dockerlab-test-writer")
    assert repr(lab.remove_volume("dockerlab-test-notes")) == "$ docker volume rm dockerlab-test-notes\ndockerlab-test-notes"
    assert lab.volumes().rows == []


def test_volume_of_another_owner_is_refused_and_kept(lab):
    foreign = lab.client.volumes.create("dockerlab-test-foreign-volume")
    try:
        with pytest.raises(NameTaken, match="something the kit did not create, so the kit will not use it"):
            lab.run(BASE, "true", volumes={"dockerlab-test-foreign-volume": "/data"})
        with pytest.raises(NameTaken):
            lab.remove_volume("dockerlab-test-foreign-volume")
        assert lab.client.volumes.get("dockerlab-test-foreign-volume").id == foreign.id
        assert lab.ps(all=True).rows == []  # nothing was created
    finally:
        foreign.remove()


def test_bind_mount_shares_a_folder_of_this_host_both_ways(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "hello.txt").write_text("from the notebook\n")
    result = lab.run(BASE, "cat /notes/hello.txt && echo back > /notes/reply.txt", rm=True,
                     volumes={"./notes": "/notes"})
    assert repr(result) == ("$ docker run --rm -v ./notes:/notes dockerlab/busybox sh -c "
                            "'cat /notes/hello.txt && echo back > /notes/reply.txt'\nfrom the notebook")
    assert (tmp_path / "notes" / "reply.txt").read_text() == "back\n"


def test_read_only_bind_mount_cannot_be_written(lab, site):
    before = snapshot(site)
    result = lab.run(BASE, "echo x > /www/index.html", volumes={site: "/www:ro"})
    assert result.exit_code != 0 and "Read-only file system" in result.output
    assert snapshot(site) == before


def test_missing_bind_folder_and_relative_target_are_refused_before_anything_runs(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunFailed, match="There is no folder or file './nowhere' here to mount; create it first"):
        lab.run(BASE, "true", volumes={"./nowhere": "/data"})
    with pytest.raises(RunFailed, match="is not a path inside the container"):
        lab.run(BASE, "true", volumes={"dockerlab-test-notes": "data"})
    assert not (tmp_path / "nowhere").exists()
    assert lab.ps(all=True).rows == [] and lab.volumes().rows == []


def test_inspect_shows_fields_as_the_format_flag_does(lab, site):
    serve(lab, site)
    assert repr(lab.inspect("dockerlab-test-web", "State.Status", "Config.Cmd")) == (
        "$ docker inspect --format '{{.State.Status}} {{json .Config.Cmd}}' dockerlab-test-web\n"
        'running ["httpd","-f","-p","80","-h","/www"]')
    mounts = lab.inspect("dockerlab-test-web", "Mounts")
    assert mounts.command == "$ docker inspect --format '{{json .Mounts}}' dockerlab-test-web"
    [mount] = json.loads(str(mounts))
    assert (mount["Type"], mount["Destination"], mount["RW"]) == ("bind", "/www", False)
    whole = json.loads(str(lab.inspect("dockerlab-test-web")))
    assert whole["Name"] == "/dockerlab-test-web"
    image = lab.inspect(BASE, "Os", "Architecture")
    assert str(image) == f"linux {lab.client.version()['Arch']}"


def test_ps_size_shows_the_writable_layer(lab):
    lab.run(BASE, "head -c 100000 /dev/zero > /big", name="dockerlab-test-sized")
    table = lab.ps(all=True, size=True)
    assert table.command == "$ docker ps -a -s"
    assert table.columns[-1] == "SIZE"
    [row] = table.rows
    written, virtual = row[-1].split(" (virtual ")
    # the 100 kB file, plus what the store counts around it (the containerd store: its blocks, ~106 kB)
    assert written.endswith(" kB") and 100.0 <= float(written.removesuffix(" kB")) < 150
    assert virtual.endswith(" MB)")


def test_disk_usage_counts_this_notebooks_volume(lab):
    before = {row[0]: row for row in lab.disk_usage().rows}
    lab.run(BASE, "head -c 5000 /dev/zero > /data/blob", volumes={"dockerlab-test-usage": "/data"})
    table = lab.disk_usage()
    assert table.command == "$ docker system df"
    rows = {row[0]: row for row in table.rows}
    assert list(rows) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert int(rows["Local Volumes"][1]) == int(before["Local Volumes"][1]) + 1


def test_another_platform_of_a_local_image_is_refused_in_one_sentence(lab):
    with pytest.raises(RunFailed, match="only for another platform, not linux/s390x"):
        lab.run(BASE, "uname -m", platform="linux/s390x", name="dockerlab-test-s390x")
    assert lab.ps(all=True).rows == []

"""Lessons 05, 07, 08 and 10 against the real engine: commit adds one layer, history rows, dangling
images after a rebuild and a prune that touches only this session, and the `layer_kept` check kind."""
import shutil
from pathlib import Path

import pytest

from dockerlab.engine.base_image import ensure_base_image
from dockerlab.engine.buildx import uses_buildkit
from dockerlab.engine.connection import connect_engine
from dockerlab.errors import ContainerNotFound
from dockerlab.course.grading import check_submission
from dockerlab.app.lab import Lab

from ..conftest import NOTHING, labelled

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "notebooks" / "examples"
EXERCISES = REPO / "exercises"


@pytest.fixture(scope="module")
def lab():
    engine = connect_engine()
    ensure_base_image(engine)
    lab = Lab(engine)
    yield lab
    lab.clean()
    assert labelled(lab.engine, lab.session.id) == NOTHING


def test_commit_adds_exactly_one_layer_holding_the_writable_layer(lab):
    lab.build(EXAMPLES / "writable", tag="t-writable", show=False)
    lab.run("t-writable", "echo red > /data/settings.txt", name="t-editor")
    shown = lab.commit("t-editor", "t-writable", "red")
    assert repr(shown).startswith("$ docker commit t-editor t-writable:red\n")
    assert "2 layer(s) of its image + 1 new layer" in repr(shown)
    before, after = lab.layers("t-writable"), lab.layers("t-writable:red")
    assert [layer.diff_id for layer in after.layers[:-1]] == [layer.diff_id for layer in before.layers]
    assert len(after.layers) == len(before.layers) + 1
    assert lab.run("t-writable:red", ["cat", "/data/settings.txt"]).output == "red\n"
    assert lab.run("t-writable").output == "colour=blue\n"  # the image it came from never changes
    attrs = lab.engine.api.inspect_image("t-writable:red")
    assert lab.session.owns(attrs["Config"]["Labels"])  # so clean() removes it


def test_commit_of_a_missing_container_is_one_sentence(lab):
    with pytest.raises(ContainerNotFound, match="There is no container named 'no-such-box'"):
        lab.commit("no-such-box", "t-writable", "x")


def test_history_rows_show_short_ids_and_no_session_label_step(lab):
    result = lab.build(EXAMPLES / "writable", tag="t-writable", show=False)
    table = lab.history("t-writable")
    assert table.command == "$ docker history t-writable"
    assert not any("dockerlab.session" in row[1] for row in table.rows)
    ids = [row[0] for row in table.rows]
    if lab.engine.backend == "podman":  # as `podman history` shows it: <missing> where a step kept no image
        assert ids[0] != "<missing>" and all(len(i) == 12 or i == "<missing>" for i in ids)
    else:
        assert ids[0] == result.image_id.removeprefix("sha256:")[:12]  # the top row is the image itself
        if not uses_buildkit(lab.engine):  # built here: every step has an image of its own
            assert all(len(i) == 12 for i in ids)
    assert any(row[1].startswith("RUN mkdir /data") for row in table.rows)


def test_a_rebuild_leaves_a_dangling_image_and_prune_removes_only_ours(lab, tmp_path):
    context = tmp_path / "v"
    context.mkdir()
    (context / "Dockerfile").write_text('FROM dockerlab/busybox\nCMD echo "one"\n')
    first = lab.build(context, tag="t-rebuilt", show=False)
    (context / "Dockerfile").write_text('FROM dockerlab/busybox\nCMD echo "two"\n')
    lab.build(context, tag="t-rebuilt", show=False)
    dangling = lab.dangling()
    kept = lab.engine.api.images(filters={"dangling": True})
    if first.image_id not in {item["Id"] for item in kept}:  # this engine removed it when the name moved
        assert len(dangling) == 0 and "Removed 0 dangling image(s)" in repr(lab.prune())
        return
    assert [row[:3] for row in dangling.rows] == [["<none>", "<none>", first.image_id.removeprefix("sha256:")[:12]]]
    assert "Removed 1 dangling image(s)" in repr(lab.prune())
    assert len(lab.dangling()) == 0
    assert first.image_id not in {item["Id"] for item in lab.engine.api.images(filters={"dangling": True})}


@pytest.mark.parametrize("folder, passed", [("starter", False), ("solution", True)])
def test_layer_kept_check_tells_a_reordered_dockerfile_from_the_starter(folder, passed):
    engine = connect_engine()
    result = check_submission(lambda: engine, "cache-order", context=EXERCISES / "cache-order" / folder, hidden=True)
    assert result.passed is passed, repr(result)
    text = "\n".join(result.feedback)
    if not passed:
        assert "the layer holding /deps/installed.txt was built again" in text


def test_layer_kept_check_wants_the_file_it_edits(tmp_path):
    engine = connect_engine()
    context = tmp_path / "c"
    shutil.copytree(EXERCISES / "cache-order" / "solution", context)
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text().replace("COPY app.sh /app/\n", "")
                                        .replace('CMD ["sh", "/app/app.sh"]', 'CMD ["sh", "-c", "echo nothing"]'))
    (context / "app.sh").unlink()
    result = check_submission(lambda: engine, "cache-order", context=context)
    assert "The folder has no file app.sh to edit" in "\n".join(result.feedback)


def test_slim_image_accepts_a_multi_stage_answer(tmp_path):
    engine = connect_engine()
    context = tmp_path / "c"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM dockerlab/busybox AS build\nRUN head -c 300000 /dev/zero > /tmp/download.bin\n"
        "RUN mkdir -p /app && wc -c < /tmp/download.bin > /app/size.txt\n"
        "FROM dockerlab/busybox\nCOPY --from=build /app/size.txt /app/size.txt\nCMD [\"cat\", \"/app/size.txt\"]\n")
    result = check_submission(lambda: engine, "slim-image", context=context, hidden=True)
    assert result.passed, repr(result)


def test_a_multi_stage_build_s_leftover_stage_is_this_session_s_to_prune(lab, tmp_path):
    context = tmp_path / "m"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM dockerlab/busybox AS build\nRUN echo {lab.session.id.split('@')[0]} > /made.txt\n"
        "FROM dockerlab/busybox\nCOPY --from=build /made.txt /made.txt\n")
    lab.build(context, tag="t-multistage", show=False)
    if uses_buildkit(lab.engine):  # BuildKit keeps no image of an earlier stage
        assert len(lab.dangling()) == 0
        return
    assert len(lab.dangling()) == 1  # the build stage's result: untagged and without the session's label
    stage = lab.dangling().rows[0][2]
    assert "Removed 1 dangling image(s)" in repr(lab.prune())
    assert stage not in {item["Id"].removeprefix("sha256:")[:12] for item in lab.engine.api.images(filters={"dangling": True})}


def test_retagging_moves_a_name_and_never_changes_an_image_id(lab):
    v1 = lab.build(EXAMPLES / "versions" / "v1", tag="t-versions", show=False)
    v2 = lab.build(EXAMPLES / "versions" / "v2", tag="t-versions:2", show=False)
    lab.tag("t-versions", "t-versions", "1")
    assert lab.images("t-versions").rows == [
        ["t-versions", "1", v1.image_id[7:19], lab.images("t-versions").rows[0][3]],
        ["t-versions", "2", v2.image_id[7:19], lab.images("t-versions").rows[1][3]],
        ["t-versions", "latest", v1.image_id[7:19], lab.images("t-versions").rows[2][3]]]
    assert lab.images("t-versions").command == "$ docker images t-versions"
    lab.tag("t-versions:2", "t-versions", "latest")
    assert lab.image_id("t-versions:latest") == v2.image_id
    assert lab.image_id("t-versions:1") == v1.image_id
    assert lab.run("t-versions").output == "app version 2\n"


def test_images_without_a_repository_still_lists_every_repository(lab):
    lab.build(EXAMPLES / "versions" / "v1", tag="t-listed", show=False)
    names = {row[0] for row in lab.images().rows}
    assert {"t-listed", "dockerlab/busybox"} <= names
    assert {row[0] for row in lab.images("t-listed").rows} == {"t-listed"}


def test_clean_removes_an_image_and_its_commit_made_in_the_same_second():
    engine = connect_engine()
    fresh = Lab(engine)
    fresh.build(EXAMPLES / "writable", tag="t-same-second", show=False)
    fresh.run("t-same-second", "echo x > /x", name="t-same-second-box")
    fresh.commit("t-same-second-box", "t-same-second", "child")
    fresh.clean()
    assert labelled(fresh.engine, fresh.session.id) == NOTHING

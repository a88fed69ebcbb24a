"""The layer model's definitions on small hand-made layers (whiteouts, opaque dirs, replacements)."""
from __future__ import annotations

from dockerlab.model.progress import BuildStep
from dockerlab.model.layers import ContainerLayer, build_image_layers, display_instruction, guess_empty
from dockerlab.model.unionfs import Entry, LayerFiles


def f(path, size=1):
    return Entry(path, "file", size)


def d(path):
    return Entry(path, "dir")


def model(*layers):
    diff_ids = [f"sha256:{i}" for i in range(len(layers))]
    history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(layers))]
    return build_image_layers("t", diff_ids, history, layer_files=[LayerFiles(list(x)) for x in layers])


def changes(layer):
    return sorted((c.change, c.path) for c in layer.changes)


def test_opaque_marker_applies_before_the_layers_own_entries():
    m = model([d("a"), f("a/old", 10)], [d("a"), Entry("a/.wh..wh..opq", "file"), f("a/new", 3)])
    assert changes(m.layers[1]) == [("added", "a/new"), ("deleted", "a/old")]
    assert m.wasted_bytes == 10


def test_whiteout_removes_a_whole_directory():
    m = model([f("x/y/z", 5), f("x/w", 2), f("keep", 1)], [Entry(".wh.x", "file")])
    assert changes(m.layers[1]) == [("deleted", "x/w"), ("deleted", "x/y/z")]
    assert m.layers[1].size == 0 and m.wasted_bytes == 7


def test_file_replacing_a_directory_hides_everything_below_and_back():
    m = model([f("p/q", 4)], [f("p", 2)], [f("p/again", 1)])
    assert changes(m.layers[1]) == [("added", "p"), ("deleted", "p/q")]
    assert changes(m.layers[2]) == [("added", "p/again"), ("deleted", "p")]
    assert m.wasted_bytes == 6


def test_rewritten_file_is_modified_and_its_old_bytes_wasted():
    m = model([f("etc/conf", 100)], [f("etc/conf", 120)])
    assert changes(m.layers[1]) == [("modified", "etc/conf")]
    assert [layer.wasted_bytes for layer in m.layers] == [100, 0]


def test_hard_link_keeps_its_targets_bytes_alive():
    m = model([f("a", 50), Entry("b", "hardlink", 0, "a")], [f("a", 7)])
    assert m.layers[0].live_bytes == 50 and m.wasted_bytes == 0
    m = model([f("a", 50), Entry("b", "hardlink", 0, "./a")], [Entry(".wh.a", "file"), Entry(".wh.b", "file")])
    assert m.wasted_bytes == 50


def test_base_layers_are_matched_by_diff_id_prefix_not_position():
    m = build_image_layers("t", ["sha256:a", "sha256:b", "sha256:c"], [{}, {}, {}], base_diff_ids=["sha256:a", "sha256:x"])
    assert [layer.base for layer in m.layers] == [True, False, False]


def test_steps_link_to_layers_and_metadata_steps_have_none():
    history = [{"created_by": "/bin/sh -c #(nop) ADD file:" + "ab" * 32 + " in / "},
               {"created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True},
               {"created_by": "/bin/sh -c echo hi > /x"},
               {"created_by": "/bin/sh -c #(nop)  LABEL dockerlab.kit=base", "empty_layer": True}]
    m = build_image_layers("t", ["sha256:a", "sha256:b"], history,
                           build_steps=[BuildStep(1, "FROM base"), BuildStep(2, "RUN echo hi > /x", cached=True),
                                        BuildStep(3, "LABEL dockerlab.kit=base")])
    assert [(s.layer, s.empty) for s in m.steps] == [(0, False), (None, True), (1, False), (None, True)]
    assert [s.cached for s in m.steps] == [False, False, True, False]
    assert [s.text for s in m.steps] == ["ADD file:" + "ab" * 6 + " in /", 'CMD ["sh"]', "RUN echo hi > /x",
                                         "LABEL dockerlab.kit=… (the kit's label)"]
    assert m.layers[1].step == 2


def test_the_classic_builders_session_label_step_is_not_a_step_of_the_image():
    history = [{"created_by": "/bin/sh -c echo hi > /x"},
               {"created_by": "/bin/sh -c #(nop)  LABEL dockerlab.session=123-4-abcd@host", "empty_layer": True}]
    m = build_image_layers("t", ["sha256:a"], history, build_steps=[BuildStep(1, "FROM base"),
                                                                   BuildStep(2, "RUN echo hi > /x", cached=True)])
    assert [(s.text, s.cached) for s in m.steps] == [("RUN echo hi > /x", True)]


def test_json_shape_has_null_counts_without_files():
    m = build_image_layers("t", ["sha256:a"], [{"created_by": "x"}])
    data = m.to_json(files=True)
    assert set(data) == {"image", "steps", "layers", "wasted_bytes"}
    assert data["layers"][0] == {"diff_id": "sha256:a", "created_by": "x", "size": None, "added": None,
                                 "modified": None, "deleted": None, "base": False, "files": None}
    assert data["wasted_bytes"] is None


def test_display_instruction_cleans_builder_noise():
    assert display_instruction("|1 A=b /bin/sh -c make  all") == "RUN make all"
    assert display_instruction("RUN /bin/sh -c apk add x # buildkit") == "RUN apk add x"


def test_engine_history_guesses_metadata_steps_to_match_the_layer_count():
    history = [{"CreatedBy": "/bin/sh -c #(nop) COPY dir:x in /", "Size": 5},
               {"CreatedBy": "/bin/sh -c #(nop)  ENV A=b", "Size": 0},
               {"CreatedBy": "/bin/sh -c #(nop) WORKDIR /data", "Size": 0}]
    assert guess_empty(history, 1) == [False, True, True]
    assert guess_empty(history, 2) == [False, True, False]


def test_the_containerd_stores_empty_copy_is_no_layer():
    # Recorded from Engine 26.1 with the containerd image store (oldest first): the second, identical COPY
    # changed nothing and made no layer; the image has 6 layers.
    steps = [("/bin/sh -c #(nop) COPY dir:dcdb9804f63a in / ", 2015232), ("/bin/sh -c #(nop)  ENV PATH=/bin", 0),
             ('/bin/sh -c #(nop)  CMD ["sh"]', 0), ("/bin/sh -c #(nop)  LABEL dockerlab.kit=base", 0),
             ("/bin/sh -c mkdir -p /data/keep", 53248), ("/bin/sh -c #(nop)  ENV FOO=bar", 0),
             ("/bin/sh -c rm /big.bin", 40960), ("/bin/sh -c mkdir /many", 20611072),
             ("/bin/sh -c #(nop)  LABEL note=metadata only", 0), ("/bin/sh -c #(nop) COPY file:2ace90 in /dup.txt ", 8192),
             ("/bin/sh -c #(nop) COPY file:2ace90 in /dup.txt ", 0), ("/bin/sh -c rm -rf /swap/dir", 16384),
             ("/bin/sh -c #(nop) WORKDIR /data", 0), ("/bin/sh -c #(nop)  LABEL dockerlab.session=x", 0)]
    empty = guess_empty([{"CreatedBy": text, "Size": size} for text, size in steps], 6)
    assert [text for (text, _), flag in zip(steps, empty) if not flag] == [
        steps[0][0], steps[4][0], steps[6][0], steps[7][0], steps[9][0], steps[11][0]]


def test_container_layer_counts_and_text():
    layer = ContainerLayer.from_engine("web", "img", [{"Path": "/tmp/x", "Kind": 1}, {"Path": "/etc", "Kind": 0},
                                                      {"Path": "/etc/passwd", "Kind": 2}], 12)
    assert (layer.count("A"), layer.count("C"), layer.count("D")) == (1, 1, 1)
    assert repr(layer).splitlines()[0] == "$ docker diff web"
    assert layer.to_json()["changes"][0] == {"path": "/etc", "kind": "C"}


def test_image_without_history_still_has_a_step_per_layer():
    m = build_image_layers("imported", ["sha256:a", "sha256:b"], [])
    assert [(s.created_by, s.layer) for s in m.steps] == [("(no history)", 0), ("(no history)", 1)]


def test_wasted_paths_are_own_files_a_later_own_layer_deleted_or_overwrote():
    m = build_image_layers(
        "t", ["sha256:base", "sha256:run1", "sha256:run2"], [{}, {}, {}], base_diff_ids=["sha256:base"],
        layer_files=[LayerFiles([f("etc/group", 9)]),
                     LayerFiles([f("tmp/tool.tar", 200), f("opt/v", 3), f("opt/conf", 4)]),
                     LayerFiles([Entry("tmp/.wh.tool.tar", "file"), Entry("etc/.wh.group", "file"), f("opt/conf", 5)])])
    assert m.wasted_paths() == ["opt/conf", "tmp/tool.tar"]  # not etc/group: its bytes are the base's
    assert (m.wasted_own, m.wasted_bytes) == (204, 204 + 9)  # 9: etc/group, hidden in the base's layer

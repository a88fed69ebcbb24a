"""The layer picture: stable DOT text, real escaping, shared base drawn once, a text form for nbval."""
from __future__ import annotations

import shutil

from dockerlab.model.progress import BuildStep
from dockerlab.view.diagram import Diagram, dot_source
from dockerlab.model.layers import ContainerLayer, build_image_layers
from dockerlab.model.unionfs import Entry, LayerFiles

BASE_HISTORY = [{"created_by": "/bin/sh -c #(nop) COPY dir:" + "ab" * 32 + " in / "},
                {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
                {"created_by": "/bin/sh -c #(nop)  LABEL dockerlab.kit=base", "empty_layer": True}]
TRICKY = 'echo "quoted" \\n back\\slash <tag> & ünïcode 文 > /x'


def image(name, own_step, own_diff, cached=None, files=False):
    history = BASE_HISTORY + [{"created_by": f"/bin/sh -c {own_step}"},
                              {"created_by": "/bin/sh -c #(nop)  LABEL dockerlab.session=9-9-abcd@h", "empty_layer": True}]
    build = [BuildStep(1, "FROM dockerlab/busybox"), BuildStep(2, f"RUN {own_step}", cached=bool(cached))
             ] if cached is not None else None
    layer_files = [LayerFiles([Entry("bin/sh", "file", 1000)]), LayerFiles([Entry("x", "file", 12)])] if files else None
    return build_image_layers(name, ["sha256:base", own_diff], history, base_diff_ids=["sha256:base"],
                              base_image="dockerlab/busybox", base_history_length=3, build_steps=build,
                              layer_files=layer_files)


def test_same_models_give_the_same_dot_text():
    assert dot_source([image("a", "echo a", "sha256:a")]) == dot_source([image("a", "echo a", "sha256:a")])


def test_labels_keep_quotes_backslashes_and_non_ascii(tmp_path):
    source = dot_source([image("we<ird>", TRICKY, "sha256:t")])
    assert "&quot;quoted&quot; \\n back\\slash &lt;tag&gt; &amp; ünïcode 文" in source
    if shutil.which("dot"):
        svg = Diagram([image("we<ird>", TRICKY, "sha256:t")]).svg()
        assert "back\\slash" in svg and "&lt;tag&gt;" in svg and "文" in svg and "we&lt;ird&gt;" in svg


def test_images_sharing_the_base_are_one_tree():
    source = dot_source([image("a", "echo a", "sha256:a"), image("b", "echo b", "sha256:b")])
    assert source.count("COPY dir:abababababab in /") == 1
    assert source.count("subgraph cluster_base") == 1
    assert source.count("shape=tab") == 2  # one box per image name, both on the same base


def test_metadata_steps_are_thin_cache_hits_marked_and_kit_label_hidden():
    source = dot_source([image("a", "echo a", "sha256:a", cached=True)])
    assert 'CMD [&quot;sh&quot;]</font>>, height=0.2' in source
    assert "cached" in source and "9-9-abcd" not in source
    assert "LABEL dockerlab.kit=… (the kit&#x27;s label)" in source and "dockerlab.session" not in source


def test_containers_are_dashed_on_top_with_their_counts():
    model = image("a", "echo a", "sha256:a")
    model.containers.append(ContainerLayer("web", "a", [("/tmp/x", "A"), ("/etc", "C")], 42))
    source = dot_source([model])
    assert 'c1_1 [style="dashed,rounded"' in source and "A 1 · C 1 · D 0 · 42 B" in source
    assert "i1 -> c1_1 [style=dashed]" in source


def test_text_form_is_stable_and_tells_the_stack_top_first():
    model = image("a", "echo a", "sha256:a", cached=False, files=True)
    text = Diagram([model]).text
    assert text == "\n".join([
        "$ dockerlab layers a --files",  # the kit's summary, under the kit's own command
        "a: 2 layer(s) (1 from the base image), 1.0 kB; 0 B wasted (0 B in its own layers)",
        "  RUN echo a                       layer 2 · 12 B · +1 ~0 -0",
        "  (base image dockerlab/busybox)   1 layer(s) · 1.0 kB · 2 metadata step(s)",
    ])


def test_notebook_gets_svg_and_stable_text_and_a_sentence_without_dot(monkeypatch):
    diagram = Diagram([image("a", "echo a", "sha256:a")])
    if shutil.which("dot"):
        bundle = diagram._repr_mimebundle_()
        assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and bundle["text/plain"] == diagram.text
        assert "graphviz version" not in bundle["image/svg+xml"]  # nothing of the machine that drew it
    monkeypatch.setenv("PATH", "/nonexistent")
    bundle = Diagram([image("a", "echo a", "sha256:a")])._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    first, rest = bundle["text/plain"].split("\n", 1)
    assert "`dot`" in first and "apt-get install graphviz" in first and rest == diagram.text
    assert " at 0x" not in repr(diagram)


def test_layer_explorer_lists_a_layers_files_by_size_with_whiteouts_on_a_toggle():
    from dockerlab.view.widgets import LayerExplorer

    files = [LayerFiles([Entry("app/a", "file", 5), Entry("app/big", "file", 500), Entry("old", "file", 1)]),
             LayerFiles([Entry(".wh.old", "file"), Entry("app/a", "file", 7)])]
    model = build_image_layers("t", ["sha256:a", "sha256:b"], [{}, {}], layer_files=files)
    explorer = LayerExplorer(model)
    assert explorer.picker.value == 1  # the top layer first
    assert explorer.rows() == [("modified", "app/a", 7), ("deleted", "old", 1)]
    explorer.raw.value = True
    assert explorer.rows()[0] == ("whiteout", ".wh.old", None) and ".wh.old" in explorer.table.value
    explorer.picker.value, explorer.raw.value = 0, False
    assert [row[1] for row in explorer.rows()] == ["app/big", "app/a", "old"]
    explorer.sort.value = "path"
    assert [row[1] for row in explorer.rows()] == ["app/a", "app/big", "old"]
    assert "6 B of it hidden by later layers" in explorer.summary.value

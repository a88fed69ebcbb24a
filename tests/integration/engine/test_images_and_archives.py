"""The layer model read from real images, in every archive layout, against numbers found another way."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tarfile

import pytest

from dockerlab.archive import layouts

from dockerlab.archive.cache import LayerCache
from dockerlab.archive.layouts import read_archive, scan
from dockerlab.engine.images import read_engine_image
from dockerlab.engine.build import BASE_IMAGE, stream_build
from dockerlab.model.buildkit import BuildKitProgress
from dockerlab.model.layers import build_image_layers, display_instruction
from dockerlab.model.text import human_size
from dockerlab.engine.session import Session

from ..layer_images import (TRICKY_DOCKERFILE, docker, engine25_from_save, layer_images, layer_steps, legacy_from_save,
                            modified_by_layer, rewrite_oci, saved_config, saves_blobs, tar_listing_sizes, tar_names,
                            visible_in, write_context)


@pytest.fixture(scope="module")
def session(engine):
    session = Session(engine)
    yield session
    session.clean()
    left = docker("ps", "-aq", "--filter", f"label=dockerlab.session={session.id}").stdout.split()
    assert not left


@pytest.fixture(scope="module")
def tricky(engine, session, tmp_path_factory):
    """The tricky image, its archives in every layout, and what a container and GNU tar say about it."""
    folder = tmp_path_factory.mktemp("tricky")
    tag = f"dockerlab-test-layers:{session.id.split('-')[2].split('@')[0]}"
    build = stream_build(engine, write_context(folder / "context"), tag, session.labels)
    save = folder / "save.tar"
    docker("save", tag, "-o", str(save))
    if saves_blobs(save):  # Engine 25+ writes this layout itself; the older one is made from it
        archives = {"docker save (Engine <=24)": legacy_from_save(save, folder / "engine24.tar"),
                    "docker save (Engine 25+)": save}
    else:
        archives = {"docker save (Engine <=24)": save,
                    "docker save (Engine 25+)": engine25_from_save(save, folder / "engine25.tar")}
    gz = folder / "save.tar.gz"
    with open(save, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    archives["docker save | gzip"] = gz
    for compression in ("gzip", "zstd"):
        out = folder / f"oci-{compression}.tar"
        subprocess.run(["skopeo", "copy", "-q", "--src-daemon-host", engine.host, f"docker-daemon:{tag}", f"oci-archive:{out}",
                        "--dest-compress-format", compression], check=True, capture_output=True)
        archives[f"OCI {compression}"] = out
    archives["OCI nested index"] = rewrite_oci(archives["OCI zstd"], folder / "oci-nested.tar", nest_index=True)

    # What the union filesystem shows after each layer, read by a container of the image each step made.
    config = saved_config(save)
    visible = [visible_in(image_id, session.labels)
               for image_id in layer_images(tag, config, folder / "context", session.labels)]
    # GNU tar's listing of each layer tar of the save.
    unpacked = folder / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(save), "-C", str(unpacked)], check=True)
    manifest = json.loads((unpacked / "manifest.json").read_text())[0]
    listings = [tar_listing_sizes(unpacked / path) for path in manifest["Layers"]]
    names = [tar_names(unpacked / path) for path in manifest["Layers"]]
    with open(save, "rb") as stream:  # the engine's own layer blobs: plain tars, or gzip (the containerd store)
        own_compression = read_archive(stream, cache=None).layers[0].compression
    return {"tag": tag, "build": build, "archives": archives, "visible": visible, "listings": listings, "names": names,
            "base": engine.api.inspect_image(BASE_IMAGE)["RootFS"]["Layers"], "steps": layer_steps(config),
            "modified": {k: paths for k, paths in modified_by_layer(layer_steps(config)).items() if listings[k][0]},
            "diff_ids": config["rootfs"]["diff_ids"],
            "own_compression": own_compression, "engine_writes_blobs": saves_blobs(save)}


def model_of(archive, base):
    return build_image_layers(archive.name or "?", archive.diff_ids, archive.history, base_diff_ids=base,
                              layer_files=archive.layers)


def expected_changes(tricky: dict, k: int) -> dict[str, set[str]]:
    visible = tricky["visible"]
    before = set(visible[k - 1]) if k else set()
    after = set(visible[k])
    # What the Dockerfile writes again, and a hard link to it where the store keeps the link (Podman's vfs),
    # where the layer holds it (Buildah leaves a file copied again unchanged out of the layer).
    resized = {path for path in before & after if visible[k - 1][path][0] != visible[k][path][0]}
    modified = (tricky["modified"].get(k, set()) | resized) & tricky["names"][k]
    return {"added": after - before, "deleted": before - after, "modified": modified}


def second_copy_is_empty(tricky: dict) -> bool:
    """The containerd image store records the second, identical COPY as an empty step (no layer)."""
    return sum(" COPY " in f" {step} " and "/dup.txt" in step for step in tricky["steps"]) == 1


def test_tricky_image_has_the_layers_the_dockerfile_makes(tricky):
    kinds = [display_instruction(step).split()[0] for step in tricky["steps"][1:]]
    # ENV, LABEL make no layer; 4 RUN and 2 COPY do (1 COPY where the engine finds the second empty); WORKDIR
    # makes one with BuildKit only
    expected = ["RUN", "RUN", "RUN", "COPY"] + ([] if second_copy_is_empty(tricky) else ["COPY"]) + ["RUN"]
    expected += ["WORKDIR"] if isinstance(tricky["build"], BuildKitProgress) else []
    assert kinds == expected
    assert len(tricky["visible"]) == len(tricky["diff_ids"]) == 1 + len(expected)
    assert len(tricky["visible"][3]) - len(tricky["visible"][2]) == 5000


LAYOUTS = ["docker save (Engine <=24)", "docker save (Engine 25+)", "docker save | gzip", "OCI gzip",
           "OCI zstd", "OCI nested index"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_changes_a_container_sees(tricky, layout):
    image = read_archive(open(tricky["archives"][layout], "rb"), cache=None)
    model = model_of(image, tricky["base"])
    assert [layer.base for layer in model.layers] == [True] + [False] * (len(tricky["diff_ids"]) - 1)
    for k, layer in enumerate(model.layers):
        got = {kind: {c.path for c in layer.changes if c.change == kind} for kind in ("added", "deleted", "modified")}
        expected = expected_changes(tricky, k)
        assert got == expected, (f"layer {k}", {kind: (got[kind] - expected[kind], expected[kind] - got[kind])
                                                for kind in got})


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_gnu_tar_sizes_and_wasted_bytes(tricky, layout):
    image = read_archive(open(tricky["archives"][layout], "rb"), cache=None)
    model = model_of(image, tricky["base"])
    assert [layer.size for layer in model.layers] == [size for size, _ in tricky["listings"]]
    assert [len(layer.whiteouts) for layer in model.layers] == [count for _, count in tricky["listings"]]
    top = tricky["visible"][-1]
    live = sum({inode: size for size, inode in top.values() if inode != "-"}.values())
    total = sum(size for size, _ in tricky["listings"])
    assert model.wasted_bytes == total - live
    assert model.wasted_own == total - live  # the base image's layers waste nothing
    # Deleting big.bin (4096 bytes) in a later layer did not make the image smaller: it is wasted.
    assert model.wasted_own >= 4096 + 2000 + 3000


def test_layout_names_and_compressions_are_recognised(tricky):
    seen = {}
    for layout, path in tricky["archives"].items():
        image = read_archive(open(path, "rb"), cache=None)
        seen[layout] = (image.layout, sorted({files.compression for files in image.layers}))
    assert seen["docker save (Engine <=24)"] == ("docker save (Engine <=24)", ["none"])
    # Where the engine wrote the Engine 25+ layout itself, it holds its own blobs: plain tars (overlay2), gzip
    # (the containerd store); made from an older save, plain tars.
    blobs = tricky["own_compression"] if tricky["engine_writes_blobs"] else "none"
    assert seen["docker save (Engine 25+)"] == ("docker save (Engine 25+)", [blobs])
    assert seen["OCI gzip"] == ("OCI", ["gzip"])
    assert seen["OCI zstd"] == ("OCI", ["zstd"])


def test_file_sizes_and_names_with_spaces_and_non_ascii(tricky):
    image = read_archive(open(tricky["archives"]["OCI zstd"], "rb"), cache=None)
    model = model_of(image, tricky["base"])
    first = {c.path: (c.change, c.size) for c in model.layers[1].changes}
    assert first["data/with space é 文.txt"] == ("added", 5)
    assert first["big.bin"] == ("added", 4096)
    assert first["data/keep/hard.bin"] == ("added", 1000)  # a hard link: its target's size
    second = {c.path: (c.change, c.size) for c in model.layers[2].changes}
    assert second["big.bin"] == ("deleted", 4096)
    assert second["data/keep/a.bin"] == ("modified", 1005)


def test_duplicate_layers_are_symlinks_in_the_save_and_read_twice(engine, tricky):
    diff_ids = tricky["diff_ids"]
    repeated = [(diff_ids.index(diff_id), k) for k, diff_id in enumerate(diff_ids) if diff_ids.index(diff_id) != k]
    # The two identical COPY layers are one layer, save where the second is empty (the containerd store, BuildKit)
    # and where Buildah writes two different tars for them.
    podman = engine.backend == "podman"
    rewritten = not podman and not second_copy_is_empty(tricky) and tricky["listings"][5][0] > 0
    assert ((4, 5) in repeated) == rewritten
    assert all(tricky["listings"][first] == tricky["listings"][again] for first, again in repeated)
    with tarfile.open(tricky["archives"]["docker save (Engine <=24)"]) as tar:  # Podman links every layer.tar
        assert any(m.issym() and m.name.endswith("/layer.tar") for m in tar.getmembers()) == (bool(repeated) or podman)
    image = read_archive(open(tricky["archives"]["docker save (Engine <=24)"], "rb"), cache=None)
    for first, again in repeated:  # a symlinked layer is read (from the layer it points to) for both places
        assert image.layers[again] is not None and image.layers[again].entries == image.layers[first].entries


def test_missing_blob_is_reported_not_exported(tricky, tmp_path):
    archive = rewrite_oci(tricky["archives"]["OCI gzip"], tmp_path / "missing.tar", drop_layer=3)
    image = read_archive(open(archive, "rb"), cache=None)
    model = model_of(image, tricky["base"])
    assert not model.layers[3].exported and model.layers[3].changes is None
    assert model.to_json()["layers"][3]["added"] is None
    assert model.layers[2].count("deleted") == 5


def test_engine_stream_matches_the_saved_file_and_second_look_uses_the_cache(engine, tricky, monkeypatch):
    cache = LayerCache()
    from_engine = read_engine_image(engine, tricky["tag"], cache=cache)
    from_file = read_archive(open(tricky["archives"]["docker save (Engine <=24)"], "rb"), cache=None)
    assert model_of(from_engine, tricky["base"]).to_json(files=True)["layers"] == \
        model_of(from_file, tricky["base"]).to_json(files=True)["layers"]

    def no_save(*args, **kwargs):
        raise AssertionError("the image was saved again although every layer is cached")

    monkeypatch.setattr(engine.api, "get_image", no_save)
    again = read_engine_image(engine, tricky["tag"], cache=cache)
    assert [len(files.entries) for files in again.layers] == [len(files.entries) for files in from_engine.layers]


def test_blob_layouts_skip_layers_already_cached(tricky):
    cache = LayerCache()
    path = tricky["archives"]["docker save (Engine 25+)"]
    first = read_archive(open(path, "rb"), cache=cache)
    skipped = scan(open(path, "rb"), cache=cache).skipped
    assert len(skipped) == len(set(tricky["diff_ids"]))  # one blob per distinct layer
    second = read_archive(open(path, "rb"), cache=cache)
    assert [f.entries for f in second.layers] == [f.entries for f in first.layers]


def test_cache_hits_come_from_the_kit_build(engine, session, tricky, tmp_path):
    again = stream_build(engine, write_context(tmp_path / "again"), tricky["tag"], session.labels)
    image = read_engine_image(engine, tricky["tag"])
    model = build_image_layers(tricky["tag"], image.diff_ids, image.history, base_diff_ids=tricky["base"],
                               build_steps=again.steps)
    own = [step for step in model.steps[4:]]
    assert all(step.cached for step in own)  # every step came from the cache...
    assert [step.cached for step in model.steps[:4]] == [False] * 4  # ...the base image's were not built here
    assert [step.text for step in own] == [" ".join(line.split()) for line in TRICKY_DOCKERFILE.splitlines()[1:]]


# --- the CLI ------------------------------------------------------------------------------------------

def dockerlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dockerlab", *args], capture_output=True, text=True)


def test_cli_layers_json_with_files_matches_every_archive_layout(tricky):
    done = dockerlab("layers", tricky["tag"], "--files", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"image", "steps", "layers", "wasted_bytes"} and data["image"] == tricky["tag"]
    assert set(data["steps"][0]) == {"created_by", "empty", "layer", "cached"}
    assert set(data["layers"][0]) == {"diff_id", "created_by", "size", "added", "modified", "deleted", "base", "files"}
    assert set(data["layers"][1]["files"][0]) == {"path", "change", "size"}
    assert [layer["added"] for layer in data["layers"]][3] == 5000
    assert [s["empty"] for s in data["steps"]] == [False, True, True, True, False, True, False, False, True,
                                                   False, second_copy_is_empty(tricky), False,
                                                   not isinstance(tricky["build"], BuildKitProgress)]  # WORKDIR
    for layout in ("docker save (Engine <=24)", "docker save (Engine 25+)", "OCI gzip", "OCI zstd"):
        archived = dockerlab("layers", "--archive", str(tricky["archives"][layout]), "--json")
        assert archived.returncode == 0, archived.stderr
        other = json.loads(archived.stdout)
        assert other["wasted_bytes"] == data["wasted_bytes"], layout
        assert [[f["path"], f["change"], f["size"]] for layer in other["layers"] for f in layer["files"]] == \
            [[f["path"], f["change"], f["size"]] for layer in data["layers"] for f in layer["files"]], layout
        assert [(l["size"], l["added"], l["modified"], l["deleted"], l["base"]) for l in other["layers"]] == \
            [(l["size"], l["added"], l["modified"], l["deleted"], l["base"]) for l in data["layers"]], layout


def test_cli_layers_without_files_has_null_counts_and_the_same_steps(tricky):
    quick = json.loads(dockerlab("layers", tricky["tag"], "--json").stdout)
    full = json.loads(dockerlab("layers", tricky["tag"], "--files", "--json").stdout)
    assert all(layer["added"] is None and "files" not in layer for layer in quick["layers"])
    assert quick["wasted_bytes"] is None
    assert [(s["empty"], s["layer"]) for s in quick["steps"]] == [(s["empty"], s["layer"]) for s in full["steps"]]


@pytest.mark.parametrize("which", ["tricky", "base image"])
def test_layer_sizes_shown_are_the_files_bytes_with_or_without_files_on_every_engine(tricky, which):
    """The containerd store's history gives each snapshot's disk usage (4.1 kB for a 5-byte file, 2.1 MB for
    2.0 MB), Podman's the layer tar's bytes (2.2 MB for the base image's 2.0 MB: a header per file): the sizes
    the kit shows are the bytes of the layers' files everywhere, read with or without the files."""
    image = tricky["tag"] if which == "tricky" else "dockerlab/busybox"
    quick = json.loads(dockerlab("layers", image, "--json").stdout)
    full = json.loads(dockerlab("layers", image, "--files", "--json").stdout)
    assert [human_size(layer["size"]) for layer in quick["layers"]] == [
        human_size(layer["size"]) for layer in full["layers"]]


def test_cli_layers_refuses_what_it_cannot_read_in_one_sentence(tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    for args in (["--archive", str(tmp_path / "junk.tar")], ["--archive", str(tmp_path / "absent.tar")],
                 ["dockerlab-test-no-such-image:1"]):
        done = dockerlab("layers", *args)
        assert done.returncode == 1 and done.stderr.startswith("dockerlab: ") and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_cli_diff_shows_the_writable_layer(engine, session, tricky):
    from dockerlab.engine.containers import run_container

    result = run_container(session, tricky["tag"], ["sh", "-c", "echo hi > /data/new.txt && rm /data/link && echo x >> /dup.txt"],
                           name=f"dockerlab-test-diff-{session.id.split('-')[2].split('@')[0]}")
    done = dockerlab("diff", result.container.name, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["container"] == result.container.name and data["image"] == tricky["tag"]
    changes = {c["path"]: c["kind"] for c in data["changes"]}
    assert changes["/data/new.txt"] == "A" and changes["/data/link"] == "D" and changes["/dup.txt"] == "C"
    assert data["size_rw"] == len("hi\n") + len("same\nx\n")  # the bytes of its files, on every engine


def test_second_look_parses_only_layers_not_seen_before(engine, tricky, monkeypatch):
    cache, parsed = LayerCache(), []
    real = layouts.layer_entries
    monkeypatch.setattr(layouts, "layer_entries", lambda *args: parsed.append(1) or real(*args))
    read_engine_image(engine, BASE_IMAGE, cache=cache)
    assert len(parsed) == 1
    image = read_engine_image(engine, tricky["tag"], cache=cache)
    assert len(parsed) == 1 + len(set(tricky["diff_ids"][1:]))  # the base one is cached, a repeated one read once
    fresh = read_archive(open(tricky["archives"]["docker save (Engine <=24)"], "rb"), cache=None)
    assert [f.entries for f in image.layers] == [f.entries for f in fresh.layers]

"""The archive reader on small archives made here: odd tar features, empty layers, damage."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest
import zstandard

from dockerlab.archive.layouts import read_archive
from dockerlab.errors import ArchiveError


def layer_tar(entries: list[tuple[str, bytes | None]], fmt=tarfile.GNU_FORMAT, pax_global=None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, pax_headers=pax_global or {}) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def docker_save(layers: list[bytes], hardlink_duplicates: bool = False) -> bytes:
    """An Engine <=24 style archive; identical layers stored once, the others pointing at it."""
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"step {i}"} for i in range(len(layers))]}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        paths, first = [], {}
        for index, (data, diff_id) in enumerate(zip(layers, diff_ids)):
            path = f"{index:064x}/layer.tar"
            info = tarfile.TarInfo(path)
            if diff_id in first:
                info.type = tarfile.LNKTYPE if hardlink_duplicates else tarfile.SYMTYPE
                info.linkname = first[diff_id] if hardlink_duplicates else f"../{first[diff_id]}"
                tar.addfile(info)
            else:
                first[diff_id] = path
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            paths.append(path)
        for name, data in (("config.json", config),
                           ("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["t:1"], "Layers": paths}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pax_global_headers_and_long_names_are_read():
    long_name = "deep/" * 40 + "file.txt"
    layers = [layer_tar([("a/ünï côdé.txt", b"12345"), (long_name, b"x")], fmt=tarfile.PAX_FORMAT,
                        pax_global={"comment": "made by a test"}),
              layer_tar([(long_name, b"yy")], fmt=tarfile.GNU_FORMAT)]
    image = read_archive(io.BytesIO(docker_save(layers)), cache=None)
    assert [e.path for e in image.layers[0].entries] == ["a/ünï côdé.txt", long_name]
    assert image.layers[1].entries[0].path == long_name and image.layers[1].size == 2


def test_empty_layers_are_empty_not_errors():
    empty = b"\0" * 1024
    image = read_archive(io.BytesIO(docker_save([layer_tar([("x", b"1")]), empty])), cache=None)
    assert image.layers[1].entries == []


@pytest.mark.parametrize("hardlink", [False, True])
def test_duplicate_layers_by_symlink_or_hard_link(hardlink):
    same = layer_tar([("dup", b"abc")])
    image = read_archive(io.BytesIO(docker_save([same, layer_tar([("y", b"")]), same], hardlink)), cache=None)
    assert image.layers[2] is image.layers[0]


def test_compressed_archives_are_read_whole():
    raw = docker_save([layer_tar([("x", b"1")])])
    for packed in (gzip.compress(raw), zstandard.ZstdCompressor().compress(raw)):
        assert read_archive(io.BytesIO(packed), cache=None).layers[0].entries[0].path == "x"


def test_not_an_archive_and_cut_short_archives_get_one_sentence():
    with pytest.raises(ArchiveError, match="not a tar archive"):
        read_archive(io.BytesIO(b"hello" * 200), cache=None)
    raw = docker_save([layer_tar([("x", b"1" * 5000)])])
    with pytest.raises(ArchiveError):
        read_archive(io.BytesIO(raw[:3000]), cache=None)
    with pytest.raises(ArchiveError, match="neither a manifest.json nor an index.json"):
        read_archive(io.BytesIO(layer_tar([("x", b"1")])), cache=None)

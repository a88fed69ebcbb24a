"""Reading image archives as streams: `docker save` output (Engine <=24 and 25+ layouts) and OCI archives.

One pass over the archive, headers only: layer tars are read entry by entry (their file contents are
skipped, never extracted, never held in memory), gzip and zstd layers (and a gzipped or zstd-compressed
archive) are decompressed on the fly.
Members may come in any order (Engine <=24 puts `manifest.json` last, after the layers), so layers are
summarised under their archive path and matched to diff_ids at the end. Duplicate layers reached
through symlinks or hard links are followed; a layer whose blob is missing is reported as not
exported. Summaries are cached by diff_id, so a second look at an image costs only its new layers
(the bytes still stream past, but cached layers are not parsed; an image whose every layer and config
is cached is not saved again at all).
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

import zstandard

from ..errors import ArchiveError
from ..model.unionfs import LayerFiles, normalize_path
from .cache import CACHE, LayerCache
from .streams import MemberReader, PrefixedReader
from .tars import layer_entries, open_tar, sniff

JSON_LIMIT = 64 << 20  # configs, manifests and indexes are small; anything bigger is not one
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")

Progress = Callable[[str, int], None]  # (what is being read, bytes read so far)


# --- one pass over an archive ---------------------------------------------------------------------------

@dataclass
class ArchiveImage:
    """One image found in an archive: its config, and one `LayerFiles` per diff_id (None: not exported)."""

    name: str | None
    layout: str  # "docker save (Engine <=24)", "docker save (Engine 25+)" or "OCI"
    config: dict
    layers: list[LayerFiles | None]
    layer_paths: list[str] = field(default_factory=list)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))

    @property
    def history(self) -> list[dict]:
        return list(self.config.get("history", []))


@dataclass
class _Members:
    json: dict[str, object] = field(default_factory=dict)  # path -> parsed JSON
    layers: dict[str, LayerFiles] = field(default_factory=dict)  # path -> summary
    links: dict[str, str] = field(default_factory=dict)  # path -> path it points to
    skipped: set[str] = field(default_factory=set)  # blobs not read because the cache has them
    names: set[str] = field(default_factory=set)

    def resolve(self, path: str) -> str:
        for _ in range(40):
            if path not in self.links:
                return path
            path = self.links[path]
        return path


def blob_digest(path: str) -> str | None:
    """`blobs/sha256/HEX` -> `sha256:HEX`."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return None


def chain_ids(diff_ids: list[str]) -> dict[str, str]:
    """chain id -> diff_id for each layer of an image (the layer store's names for stacked layers)."""
    chains, previous = {}, None
    for diff_id in diff_ids:
        previous = diff_id if previous is None else "sha256:" + hashlib.sha256(f"{previous} {diff_id}".encode()).hexdigest()
        chains[previous] = diff_id
    return chains


def _raw_members(text: str) -> dict[str, str]:
    """The top-level members of a compact JSON object, each value as its exact source text."""
    decoder, members, i = json.JSONDecoder(), {}, 1
    while text[i] != "}":
        key, i = json.decoder.scanstring(text, i + 1)
        _, end = decoder.raw_decode(text, i + 1)
        members[key] = text[i + 1:end]
        i = end + (text[end] == ",")
    return members


def legacy_layer_diff_id(folder: str, legacy_json: str, chains: dict[str, str]) -> str | None:
    """Which diff_id an Engine <=24 layer folder holds, from its `json` (which comes before `layer.tar`).

    The engine names the folder by the hash of that json without `id` (and, below the top, without `os`),
    with `parent` as a digest and the layer's chain id added as `layer_id`, keys sorted. Knowing it lets
    a cached layer be skipped instead of read.
    """
    try:
        members = _raw_members(legacy_json)
    except (ValueError, IndexError):
        return None
    members.pop("id", None)
    if "parent" in members:
        members["parent"] = json.dumps("sha256:" + json.loads(members["parent"]))
    variants = [members, {k: v for k, v in members.items() if k != "os"}]
    for chain, diff_id in chains.items():
        for variant in variants:
            text = ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted({**variant, "layer_id": json.dumps(chain)}.items()))
            if hashlib.sha256(("{" + text + "}").encode()).hexdigest() == folder:
                return diff_id
    return None


def scan(stream: BinaryIO, cache: LayerCache | None = CACHE, on_progress: Progress | None = None,
         diff_ids: list[str] | None = None) -> _Members:
    """Read every member header of the outer archive; summarise layer tars, keep the small JSON files.

    With the image's `diff_ids` known beforehand (an image on the engine), layers already in `cache`
    are skipped in every layout; without them, only in the layouts that name blobs by digest.
    """
    found = _Members()
    chains = chain_ids(diff_ids) if diff_ids and cache is not None else {}
    legacy: dict[str, str] = {}  # Engine <=24 layer folder -> the diff_id it holds
    head = stream.read(512)
    try:
        outer = open_tar(PrefixedReader(head, stream), sniff(head) or "none")
    except (tarfile.TarError, EOFError, OSError, zlib.error, zstandard.ZstdError):
        raise ArchiveError("This is not a tar archive: give the output of `docker save` or an OCI image archive.") from None
    try:
        for member in outer:
            outer.members.clear()
            path = normalize_path(member.name)
            found.names.add(path)
            if member.issym():
                found.links[path] = posixpath.normpath(posixpath.join(posixpath.dirname(path), member.linkname))
                continue
            if member.islnk():
                found.links[path] = normalize_path(member.linkname)
                continue
            if not member.isreg():
                continue
            digest = blob_digest(path)
            if cache is not None and digest and digest in cache:
                found.skipped.add(path)
                continue
            folder, _, name = path.rpartition("/")
            if name == "layer.tar" and folder in legacy and legacy[folder] in cache:
                found.layers[path] = cache.get(legacy[folder])
                found.skipped.add(path)
                continue
            if on_progress:
                on_progress(path, 0)
            data = MemberReader(outer.fileobj, member.offset_data, member.size)
            head = data.read_head(512)
            kind = sniff(head)
            if kind == "json" or path.endswith(".json"):
                if member.size <= JSON_LIMIT:
                    text = (head + data.read_head(member.size)).decode("utf-8", "replace")
                    try:
                        found.json[path] = json.loads(text)
                    except ValueError:
                        continue
                    if chains and name == "json" and folder:
                        diff_id = legacy_layer_diff_id(folder, text, chains)
                        if diff_id:
                            legacy[folder] = diff_id
            elif kind in ("gzip", "zstd", "none"):
                found.layers[path] = layer_entries(PrefixedReader(head, data), kind)
    except (tarfile.TarError, EOFError, zlib.error, zstandard.ZstdError) as error:
        raise ArchiveError(f"The archive could not be read to its end ({error}); it is damaged or cut short.") from None
    return found


def read_archive(stream: BinaryIO, want: str | None = None, cache: LayerCache | None = CACHE,
                 on_progress: Progress | None = None, diff_ids: list[str] | None = None) -> ArchiveImage:
    """The image in a `docker save` or OCI archive (the one tagged `want`, else the first)."""
    found = scan(stream, cache, on_progress, diff_ids)
    if "manifest.json" in found.json:
        return _from_docker_manifest(found, want, cache)
    if "index.json" in found.json:
        return _from_oci_index(found, want, cache)
    raise ArchiveError("This archive has neither a manifest.json nor an index.json: it is not a `docker save` "
                       "or OCI image archive (save one with `docker save IMAGE -o FILE`).")


def _layer(found: _Members, path: str, diff_id: str, cache: LayerCache | None) -> LayerFiles | None:
    """The summary of the layer at `path` (following links), from this archive or the cache."""
    target = found.resolve(path)
    files = found.layers.get(target)
    digest = blob_digest(target)
    if files is None and cache is not None:
        files = cache.get(diff_id) or (cache.get(digest) if digest else None)
    if files is not None and cache is not None:
        cache.put(diff_id, files)
        if digest and digest != diff_id:
            cache.put(digest, files)
    return files


def _from_docker_manifest(found: _Members, want: str | None, cache: LayerCache | None) -> ArchiveImage:
    manifest = found.json["manifest.json"]
    if not isinstance(manifest, list) or not manifest:
        raise ArchiveError("The archive's manifest.json lists no image.")
    entry = next((m for m in manifest if want and _matches(want, m.get("RepoTags") or [])), manifest[0])
    config = found.json.get(normalize_path(entry.get("Config", "")))
    if not isinstance(config, dict):
        raise ArchiveError("The archive's manifest.json names an image config that is not in the archive.")
    paths = [normalize_path(p) for p in entry.get("Layers", [])]
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = [_layer(found, path, diff_id, cache) for path, diff_id in zip(paths, diff_ids)]
    layers += [None] * (len(diff_ids) - len(layers))
    modern = "oci-layout" in found.names or any(p.startswith("blobs/") for p in paths)
    layout = "docker save (Engine 25+)" if modern else "docker save (Engine <=24)"
    tags = entry.get("RepoTags") or []
    return ArchiveImage(tags[0] if tags else None, layout, config, layers, paths)


def _matches(want: str, tags: list[str]) -> bool:
    return want in tags or f"{want}:latest" in tags


def _oci_manifests(found: _Members, index: dict, depth: int = 0) -> Iterator[tuple[dict, dict]]:
    """(descriptor, image manifest) pairs reachable from an index, nested indexes included."""
    for descriptor in index.get("manifests", []):
        blob = found.json.get(found.resolve(_blob_path(descriptor.get("digest", ""))))
        if not isinstance(blob, dict):
            continue
        if (descriptor.get("mediaType") in INDEX_TYPES or blob.get("mediaType") in INDEX_TYPES
                or ("manifests" in blob and "layers" not in blob)) and depth < 8:
            for inner, manifest in _oci_manifests(found, blob, depth + 1):
                yield {**descriptor, **inner, "annotations": {**descriptor.get("annotations", {}),
                                                               **inner.get("annotations", {})}}, manifest
        elif "layers" in blob:
            yield descriptor, blob


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _from_oci_index(found: _Members, want: str | None, cache: LayerCache | None) -> ArchiveImage:
    manifests = list(_oci_manifests(found, found.json["index.json"]))
    if not manifests:
        raise ArchiveError("The archive's index.json leads to no image manifest that is in the archive.")

    def ref_name(descriptor: dict) -> str | None:
        return descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name")

    descriptor, manifest = next(((d, m) for d, m in manifests if want and ref_name(d) in (want, want.rpartition(":")[2])),
                                manifests[0])
    config = found.json.get(found.resolve(_blob_path(manifest.get("config", {}).get("digest", ""))))
    if not isinstance(config, dict):
        raise ArchiveError("The archive's image manifest names a config that is not in the archive.")
    paths = [_blob_path(layer.get("digest", "")) for layer in manifest.get("layers", [])]
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = [_layer(found, path, diff_id, cache) for path, diff_id in zip(paths, diff_ids)]
    layers += [None] * (len(diff_ids) - len(layers))
    return ArchiveImage(ref_name(descriptor), "OCI", config, layers, paths)



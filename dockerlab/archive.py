"""Reading images as streams: `docker save` output (Engine <=24 and 25+ layouts) and OCI archives.

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

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import threading
import zlib
from queue import Full, Queue
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

import zstandard

from .errors import ArchiveError, DockerlabError, ImageNotFound
from .layers import Entry, LayerFiles, normalize_path

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BUFFER = 1 << 20
JSON_LIMIT = 64 << 20  # configs, manifests and indexes are small; anything bigger is not one
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}

Progress = Callable[[str, int], None]  # (what is being read, bytes read so far)


# --- a cache of layer summaries, by diff_id -----------------------------------------------------------

class LayerCache:
    """The last layers read, by diff_id (and by blob digest for compressed blobs); least recent dropped."""

    def __init__(self, max_entries: int = 2_000_000) -> None:
        self.max_entries = max_entries
        self._layers: OrderedDict[str, LayerFiles] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> LayerFiles | None:
        with self._lock:
            found = self._layers.get(key)
            if found is not None:
                self._layers.move_to_end(key)
            return found

    def put(self, key: str, files: LayerFiles) -> None:
        with self._lock:
            self._layers[key] = files
            self._layers.move_to_end(key)
            seen: set[int] = set()
            total = 0
            for value in reversed(self._layers.values()):
                if id(value) not in seen:
                    seen.add(id(value))
                    total += len(value.entries)
            while total > self.max_entries and len(self._layers) > 1:
                _, dropped = self._layers.popitem(last=False)
                if all(value is not dropped for value in self._layers.values()):
                    total -= len(dropped.entries)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


CACHE = LayerCache()


# --- streams --------------------------------------------------------------------------------------------

class ChunkReader(io.RawIOBase):
    """A file-like reader over an iterator of byte chunks (the engine's `docker save` stream)."""

    def __init__(self, chunks: Iterator[bytes], on_read: Callable[[int], None] | None = None) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._on_read = on_read
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._advance(size)
        return size

    def skip(self, size: int) -> int:
        """Drop `size` bytes (fewer at the end) without copying them."""
        skipped = 0
        while skipped < size:
            if not self._pending:
                try:
                    self._pending = memoryview(next(self._chunks))
                except StopIteration:
                    break
            step = min(size - skipped, len(self._pending))
            self._advance(step)
            skipped += step
        return skipped

    def _advance(self, size: int) -> None:
        self._pending = self._pending[size:]
        self.total += size
        if self._on_read:
            self._on_read(self.total)


def skip(stream, size: int, scratch: list[memoryview] = []) -> int:  # noqa: B006 (one scratch buffer, reused)
    """Move `stream` `size` bytes forward: by its own `skip` or `seek` where it has one, else by reading."""
    if size <= 0:
        return 0
    if hasattr(stream, "skip"):
        return stream.skip(size)
    if getattr(stream, "seekable", lambda: False)():
        stream.seek(size, io.SEEK_CUR)  # past the end, the next read comes back empty and says so
        return size
    if not scratch:
        scratch.append(memoryview(bytearray(BUFFER)))
    skipped = 0
    while skipped < size:
        count = stream.readinto(scratch[0][:min(BUFFER, size - skipped)])
        if not count:
            break
        skipped += count
    return skipped


def read_ahead(chunks: Iterator[bytes], depth: int = 16) -> Iterator[bytes]:
    """The same chunks, fetched by a thread up to `depth` chunks ahead, so the engine keeps writing
    while we parse (at most `depth` chunks are held)."""
    queue: Queue = Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def batches() -> Iterator[list[bytes]]:
        """The engine sends small HTTP chunks; hand them over about a megabyte at a time."""
        batch: list[bytes] = []
        size = 0
        for chunk in chunks:
            batch.append(chunk)
            size += len(chunk)
            if size >= BUFFER:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def offer(item) -> bool:
        """Queue `item` unless the reader has gone; False once it has."""
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in batches():
                if not offer(chunk):
                    break
            else:
                offer(done)
        except BaseException as error:  # handed to the reading thread, raised there
            offer(error)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()  # ends the engine's stream if the reader stopped early

    thread = threading.Thread(target=pump, name="dockerlab-save-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()


class PrefixedReader(io.RawIOBase):
    """`head` followed by the rest of `stream`: lets us sniff a member's first bytes without seeking."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        return self._stream.readinto(buffer)

    def skip(self, size: int) -> int:
        from_head = min(size, len(self._head))
        self._head = self._head[from_head:]
        return from_head + skip(self._stream, size - from_head)


class MemberReader(io.RawIOBase):
    """The bytes of one member of a tar being read front to back, straight from the archive stream."""

    def __init__(self, archive: "ForwardReader", offset: int, size: int) -> None:
        self._archive = archive
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self._size - self._pos)
        if wanted <= 0:
            return 0
        self._archive.seek(self._offset + self._pos)
        count = self._archive.readinto(memoryview(buffer)[:wanted])
        self._pos += count
        return count

    def skip(self, size: int) -> int:
        wanted = min(size, self._size - self._pos)
        if wanted <= 0:
            return 0
        self._archive.seek(self._offset + self._pos)
        count = self._archive.seek(self._offset + self._pos + wanted) - (self._offset + self._pos)
        self._pos += count
        return count

    def read_head(self, size: int) -> bytes:
        """Up to `size` first bytes (fewer only at the member's end)."""
        head = bytearray()
        while len(head) < size:
            chunk = self.read(size - len(head))
            if not chunk:
                break
            head += chunk
        return bytes(head)


class ForwardReader(io.RawIOBase):
    """A stream that `tarfile` may treat as seekable, as long as it only seeks forward.

    `tarfile`'s own stream mode copies its whole buffer for every 512-byte header it reads; in normal
    mode it reads headers and seeks over file contents, which this reader does with `skip` (dropping
    the bytes as they pass; nothing is kept).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        count = self._stream.readinto(buffer)
        self._pos += count
        return count

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset}.get(whence)
        if target is None or target < self._pos:
            raise io.UnsupportedOperation("a stream can only be read forward")
        self._pos += skip(self._stream, target - self._pos)  # short only past the end: the next read says so
        return self._pos


def open_tar(stream: BinaryIO, compression: str) -> tarfile.TarFile:
    """A `TarFile` reading `stream` front to back, decompressing gzip or zstd on the fly."""
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    elif compression == "zstd":
        stream = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
    return tarfile.open(fileobj=ForwardReader(stream), mode="r:", errors="surrogateescape")


def sniff(head: bytes) -> str | None:
    """What a blob is, from its first bytes: "gzip", "zstd", "none" (a plain tar), "json" or None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "none"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    if len(head) >= 512 and not any(head[:512]):
        return "none"  # an empty tar: nothing but zero blocks
    return None


def layer_entries(stream: BinaryIO, compression: str) -> LayerFiles:
    """Every header of one layer tar, read as a stream (file contents skipped)."""
    files = LayerFiles(compression=compression)
    append = files.entries.append
    try:
        with open_tar(stream, compression) as tar:
            for member in tar:
                kind = KINDS.get(member.type, "other")
                link = member.linkname if kind in ("symlink", "hardlink") else ""
                append(Entry(normalize_path(member.name), kind, member.size if kind == "file" else 0, link))
                tar.members.clear()  # a stream needs no index; keep memory flat
    except (tarfile.TarError, EOFError, OSError, zstandard.ZstdError) as error:
        raise ArchiveError(f"A layer of the archive could not be read ({error}); the archive is damaged or cut short.") from None
    return files


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


# --- images on the engine -------------------------------------------------------------------------------

def inspect_image(engine, image: str) -> dict:
    """`docker image inspect IMAGE`, or `ImageNotFound` with a way out."""
    import docker

    try:
        return engine.api.inspect_image(image)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(f"There is no image '{image}' on this engine; build it first (or check `docker images`).") from None
    except docker.errors.APIError as error:
        raise DockerlabError(f"The engine could not inspect the image '{image}': {error.explanation or error}.") from None


_CONFIGS: dict[str, dict] = {}  # image id -> its config (from an earlier save)


def read_engine_image(engine, image: str, cache: LayerCache | None = CACHE,
                      on_progress: Progress | None = None) -> ArchiveImage:
    """The image's config and layer summaries: from the cache when every layer is known, else `docker save`."""
    attrs = inspect_image(engine, image)
    diff_ids = attrs.get("RootFS", {}).get("Layers") or []
    known = _CONFIGS.get(attrs["Id"])
    if known is not None and cache is not None and all(d in cache for d in diff_ids):
        return ArchiveImage(image, "docker save (cached)", known, [cache.get(d) for d in diff_ids])
    import docker

    try:
        chunks = engine.api.get_image(attrs["Id"], chunk_size=BUFFER)
        reader = ChunkReader(read_ahead(chunks), (lambda total: on_progress("", total)) if on_progress else None)
        found = read_archive(reader, None, cache, diff_ids=diff_ids)
    except docker.errors.APIError as error:
        raise DockerlabError(f"The engine could not save the image '{image}': {error.explanation or error}.") from None
    found.name = image
    _CONFIGS[attrs["Id"]] = found.config
    return found

"""Layer tars: sniff a blob's kind, open it (gzip, zstd or plain) and list its headers, contents skipped."""
from __future__ import annotations

import gzip
import struct
import tarfile
from typing import BinaryIO, Callable

import zstandard

from ..errors import ArchiveError
from ..model.unionfs import Entry, LayerFiles, normalize_path
from .streams import ForwardReader, PrefixedReader

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}


def decompressed(stream: BinaryIO, compression: str) -> BinaryIO:
    """`stream`'s bytes, gzip or zstd decompressed on the fly."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
    return stream


def open_tar(stream: BinaryIO, compression: str) -> tarfile.TarFile:
    """A `TarFile` reading `stream` front to back, decompressing gzip or zstd on the fly."""
    return tarfile.open(fileobj=ForwardReader(decompressed(stream, compression)), mode="r:", errors="surrogateescape")


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


def _number(field: bytes) -> int:
    """A tar header's octal number field (as `tarfile` reads it); ValueError if it is not one."""
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode(tarfile.ENCODING, "surrogateescape")


def _checksum_ok(block: bytes) -> bool:
    """`tarfile`'s header check: the stored sum is the unsigned or the signed sum of the other bytes."""
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    return stored == 256 + sum(block) - sum(block[148:156]) or stored == 256 + sum(struct.unpack_from("148b8x356b", block))


def _read_block(stream: BinaryIO) -> bytes:
    block = b""
    while len(block) < tarfile.BLOCKSIZE:
        chunk = stream.read(tarfile.BLOCKSIZE - len(block))
        if not chunk:
            break
        block += chunk
    return block


def _plain_headers(stream: ForwardReader, append: Callable[[Entry], None]) -> bytes | None:
    """Read the headers `tarfile` would, for the common kinds, at a fraction of its cost (16,000 files
    take `tarfile` seconds). Stops where `tarfile` would stop (None), or returns the first header it
    leaves to `tarfile` (pax, GNU long names, numbers in base 256, the very first header if odd)."""
    offset = 0
    while True:
        block = _read_block(stream)
        kind = KINDS.get(block[156:157])
        if not (len(block) == tarfile.BLOCKSIZE and _checksum_ok(block)):
            return block if offset == 0 else None  # tarfile ends quietly at a bad header, but not the first
        if kind is None or block[257:262] != b"ustar" or block[124] & 0x80:
            return block
        try:
            size = _number(block[124:136])
        except ValueError:
            return None if offset else block
        name, prefix = _text(block[0:100]), _text(block[345:500])
        if block[156:157] == tarfile.AREGTYPE and name.endswith("/"):
            kind = "dir"
        if kind == "dir":
            name = name.rstrip("/")
        if prefix:
            name = prefix + "/" + name
        link = _text(block[157:257]) if kind in ("symlink", "hardlink") else ""
        append(Entry(normalize_path(name), kind, size if kind == "file" else 0, link))
        offset += tarfile.BLOCKSIZE
        if kind == "file":
            offset += -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
            stream.seek(offset)


def layer_entries(stream: BinaryIO, compression: str) -> LayerFiles:
    """Every header of one layer tar, read as a stream (file contents skipped)."""
    files = LayerFiles(compression=compression)
    append = files.entries.append
    try:
        reader = ForwardReader(decompressed(stream, compression))
        rest = _plain_headers(reader, append)
        if rest is None:
            return files
        with tarfile.open(fileobj=ForwardReader(PrefixedReader(rest, reader)), mode="r:", errors="surrogateescape") as tar:
            for member in tar:
                kind = KINDS.get(member.type, "other")
                link = member.linkname if kind in ("symlink", "hardlink") else ""
                append(Entry(normalize_path(member.name), kind, member.size if kind == "file" else 0, link))
                tar.members.clear()  # a stream needs no index; keep memory flat
    except (tarfile.TarError, EOFError, OSError, zstandard.ZstdError) as error:
        raise ArchiveError(f"A layer of the archive could not be read ({error}); the archive is damaged or cut short.") from None
    return files

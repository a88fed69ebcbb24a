"""Layer tars: sniff a blob's kind, open it (gzip, zstd or plain) and list its headers, contents skipped."""
from __future__ import annotations

import gzip
import tarfile
from typing import BinaryIO

import zstandard

from ..errors import ArchiveError
from ..model.unionfs import Entry, LayerFiles, normalize_path
from .streams import ForwardReader

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}


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

"""Byte streams read front to back: the engine's chunks, forward-only seeking, members of an outer tar.

Nothing here is held longer than it takes to pass: skipped bytes are dropped as they go by.
"""
from __future__ import annotations

import gzip
import io
import threading
from queue import Full, Queue
from typing import BinaryIO, Callable, Iterator

BUFFER = 1 << 20


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


_scratch = threading.local()  # one buffer per thread for skipping by reading, reused


def skip(stream, size: int) -> int:
    """Move `stream` `size` bytes forward: by its own `skip` or `seek` where it has a cheap one, else by reading
    (a megabyte at a time)."""
    if size <= 0:
        return 0
    if hasattr(stream, "skip"):
        return stream.skip(size)
    if getattr(stream, "seekable", lambda: False)() and not isinstance(stream, gzip.GzipFile):  # it seeks 8 KiB at a time
        stream.seek(size, io.SEEK_CUR)  # past the end, the next read comes back empty and says so
        return size
    if not hasattr(_scratch, "buffer"):
        _scratch.buffer = memoryview(bytearray(BUFFER))
    skipped = 0
    while skipped < size:
        count = stream.readinto(_scratch.buffer[:min(BUFFER, size - skipped)])
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

"""A bounded cache of layer summaries, by diff_id (and by blob digest for compressed blobs)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..model.unionfs import LayerFiles


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

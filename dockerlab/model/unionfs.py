"""The union filesystem's rules, as layer tars record them (the OCI image spec's "applying changesets").

`visible(k)`: non-directory paths after stacking layers 0..k; in each layer the opaque markers
(`.wh..wh..opq`) apply first, then the whiteouts (`.wh.NAME` removes NAME and all below it), then its
entries (a file replacing a directory hides everything below it; a directory replacing a file hides it).
`added` = visible after k and not before; `modified` = visible before and written again by k;
`deleted` = visible before and not after.
"""
from __future__ import annotations

from dataclasses import dataclass, field

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


# --- what a layer tar holds -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Entry:
    """One header of a layer tar: its path (no leading `./` or `/`), kind, size and link target."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink" or "other"
    size: int = 0  # regular files only
    link: str = ""


@dataclass
class LayerFiles:
    """Every entry of one layer tar, in tar order, whiteouts included as they are."""

    entries: list[Entry] = field(default_factory=list)
    compression: str = "none"

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries if entry.kind == "file")


def normalize_path(name: str) -> str:
    """A tar member name as a path: without leading `./` or `/`, without a trailing `/`."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


# --- stacking layers: the definitions above, in one pass over each layer ------------------------------

@dataclass(frozen=True)
class FileChange:
    """A non-directory path a layer adds, modifies or deletes (for a deletion: the size it had)."""

    path: str
    change: str  # "added", "modified" or "deleted"
    size: int


class FileTree:
    """The union filesystem after the layers stacked so far: directories and non-directories."""

    def __init__(self) -> None:
        self.children: dict[str, set[str]] = {"": set()}  # directory -> paths right below it
        # non-directory -> (size, layer, data): `data` names the regular entry of that layer holding its bytes
        # (itself, or a hard link's target), None for symlinks and the like
        self.files: dict[str, tuple[int, int, str | None]] = {}
        self._touched: dict[str, tuple[int, int, str | None] | None] = {}  # this layer: path -> state before

    def _touch(self, path: str) -> None:
        if path not in self._touched:
            self._touched[path] = self.files.get(path)

    def _link(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        self.children[parent].add(path)

    def remove(self, path: str) -> None:
        """Remove `path` and everything below it."""
        if path in self.files:
            self._touch(path)
            del self.files[path]
        elif path in self.children and path:
            for child in list(self.children[path]):
                self.remove(child)
            del self.children[path]
        else:
            return
        self.children[path.rpartition("/")[0]].discard(path)

    def make_dir(self, path: str) -> None:
        """`path` becomes a directory (and so do its parents), hiding any file in the way."""
        if path in self.children:
            return
        parent = path.rpartition("/")[0]
        self.make_dir(parent)
        if path in self.files:
            self.remove(path)
        self.children[path] = set()
        self._link(path)

    def write(self, entry: Entry, layer: int, sizes: dict[str, int]) -> None:
        """Apply one (non-whiteout) entry of layer `layer` (`sizes`: its regular files, for hard links)."""
        if entry.kind == "dir":
            self.make_dir(entry.path)
            return
        self.make_dir(entry.path.rpartition("/")[0])
        if entry.path in self.children:
            self.remove(entry.path)
        self._touch(entry.path)
        if entry.path not in self.files:
            self._link(entry.path)
        if entry.kind == "file":
            self.files[entry.path] = (entry.size, layer, entry.path)
        elif entry.kind == "hardlink" and normalize_path(entry.link) in sizes:
            target = normalize_path(entry.link)
            self.files[entry.path] = (sizes[target], layer, target)
        else:
            self.files[entry.path] = (entry.size, layer, None)

    def clear_below(self, directory: str) -> None:
        """An opaque directory: nothing from lower layers stays below it."""
        self.make_dir(directory)
        for child in list(self.children[directory]):
            self.remove(child)

    def apply(self, files: LayerFiles, layer: int) -> tuple[list[FileChange], list[str]]:
        """Stack one layer on the tree; return what it changed (sorted by path) and its raw whiteouts."""
        self._touched = {}
        opaque, whiteouts, removed, writes = [], [], [], []
        for entry in files.entries:
            if not entry.path:
                continue
            directory, _, name = entry.path.rpartition("/")
            if not name.startswith(WHITEOUT):
                writes.append(entry)
                continue
            whiteouts.append(entry.path)
            if name == OPAQUE:
                opaque.append(directory)
            elif not name.startswith(WHITEOUT + WHITEOUT):  # other `.wh..wh.` names are AUFS bookkeeping
                removed.append(f"{directory}/{name[len(WHITEOUT):]}".lstrip("/"))
        for directory in opaque:
            self.clear_below(directory)
        for path in removed:
            self.remove(path)
        sizes = {entry.path: entry.size for entry in writes if entry.kind == "file"}
        for entry in writes:
            self.write(entry, layer, sizes)
        changes = []
        for path, before in sorted(self._touched.items()):
            after = self.files.get(path)
            if after is not None and before is None:
                changes.append(FileChange(path, "added", after[0]))
            elif after is not None:
                changes.append(FileChange(path, "modified", after[0]))  # touched and still there: written again
            elif before is not None:
                changes.append(FileChange(path, "deleted", before[0]))
        self._touched = {}
        return changes, whiteouts

    def live_bytes(self) -> dict[int, int]:
        """Per layer: bytes of its regular files still visible at the top (through any of their hard links)."""
        live: dict[int, int] = {}
        for (layer, _), size in {(layer, data): size for size, layer, data in self.files.values() if data}.items():
            live[layer] = live.get(layer, 0) + size
        return live

"""The layer stack as plain data: steps from history, layers from `RootFS`, files from layer tars.

No I/O here: `dockerlab.archive` reads the tars and the engine, this module gives them meaning, and
`dockerlab.diagram` / `dockerlab.widgets` draw the result. Definitions (see the layer issue):

- `visible(k)`: non-directory paths after stacking layers 0..k; in each layer the opaque markers
  (`.wh..wh..opq`) apply first, then the whiteouts (`.wh.NAME` removes NAME and all below it), then its
  entries (a file replacing a directory hides everything below it; a directory replacing a file hides it);
- `added` = visible after k and not before; `modified` = visible before and written again by k;
  `deleted` = visible before and not after;
- a layer's `size` = the sum of the regular-file entry sizes in its tar;
- `reclaimable_bytes` = the sum of all layer sizes minus the sizes of the regular files visible at the
  top: what squashing the image would save (files overwritten or deleted by a later layer).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
KIT_LABEL_STEP = re.compile(r"^LABEL dockerlab\.(session|kit)=\S*$")
NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
SHELL_RUN = re.compile(r"^(\|\d+(?: \S+=\S*)* )?/bin/sh -c ")
CONTENT_HASH = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")
METADATA_INSTRUCTIONS = {"ENV", "CMD", "LABEL", "EXPOSE", "ENTRYPOINT", "USER", "ARG", "ONBUILD",
                         "STOPSIGNAL", "HEALTHCHECK", "SHELL", "VOLUME", "MAINTAINER"}
CHANGE_KINDS = {0: "C", 1: "A", 2: "D"}  # the engine's changes API: modified, added, deleted


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


# --- the image: steps, layers, containers ----------------------------------------------------------

def display_instruction(created_by: str) -> str:
    """A history entry as the Dockerfile line it came from, on one line, content hashes shortened."""
    text = " ".join(created_by.split())
    if NOP.match(created_by):
        text = NOP.sub("", created_by)
        text = " ".join(text.split())
    elif SHELL_RUN.match(created_by):
        text = "RUN " + " ".join(SHELL_RUN.sub("", created_by).split())
    text = text.removesuffix(" # buildkit")
    return CONTENT_HASH.sub(r"\1:\2", text)


def is_kit_label(instruction: str) -> bool:
    """The label step the kit adds to every image it builds (its session id: not worth showing)."""
    return bool(KIT_LABEL_STEP.match(instruction))


@dataclass
class Step:
    """One history entry, in build order."""

    created_by: str  # raw, as the engine keeps it
    empty: bool  # metadata only (ENV, CMD, LABEL...): no layer
    layer: int | None  # index of the layer it made
    cached: bool | None = None  # from the build cache (None: the kit did not build it)
    size: int | None = None  # the engine's own size for this step, where it gave one

    @property
    def instruction(self) -> str:
        return display_instruction(self.created_by)

    @property
    def kit_label(self) -> bool:
        return is_kit_label(self.instruction)

    @property
    def text(self) -> str:
        """What to show: the instruction; the kit's label step without its id."""
        if self.kit_label:
            key = self.instruction.split("=", 1)[0].removeprefix("LABEL ")
            return f"LABEL {key}=… (the kit's label)"
        return self.instruction


@dataclass
class Layer:
    """One `RootFS` diff_id, bottom first."""

    index: int
    diff_id: str
    step: int | None  # index of the step that made it
    size: int | None
    base: bool  # part of the base image (matched by diff_ids)
    changes: list[FileChange] | None = None  # None: files not read (or not exported)
    whiteouts: list[str] | None = None  # the raw `.wh.` entries of its tar
    exported: bool = True
    live_bytes: int | None = None  # bytes of its regular files still visible at the top

    def count(self, change: str) -> int | None:
        return None if self.changes is None else sum(c.change == change for c in self.changes)

    @property
    def reclaimable_bytes(self) -> int | None:
        if self.changes is None or self.size is None or self.live_bytes is None:
            return None
        return self.size - self.live_bytes


@dataclass
class ContainerLayer:
    """A container's writable layer: the engine's changes (A/C/D) and its size, on top of its image."""

    name: str
    image: str
    changes: list[tuple[str, str]]  # (absolute path as `docker diff` shows it, kind "A", "C" or "D")
    size_rw: int | None
    image_id: str = ""

    def count(self, kind: str) -> int:
        return sum(k == kind for _, k in self.changes)

    @classmethod
    def from_engine(cls, name: str, image: str, changes: list[dict] | None, size_rw: int | None) -> "ContainerLayer":
        pairs = [(c["Path"], CHANGE_KINDS.get(c["Kind"], "?")) for c in changes or []]
        return cls(name, image, sorted(pairs), size_rw)

    def to_json(self) -> dict:
        return {"container": self.name, "image": self.image,
                "changes": [{"path": path, "kind": kind} for path, kind in self.changes],
                "size_rw": self.size_rw}

    def __repr__(self) -> str:
        lines = [f"$ docker diff {self.name}"]
        lines += [f"{kind} {path}" for path, kind in self.changes]
        counts = " · ".join(f"{kind} {self.count(kind)}" for kind in "ACD")
        size = "unknown size" if self.size_rw is None else human_size(self.size_rw)
        lines.append(f"Writable layer of {self.name} (from {self.image}): {counts}, {size}.")
        return "\n".join(lines)


@dataclass
class ImageLayers:
    """An image's steps and layers, and (when files were read) what each layer changed."""

    image: str
    steps: list[Step]
    layers: list[Layer]
    base_image: str | None = None
    base_steps: int = 0  # how many steps, from the bottom, came from the base image
    id: str = ""  # the image id, where known (to stack containers on it)
    containers: list[ContainerLayer] = field(default_factory=list)

    @property
    def files_read(self) -> bool:
        return all(layer.changes is not None for layer in self.layers)

    def _reclaimable(self, layers: Iterable[Layer]) -> int | None:
        if not self.files_read:
            return None
        return sum(layer.reclaimable_bytes or 0 for layer in layers)

    @property
    def reclaimable_bytes(self) -> int | None:
        return self._reclaimable(self.layers)

    @property
    def reclaimable_own(self) -> int | None:
        return self._reclaimable(layer for layer in self.layers if not layer.base)

    @property
    def reclaimable_base(self) -> int | None:
        return self._reclaimable(layer for layer in self.layers if layer.base)

    def reclaimable_paths(self) -> list[str]:
        """Files this image's own layers wrote that a later layer deleted or overwrote: the bytes in `reclaimable_own`."""
        written: set[str] = set()
        hidden: list[str] = []
        for layer in self.layers:
            if layer.base or layer.changes is None:
                continue
            hidden += [c.path for c in layer.changes
                       if c.change in ("deleted", "modified") and c.path in written and c.path not in hidden]
            written |= {c.path for c in layer.changes if c.change in ("added", "modified")}
        return hidden

    @property
    def size(self) -> int | None:
        sizes = [layer.size for layer in self.layers]
        return None if None in sizes else sum(sizes)

    def files(self, layer: int):
        """A table of what layer number `layer` (1 = bottom) added, modified and deleted, largest first."""
        from .results import Table

        chosen = self.layers[layer - 1]
        rows = sorted(chosen.changes or [], key=lambda c: (-c.size, c.path))
        return Table(f"$ dockerlab layers {self.image} --files    # layer {layer}", ["CHANGE", "SIZE", "PATH"],
                     [[c.change, human_size(c.size), "/" + c.path] for c in rows])

    def step_of(self, layer: Layer) -> Step | None:
        return None if layer.step is None else self.steps[layer.step]

    def to_json(self, files: bool = False) -> dict:
        """The CLI's JSON shape (see the layer issue)."""
        layers = []
        for layer in self.layers:
            step = self.step_of(layer)
            item = {"diff_id": layer.diff_id, "created_by": step.created_by if step else None,
                    "size": layer.size, "added": layer.count("added"), "modified": layer.count("modified"),
                    "deleted": layer.count("deleted"), "base": layer.base}
            if files:
                item["files"] = None if layer.changes is None else [
                    {"path": c.path, "change": c.change, "size": c.size} for c in layer.changes]
            layers.append(item)
        return {"image": self.image,
                "steps": [{"created_by": s.created_by, "empty": s.empty, "layer": s.layer, "cached": s.cached}
                          for s in self.steps],
                "layers": layers,
                "reclaimable_bytes": self.reclaimable_bytes}

    def __repr__(self) -> str:
        from .diagram import stack_text

        return stack_text([self])


def human_size(size: int | None) -> str:
    """Bytes the way `docker images` shows them (powers of 1000)."""
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"  # not reached


# --- building the model -----------------------------------------------------------------------------

def guess_empty(history: Sequence[dict], layer_count: int) -> list[bool]:
    """Metadata-only flags for the engine's history API, which does not say (the config does).

    Instructions that never make a layer are empty; if that leaves more candidates than layers, the
    zero-size WORKDIR steps are taken as empty too (the classic builder makes them either way).
    """
    empty = []
    for item in history:
        word = display_instruction(item.get("CreatedBy", "")).split(" ", 1)[0].upper()
        empty.append(word in METADATA_INSTRUCTIONS and not item.get("Size"))
    if len(empty) - sum(empty) > layer_count:
        for i, item in enumerate(history):
            word = display_instruction(item.get("CreatedBy", "")).split(" ", 1)[0].upper()
            if word == "WORKDIR" and not item.get("Size"):
                empty[i] = True
    return empty


def mark_cache_hits(steps: list[Step], build_steps: Sequence | None) -> None:
    """Copy the builder's cache hits onto the history steps that the kit's build made.

    The build's steps (FROM excluded) are the last entries of the history, in the same order.
    """
    if not build_steps:
        return
    made = [step for step in build_steps if not step.instruction.upper().startswith("FROM ")]
    if len(made) > len(steps):
        return
    for step in steps:
        step.cached = False
    for step, built in zip(steps[len(steps) - len(made):], made):
        step.cached = bool(built.cached)


def build_image_layers(
    image: str,
    diff_ids: Sequence[str],
    history: Sequence[dict],
    *,
    base_diff_ids: Sequence[str] = (),
    base_image: str | None = None,
    layer_files: Sequence[LayerFiles | None] | None = None,
    engine_history: bool = False,
    build_steps: Sequence | None = None,
    base_history_length: int | None = None,
    image_id: str = "",
) -> ImageLayers:
    """The model of one image.

    `history` is the config's history (`created_by`, `empty_layer`), or with `engine_history` the engine's
    history API answer (oldest first; `CreatedBy`, `Size`). `layer_files` (one per diff_id, None where a
    layer was not exported) makes the model read files; without it counts and sizes come from the engine.
    """
    if engine_history:
        empties = guess_empty(history, len(diff_ids))
        raw = [(item.get("CreatedBy", ""), empty, item.get("Size")) for item, empty in zip(history, empties)]
    else:
        raw = [(item.get("created_by", ""), bool(item.get("empty_layer")), None) for item in history]
    steps: list[Step] = []
    step_of_layer: dict[int, int] = {}
    next_layer = 0
    for created_by, empty, size in raw:
        layer = None
        if not empty and next_layer < len(diff_ids):
            layer = next_layer
            step_of_layer[layer] = len(steps)
            next_layer += 1
        steps.append(Step(created_by, layer is None, layer, None, size))
    for layer in range(next_layer, len(diff_ids)):  # an image without (enough) history: one step per layer
        step_of_layer[layer] = len(steps)
        steps.append(Step("(no history)", False, layer))
    mark_cache_hits(steps, build_steps)

    base = list(base_diff_ids)
    layers = []
    for index, diff_id in enumerate(diff_ids):
        is_base = index < len(base) and list(diff_ids[:index + 1]) == base[:index + 1]
        step = step_of_layer.get(index)
        size = steps[step].size if step is not None else None
        layers.append(Layer(index, diff_id, step, size, is_base))
    if layer_files is not None:
        read_files(layers, layer_files)
    return ImageLayers(image, steps, layers, base_image, base_steps(steps, layers, base_history_length), image_id)


def base_steps(steps: list[Step], layers: list[Layer], base_history_length: int | None) -> int:
    """How many steps from the bottom are the base image's: its history length when known, else up to its
    last layer and the kit's `LABEL dockerlab.kit=...` step that closes the kit's base image."""
    base_layers = [layer for layer in layers if layer.base]
    if not base_layers:
        return 0
    if base_history_length is not None:
        return min(base_history_length, len(steps))
    end = (base_layers[-1].step or 0) + 1
    for index in range(end, len(steps)):
        if not steps[index].empty:
            break
        if steps[index].instruction.startswith("LABEL dockerlab.kit="):
            return index + 1
    return end


def read_files(layers: list[Layer], layer_files: Sequence[LayerFiles | None]) -> None:
    """Stack the layers' tars: each layer's changes, whiteouts, size and bytes still live at the top."""
    tree = FileTree()
    for layer, files in zip(layers, layer_files):
        if files is None:
            layer.exported, layer.size = False, None
            continue
        layer.changes, layer.whiteouts = tree.apply(files, layer.index)
        layer.size = files.size
    live = tree.live_bytes()
    for layer in layers:
        if layer.exported and layer.changes is not None:
            layer.live_bytes = live.get(layer.index, 0)


def dumps(model: ImageLayers, files: bool = False) -> str:
    """The CLI's JSON text for a model."""
    return json.dumps(model.to_json(files), indent=2)

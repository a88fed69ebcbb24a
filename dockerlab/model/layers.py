"""The image as plain data: steps from history, layers from `RootFS`, files from layer tars.

No I/O here: `dockerlab.archive` reads the tars, `dockerlab.engine` the engine's answers; this module gives
them meaning (the union filesystem's rules are `model.unionfs`) and a stable text form, and
`dockerlab.view` draws it. Definitions:

- a layer's `size` = the sum of the regular-file entry sizes in its tar;
- `wasted_bytes` = the sum of all layer sizes minus the sizes of the regular files visible at the
  top: what squashing the image would save (files overwritten or deleted by a later layer).
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from .labels import KIT_LABEL, is_kit_label, is_session_label, kit_label_key, without_kit_label_value
from .results import Table
from .text import human_size, shorten
from .unionfs import FileChange, FileTree, LayerFiles

NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
SHELL_RUN = re.compile(r"^(\|\d+(?: \S+=\S*)* )?/bin/sh -c ")
CONTENT_HASH = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")
METADATA_INSTRUCTIONS = {"ENV", "CMD", "LABEL", "EXPOSE", "ENTRYPOINT", "USER", "ARG", "ONBUILD",
                         "STOPSIGNAL", "HEALTHCHECK", "SHELL", "VOLUME", "MAINTAINER"}
BUILDER_MOUNT_POINTS = {"etc/hosts", "etc/hostname", "etc/resolv.conf"}
CHANGE_KINDS = {0: "C", 1: "A", 2: "D"}  # the engine's changes API: modified, added, deleted


# --- the image: steps, layers, containers ----------------------------------------------------------

def go_quoted(words: Sequence[str]) -> str:
    """A list as Docker writes a CMD or ENTRYPOINT into history (Go's %q of a slice): `["sh" "-c" "x"]`."""
    return "[" + " ".join(json.dumps(word, ensure_ascii=False) for word in words) + "]"


def docker_form(instruction: str) -> str:
    """A metadata instruction in the words Docker's builders record it in. Buildah records the line as written
    (`CMD cat x`, `CMD ["a", "b"]`, `ENV A="b c"`, `ENV A b`); Docker's own forms come back unchanged."""
    word, _, rest = instruction.partition(" ")
    if word in ("CMD", "ENTRYPOINT") and rest:
        if not rest.startswith("["):
            return f"{word} {go_quoted(['/bin/sh', '-c', rest])}"
        try:
            words = json.loads(rest)
        except ValueError:
            return instruction  # Docker's form: not JSON (no commas)
        return f"{word} {go_quoted(words)}" if all(isinstance(w, str) for w in words) else instruction
    if word in ("ENV", "LABEL") and rest:
        key, _, value = rest.partition(" ")
        if "=" not in key:  # the old `ENV KEY value` form
            return f"{word} {key}={value}"
        try:
            pairs = shlex.split(rest)
        except ValueError:
            return instruction
        if all("=" in pair for pair in pairs):  # else Docker's form, whose values are not quoted
            return f"{word} " + " ".join(pairs)
    return instruction


def display_instruction(created_by: str) -> str:
    """A history entry as the Dockerfile line it came from, on one line, content hashes shortened."""
    text = " ".join(created_by.split())
    if NOP.match(created_by):
        text = NOP.sub("", created_by)
        text = docker_form(" ".join(text.split()))
    elif SHELL_RUN.match(created_by):
        text = "RUN " + " ".join(SHELL_RUN.sub("", created_by).split())
    text = text.removesuffix(" # buildkit")
    if text.startswith("RUN /bin/sh -c "):  # BuildKit keeps the shell in a RUN's history: shown as classic's
        text = "RUN " + text.removeprefix("RUN /bin/sh -c ")
    return CONTENT_HASH.sub(r"\1:\2", text)


@dataclass
class Step:
    """One history entry, in build order."""

    created_by: str  # raw, as the engine keeps it
    empty: bool  # metadata only (ENV, CMD, LABEL...): no layer
    layer: int | None  # index of the layer it made
    cached: bool | None = None  # from the build cache (None: the kit did not build it)
    size: int | None = None  # the engine's own size for this step, where it gave one
    dockerfile: str | None = None  # the Dockerfile line that made it, where the kit built it

    @property
    def instruction(self) -> str:
        return display_instruction(self.created_by)

    @property
    def kit_label(self) -> bool:
        return is_kit_label(self.instruction)

    @property
    def session_label(self) -> bool:
        return self.empty and is_session_label(self.instruction)

    @property
    def text(self) -> str:
        """What to show: the Dockerfile line where the kit built it (the same on every builder), else the
        instruction the engine kept; the kit's label step without its id."""
        return without_kit_label_value(" ".join(self.dockerfile.split()) if self.dockerfile else self.instruction)


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
    def wasted_bytes(self) -> int | None:
        if self.changes is None or self.size is None or self.live_bytes is None:
            return None
        return self.size - self.live_bytes


@dataclass
class ContainerLayer:
    """A container's writable layer: the engine's changes (A/C/D) and its size, on top of its image."""

    name: str
    image: str
    changes: list[tuple[str, str]]  # (absolute path as `docker diff` shows it, kind "A", "C" or "D")
    size_rw: int | None  # the bytes of the files it added or changed (overlay2's SizeRw, counted alike everywhere)
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

    def _wasted(self, layers: Iterable[Layer]) -> int | None:
        if not self.files_read:
            return None
        return sum(layer.wasted_bytes or 0 for layer in layers)

    @property
    def wasted_bytes(self) -> int | None:
        return self._wasted(self.layers)

    @property
    def wasted_own(self) -> int | None:
        return self._wasted(layer for layer in self.layers if not layer.base)

    def wasted_paths(self) -> list[str]:
        """Files this image's own layers wrote that a later layer deleted or overwrote: the bytes in `wasted_own`."""
        written: set[str] = set()
        hidden: list[str] = []
        for layer in self.layers:
            if layer.base or layer.changes is None:
                continue
            hidden += [c.path for c in layer.changes
                       if c.change in ("deleted", "modified") and c.path in written and c.path not in hidden]
            written |= {c.path for c in layer.changes if c.change in ("added", "modified")}
        return hidden

    def without_files(self) -> ImageLayers:
        """The same model with only each layer's size kept of what its files said."""
        layers = [replace(layer, changes=None, whiteouts=None, live_bytes=None) for layer in self.layers]
        return replace(self, layers=layers)

    @property
    def size(self) -> int | None:
        sizes = [layer.size for layer in self.layers]
        return None if None in sizes else sum(sizes)

    def files(self, layer: int):
        """A table of what layer number `layer` (1 = bottom) added, modified and deleted, largest first."""
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
                "wasted_bytes": self.wasted_bytes}

    def __repr__(self) -> str:
        return stack_text([self])


# --- the stable text form ------------------------------------------------------------------

def counts(layer) -> str:
    if layer.changes is None:
        return ""
    return f"+{layer.count('added')} ~{layer.count('modified')} -{layer.count('deleted')}"


def stack_text(images: list[ImageLayers]) -> str:
    """The stable text form, as `dockerlab layers` prints it: each image top first (like `docker history`), base
    image steps on one line.

    Cache hits are left out: whether a step came from the cache depends on what was built before.
    """
    blocks = []
    for image in images:
        rows: list[tuple[str, str]] = []
        for container in image.containers:
            size = human_size(container.size_rw) if container.size_rw is not None else "?"
            rows.append((f"[container {container.name}]",
                         f"writable layer: A {container.count('A')} · C {container.count('C')} · "
                         f"D {container.count('D')} · {size}"))
        collapse = image.base_steps if image.base_steps < len(image.steps) else 0  # the base image itself: all
        for index in range(len(image.steps) - 1, collapse - 1, -1):
            step = image.steps[index]
            if step.layer is None:
                rows.append((step.text, "metadata only"))
                continue
            layer = image.layers[step.layer]
            details = [f"layer {layer.index + 1}", human_size(layer.size)]
            details += [counts(layer)] if counts(layer) else []
            details += ["not exported"] if not layer.exported else []
            rows.append((shorten(step.text), " · ".join(details)))
        if collapse:
            base_layers = [layer for layer in image.layers if layer.base]
            size = sum(layer.size or 0 for layer in base_layers)
            rows.append((f"(base image {image.base_image or ''})".replace(" )", ")"),
                         f"{len(base_layers)} layer(s) · {human_size(size)} · "
                         f"{image.base_steps - len(base_layers)} metadata step(s)"))
        width = max((len(left) for left, _ in rows), default=0)
        base_count = sum(layer.base for layer in image.layers)
        if collapse:
            origin = f" ({base_count} from the base image)"
        elif image.base_steps:
            origin = " (it is the base image)"
        else:
            origin = ""
        head = f"{image.image}: {len(image.layers)} layer(s){origin}, {human_size(image.size)}"
        if image.wasted_bytes is not None:
            head += f"; {human_size(image.wasted_bytes)} wasted ({human_size(image.wasted_own)} in its own layers)"
        command = f"$ dockerlab layers {image.image}" + (" --files" if image.files_read else "")
        blocks.append("\n".join([command, head] +
                                [f"  {left.ljust(width)}   {right}" for left, right in rows]))
    return "\n\n".join(blocks)


# --- building the model -----------------------------------------------------------------------------

def guess_empty(history: Sequence[dict], layer_count: int) -> list[bool]:
    """Metadata-only flags for the engine's history API, which does not say (the config does).

    Instructions that never make a layer are empty; if that leaves more candidates than layers, the
    zero-size WORKDIR steps are taken as empty too (the classic builder makes them either way), then other
    zero-size steps, newest first (the containerd image store records a step that changed nothing, such
    as a COPY of files already there, as empty).
    """
    words = [display_instruction(item.get("CreatedBy", "")).split(" ", 1)[0].upper() for item in history]
    empty = [word in METADATA_INSTRUCTIONS and not item.get("Size") for word, item in zip(words, history)]
    zero_size = [i for i, item in enumerate(history) if not empty[i] and not item.get("Size")]
    for i in sorted(zero_size, key=lambda i: (words[i] != "WORKDIR", -i)):
        if len(empty) - sum(empty) <= layer_count:
            break
        empty[i] = True
    return empty


def mark_cache_hits(steps: list[Step], build_steps: Sequence | None) -> None:
    """Copy the builder's cache hits and Dockerfile lines onto the history steps that the kit's build made.

    The last stage's steps (its FROM excluded) are the last entries of the history, in the same order;
    nothing is copied where their instructions do not match one by one.
    """
    if not build_steps:
        return
    starts = [i for i, step in enumerate(build_steps) if step.instruction.upper().startswith("FROM ")]
    made = list(build_steps[starts[-1] + 1 if starts else 0:])
    if len(made) > len(steps):
        return
    mine = steps[len(steps) - len(made):]
    if any(step.instruction.split(None, 1)[:1] != [built.instruction.split(None, 1)[0].upper()]
           for step, built in zip(mine, made)):
        return
    for step in steps:
        step.cached = False
    for step, built in zip(mine, made):
        step.cached = bool(built.cached)
        step.dockerfile = built.instruction


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
    raw = [entry for entry in raw if not (entry[1] and is_session_label(display_instruction(entry[0])))]
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
        if kit_label_key(steps[index].instruction) == KIT_LABEL:
            return index + 1
    return end


def without_builder_mount_points(files: LayerFiles) -> LayerFiles:
    """A layer without the empty /etc/hosts, /etc/hostname and /etc/resolv.conf that Buildah leaves in every
    RUN layer (the files it mounts while the step runs; other builders keep them out of the image)."""
    entries = [entry for entry in files.entries
               if not (entry.kind == "file" and entry.size == 0 and entry.path in BUILDER_MOUNT_POINTS)]
    return files if len(entries) == len(files.entries) else LayerFiles(entries, files.compression)


def read_files(layers: list[Layer], layer_files: Sequence[LayerFiles | None]) -> None:
    """Stack the layers' tars: each layer's changes, whiteouts, size and bytes still live at the top."""
    tree = FileTree()
    for layer, files in zip(layers, layer_files):
        if files is None:
            layer.exported, layer.size = False, None
            continue
        layer.changes, layer.whiteouts = tree.apply(without_builder_mount_points(files), layer.index)
        layer.size = files.size
    live = tree.live_bytes()
    for layer in layers:
        if layer.exported and layer.changes is not None:
            layer.live_bytes = live.get(layer.index, 0)


def dumps(model: ImageLayers, files: bool = False) -> str:
    """The CLI's JSON text for a model."""
    return json.dumps(model.to_json(files), indent=2)

"""Images on the engine: inspect, read their layers (history, or `docker save` through `archive`), the
models of images and containers' writable layers, and removing images the way `docker rmi` does."""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from typing import Sequence

import docker

from ..archive.cache import CACHE, LayerCache
from ..archive.layouts import ArchiveImage, Progress, read_archive
from ..archive.streams import BUFFER, ChunkReader, read_ahead
from ..errors import DockerlabError, ImageInUse
from ..model.layers import ContainerLayer, ImageLayers, build_image_layers
from ..model.progress import BuildProgress, BuildStep
from ..model.references import expand_reference
from .build import BASE_IMAGE
from .connection import Engine
from .containers import image_as_given
from .translate import explanation, found_or_none, removed, translated

STEP_RESULT = re.compile(r"^\s*--?-> ([0-9a-f]{12})$")  # "this step made image ...": " ---> id" (classic), "--> id" (Buildah)
DIRECTORY_MODE_BIT = 1 << 31  # Go's os.ModeDir, as the engine's path stat reports a mode
PODMAN_MOUNT_POINTS = {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv"}
CONFIGS_KEPT = 256  # image configs remembered from earlier saves (an image whose layers are cached is not saved again)
_configs: OrderedDict[str, dict] = OrderedDict()  # image id -> its config


def inspect_image(engine: Engine, image: str) -> dict:
    """`docker image inspect IMAGE`, or `ImageNotFound` with a way out.

    On the containerd store an image pulled or pushed as `name@sha256:D` keeps no such name once its tag
    moves on, yet `docker rmi name@sha256:D` still finds it: its id is D. The kit finds it the same way."""
    with translated(f"inspect the image '{image}'", image=image):
        try:
            return engine.api.inspect_image(image)
        except docker.errors.NotFound:
            digest = image.rpartition("@")[2]
            if engine.image_store != "containerd" or not digest.startswith("sha256:"):
                raise
            return engine.api.inspect_image(digest)


def list_images(engine: Engine, repository: str | None = None) -> list[dict]:
    """`docker images [REPOSITORY]`'s rows as the engine lists them: its `Size` is what `docker images` shows
    (on the containerd store the unpacked size; the image's inspect `Size` is then the compressed one)."""
    with translated("list the images"):
        return engine.api.images(name=repository)


def remember_config(image_id: str, config: dict) -> None:
    _configs[image_id] = config
    _configs.move_to_end(image_id)
    while len(_configs) > CONFIGS_KEPT:
        _configs.popitem(last=False)


def read_engine_image(engine: Engine, image: str, cache: LayerCache | None = CACHE,
                      on_progress: Progress | None = None) -> ArchiveImage:
    """The image's config and layer summaries: from the cache when every layer is known, else `docker save`."""
    attrs = inspect_image(engine, image)
    diff_ids = attrs.get("RootFS", {}).get("Layers") or []
    known = _configs.get(attrs["Id"])
    if known is not None and cache is not None and all(d in cache for d in diff_ids):
        return ArchiveImage(image, "docker save (cached)", known, [cache.get(d) for d in diff_ids])
    with translated(f"save the image '{image}'", image=image):
        chunks = engine.api.get_image(attrs["Id"], chunk_size=BUFFER)
        reader = ChunkReader(read_ahead(chunks), (lambda total: on_progress("", total)) if on_progress else None)
        found = read_archive(reader, None, cache, diff_ids=diff_ids)
    found.name = image
    remember_config(attrs["Id"], found.config)
    return found


def base_image_layers(engine: Engine, attrs: dict | None = None) -> tuple[list[str], int | None]:
    """The kit's base image's diff_ids and history length ([] and None when it is not there)."""
    base = found_or_none(lambda: engine.api.inspect_image(BASE_IMAGE), "look for the base image")
    if base is None:
        return [], None
    if attrs is not None and attrs["Id"] == base["Id"]:
        return base["RootFS"]["Layers"], None
    return base["RootFS"]["Layers"], len(engine.api.history(base["Id"]))


def load_image_layers(engine: Engine, image: str, files: bool = False,
                      built: dict[str, list[BuildStep]] | None = None, on_progress: Progress | None = None) -> ImageLayers:
    """The model of an image on the engine: history and layers; with `files` (and always where the history
    API's sizes are not the files' bytes: the containerd store, Podman), read from `docker save`."""
    attrs = inspect_image(engine, image)
    base_ids, base_length = base_image_layers(engine, attrs)
    common = dict(base_diff_ids=base_ids, base_image=BASE_IMAGE.removesuffix(":latest"),
                  build_steps=(built or {}).get(attrs["Id"]), base_history_length=base_length, image_id=attrs["Id"])
    diff_ids = attrs.get("RootFS", {}).get("Layers") or []
    if files or not engine.history_sizes_are_file_bytes:  # the same sizes on every engine: the files' bytes
        archive = read_engine_image(engine, image, on_progress=on_progress)
        model = build_image_layers(image, archive.diff_ids, archive.history, layer_files=archive.layers, **common)
        return model if files else model.without_files()
    with translated(f"read the history of '{image}'", image=image):
        history = list(reversed(engine.api.history(attrs["Id"])))
    return build_image_layers(image, diff_ids, history, engine_history=True, **common)


FILES_STATTED = 500  # a writable layer with more changes is measured by the engine instead


def path_stat(engine: Engine, container_id: str, path: str) -> dict | None:
    """`docker container cp`'s stat of one path in a container (HEAD on its archive): name, size, mode."""
    answer = engine.api.head(engine.api._url("/containers/{0}/archive", container_id), params={"path": path})
    if answer.status_code == 404:
        return None
    engine.api._raise_for_status(answer)
    encoded = answer.headers.get("x-docker-container-path-stat")
    return docker.utils.decode_json_header(encoded) if encoded else None


def writable_layer_bytes(engine: Engine, container_id: str, changes: list[dict] | None) -> int | None:
    """The bytes of the files (not directories) a container added or changed: what overlay2 reports as the
    writable layer's size, counted the same way on every engine (the containerd store and Podman report
    the disk blocks they use instead). None when there are too many changes to look at one by one."""
    written = [change["Path"] for change in changes or [] if change["Kind"] in (0, 1)]
    if len(written) > FILES_STATTED:
        return None
    total = 0
    for path in written:
        stat = path_stat(engine, container_id, path)
        if stat is not None and not stat.get("mode", 0) & DIRECTORY_MODE_BIT:
            total += stat.get("size", 0)
    return total


def without_podman_mount_points(changes: list[dict] | None) -> list[dict] | None:
    """The changes without those Podman makes in every container it starts: the files it mounts (hosts,
    resolv.conf, hostname, .containerenv) and their folders marked changed with nothing else in them changed."""
    if changes is None:
        return None
    kept = [change for change in changes if change["Path"] not in PODMAN_MOUNT_POINTS]
    folders = {path.rpartition("/")[0] for path in PODMAN_MOUNT_POINTS}
    return [change for change in kept if not (
        change["Path"] in folders and change["Kind"] == 0
        and not any(other["Path"].startswith(change["Path"] + "/") for other in kept))]


def load_container_layer(engine: Engine, name: str) -> ContainerLayer:
    """A container's writable layer from the engine's changes API, with its size (see `writable_layer_bytes`)."""
    with translated(f"list the changes of container '{name}'", container=name):
        attrs = engine.api.inspect_container(name)
        changes = engine.api.diff(attrs["Id"])
        if engine.backend == "podman":
            changes = without_podman_mount_points(changes)
        size_rw = writable_layer_bytes(engine, attrs["Id"], changes)
        if size_rw is None:
            listed = engine.api.containers(all=True, size=True, filters={"id": attrs["Id"]})
            size_rw = listed[0].get("SizeRw", 0) if listed else None  # the engine leaves out a zero SizeRw
    layer = ContainerLayer.from_engine(attrs["Name"].lstrip("/"), image_as_given(engine, attrs), changes, size_rw)
    layer.image_id = attrs["Image"]
    return layer


def stack_models(engine: Engine, images: Sequence[str | ImageLayers], containers: Sequence[str] = (),
                 files: bool = False, built: dict[str, list[BuildStep]] | None = None) -> list[ImageLayers]:
    """Models of `images` (names or models) with each container stacked on the image it came from."""
    models = [replace(item, containers=list(item.containers)) if isinstance(item, ImageLayers)
              else load_image_layers(engine, item, files, built) for item in images]
    for name in containers:
        layer = load_container_layer(engine, name)
        owner = next((model for model in models if model.id == layer.image_id), None)
        if owner is None:
            owner = load_image_layers(engine, layer.image_id, files, built)
            owner.image = layer.image
            models.append(owner)
        owner.containers.append(layer)
    return models


def containers_using(engine: Engine, image_id: str) -> list[str]:
    """Names of the containers (running or stopped) made from exactly this image (by its id: Podman's
    `ancestor` filter does not take a `sha256:` id)."""
    with translated("list the containers"):
        found = engine.api.containers(all=True)
    return sorted(item["Names"][0].lstrip("/") for item in found if item["ImageID"] == image_id)


def remove_image(engine: Engine, ref: str, attrs: dict) -> list[dict]:
    """`docker rmi REF` of the image inspected as `attrs`: the engine's answer; `ImageInUse` naming the
    containers that still use it."""
    image_id = attrs["Id"]
    try:
        answer = engine.api.remove_image(name_as_kept(ref, attrs.get("RepoTags") or []))
        if engine.backend == "podman" and not any("Deleted" in item for item in answer):
            answer += removed_when_named_by_digest_only(engine, image_id)
        return answer
    except docker.errors.APIError as error:
        users = containers_using(engine, image_id)
        if error.status_code != 409 or not users:
            raise DockerlabError(f"The engine refused to remove the image {ref}: {explanation(error)}.") from None
        raise ImageInUse(
            f"The image {ref} cannot be removed: {len(users)} container(s) made from it still exist "
            f"(stopped ones count too); remove them first (`docker ps -a --filter ancestor={ref}` lists them, "
            f"`docker rm NAME` removes one), then try again.",
            containers=users, detail=f"The engine said: {explanation(error)}",
        ) from None


def name_as_kept(ref: str, names: Sequence[str]) -> str:
    """The image's own spelling of the name `ref` (else `ref`): Podman finds a short name by its ending, so
    `partech:1.0` could untag `127.0.0.1:5000/ruud/partech:1.0` where the image has both names."""
    wanted = expand_reference(ref)
    return next((name for name in names if expand_reference(name) == wanted), ref)


def removed_when_named_by_digest_only(engine: Engine, image_id: str) -> list[dict]:
    """Docker removes an image with its last tag, its `NAME@DIGEST` names with it; Podman keeps an image it
    still names by digest (the kit names it so after a push, as Docker does): removed here the same way."""
    left = found_or_none(lambda: engine.api.inspect_image(image_id), "find the image")
    if left is None or left.get("RepoTags") or not left.get("RepoDigests") or containers_using(engine, image_id):
        return []
    return engine.api.remove_image(image_id)


def remove_unused_images(engine: Engine, image_ids: set[str]) -> tuple[int, set[str]]:
    """Remove the images that nothing needs any more; (how many went, those still needed)."""
    count, still_needed = 0, set()
    for image_id in sorted(image_ids):
        with translated("remove an image"):
            outcome = removed(lambda: engine.api.remove_image(image_id))
        count += outcome is True
        if outcome is False:  # another image or a container still needs it
            still_needed.add(image_id)
    return count, still_needed


def untag_if_unchanged(engine: Engine, names: dict[str, str]) -> int:
    """Untag each name (-> the image id it was given for) that still names that image; how many went."""
    count = 0
    for ref, image_id in names.items():
        current = found_or_none(lambda: engine.api.inspect_image(ref), f"look up the image {ref}")
        if current is not None and current["Id"] == image_id:
            with translated(f"remove the name {ref}"):
                count += removed(lambda: engine.api.remove_image(ref)) is True  # 409: a container uses it; clean() gets it
    return count


def stage_images(engine: Engine, progress: BuildProgress) -> set[str]:
    """The images that earlier stages of a multi-stage build left behind: the classic builder keeps each
    stage's result as an untagged image without the build's label, so only their ids in its log tell."""
    if sum(step.instruction.upper().startswith("FROM ") for step in progress.steps) < 2:
        return set()
    made = {match.group(1) for line in progress.log if (match := STEP_RESULT.match(line))}
    with translated("list the dangling images"):
        dangling = engine.api.images(filters={"dangling": True})
    return {item["Id"] for item in dangling
            if item["Id"].removeprefix("sha256:")[:12] in made and item["Id"] != progress.image_id}

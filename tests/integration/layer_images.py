"""Test images for the layer stack, built for real, and archives of them in every layout.

Expected numbers come from outside the code under test: the union filesystem as a container sees it
(`find` in the image each step made), GNU tar's listing of each layer tar, and the Dockerfile itself.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import subprocess
import tarfile
from pathlib import Path

import zstandard

from dockerlab.engine.connection import connect_engine

TRICKY_DOCKERFILE = r"""FROM dockerlab/busybox
RUN mkdir -p /data/keep /data/opq /swap/dir && head -c 1000 /dev/urandom > /data/keep/a.bin && head -c 2000 /dev/urandom > /data/opq/old1 && head -c 3000 /dev/urandom > /data/opq/old2 && head -c 500 /dev/urandom > /swap/thing && echo x > /swap/dir/inner && head -c 4096 /dev/urandom > /big.bin && printf hello > "/data/with space é 文.txt" && ln /data/keep/a.bin /data/keep/hard.bin && ln -s /data/keep/a.bin /data/link
ENV FOO=bar
RUN rm /big.bin && rm -rf /data/opq && mkdir /data/opq && echo new > /data/opq/fresh && rm -r /swap/dir && echo file > /swap/dir && rm /swap/thing && mkdir /swap/thing && echo in > /swap/thing/child && echo more >> /data/keep/a.bin
RUN mkdir /many && cd /many && i=0; while [ $i -lt 5000 ]; do echo $i > f$i; i=$((i+1)); done
LABEL note="metadata only"
COPY same.txt /dup.txt
COPY same.txt /dup.txt
RUN rm -rf /swap/dir && mkdir /swap/dir && echo back > /swap/dir/again
WORKDIR /data
"""
# Files the engine puts into every container (not part of any image): Docker's, and Podman's .containerenv.
RUNTIME_FILES = {".dockerenv", "run/.containerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab"}


def write_context(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(TRICKY_DOCKERFILE)
    (folder / "same.txt").write_text("same\n")
    return folder


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=True, capture_output=True, **kwargs)


def visible_in(image_id: str, labels: dict) -> dict[str, tuple[int, str]]:
    """Non-directory paths a container of `image_id` sees: path -> (size of regular files, inode)."""
    label = [f"--label={k}={v}" for k, v in labels.items()]
    script = "find / -xdev ! -type d | while read -r p; do if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then " \
             "stat -c '%s %i %n' \"$p\"; else echo \"0 - $p\"; fi; done"
    out = docker("run", "--rm", *label, "--network=none", "--entrypoint", "sh", image_id, "-c", script).stdout
    seen = {}
    for line in out.decode().splitlines():
        size, inode, path = line.split(" ", 2)
        path = path.lstrip("/")
        if path not in RUNTIME_FILES:
            seen[path] = (int(size), inode)
    return seen


def saved_config(save: Path) -> dict:
    """The image config inside a `docker save` archive (either layout)."""
    with tarfile.open(save) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))[0]
        return json.load(archive.extractfile(manifest["Config"]))


def layer_steps(config: dict) -> list[str]:
    """The `created_by` of each history step that made a layer, bottom first (the config says which)."""
    return [step.get("created_by", "") for step in config.get("history", []) if not step.get("empty_layer")]


def layer_images(image: str, config: dict, context: Path, labels: dict) -> list[str]:
    """The image id after each step that made a layer, bottom first. The classic builder keeps them; Buildah
    keeps them too, but its history names them `<missing>` (then they are found by their layers); BuildKit
    keeps none (`<missing>`), so there the Dockerfile is built again cut after each such step: its cache
    gives the very same layers (checked by their diff_ids)."""
    rows = docker("history", "--no-trunc", "--format", "{{.ID}}", image).stdout.decode().split()
    history = config["history"]
    assert len(rows) == len(history), (rows, history)
    diff_ids = config["rootfs"]["diff_ids"]
    if not any("<missing>" in row for row in rows):  # Podman writes sha256:<missing>
        ids = [image_id for image_id, step in zip(reversed(rows), history) if not step.get("empty_layer")]
        assert len(ids) == len(diff_ids), (ids, diff_ids)
        return ids
    if engine_is_podman():
        return images_by_layers(diff_ids)
    lines = (context / "Dockerfile").read_text().splitlines()  # one instruction per line
    own = history[len(history) - (len(lines) - 1):]
    ids = [docker("image", "inspect", "--format", "{{.Id}}", lines[0].split()[1]).stdout.decode().strip()]
    label = [f"--label={k}={v}" for k, v in labels.items()]
    for index, step in enumerate(own):
        if step.get("empty_layer"):
            continue
        cut = context.parent / f"{context.name}-cut{index}"
        cut.mkdir(exist_ok=True)
        for item in context.iterdir():
            (cut / item.name).write_bytes(item.read_bytes())
        (cut / "Dockerfile").write_text("\n".join(lines[:index + 2]) + "\n")
        built = docker("build", "-q", *label, str(cut)).stdout.decode().strip()
        layers = json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", built).stdout)
        assert layers == diff_ids[:len(ids) + 1], (index, layers, diff_ids)
        ids.append(built)
    assert len(ids) == len(diff_ids), (ids, diff_ids)
    return ids


def engine_is_podman() -> bool:
    return connect_engine().backend == "podman"


def images_by_layers(diff_ids: list[str]) -> list[str]:
    """For each layer, bottom first, an image on the engine whose top layer it is."""
    ids = set(docker("images", "--all", "--quiet", "--no-trunc").stdout.decode().split())
    by_layers = {tuple(attrs["RootFS"].get("Layers") or []): attrs["Id"]
                 for attrs in json.loads(docker("image", "inspect", *ids).stdout)}
    return [by_layers[tuple(diff_ids[:count])] for count in range(1, len(diff_ids) + 1)]


def modified_by_layer(steps: list[str]) -> dict[int, set[str]]:
    """What the Dockerfile writes again over a file already there, per layer index (0 is the base image's):
    the second RUN appends to a.bin; the second COPY writes dup.txt again (where the engine kept a layer
    for it: the containerd image store records an identical COPY as an empty step)."""
    found, copies = {}, 0
    for index, created_by in enumerate(steps):
        if "rm /big.bin" in created_by:
            found[index] = {"data/keep/a.bin"}
        if " COPY " in f" {created_by} " and "/dup.txt" in created_by:
            copies += 1
            if copies == 2:
                found[index] = {"dup.txt"}
    return found


def tar_listing_sizes(layer_tar: Path) -> tuple[int, int]:
    """GNU tar's own listing: (sum of regular-file sizes, number of whiteout entries)."""
    out = subprocess.run(["tar", "-tvf", str(layer_tar), "--quoting-style=literal"], check=True,
                         capture_output=True).stdout.decode("utf-8", "replace")
    size = whiteouts = 0
    for line in out.splitlines():
        fields = line.split(None, 5)
        if line.startswith("-"):
            size += int(fields[2])
        if "/.wh." in "/" + fields[5]:
            whiteouts += 1
    return size, whiteouts


def tar_names(layer_tar: Path) -> set[str]:
    """GNU tar's list of the paths in a layer tar (no leading `./` or `/`, no trailing `/`)."""
    out = subprocess.run(["tar", "-tf", str(layer_tar), "--quoting-style=literal"], check=True,
                         capture_output=True).stdout.decode("utf-8", "replace")
    return {posixpath.normpath(name).lstrip("/") for name in out.splitlines() if name}


# --- archives in the layouts the engine here does not write -------------------------------------------

def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def engine25_from_save(save: Path, out: Path) -> Path:
    """Rewrite an Engine <=24 `docker save` as Engine 25+ does: OCI blobs first, `manifest.json` last."""
    with tarfile.open(save) as old:
        manifest = json.load(old.extractfile("manifest.json"))[0]
        config_bytes = old.extractfile(manifest["Config"]).read()
        config = json.loads(config_bytes)
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as new:
            layer_paths, descriptors, written = [], [], set()
            for path, diff_id in zip(manifest["Layers"], config["rootfs"]["diff_ids"]):
                member = old.getmember(path)
                while member.issym():
                    member = old.getmember(posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname)))
                blob = f"blobs/sha256/{diff_id.split(':')[1]}"
                if blob not in written:
                    info = tarfile.TarInfo(blob)
                    info.size, info.mode = member.size, 0o644
                    new.addfile(info, old.extractfile(member))
                    written.add(blob)
                layer_paths.append(blob)
                descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                    "digest": diff_id, "size": member.size})
            config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
            _add(new, f"blobs/sha256/{config_digest.split(':')[1]}", config_bytes)
            oci_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                  "digest": config_digest, "size": len(config_bytes)},
                                       "layers": descriptors}).encode()
            manifest_digest = "sha256:" + hashlib.sha256(oci_manifest).hexdigest()
            _add(new, f"blobs/sha256/{manifest_digest.split(':')[1]}", oci_manifest)
            _add(new, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            _add(new, "index.json", json.dumps({"schemaVersion": 2, "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                 "size": len(oci_manifest)}]}).encode())
            _add(new, "manifest.json", json.dumps([{"Config": f"blobs/sha256/{config_digest.split(':')[1]}",
                                                     "RepoTags": manifest.get("RepoTags"),
                                                     "Layers": layer_paths}]).encode())
    return out


def saves_blobs(save: Path) -> bool:
    """True for the Engine 25+ layout of `docker save` (layers under blobs/), False for the <=24 one."""
    with tarfile.open(save) as archive:
        return json.load(archive.extractfile("manifest.json"))[0]["Layers"][0].startswith("blobs/")


def legacy_from_save(save: Path, out: Path) -> Path:
    """Rewrite an Engine 25+ `docker save` as Engine <=24 wrote it: a folder per layer with an uncompressed
    `layer.tar` (a layer seen before is a symlink to the first), the config as `<id>.json`, `manifest.json`."""
    with tarfile.open(save) as new:
        manifest = json.load(new.extractfile("manifest.json"))[0]
        config_bytes = new.extractfile(manifest["Config"]).read()
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as old:
            first_folder, paths = {}, []
            for index, (blob, diff_id) in enumerate(zip(manifest["Layers"], diff_ids)):
                folder = hashlib.sha256(f"{index} {diff_id}".encode()).hexdigest()
                paths.append(f"{folder}/layer.tar")
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                old.addfile(info)
                if diff_id in first_folder:
                    link = tarfile.TarInfo(f"{folder}/layer.tar")
                    link.type, link.linkname = tarfile.SYMTYPE, f"../{first_folder[diff_id]}/layer.tar"
                    old.addfile(link)
                    continue
                first_folder[diff_id] = folder
                data = new.extractfile(blob).read()
                if data.startswith(b"\x1f\x8b"):
                    data = gzip.decompress(data)
                elif data.startswith(b"\x28\xb5\x2f\xfd"):
                    data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
                _add(old, f"{folder}/layer.tar", data)
                _add(old, f"{folder}/VERSION", b"1.0")
            config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
            _add(old, config_name, config_bytes)
            _add(old, "manifest.json", json.dumps([{"Config": config_name, "RepoTags": manifest.get("RepoTags"),
                                                     "Layers": paths}]).encode())
    return out


def rewrite_oci(archive: Path, out: Path, nest_index: bool = False, drop_layer: int | None = None) -> Path:
    """A copy of an OCI archive whose index.json points to a nested index, or with one layer blob missing."""
    with tarfile.open(archive) as old, tarfile.open(out, "w") as new:
        index = json.load(old.extractfile("index.json"))
        manifest_blob = "blobs/" + index["manifests"][0]["digest"].replace(":", "/")
        manifest = json.load(old.extractfile(manifest_blob))
        dropped = None
        if drop_layer is not None:
            dropped = "blobs/" + manifest["layers"][drop_layer]["digest"].replace(":", "/")
        for member in old.getmembers():
            if member.name in ("index.json", dropped):
                continue
            new.addfile(member, old.extractfile(member) if member.isreg() else None)
        if nest_index:
            inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": index["manifests"]}).encode()
            digest = "sha256:" + hashlib.sha256(inner).hexdigest()
            _add(new, f"blobs/sha256/{digest.split(':')[1]}", inner)
            index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                                        "digest": digest, "size": len(inner)}]}
        _add(new, "index.json", json.dumps(index).encode())
    return out

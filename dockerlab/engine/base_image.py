"""The kit's own base image, `dockerlab/busybox`, made offline from the host's static busybox.

One layer: busybox, its applets as symlinks, /etc/passwd with root and nobody, /tmp 1777. Labelled
`dockerlab.kit=base`: kit-wide, no session's. Pulled (`busybox:stable`) only when no static busybox for the
engine's machine exists here (an engine elsewhere gets the build context uploaded, busybox and all).
"""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import docker

from ..errors import DockerlabError
from ..model.labels import KIT_LABEL
from .build import BASE_IMAGE, classic_build
from .connection import Engine
from .translate import found_or_none

BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}  # an engine's Architecture -> ELF's


def is_static_elf(path: Path, architecture: str = "") -> bool:
    """True for an ELF executable without a program interpreter (statically linked), for the machine an
    engine reports as `architecture` (any machine when it is "" or unknown)."""
    with path.open("rb") as binary:
        header = binary.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit ELF only
            return False
        endian = "<" if header[5] == 1 else ">"
        machine, = struct.unpack(endian + "H", header[18:20])
        if machine != ELF_MACHINES.get(architecture, machine):
            return False
        phoff, = struct.unpack(endian + "Q", header[32:40])
        phentsize, phnum = struct.unpack(endian + "HH", header[54:58])
        binary.seek(phoff)
        table = binary.read(phentsize * phnum)
    types = [struct.unpack(endian + "I", table[i * phentsize:i * phentsize + 4])[0] for i in range(phnum)]
    return 3 not in types  # PT_INTERP


def host_busybox(architecture: str = "") -> Path | None:
    """The host's statically linked busybox (for the engine's `architecture`), if there is one."""
    candidates = [Path(p) for p in BUSYBOX_PATHS]
    found = shutil.which("busybox")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and is_static_elf(candidate.resolve(), architecture):
            return candidate.resolve()
    return None


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes = b"", mode: int = 0o644, **kwargs) -> None:
    info = tarfile.TarInfo(name)
    info.mode = mode
    for key, value in kwargs.items():
        setattr(info, key, value)
    if info.type == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def base_image_context(busybox: Path) -> io.BytesIO:
    """A build context: one layer with busybox, its applets as symlinks, /etc/passwd and /tmp."""
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    dockerfile = (
        "FROM scratch\n"
        "COPY rootfs/ /\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        'CMD ["sh"]\n'
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _tar_add(tar, "Dockerfile", dockerfile.encode())
        for folder, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700), ("home", 0o755)):
            _tar_add(tar, f"rootfs/{folder}", mode=mode, type=tarfile.DIRTYPE)
        _tar_add(tar, "rootfs/bin/busybox", busybox.read_bytes(), mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            _tar_add(tar, f"rootfs/bin/{applet}", type=tarfile.SYMTYPE, linkname="busybox", mode=0o777)
        _tar_add(tar, "rootfs/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
        _tar_add(tar, "rootfs/etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    buffer.seek(0)
    return buffer


def base_image_exists(engine: Engine) -> bool:
    return found_or_none(lambda: engine.api.inspect_image(BASE_IMAGE), "look for the base image") is not None


def ensure_base_image(engine: Engine) -> str:
    """Make sure the kit's base image exists: built offline from busybox, else pulled if one answers."""
    if base_image_exists(engine):
        return BASE_IMAGE
    busybox = host_busybox(engine.info.get("Architecture", ""))
    if busybox is not None:
        classic_build(engine, ".", BASE_IMAGE, {KIT_LABEL: "base"}, fileobj=base_image_context(busybox))
        return BASE_IMAGE
    try:
        engine.client.images.pull("busybox", tag="stable").tag(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.APIError:
        raise DockerlabError(
            "The kit's base image is missing and cannot be made: there is no static busybox on this "
            "machine and no registry answers. Install it (`sudo apt-get install busybox-static`) and re-run."
        ) from None

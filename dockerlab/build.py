"""Building images: the learner's builds (streamed, step by step) and the kit's offline base image.

`stream_build` drives the classic builder through `client.api.build(decode=True)` and reports each
event as it comes, so a notebook can show live progress; it records which steps came from the build
cache and turns a failure into a `BuildFailed` naming the failing step and its last log lines.
"""
from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import docker
import requests
import urllib3

from .engine import Engine
from .errors import BuildFailed, DockerlabError, EngineUnavailable
from .session import KIT_LABEL

BASE_IMAGE = "dockerlab/busybox:latest"
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
LOG_TAIL_LINES = 8
BUILDKIT_ONLY = re.compile(
    r"^\s*(RUN|COPY|ADD)\s+--(mount|link|chmod|network|security)"  # BuildKit flags
    r"|<<-?\s*[\"']?[A-Za-z_]\w*[\"']?\s*$",  # a heredoc opener at the end of a line
    re.M | re.I,
)


@dataclass
class BuildStep:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    instruction: str
    cached: bool = False
    log: list[str] = field(default_factory=list)


@dataclass
class BuildProgress:
    """What a build has done so far; handed to the progress callback after every event."""

    total_steps: int = 0
    steps: list[BuildStep] = field(default_factory=list)
    image_id: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def current(self) -> BuildStep | None:
        return self.steps[-1] if self.steps else None

    def apply(self, event: dict) -> None:
        """Fold one decoded event of the build stream into the progress."""
        if "aux" in event and "ID" in event["aux"]:
            self.image_id = event["aux"]["ID"]
        for line in event.get("stream", "").splitlines():
            line = line.rstrip()
            if not line:
                continue
            match = STEP_LINE.match(line)
            if match:
                self.total_steps = int(match.group(2))
                self.steps.append(BuildStep(int(match.group(1)), match.group(3)))
                continue
            self.log.append(line)
            if self.current is None:
                continue
            if line.strip() == "---> Using cache":
                self.current.cached = True
            elif not line.lstrip().startswith("--->") and not line.startswith("Removing intermediate"):
                self.current.log.append(line)
            if line.startswith("Successfully built "):
                self.image_id = self.image_id or line.split()[-1]


def check_context(path: Path, dockerfile: str) -> Path:
    """Refuse, with one sentence, what the builder would fail on late or confusingly."""
    if not path.is_dir():
        raise BuildFailed(f"The build context '{path}' is not a folder; give the folder that holds the Dockerfile.")
    dockerfile_path = path / dockerfile
    if not dockerfile_path.is_file():
        raise BuildFailed(
            f"There is no '{dockerfile}' in '{path}'; create one there (a file named exactly "
            f"'{dockerfile}', no extension) or pass dockerfile='...'."
        )
    text = dockerfile_path.read_text(errors="replace")
    if BUILDKIT_ONLY.search(text):
        raise BuildFailed(
            f"'{dockerfile_path}' uses BuildKit-only syntax (a heredoc or RUN/COPY --mount/--link...), "
            "which the classic builder used here cannot read; write it with plain RUN and COPY lines."
        )
    return dockerfile_path


def stream_build(
    engine: Engine,
    path: str | Path,
    tag: str | None,
    labels: dict[str, str],
    dockerfile: str = "Dockerfile",
    on_progress: Callable[[BuildProgress, dict], None] | None = None,
    fileobj: io.BytesIO | None = None,
    **build_options,
) -> BuildProgress:
    """Build with the classic builder, streaming events into `on_progress`; raise `BuildFailed`.

    `build_options` go to `APIClient.build` as they are (the sandbox passes limits and a timeout).
    """
    if fileobj is None:
        check_context(Path(path), dockerfile)
    progress = BuildProgress()
    kwargs = dict(tag=tag, rm=True, forcerm=True, decode=True, labels=labels, dockerfile=dockerfile, **build_options)
    if fileobj is not None:
        kwargs.update(fileobj=fileobj, custom_context=True)
    else:
        kwargs.update(path=str(path))
    try:
        for event in engine.api.build(**kwargs):
            progress.apply(event)
            if on_progress:
                on_progress(progress, event)
            if "error" in event:
                raise build_failure(progress, event["error"])
    except docker.errors.APIError as error:
        raise build_failure(progress, error.explanation or str(error)) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError) as error:
        raise EngineUnavailable(
            f"The Docker engine stopped answering during the build ({type(error).__name__}); "
            "start it again (`make setup`) and re-run the cell."
        ) from None
    if not progress.image_id:
        raise build_failure(progress, "the builder finished without reporting an image")
    return progress


def build_failure(progress: BuildProgress, message: str) -> BuildFailed:
    """A `BuildFailed` that names the failing step (if any), says what to do, and keeps its last log lines."""
    message = message.strip().rstrip(".")
    step = progress.current
    if step is None:
        hint = " Check the spelling of that line's instruction." if "unknown instruction" in message else ""
        return BuildFailed(f"The Dockerfile could not be read: {message}.{hint}")
    where = f"step {step.number}/{progress.total_steps} ({step.instruction})"
    if step.instruction.upper().startswith("FROM "):
        base = step.instruction.split()[1]
        return BuildFailed(
            f"The build failed at {where}: the image '{base}' is not on this engine and no registry "
            f"answers to pull it. Start FROM {BASE_IMAGE.removesuffix(':latest')} or build '{base}' first."
        )
    exit_code = re.search(r"returned a non-zero code: (\d+)", message)
    if exit_code:
        return BuildFailed(
            f"The build failed at {where}: the command exited with code {exit_code.group(1)}; "
            "its last output lines are below. Fix the command and build again.",
            step=step.instruction, log_tail=step.log[-LOG_TAIL_LINES:],
        )
    return BuildFailed(f"The build failed at {where}: {message}.", step=step.instruction,
                       log_tail=step.log[-LOG_TAIL_LINES:])


# --- the kit's own base image, made offline from the host's static busybox ------------------------

def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (statically linked)."""
    with path.open("rb") as binary:
        header = binary.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit ELF only
            return False
        endian = "<" if header[5] == 1 else ">"
        phoff, = struct.unpack(endian + "Q", header[32:40])
        phentsize, phnum = struct.unpack(endian + "HH", header[54:58])
        binary.seek(phoff)
        table = binary.read(phentsize * phnum)
    types = [struct.unpack(endian + "I", table[i * phentsize:i * phentsize + 4])[0] for i in range(phnum)]
    return 3 not in types  # PT_INTERP


def host_busybox() -> Path | None:
    """The host's statically linked busybox, if there is one."""
    candidates = [Path(p) for p in BUSYBOX_PATHS]
    found = shutil.which("busybox")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and is_static_elf(candidate.resolve()):
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
    try:
        engine.client.images.get(BASE_IMAGE)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base_image(engine: Engine) -> str:
    """Make sure the kit's base image exists: built offline from busybox, else pulled if one answers."""
    if base_image_exists(engine):
        return BASE_IMAGE
    busybox = host_busybox()
    if busybox is not None:
        stream_build(engine, ".", BASE_IMAGE, {KIT_LABEL: "base"}, fileobj=base_image_context(busybox))
        return BASE_IMAGE
    try:
        engine.client.images.pull("busybox", tag="stable").tag(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.APIError:
        raise DockerlabError(
            "The kit's base image is missing and cannot be made: there is no static busybox on this "
            "machine and no registry answers. Install it (`sudo apt-get install busybox-static`) and re-run."
        ) from None

"""Building with BuildKit, as `docker build` does on Engine 23 and later: `docker buildx build` on the same
engine, its `--progress=rawjson` events folded into a `BuildKitProgress` as they come.

The engine's API has no BuildKit session of its own in the SDK, so the kit runs the `docker` CLI's buildx
plugin (a dependency on such engines: `dockerlab doctor` says when it is missing, and the kit falls back
to the classic builder). The image id comes from `--metadata-file`; the kit's label goes in with `--label`.
Builds carry no provenance attestation (`--provenance=false`): on the containerd image store it would make
every build, even one taken whole from the cache, a new image.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..model.buildkit import BuildKitProgress, dockerfile_instructions
from ..model.progress import BuildProgress
from .connection import Engine

READ_BYTES = 65536


@lru_cache(maxsize=8)
def buildx_missing(host: str) -> str:
    """Why `docker buildx build` cannot be used against `host` ("" when it can)."""
    if shutil.which("docker") is None:
        return "the `docker` command is not installed (Debian: `apt-get install docker-cli`)"
    try:
        answer = subprocess.run(["docker", "buildx", "version"], env=cli_environment(host), capture_output=True,
                                text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`docker buildx version` failed ({type(error).__name__})"
    if answer.returncode != 0:
        return "the `docker` command has no buildx plugin (Debian: `apt-get install docker-buildx`)"
    return ""


def cli_environment(host: str) -> dict[str, str]:
    """The environment for a `docker` command that talks to the engine the kit is connected to."""
    return {**os.environ, "DOCKER_HOST": host}


def uses_buildkit(engine: Engine) -> bool:
    """True when the kit builds as `docker build` does there with BuildKit: a Docker engine whose default
    builder is BuildKit (unless DOCKER_BUILDKIT=0 asks for the classic one), with buildx at hand."""
    return (engine.default_builder == "BuildKit" and os.environ.get("DOCKER_BUILDKIT") != "0"
            and not buildx_missing(engine.host))


def buildx_command(path: Path, dockerfile: str, tag: str | None, labels: dict[str, str], metadata: Path,
                   network: str | None = None, cgroup_parent: str | None = None) -> list[str]:
    command = ["docker", "buildx", "build", "--progress=rawjson", "--load", "--provenance=false",
               "--metadata-file", str(metadata), "-f", str(path / dockerfile)]
    command += ["-t", tag] if tag else []
    command += [word for key, value in labels.items() for word in ("--label", f"{key}={value}")]
    command += ["--network", network] if network else []
    command += ["--cgroup-parent", cgroup_parent] if cgroup_parent else []
    return command + [str(path)]


class RawJsonReader:
    """Splits buildx's stderr into its JSON status events and the plain text it ends with (the error)."""

    def __init__(self) -> None:
        self.buffer = ""
        self.text: list[str] = []
        self.decoder = json.JSONDecoder()

    def feed(self, chunk: str) -> list[dict]:
        self.buffer += chunk
        events = []
        while True:
            self.buffer = self.buffer.lstrip()
            if not self.buffer:
                return events
            if self.buffer.startswith("{"):
                try:
                    event, end = self.decoder.raw_decode(self.buffer)
                except json.JSONDecodeError:
                    return events  # the rest of this event has not come yet
                events.append(event)
                self.buffer = self.buffer[end:]
                continue
            line, newline, rest = self.buffer.partition("\n")
            if not newline:
                return events
            self.text.append(line.rstrip())
            self.buffer = rest

    def close(self) -> None:
        self.text += [line.rstrip() for line in self.buffer.splitlines()]
        self.buffer = ""

    @property
    def error(self) -> str:
        """The last `ERROR:` line, without its prefixes ("failed to solve: ...")."""
        line = next((line for line in reversed(self.text) if line.startswith("ERROR:")), "")
        return line.removeprefix("ERROR:").strip().removeprefix("failed to solve:").strip()


def buildx_build(
    engine: Engine,
    path: Path,
    tag: str | None,
    labels: dict[str, str],
    dockerfile: str = "Dockerfile",
    on_progress: Callable[[BuildProgress, dict], None] | None = None,
    network: str | None = None,
    cgroup_parent: str | None = None,
    timeout: float | None = None,
) -> tuple[BuildKitProgress, str]:
    """Run `docker buildx build`, folding its events into `on_progress`; (the progress, its error or "").

    `timeout` (seconds) stops the build and raises `TimeoutError`. The build is stopped (and BuildKit
    cancels it) whatever leaves this function early, an interrupt included.
    """
    text = (path / dockerfile).read_text(errors="replace")
    progress = BuildKitProgress(instructions=dockerfile_instructions(text))
    reader = RawJsonReader()
    deadline = None if timeout is None else time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="dockerlab-buildx-") as folder:
        metadata = Path(folder) / "metadata.json"
        process = subprocess.Popen(buildx_command(path, dockerfile, tag, labels, metadata, network, cgroup_parent),
                                   env=cli_environment(engine.host), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            stream = process.stderr
            while True:
                wait = None if deadline is None else max(deadline - time.monotonic(), 0)
                ready, _, _ = select.select([stream], [], [], wait)
                if not ready:
                    raise TimeoutError(f"the build took longer than {timeout:g} s")
                chunk = os.read(stream.fileno(), READ_BYTES)
                if not chunk:
                    break
                for event in reader.feed(chunk.decode(errors="replace")):
                    progress.apply(event)
                    if on_progress:
                        on_progress(progress, event)
            reader.close()
            code = process.wait()
        finally:
            if process.poll() is None:
                process.terminate()  # buildx cancels the build on the engine as it goes
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stderr.close()
        if code == 0:
            found = json.loads(metadata.read_text()) if metadata.exists() else {}
            progress.image_id = found.get("containerimage.digest", "")  # the id `docker images` shows
            progress.finish()
            return progress, ""
    return progress, reader.error or progress.error or f"docker buildx build exited with code {code}"

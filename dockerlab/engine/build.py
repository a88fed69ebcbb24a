"""Building images: the learner's builds (streamed, step by step) and the kit's offline base image.

`stream_build` builds as `docker build` does on the engine: with BuildKit (`buildkit_build`, through
`docker buildx build`) where that is the engine's default builder, else with the classic builder
(`classic_build`, through the engine's `POST /build`, streamed by `classic_build_events`). Either reports
each event as it comes, so a notebook can show live progress; it records which steps came from the build
cache and turns a failure into a `BuildFailed` naming the failing step and its last log lines.
"""
from __future__ import annotations

import io
import json
import re
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterator

import docker
import urllib3
from docker.api.build import process_dockerfile
from docker.utils import tar

from ..errors import BuildFailed
from ..model.buildah import BuildahProgress
from ..model.progress import BuildProgress
from .buildx import buildx_build, uses_buildkit
from .connection import Engine
from .translate import CONNECTION_LOST, ENGINE_ERRORS, engine_lost

BASE_IMAGE = "dockerlab/busybox:latest"  # the kit's offline base image (see `base_image`)
LOG_TAIL_LINES = 8
OnProgress = Callable[[BuildProgress, dict], None]  # called after every event of a build
NO_FROM = "no FROM statement found"  # Buildah's words when the first instruction is misspelt
NO_FROM_HINT = " Check the spelling of the first instruction: a Dockerfile starts with FROM."
BUILDKIT_ONLY = re.compile(
    r"^\s*(RUN|COPY|ADD)\s+--(mount|link|chmod|network|security)"  # BuildKit flags
    r"|<<-?\s*[\"']?[A-Za-z_]\w*[\"']?\s*$",  # a heredoc opener at the end of a line
    re.M | re.I,
)


def check_context(path: Path, dockerfile: str, classic: bool = True) -> Path:
    """Refuse, with one sentence, what the builder would fail on late or confusingly (BuildKit-only
    syntax only for the `classic` builder)."""
    if not path.is_dir():
        raise BuildFailed(f"The build context '{path}' is not a folder; give the folder that holds the Dockerfile.")
    dockerfile_path = path / dockerfile
    if not dockerfile_path.is_file():
        raise BuildFailed(
            f"There is no '{dockerfile}' in '{path}'; create one there (a file named exactly "
            f"'{dockerfile}', no extension) or pass dockerfile='...'."
        )
    text = dockerfile_path.read_text(errors="replace")
    if classic and BUILDKIT_ONLY.search(text):
        raise BuildFailed(
            f"'{dockerfile_path}' uses BuildKit-only syntax (a heredoc or RUN/COPY --mount/--link...), "
            "which the classic builder used here cannot read; write it with plain RUN and COPY lines."
        )
    return dockerfile_path


def stream_build(engine: Engine, path: str | Path, tag: str | None, labels: dict[str, str],
                 dockerfile: str = "Dockerfile", on_progress: OnProgress | None = None) -> BuildProgress:
    """Build with the engine's default builder, streaming events into `on_progress`; raise `BuildFailed`."""
    build = buildkit_build if uses_buildkit(engine) else classic_build
    return build(engine, path, tag, labels, dockerfile, on_progress)


def builder_used(engine: Engine) -> str:
    """The builder `stream_build` builds with here: "BuildKit" where `uses_buildkit`, else the engine's own
    ("Buildah" on Podman; "classic" on Docker, also where BuildKit is the default but buildx is missing)."""
    if uses_buildkit(engine):
        return "BuildKit"
    return "Buildah" if engine.default_builder == "Buildah" else "classic"


def buildkit_build(engine: Engine, path: str | Path, tag: str | None, labels: dict[str, str],
                   dockerfile: str = "Dockerfile", on_progress: OnProgress | None = None,
                   **buildx_options) -> BuildProgress:
    """Build with BuildKit (`docker buildx build`); raise `BuildFailed`, or `EngineUnavailable` when the
    engine stopped answering. `buildx_options` go to `buildx_build` (the sandbox's limits)."""
    check_context(Path(path), dockerfile, classic=False)
    progress, error = buildx_build(engine, Path(path), tag, labels, dockerfile, on_progress, **buildx_options)
    if error:
        try:
            engine.api.ping()
        except ENGINE_ERRORS as lost:
            raise engine_lost("build", lost) from None
        raise build_failure(progress, error)
    if not progress.image_id:
        raise build_failure(progress, "the builder finished without reporting an image")
    return progress


def classic_build(engine: Engine, path: str | Path, tag: str | None, labels: dict[str, str],
                  dockerfile: str = "Dockerfile", on_progress: OnProgress | None = None,
                  fileobj: io.BytesIO | None = None, timeout: float | None = None, **build_options) -> BuildProgress:
    """Build with the classic builder, streaming events into `on_progress`; raise `BuildFailed`.

    `fileobj` is a ready tar of the context; `build_options` are `POST /build` query parameters (the
    sandbox's limits: networkmode, memory, memswap, cpushares, cgroupparent); `timeout` (seconds) is how
    long the stream may stay silent before `TimeoutError`.
    """
    if fileobj is None:
        check_context(Path(path), dockerfile)
    progress = (BuildahProgress(label_steps=min(len(labels), 1)) if engine.default_builder == "Buildah"
                else BuildProgress(label_steps=len(labels)))  # Buildah: one step for all labels; classic: one each
    query = dict(t=tag, rm=True, forcerm=True, labels=json.dumps(labels), dockerfile=dockerfile, **build_options)
    try:
        with closing(classic_build_events(engine.api, Path(path), query, fileobj, timeout)) as events:
            for event in events:
                progress.apply(event)
                if on_progress:
                    on_progress(progress, event)
                if "error" in event:
                    raise build_failure(progress, event["error"])
    except docker.errors.APIError as error:
        raise build_failure(progress, error.explanation or str(error)) from None
    except CONNECTION_LOST as error:
        raise engine_lost("build", error) from None
    if not progress.image_id:
        raise build_failure(progress, "the builder finished without reporting an image")
    return progress


def dockerignore_patterns(root: Path) -> list[str]:
    """The patterns of the context's `.dockerignore` (none when there is no such file), as the builder reads them."""
    ignore = root / ".dockerignore"
    if not ignore.is_file():
        return []
    lines = [line.strip() for line in ignore.read_text(errors="replace").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def classic_build_events(api: docker.APIClient, path: Path, query: dict, fileobj: io.BytesIO | None = None,
                         timeout: float | None = None) -> Iterator[dict]:
    """`POST /build` with the context packed as the SDK packs it (`.dockerignore` applied), its decoded events
    as they come. A raw call because the SDK's `APIClient.build` cannot pass `cgroupparent`. The response is
    closed however the caller stops reading, which makes the engine cancel the build (and kill its RUN step)."""
    packed = fileobj is None
    if packed:
        dockerfile = process_dockerfile(query["dockerfile"], str(path))  # (its name in the tar, text if outside)
        fileobj = tar(str(path), exclude=dockerignore_patterns(path), dockerfile=dockerfile)
        query = {**query, "dockerfile": dockerfile[0]}
    headers = {"Content-Type": "application/tar"}
    api._set_auth_headers(headers)  # a FROM may name a registry the learner logged in to
    try:
        response = api._post(api._url("/build"), params={k: v for k, v in query.items() if v is not None},
                             data=fileobj, headers=headers, stream=True, timeout=timeout)
    finally:
        if packed:
            fileobj.close()
    try:
        yield from api._stream_helper(response, decode=True)
    except urllib3.exceptions.ReadTimeoutError:
        raise TimeoutError(f"the build sent nothing for {timeout:g} s") from None
    finally:
        response.close()


def build_failure(progress: BuildProgress, message: str) -> BuildFailed:
    """A `BuildFailed` that names the failing step (if any), says what to do, and keeps its last log lines."""
    message = progress.error_message(message).strip().rstrip(".")
    step = progress.current
    if step is None or "unknown instruction" in message:  # Buildah reads a line only when its step comes
        hint = (" Check the spelling of that line's instruction." if "unknown instruction" in message
                else NO_FROM_HINT if message == NO_FROM else "")
        return BuildFailed(f"The Dockerfile could not be read: {message}.{hint}")
    where = f"step {step.number}/{progress.total_steps} ({step.instruction})"
    if step.instruction.upper().startswith("FROM "):
        base = step.instruction.split()[1]
        return BuildFailed(
            f"The build failed at {where}: the image '{base}' is not on this engine and no registry "
            f"answers to pull it. Start FROM {BASE_IMAGE.removesuffix(':latest')} or build '{base}' first."
        )
    exit_code = re.search(r"returned a non-zero code: (\d+)|did not complete successfully: exit code: (\d+)", message)
    if exit_code:
        return BuildFailed(
            f"The build failed at {where}: the command exited with code {exit_code.group(1) or exit_code.group(2)}; "
            "its last output lines are below. Fix the command and build again.",
            step=step.instruction, log_tail=step.log[-LOG_TAIL_LINES:],
        )
    return BuildFailed(f"The build failed at {where}: {message}.", step=step.instruction,
                       log_tail=step.log[-LOG_TAIL_LINES:])

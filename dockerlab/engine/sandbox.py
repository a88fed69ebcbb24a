"""Limited builds and runs for checking a learner's work: untrusted code never runs unbounded.

Every container a check starts from a learner's image has no network, memory equal to memory+swap,
a pids limit, a CPU share, a read-only root with a small tmpfs at /tmp, no capabilities,
no-new-privileges, a non-root user where the exercise allows, a wall-clock timeout (stop, then kill)
and a cap on the output it may print (read as it comes, so a flood is never held in memory). Builds
get no network, memory and CPU limits and a deadline; their contexts are measured (size, files,
symlinks) before anything is packed, and the output they print is capped. A build's RUN steps run under
a cgroup parent that carries the pids, memory and CPU limits (`build_cgroup`): BuildKit's
`--cgroup-parent`, the classic builder's `cgroupparent`. Limits are probed once per engine before they
are relied on.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from docker.utils.build import PatternMatcher

from ..errors import BuildFailed, CheckRefused, EngineUnavailable
from ..model.limits import Limits, RunOutcome
from ..model.text import size_in_bytes
from .build import BASE_IMAGE, buildkit_build, check_context, classic_build, dockerignore_patterns
from .buildx import uses_buildkit
from .session import Session
from .translate import ENGINE_ERRORS, explanation, translated

FORK_FAILED = re.compile(r"can't fork|fork: retry|fork failed|Resource temporarily unavailable", re.I)
RUN_LINE = re.compile(r"^\s*RUN\b", re.I | re.M)
CGROUP_LINE = re.compile(r"^\d+:(?:pids|[^:]*,pids(?:,[^:]*)?)?:(/\S*)$|^0::(/\S*)$", re.M)  # v1 pids or v2


class LimitReached(Exception):
    """A build that ran past its deadline (runs report limits in `RunOutcome.limit` instead)."""

    def __init__(self, verdict: str, sentence: str) -> None:
        super().__init__(sentence)
        self.verdict = verdict
        self.sentence = sentence


# --- probing that limits bite -----------------------------------------------------------------------

PIDS_PROBE_LIMIT = 8
PIDS_PROBE_SCRIPT = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 1 & done; echo all-started"
_limits_bite: dict[str, bool] = {}


def pids_limit_bites(session: Session) -> bool:
    """Start a container limited to a few pids that tries to start more; True if the engine stopped it.

    Rootless or misconfigured engines accept limits and silently ignore them: only a real probe tells.
    """
    api = session.engine.api
    with translated("run the probe of resource limits"):
        created = api.create_container(
            BASE_IMAGE, command=["sh", "-c", PIDS_PROBE_SCRIPT], labels=session.labels,
            host_config=api.create_host_config(pids_limit=PIDS_PROBE_LIMIT, network_mode="none"),
        )
        try:
            api.start(created["Id"])
            code = api.wait(created["Id"], timeout=30)["StatusCode"]
            output = api.logs(created["Id"]).decode(errors="replace")
        finally:
            api.remove_container(created["Id"], force=True)
    return code != 0 or "all-started" not in output


def ensure_limits_bite(session: Session) -> None:
    """Refuse to check anything on an engine that accepts limits but ignores them (probed once)."""
    host = session.engine.host
    if host not in _limits_bite:
        _limits_bite[host] = pids_limit_bites(session)
    if not _limits_bite[host]:
        raise CheckRefused(
            "This Docker engine accepts resource limits but does not enforce them (a pids limit was "
            "ignored, as rootless engines often do), so the kit will not run untrusted code on it; "
            "check on a rootful engine (see `dockerlab doctor`)."
        )


# --- a cgroup for a build's RUN steps ---------------------------------------------------------------

_build_cgroups: dict[tuple[str, Limits], str | None] = {}  # (session id, limits) -> the cgroup parent


def build_cgroup(session: Session, limits: Limits) -> str | None:
    """A cgroup parent for a build's RUN steps that carries the check's pids, memory and CPU limits: the
    cgroup of a container that only sleeps, made with those limits (each RUN step's cgroup is created
    below it, so the limits hold for all of them together). One per session and limits, removed with the
    session (the same parent keeps BuildKit's cache keys, so a rebuild in the check reuses its steps).
    None where the engine puts containers in cgroups a build cannot be put under (systemd's driver)."""
    key = (session.id, limits)
    if key in _build_cgroups:
        return _build_cgroups[key]
    if session.engine.info.get("CgroupDriver") != "cgroupfs":
        return None
    api = session.engine.api
    with translated("start the container that holds a build's limits"):
        created = api.create_container(
            BASE_IMAGE, command=["sh", "-c", "cat /proc/self/cgroup; exec sleep 3600"], labels=session.labels,
            host_config=api.create_host_config(
                network_mode="none", pids_limit=limits.pids + 1, mem_limit=limits.memory,
                memswap_limit=limits.memory, nano_cpus=int(limits.cpus * 1e9), cgroupns="host"),
        )
        api.start(created["Id"])
        deadline = time.monotonic() + 10
        while not (lines := api.logs(created["Id"]).decode(errors="replace")) and time.monotonic() < deadline:
            time.sleep(0.05)
    match = CGROUP_LINE.search(lines)
    _build_cgroups[key] = (match.group(1) or match.group(2)) if match else None
    return _build_cgroups[key]


BUILD_PROBE = "FROM {base}\nRUN echo {nonce}; " + PIDS_PROBE_SCRIPT + "\n"
_build_cap_bites: dict[str, bool] = {}


def build_pids_cap_bites(session: Session) -> bool:
    """Build a RUN step that starts more processes than `build_cgroup` allows, with the engine's builder;
    True if the builder stopped it (probed once per engine: a builder may ignore a cgroup parent).
    Buildah (Podman) is not probed: its RUN steps get no cgroup parent here."""
    key = session.engine.host
    if key not in _build_cap_bites and session.engine.default_builder == "Buildah":
        _build_cap_bites[key] = False
    if key not in _build_cap_bites:
        probe = Limits(pids=PIDS_PROBE_LIMIT)
        with tempfile.TemporaryDirectory(prefix="dockerlab-probe-") as folder:
            cgroup = build_cgroup(session, probe)
            (Path(folder) / "Dockerfile").write_text(BUILD_PROBE.format(base=BASE_IMAGE, nonce=secrets.token_hex(8)))
            try:
                limited_build(session, Path(folder), probe, cgroup, buildkit=uses_buildkit(session.engine))
                _build_cap_bites[key] = False
            except BuildFailed as failure:
                _build_cap_bites[key] = cgroup is not None and bool(FORK_FAILED.search(" ".join(failure.log_tail)))
    return _build_cap_bites[key]


def limited_build(session: Session, path: Path, limits: Limits, cgroup: str | None, buildkit: bool,
                  on_progress=None) -> str:
    """Build without network, stopped at `limits.build_timeout`; the image id. Either builder puts RUN steps
    under `cgroup`; the classic builder also gives each its own memory and CPU limits."""
    if buildkit:
        progress = buildkit_build(session.engine, path, None, session.labels, on_progress=on_progress,
                                  network="none", cgroup_parent=cgroup, timeout=limits.build_timeout)
    else:
        memory = size_in_bytes(limits.memory)
        progress = classic_build(session.engine, path, None, session.labels, on_progress=on_progress,
                                 timeout=limits.build_timeout, networkmode="none", memory=memory, memswap=memory,
                                 cpushares=512, cgroupparent=cgroup)
    return progress.image_id


# --- build contexts ---------------------------------------------------------------------------------

@dataclass
class ContextSize:
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # left out by .dockerignore


def _ignore_matcher(root: Path) -> PatternMatcher | None:
    patterns = dockerignore_patterns(root)
    return PatternMatcher(patterns) if patterns else None


def measure_context(path: Path, limits: Limits) -> ContextSize:
    """Walk the folder (links not followed) and refuse it before packing: too big, empty, links out."""
    root = path.resolve()
    if not root.is_dir():
        raise BuildFailed(f"The build context '{path}' is not a folder; give the folder that holds the Dockerfile.")
    matcher = _ignore_matcher(root)
    size = ContextSize()
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        for name in sorted(subfolders + files):
            full = here / name
            relative = full.relative_to(root).as_posix()
            if matcher is not None and matcher.matches(relative):
                size.skipped.append(relative)
                if name in subfolders:
                    subfolders.remove(name)
                continue
            if full.is_symlink():
                target = Path(os.path.realpath(full))
                if target != root and root not in target.parents:
                    raise BuildFailed(
                        f"'{relative}' in '{path}' is a link to {os.readlink(full)}, outside the build "
                        "context: the builder sends only what is inside the folder, so copy that file "
                        "into the folder instead of linking to it."
                    )
            if name in files:
                size.files += 1
                size.bytes += full.lstat().st_size
            if size.bytes > limits.context_bytes or size.files > limits.context_files:
                raise CheckRefused(
                    f"The folder '{path}' holds more than {limits.context_bytes // 1024} KiB or "
                    f"{limits.context_files} files (counting stopped there), too much to send to the "
                    "builder for this exercise; keep only the Dockerfile and what it copies, or list "
                    "the rest in a .dockerignore file."
                )
    if size.files == 0:
        raise BuildFailed(
            f"The folder '{path}' is empty; put a file named 'Dockerfile' in it (the exercise's "
            "starter files are a good start)."
        )
    return size


def sandboxed_build(session: Session, path: str | Path, limits: Limits) -> str:
    """Build the learner's context without network, with pids/memory/CPU limits on its RUN steps and a
    deadline; the image id. RUN is refused only where no pids cap can be applied (and the exercise
    does not allow RUN regardless).

    The image carries the session's label (no tag), so the check's cleanup removes it.
    """
    path = Path(path)
    measure_context(path, limits)
    buildkit = uses_buildkit(session.engine)
    dockerfile = check_context(path, "Dockerfile", classic=not buildkit)
    has_run = bool(RUN_LINE.search(dockerfile.read_text(errors="replace")))
    capped = has_run and build_pids_cap_bites(session)
    if has_run and not capped and not limits.allow_run:
        raise BuildFailed(
            f"'{dockerfile}' has a RUN line, which this exercise's check does not run (this engine's builder "
            "cannot limit the processes a RUN step starts); this exercise needs no RUN: remove it."
        )
    deadline = time.monotonic() + limits.build_timeout
    timed_out = LimitReached("timeout", f"The build took longer than {limits.build_timeout:g} s and was stopped.")
    log: list[str] = []

    def within_limits(progress, event) -> None:
        log[:] = progress.log
        if time.monotonic() > deadline:
            raise timed_out
        if capped and progress.log and FORK_FAILED.search(progress.log[-1]):
            raise run_limit_reached(log, "", limits)  # no need to wait for the deadline
        if sum(map(len, log)) > limits.output_bytes:
            raise LimitReached("output-limit", f"The build printed more than {limits.output_bytes // 1024} KiB "
                               "and was stopped: the answer needs only a few lines of output.")

    try:
        return limited_build(session, path, limits, build_cgroup(session, limits) if capped else None, buildkit,
                             within_limits)
    except BuildFailed as failure:
        raise (capped and run_limit_reached(failure.log_tail, str(failure), limits)) or failure from None
    except LimitReached as reached:
        raise (capped and run_limit_reached(log, "", limits)) or reached from None
    except (EngineUnavailable, requests.exceptions.Timeout, TimeoutError):
        if time.monotonic() > deadline:  # the stream went silent past the deadline
            raise (capped and run_limit_reached(log, "", limits)) or timed_out from None
        raise


def run_limit_reached(log: list[str], failure: str, limits: Limits) -> LimitReached | None:
    """The limit a capped RUN step ran into, read from its output (forks refused) or its failure (SIGKILL,
    the memory limit's way), or None."""
    if FORK_FAILED.search("\n".join(log)):
        return LimitReached("pids-limit", f"A RUN step tried to start more than {limits.pids} processes and the "
                            "engine refused (a fork bomb?): the answer needs only one or two processes.")
    if "exited with code 137" in failure:
        return LimitReached("memory-limit", f"A RUN step used more than its {limits.memory} of memory and the "
                            "engine killed it: the answer needs far less memory than that.")
    return None


# --- runs -------------------------------------------------------------------------------------------

class OutputReader(threading.Thread):
    """Reads a container's stdout/stderr as it comes, keeping at most `cap` bytes; stops at the cap."""

    def __init__(self, stream, cap: int) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.cap = cap
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.overflowed = False
        self.done = threading.Event()

    def run(self) -> None:
        try:
            for out, err in self.stream:
                for chunk, buffer in ((out, self.stdout), (err, self.stderr)):
                    if not chunk:
                        continue
                    room = self.cap - len(self.stdout) - len(self.stderr)
                    buffer += chunk[:max(room, 0)]
                    if len(chunk) > room:
                        self.overflowed = True
                        return
        except (OSError, ValueError, requests.exceptions.RequestException):
            pass  # the stream was closed under us: the run is over
        finally:
            self.done.set()

    def close(self) -> None:
        try:
            self.stream.close()
        except (OSError, AttributeError, ValueError):
            pass


def host_config(session: Session, limits: Limits) -> dict:
    """The limits every checked container runs with (see the module docstring)."""
    return session.engine.api.create_host_config(
        network_mode="none",
        mem_limit=limits.memory,
        memswap_limit=limits.memory,
        pids_limit=limits.pids,
        nano_cpus=int(limits.cpus * 1e9),
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs},mode=1777"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
    )


def pids_at_limit(session: Session, container_id: str, limits: Limits) -> bool:
    try:
        stats = session.engine.api.stats(container_id, stream=False, one_shot=True)
    except docker.errors.APIError:
        return False
    current = (stats.get("pids_stats") or {}).get("current") or 0
    return current >= limits.pids - 2


def exited_in_time(session: Session, container_id: str, deadline: float) -> bool:
    try:
        session.engine.api.wait(container_id, timeout=max(deadline - time.monotonic(), 0.1))
        return True
    except requests.exceptions.RequestException:  # ReadTimeout / ConnectionError: still running
        return False


def start_failure_code(error: Exception) -> int | None:
    """The exit code `docker run` gives when the container's command cannot start, or None (another error).

    Like the docker CLI: 127 when the program is not found, 126 when it cannot be executed.
    """
    text = str(getattr(error, "explanation", "") or error).lower()
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text or "exec format error" in text or "not a directory" in text:
        return 126
    return None


RUNTIME_SUFFIXES = (": unknown", ": OCI runtime attempted to invoke a command that was not found",
                    ": OCI permission denied")  # what runc adds under Docker, and under Podman


def start_failure_reason(error: Exception) -> str:
    """The runtime's reason a command could not start, as `docker run` prints it on every engine:
    `exec: "other": executable file not found in $PATH`."""
    reason = explanation(error)
    if "exec: " not in reason:
        return reason
    reason = reason[reason.rfind("exec: "):]
    for suffix in RUNTIME_SUFFIXES:
        reason = reason.removesuffix(suffix)
    return reason


def logged_output(session: Session, container_id: str, stdout: bytes, stderr: bytes) -> tuple[bytes, bytes]:
    """What an exited container printed, from its log: the engine's record, complete once it has exited.

    The live stream (attached before the start, with the log replayed so nothing is lost) can, under
    load, deliver the first lines twice: once from the replay and once live. The log has each line once.
    When the log cannot be read, what the stream gave is kept.
    """
    api = session.engine.api
    try:
        logged = (api.logs(container_id, stdout=True, stderr=False), api.logs(container_id, stdout=False, stderr=True))
    except ENGINE_ERRORS:
        return stdout, stderr
    if len(logged[0]) + len(logged[1]) > len(stdout) + len(stderr):
        return stdout, stderr  # never more than the stream: its cap stays the limit
    return logged


def sandboxed_run(session: Session, image: str, command: list[str] | None, limits: Limits) -> RunOutcome:
    """Run `image` (with `command`, or its own CMD) under the limits; the container is always removed."""
    api = session.engine.api
    started = time.monotonic()
    outcome = RunOutcome(command)
    created = api.create_container(
        image, command=command, user=limits.user or "", labels=session.labels,
        host_config=host_config(session, limits), network_disabled=True,
    )
    container_id = created["Id"]
    reader = None
    try:
        try:  # Podman prepares the container when attaching: a command that cannot start fails there
            reader = OutputReader(api.attach(container_id, stdout=True, stderr=True, stream=True, logs=True,
                                             demux=True), limits.output_bytes)
            reader.start()
            api.start(container_id)
        except docker.errors.APIError as error:
            outcome.exit_code = start_failure_code(error)
            if outcome.exit_code is None:
                raise
            outcome.stderr = f"docker: {start_failure_reason(error)}\n"
            return outcome
        finished = reader.done.wait(limits.timeout) and (reader.overflowed or exited_in_time(
            session, container_id, started + limits.timeout))  # output closed, yet still running?
        if not finished:
            outcome.limit = "pids-limit" if pids_at_limit(session, container_id, limits) else "timeout"
        elif reader.overflowed:
            outcome.limit = "output-limit"
        reader.close()  # first: a daemon blocked writing to an unread stream would not stop it
        api.stop(container_id, timeout=1)  # SIGTERM, then SIGKILL a second later
        reader.join(2)
        state = api.inspect_container(container_id)["State"]
        outcome.exit_code = state.get("ExitCode")
        stdout, stderr = bytes(reader.stdout), bytes(reader.stderr)
        if outcome.limit is None:
            stdout, stderr = logged_output(session, container_id, stdout, stderr)
        outcome.stdout = stdout.decode(errors="replace")
        outcome.stderr = stderr.decode(errors="replace")
        if state.get("OOMKilled"):
            outcome.limit = "memory-limit"
        elif FORK_FAILED.search(outcome.output):
            outcome.limit = "pids-limit"
    finally:
        if reader is not None:
            reader.close()
        try:
            api.remove_container(container_id, force=True, v=True)
        except ENGINE_ERRORS:
            pass  # the session's cleanup tries again
        outcome.seconds = time.monotonic() - started
    return outcome

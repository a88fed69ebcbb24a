"""`dockerlab doctor`: can the lessons run here? Each check is a line; the verdict is the exit code."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from ..engine.base_image import base_image_exists, ensure_base_image
from ..engine.build import BASE_IMAGE
from ..engine.buildx import buildx_missing
from ..engine.connection import Engine, connect_engine, ensure_engine
from ..engine.sandbox import pids_limit_bites
from ..engine.session import Session
from ..errors import DockerlabError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    needed: bool = True  # a failed needed check means the lessons cannot run

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.needed else "warn")
        return f"[{mark}] {self.name}: {self.detail}"


def dot_version() -> str | None:
    """The installed graphviz `dot` version line, or None when `dot` is missing."""
    if not shutil.which("dot"):
        return None
    done = subprocess.run(["dot", "-V"], capture_output=True, text=True)
    return (done.stderr or done.stdout).strip()


def run_checks(fix: bool = False) -> list[Check]:
    """All checks, in order; with `fix`, start the engine and build the base image where allowed."""
    checks: list[Check] = []
    try:
        engine: Engine = ensure_engine() if fix else connect_engine()
    except DockerlabError as error:
        checks.append(Check("engine", False, error.explanation))
        return checks + [tool_check()]
    info = engine.info
    checks.append(Check("engine", True, f"{engine.backend} {engine.version} at {engine.host}"))
    checks.append(Check("engine location", True, engine.where))
    checks.append(Check("API version", True, engine.api_version))
    checks.append(Check("image store", True, engine.image_store))
    checks.append(Check("default builder", True, f"{engine.default_builder} (what `docker build` uses here)"))
    if engine.backend == "docker" and engine.default_builder == "BuildKit":
        missing = buildx_missing(engine.host)
        checks.append(Check("buildx", not missing, "the kit builds with BuildKit through `docker buildx build`"
                            if not missing else f"{missing}: the kit builds with the classic builder instead",
                            needed=False))
    checks.append(Check("cgroup version", True, str(info.get("CgroupVersion", "?"))))
    try:
        if fix:
            ensure_base_image(engine)
        has_base = base_image_exists(engine)
    except DockerlabError as error:
        checks.append(Check("base image", False, error.explanation))
        has_base = False
    else:
        checks.append(Check("base image", has_base, BASE_IMAGE if has_base else
                            f"{BASE_IMAGE} is missing; `dockerlab doctor --fix` (or `make setup`) builds it"))
    if has_base:
        session = Session(engine)
        try:
            bites = pids_limit_bites(session)
            checks.append(Check("resource limits", bites, "a pids limit stopped the probe" if bites else
                                "a pids limit was ignored: exercises cannot be checked safely on this engine"))
        except DockerlabError as error:
            checks.append(Check("resource limits", False, f"the probe could not run: {error.explanation}"))
        finally:
            session.clean()
    checks.append(tool_check())
    engine.client.close()
    return checks


def tool_check() -> Check:
    version = dot_version()
    return Check("graphviz dot", version is not None, version or
                 "not installed: layer diagrams fall back to text (`sudo apt-get install graphviz`)", needed=False)


def lessons_can_run(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.needed)


@dataclass
class Report:
    """The doctor's checks as a notebook shows them: one line each, then the verdict."""

    checks: list[Check]

    @property
    def ready(self) -> bool:
        return lessons_can_run(self.checks)

    def __repr__(self) -> str:
        verdict = "The lessons can run here." if self.ready else "The lessons cannot run here yet: fix the FAIL lines above."
        return "\n".join([*(check.line() for check in self.checks), verdict])


def report(fix: bool = False) -> Report:
    """Run every check (see `run_checks`) and keep them for display."""
    return Report(run_checks(fix))

"""Data that outlives a container: named volumes (`docker volume create`) and the mounts of `docker run -v`.

A named volume the kit creates carries the session label (so `clean()` removes it, and a re-run finds it
again); a volume of that name that the kit did not create is never used or removed. A bind mount shares a
folder of this host, so it is refused when the engine is not on this host (it would mount its own folder).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import NameTaken, RunFailed
from ..model.labels import session_filter, session_of
from .session import Session
from .translate import found_or_none, translated


def create_volume(session: Session, name: str) -> dict:
    """`docker volume create NAME`, labelled with the session; this session's volume of that name is kept
    as it is (as the CLI does), anyone else's is refused."""
    api = session.engine.api
    existing = found_or_none(lambda: api.inspect_volume(name), f"look for the volume '{name}'")
    if existing is not None:
        if session.owns(existing.get("Labels")):
            return existing
        owner = session_of(existing.get("Labels"))
        whose = f"another dockerlab session ({owner})" if owner else "something the kit did not create"
        raise NameTaken(f"The volume '{name}' already exists and belongs to {whose}, so the kit will not use "
                        "it (its data is not this notebook's); pick another name.")
    with translated(f"create the volume '{name}'"):
        return api.create_volume(name, labels=session.labels)


def session_volumes(session: Session) -> list[dict]:
    """The volumes this session created, by name."""
    with translated("list the volumes"):
        found = session.engine.api.volumes(filters={"label": session_filter(session.id)}).get("Volumes") or []
    return sorted(found, key=lambda volume: volume["Name"])


def remove_volume(session: Session, name: str) -> None:
    """`docker volume rm NAME` for a volume of this session; refused while a container (even a stopped
    one) still has it mounted."""
    api = session.engine.api
    existing = found_or_none(lambda: api.inspect_volume(name), f"look for the volume '{name}'")
    if existing is None:
        raise RunFailed(f"There is no volume named '{name}'; list this notebook's volumes with lab.volumes().")
    if not session.owns(existing.get("Labels")):
        raise NameTaken(f"The volume '{name}' was not created by this notebook, so the kit will not remove it; "
                        f"use `docker volume rm {name}` in a terminal if it is yours.")
    users = [item["Names"][0].lstrip("/") for item in api.containers(all=True, filters={"volume": name})]
    if users:
        raise RunFailed(f"The volume '{name}' is still mounted by the container(s) {', '.join(sorted(users))}, "
                        f"so `docker volume rm {name}` refuses; remove those containers first (lab.remove(...)).")
    with translated(f"remove the volume '{name}'"):
        api.remove_volume(name)


def is_bind_source(source: str | Path) -> bool:
    """Docker's rule for `-v SOURCE:TARGET`: a path (a `/`, or starting with `.`) is a folder of the host,
    anything else names a volume."""
    return isinstance(source, Path) or "/" in source or source.startswith(".")


def mounts(session: Session, volumes: dict[str | Path, str]) -> tuple[dict[str, dict], list[str]]:
    """The engine's `binds` and the CLI's `-v` words for `{source: target}` (a target may end in `:ro`).
    Named volumes are created (labelled) when missing; bind sources must be existing folders or files."""
    binds: dict[str, dict] = {}
    words: list[str] = []
    for source, target in volumes.items():
        path, _, mode = target.partition(":")
        if not PurePosixPath(path).is_absolute() or mode not in ("", "ro", "rw"):
            raise RunFailed(f"The mount target '{target}' is not a path inside the container: write it as an "
                            "absolute path such as '/data' (add ':ro' to mount it read-only).")
        if is_bind_source(source):
            host_path, shown = bind_source(session, source)
        else:
            create_volume(session, source)
            host_path, shown = source, source
        binds[host_path] = {"bind": path, "mode": mode or "rw"}
        words += ["-v", f"{shown}:{target}"]
    return binds, words


def bind_source(session: Session, source: str | Path) -> tuple[str, str]:
    """The absolute host path to mount, and how the command line shows it (relative as `./folder`)."""
    if not session.engine.local:
        raise RunFailed(f"The engine is not on this host ({session.engine.where}), so it cannot mount this "
                        f"host's '{source}'; copy the files into an image or a volume instead.")
    path = Path(source)
    if not path.exists():
        raise RunFailed(f"There is no folder or file '{source}' here to mount; create it first "
                        f"(Path('{source}').mkdir()), then run again.")
    shown = str(source) if path.is_absolute() or str(source).startswith(".") else f"./{source}"
    return str(path.resolve()), shown

"""When pytest runs the lessons (nbval), check that the course left nothing behind on the engine.

Each lesson's kernel is a session of its own; once nbval has shut the kernels down, anything labelled
by a session whose process is gone, and that was not there before the run, is a leak: a container,
network, volume, image, service, or the swarm itself. Live sessions (other notebooks, other users of
the engine) are never counted. A leak fails the run, naming what was left.
"""
from __future__ import annotations

import pytest

from dockerlab.engine.cleanup import labelled_resources as labelled_resources_of
from dockerlab.engine.cleanup import swarm_is_active, swarm_labels
from dockerlab.engine.connection import connect_engine
from dockerlab.engine.processes import owner_is_alive
from dockerlab.errors import DockerlabError
from dockerlab.model.labels import SESSION_LABEL
from tests.lesson_parts import SWARM_TAG, missing_parts, reason_to_skip


def labelled_resources() -> set[tuple[str, str, str]] | None:
    """(kind, id, session) of everything on the engine that carries a session label; None without an engine."""
    try:
        engine = connect_engine()
    except DockerlabError:
        return None
    api = engine.api
    found = {(kind.removesuffix("s"), item.get("Id") or item["Name"], item["Labels"][SESSION_LABEL])
             for kind, items in labelled_resources_of(engine, SESSION_LABEL).items() for item in items}
    if swarm_is_active(engine):
        found |= {("service", item["ID"], item["Spec"]["Labels"][SESSION_LABEL])
                  for item in api.services(filters={"label": SESSION_LABEL})}
        owner = swarm_labels(engine).get(SESSION_LABEL)
        if owner:
            found.add(("swarm", api.inspect_swarm()["ID"], owner))
    return found


def runs_lessons(session: pytest.Session) -> bool:
    return any(type(item).__name__ == "IPyNbCell" for item in session.items)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Lesson cells that need a part this engine lacks (Swarm on Podman) are skipped, with the reason."""
    cells = [item for item in items if type(item).__name__ == "IPyNbCell"]
    if not any(SWARM_TAG in item.cell.get("metadata", {}).get("tags", []) for item in cells):
        return
    try:
        missing = missing_parts(connect_engine())
    except DockerlabError:
        return  # no engine: the cells fail on their own, with the kit's sentence
    for item in cells:
        reason = reason_to_skip(item.cell, missing)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_finish(session: pytest.Session) -> None:
    if runs_lessons(session):
        session.config.stash[BEFORE] = labelled_resources()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(BEFORE, None)
    if before is None:
        return
    after = labelled_resources() or set()
    leaked = sorted(item for item in after - before if not owner_is_alive(item[2]))
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_sep("=", "the lessons left these behind on the engine (their kernels are gone)", red=True)
            for kind, ident, owner in leaked:
                reporter.write_line(f"{kind} {ident.removeprefix('sha256:')[:12]} (session {owner})", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


BEFORE = pytest.StashKey[set]()
